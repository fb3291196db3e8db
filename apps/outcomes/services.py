"""Writes of follow-up records (API.md ``follow-ups/``), for the API, the pages and any import
alike: ``follow_up_record`` creates or changes one, ``follow_up_delete`` removes one.

Each write checks the record against the patient's others under a lock of that patient's
follow-ups (a transaction-scoped advisory lock: two writes of one patient's follow-ups take
turns, and no row of the clinical lock order, apps/patients/locks.py, is held), so that two
concurrent writes cannot record two deaths or a death before a progression. The audit entry is
written by the database triggers in the same transaction (``apps.core.models.audited``).
Follow-ups are not inputs of the clinical rules: no recompute is queued.

The rules (each refusal names its field, ``follow_up_refusals``):
- no date in the future, none before the diagnosis (the patient's earliest pathology report;
  a patient without one has no diagnosis date and only the first rule applies);
- a progression has a basis and may name the study that showed it, one of the patient's own;
  nothing else has either;
- only a death has a cause; a patient has one death at most;
- a death is not dated before the patient's progressions and last contacts, nor a progression
  or last contact after the death.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from apps.outcomes.models import FollowUp, FollowUpKind
from apps.patients.models import Pathology


def diagnosis_date(patient_id: int) -> date | None:
    """The patient's diagnosis date as NETboard knows it: the date of the earliest pathology
    report, or None without one."""
    first: date | None = Pathology.objects.filter(patient_id=patient_id).aggregate(
        first=Min("reported_on")
    )["first"]
    return first


def _describe(record: FollowUp) -> str:
    return f"{record.get_kind_display().lower()} on {record.occurred_on.isoformat()}"


def follow_up_refusals(
    *, patient_id: int, values: Mapping[str, Any], instance: FollowUp | None = None
) -> dict[str, str]:
    """What is wrong with a follow-up record of the patient having ``values`` (its whole
    state: ``kind``, ``occurred_on``, ``basis``, ``study``, ``cause``), by field; empty when
    nothing is. ``instance`` is the record being changed (left out of the comparisons)."""
    kind, occurred_on = values.get("kind"), values.get("occurred_on")
    basis, study, cause = values.get("basis"), values.get("study"), values.get("cause")
    refusals: dict[str, str] = {}
    if kind == FollowUpKind.PROGRESSION and not basis:
        refusals["basis"] = (
            "A progression needs its basis: recist, percist, clinical or biochemical."
        )
    elif kind != FollowUpKind.PROGRESSION and basis:
        refusals["basis"] = "Only a progression has a basis."
    if study is not None:
        if kind != FollowUpKind.PROGRESSION:
            refusals["study"] = "Only a progression names the study that showed it."
        elif study.patient_id != patient_id:
            refusals["study"] = "This study is another patient's."
    if cause and kind != FollowUpKind.DEATH:
        refusals["cause"] = "Only a death has a cause."
    if occurred_on is None or kind is None:
        return refusals
    if occurred_on > timezone.localdate():
        refusals["occurred_on"] = "This date is in the future."
        return refusals
    diagnosed = diagnosis_date(patient_id)
    if diagnosed is not None and occurred_on < diagnosed:
        refusals["occurred_on"] = (
            f"This is before the diagnosis (the first pathology report, {diagnosed.isoformat()})."
        )
        return refusals
    query = FollowUp.objects.filter(patient_id=patient_id).order_by("occurred_on", "id")
    if instance is not None and instance.pk is not None:
        query = query.exclude(pk=instance.pk)
    others = list(query)
    death = next((f for f in others if f.kind == FollowUpKind.DEATH), None)
    if kind == FollowUpKind.DEATH:
        if death is not None:
            refusals["kind"] = (
                f"The patient's death is already recorded (follow-up {death.pk}, "
                f"{death.occurred_on.isoformat()}): a patient has one death."
            )
        later = [f for f in others if f.kind != FollowUpKind.DEATH and f.occurred_on > occurred_on]
        if later:
            refusals["occurred_on"] = (
                f"A death cannot be dated before the patient's {_describe(later[-1])} "
                f"(follow-up {later[-1].pk})."
            )
    elif death is not None and occurred_on > death.occurred_on:
        refusals["occurred_on"] = (
            f"This is after the patient's death on {death.occurred_on.isoformat()} "
            f"(follow-up {death.pk})."
        )
    return refusals


def _lock_follow_ups_of(patient_id: int) -> None:
    """Until the transaction ends, no other write of this patient's follow-ups runs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 18))",
            [f"outcomes.followup:{patient_id}"],
        )


_FIELDS = ("kind", "occurred_on", "basis", "study", "cause")


def follow_up_record(*, follow_up: FollowUp, values: Mapping[str, Any]) -> FollowUp:
    """Create (``follow_up`` unsaved) or change one follow-up record with ``values``
    (validated field values, ``patient`` among them for a new record). Refused with a
    ``ValidationError`` naming each bad field (``follow_up_refusals``); nothing is written then.
    A blank cause is no cause."""
    for field, value in values.items():
        setattr(follow_up, field, value)
    if follow_up.cause == "":
        follow_up.cause = None
    with transaction.atomic():
        _lock_follow_ups_of(follow_up.patient_id)
        state = {field: getattr(follow_up, field) for field in _FIELDS}
        refusals = follow_up_refusals(
            patient_id=follow_up.patient_id, values=state, instance=follow_up
        )
        if refusals:
            raise ValidationError({field: [message] for field, message in refusals.items()})
        follow_up.save()
    return follow_up


def follow_up_delete(*, follow_up: FollowUp) -> None:
    """Delete one follow-up record (a death or a progression recorded by mistake)."""
    with transaction.atomic():
        _lock_follow_ups_of(follow_up.patient_id)
        follow_up.delete()
