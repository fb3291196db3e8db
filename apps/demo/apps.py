from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The synthetic demo cohort and its ``load_demo`` command: the one app that may know every
    clinical app, so that ``apps.core`` knows none."""

    name = "apps.demo"
    label = "demo"
