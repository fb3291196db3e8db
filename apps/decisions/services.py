"""Writes for decisions: record, sign, supersede. A signed decision is never edited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.decisions.models import Case, Decision


class DecisionSignedError(ValidationError):
    """Raised when someone tries to change a signed decision."""

    def __init__(self) -> None:
        super().__init__(
            "This decision is signed and cannot be edited; record a new decision that "
            "supersedes it.",
            code="decision_signed",
        )


@transaction.atomic
def decision_record(
    *,
    case: Case,
    recommendation: str,
    rationale: str,
    decided_by: AbstractBaseUser,
    attendees: str = "",
    phenotype_snapshot: dict[str, Any] | None = None,
    response_snapshot: dict[str, Any] | None = None,
    sign: bool = False,
    supersedes: Decision | None = None,
) -> Decision:
    if supersedes is not None and supersedes.case_id != case.pk:
        raise ValidationError({"supersedes": "A decision can only supersede one on the same case."})
    now = timezone.now()
    decision = Decision(
        case=case,
        recommendation=recommendation,
        rationale=rationale,
        attendees=attendees,
        decided_by=decided_by,
        decided_at=now,
        phenotype_snapshot=phenotype_snapshot or {},
        response_snapshot=response_snapshot or {},
        signed_at=now if sign else None,
        supersedes=supersedes,
    )
    decision.full_clean()
    decision.save()
    return decision


@transaction.atomic
def decision_update(*, decision: Decision, **changes: Any) -> Decision:
    """Change a draft decision. Snapshots, author and time are not editable at all."""
    locked = Decision.objects.select_for_update(no_key=True).get(pk=decision.pk)
    if locked.is_signed:
        raise DecisionSignedError()
    allowed = {"recommendation", "rationale", "attendees"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean()
    locked.save(update_fields=[*changes, "updated_at"])
    return locked


@transaction.atomic
def decision_sign(*, decision: Decision) -> Decision:
    locked = Decision.objects.select_for_update(no_key=True).get(pk=decision.pk)
    if locked.is_signed:
        raise DecisionSignedError()
    locked.signed_at = timezone.now()
    locked.save(update_fields=["signed_at", "updated_at"])
    return locked


def decision_delete(*, decision: Decision) -> None:
    if Decision.objects.filter(pk=decision.pk, signed_at__isnull=False).exists():
        raise DecisionSignedError()
    decision.delete()
