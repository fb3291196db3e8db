"""Worker tasks of the scoring engine. They take a patient id only, never patient data, and are
safe to run twice (see apps.scoring.services)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from apps.scoring import services


@shared_task(
    name="scoring.recompute_patient",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_patient(patient_id: int) -> str:
    """Recompute one patient's phenotype assessment (time limits: CELERY_TASK_TIME_LIMIT)."""
    return services.recompute_phenotype(int(patient_id))


@shared_task(name="scoring.sweep_stale", acks_late=True, ignore_result=True)
def sweep_stale() -> int:
    """Run by Celery beat every NETBOARD_SWEEP_SECONDS: queue every stale patient."""
    return services.sweep_stale()
