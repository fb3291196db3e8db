"""Operational tasks. Tasks take ids or opaque tokens only, never patient data."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache


@shared_task(name="core.ping_broker", acks_late=True, time_limit=30, soft_time_limit=25)
def ping_broker(nonce: str) -> str:
    """Round trip through the broker: a worker marks the nonce as seen in the cache."""
    cache.set(f"netboard:ping:{nonce}", "pong", timeout=300)
    return "pong"


@shared_task(name="core.purge_idempotency_keys", acks_late=True, ignore_result=True)
def purge_idempotency_keys() -> int:
    """Hourly (Celery beat): forget Idempotency-Keys older than 24 hours."""
    from apps.core.idempotency import purge_expired

    return purge_expired()
