"""Worker task of the survival analytics: takes the query's parameters and a version string,
never patient data; computes and caches (apps/outcomes/analytics.py). Safe to run twice: the
second run stores the same figures again."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import OperationalError

from apps.outcomes import analytics
from apps.outcomes.survival import SurvivalQuery


@shared_task(
    name=analytics.TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def survival(query: dict[str, Any], version: str) -> None:
    """Compute one survival analysis and cache it for the version a client waits for."""
    parsed = SurvivalQuery(**query)
    try:
        analytics.compute_and_store(parsed, asked_version=version)
    except Exception:
        # The next poll queues it again rather than waiting out the pending mark.
        analytics.forget_pending(parsed, version)
        raise
