"""Celery application. Tasks take ids only (never patient data) and are safe to run twice."""

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netboard.settings")

app = Celery("netboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _check_database_connections(task: Any = None, **_: object) -> None:
    """In a worker, drop a connection past DATABASE_CONN_MAX_AGE or broken (a restarted
    PostgreSQL) before each task, as Django does before each request. Not for a task run
    in-process (no broker), which may be inside the caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
