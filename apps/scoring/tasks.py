"""Worker tasks of the scoring engine. They take patient ids only, never patient data, are safe
to run twice (see apps.scoring.services and apps.scoring.queue), and compute and store results:
they render nothing.

- ``recompute_patient``: one patient, after a write of its inputs;
- ``regrade_chunk``: a chunk of patients, sent by the sweeper and ``manage.py regrade`` (after a
  rules or thresholds change: the whole cohort), loaded, computed and stored in bulk;
- ``sweep_stale``: run by beat, queues every stale patient.

Time limits: CELERY_TASK_TIME_LIMIT for each (a chunk of NETBOARD_REGRADE_CHUNK patients takes
well under a second).
"""

from __future__ import annotations

from collections import Counter

from celery import shared_task
from django.db import OperationalError

from apps.scoring import queue, services

# Both computing tasks: acknowledged once done (a lost worker's message comes back), retried
# with backoff when the database blips.
_COMPUTING = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(name="scoring.recompute_patient", **_COMPUTING)
def recompute_patient(patient_id: int) -> str:
    """Recompute one patient's phenotype assessment."""
    return services.recompute_phenotype(int(patient_id))


@shared_task(name="scoring.regrade_chunk", **_COMPUTING)
def regrade_chunk(patient_ids: list[int]) -> dict[str, int]:
    """Recompute the assessments of a chunk of patients in bulk; the count of each outcome."""
    outcomes = services.assessments_recompute(patient_ids=[int(pid) for pid in patient_ids])
    queue.send_skipped(outcomes)
    return dict(Counter(outcomes.values()))


@shared_task(name="scoring.sweep_stale", acks_late=True, ignore_result=True)
def sweep_stale() -> int:
    """Run by Celery beat every NETBOARD_SWEEP_SECONDS: queue every stale patient."""
    return queue.sweep_stale()
