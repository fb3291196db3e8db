"""Worker tasks of the scoring engine. They take a patient id only, never patient data, and are
safe to run twice (see apps.scoring.services)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from apps.scoring import services
from apps.scoring.signals import assessment_stored

logger = logging.getLogger(__name__)


@shared_task(
    name="scoring.recompute_patient",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def recompute_patient(patient_id: int) -> str:
    """Recompute one patient's phenotype assessment (time limits: CELERY_TASK_TIME_LIMIT).

    Once a result is stored (or confirmed for new inputs), ``assessment_stored`` lets other apps
    prepare what they show of it (the patient page renders its sections into the cache), so the
    first view after a change is as fast as any. What they do can never fail the task."""
    outcome = services.recompute_phenotype(int(patient_id))
    if outcome in ("written", "confirmed"):
        for receiver, error in assessment_stored.send_robust(
            sender=recompute_patient, patient_id=int(patient_id)
        ):
            if isinstance(error, Exception):
                logger.warning(
                    "after-store step %s failed for patient %s: %s",
                    getattr(receiver, "__qualname__", receiver),
                    int(patient_id),
                    type(error).__name__,
                )
    return outcome


@shared_task(name="scoring.sweep_stale", acks_late=True, ignore_result=True)
def sweep_stale() -> int:
    """Run by Celery beat every NETBOARD_SWEEP_SECONDS: queue every stale patient."""
    return services.sweep_stale()
