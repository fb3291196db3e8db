"""Queue a recompute after every committed ORM write to a patient's inputs.

The database triggers of migration 0002 make the assessment stale whatever the write path; these
receivers make the common paths (API, browser, admin, management commands) queue the recompute
at once. Paths that send no signals (queryset ``update``, ``bulk_create``, raw SQL) call
``request_recompute`` themselves, and anything missed is queued by the sweeper within a minute.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import Signal

from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle
from apps.scoring.services import request_recompute

# Sent by the recompute task once a patient's assessment is stored (written, or confirmed for
# new inputs), with ``patient_id``: receivers prepare what they show of it. Receivers' errors
# are logged, never raised into the task.
assessment_stored = Signal()

_PATIENT_OWNED = (Pathology, Biomarker, Treatment, Lesion, ImagingStudy, Observation)


def _patient_changed(sender: type[Patient], instance: Patient, **kwargs: Any) -> None:
    request_recompute(instance.pk)


def _owned_changed(sender: type[Any], instance: Any, **kwargs: Any) -> None:
    request_recompute(instance.patient_id)


def _cycle_changed(sender: type[TreatmentCycle], instance: TreatmentCycle, **kwargs: Any) -> None:
    patient_id = (
        Treatment.objects.filter(pk=instance.treatment_id)
        .values_list("patient_id", flat=True)
        .first()
    )
    request_recompute(patient_id)


def connect() -> None:
    post_save.connect(_patient_changed, sender=Patient, dispatch_uid="scoring.patient_saved")
    for model in _PATIENT_OWNED:
        uid = f"scoring.{model._meta.label_lower}"
        post_save.connect(_owned_changed, sender=model, dispatch_uid=f"{uid}.saved")
        post_delete.connect(_owned_changed, sender=model, dispatch_uid=f"{uid}.deleted")
    post_save.connect(_cycle_changed, sender=TreatmentCycle, dispatch_uid="scoring.cycle_saved")
    post_delete.connect(_cycle_changed, sender=TreatmentCycle, dispatch_uid="scoring.cycle_deleted")
