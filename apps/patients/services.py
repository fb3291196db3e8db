"""Writes to a patient's clinical record, for the pages, the API, the FHIR import and the admin
alike: the patient, pathology, biomarkers, treatments with their cycles, and (from
``apps.imaging``) lesions, studies and observations.

Each function saves, and queues the patient's recompute for when the transaction commits. The
audit entry is written by the database triggers in the same transaction (``apps.core.models.
audited``), with the acting user the request middleware put in the database context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import models, transaction

from apps.patients.models import Patient, Treatment, TreatmentCycle
from apps.scoring.queue import request_recompute


def patient_of(record: models.Model) -> int | None:
    """The id of the patient a record of the clinical record belongs to."""
    if isinstance(record, Patient):
        return record.pk
    if isinstance(record, TreatmentCycle):
        return (
            Treatment.objects.filter(pk=record.treatment_id)
            .values_list("patient_id", flat=True)
            .first()
        )
    return getattr(record, "patient_id", None)


def record_save(*, record: models.Model, values: Mapping[str, Any] | None = None) -> models.Model:
    """Create (``record`` unsaved) or change one record of a patient's clinical record with
    ``values`` (validated field values), and queue the patient's recompute on commit."""
    for field, value in (values or {}).items():
        setattr(record, field, value)
    with transaction.atomic():
        record.save()
        request_recompute(patient_of(record))
    return record


def record_delete(*, record: models.Model) -> None:
    """Delete one record of a patient's clinical record (the patient itself included) and
    queue the recompute of what remains. The database refuses what others depend on
    (``ProtectedError``/``RestrictedError``): nothing is deleted then."""
    patient_id = patient_of(record)
    with transaction.atomic():
        record.delete()
        request_recompute(patient_id)


def treatment_save(
    *,
    treatment: Treatment,
    values: Mapping[str, Any],
    cycles: Iterable[Mapping[str, Any]] | None = None,
) -> Treatment:
    """Create or change a treatment; with ``cycles``, its cycles become exactly that list (the
    list given is the whole list, as API.md says for ``treatments/``)."""
    with transaction.atomic():
        record_save(record=treatment, values=values)
        if cycles is not None:
            treatment.cycles.all().delete()
            TreatmentCycle.objects.bulk_create(
                TreatmentCycle(treatment=treatment, **cycle) for cycle in cycles
            )
    return treatment
