from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "apps.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes: follow-up records and survival analytics"

    def ready(self) -> None:
        # Registers the survival task with the Celery app in every process (web, worker):
        # apps.outcomes.analytics sends it by name.
        from apps.outcomes import tasks  # noqa: F401

        # The patient's record pages edit follow-up records like their own records.
        from apps.outcomes.forms import FollowUpForm, follow_up_delete
        from apps.outcomes.models import FollowUp
        from apps.patients.record_views import Kind, register_kind

        register_kind(
            "follow-ups",
            Kind(
                FollowUp,
                FollowUpForm,
                "followup",
                "follow-up record",
                "follow-ups",
                app="outcomes",
                delete=follow_up_delete,
            ),
        )
