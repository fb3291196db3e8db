"""Celery application. Tasks take ids only (never patient data) and are safe to run twice."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netboard.settings")

app = Celery("netboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
