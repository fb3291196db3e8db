from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "apps.patients"
    label = "patients"

    def ready(self) -> None:
        from apps.patients.page import warm_page_sections
        from apps.scoring.signals import assessment_stored

        assessment_stored.connect(warm_page_sections, dispatch_uid="patients.warm_page_sections")
