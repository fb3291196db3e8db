from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "apps.scoring"
    label = "scoring"

    def ready(self) -> None:
        from apps.scoring import signals

        signals.connect()
