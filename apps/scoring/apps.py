from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "apps.scoring"
    label = "scoring"

    def ready(self) -> None:
        # Registers the tasks with the Celery app in every process (web, worker, commands):
        # apps.scoring.queue sends them by name.
        from apps.scoring import tasks  # noqa: F401
