"""Writes for meetings, cases and decisions: one function per action, called by the pages and
the API alike.

A decision stores the assessment EXACTLY AS SHOWN: ``decision_record`` takes its snapshot under
a lock on the case (one decision write per case at a time) and on the stored assessment (no
recompute can replace it until the decision commits), so the snapshot is the assessment stored
at that moment. A page also says which assessment it showed (``ShownAssessment``) and which
decision stood (``base``); if either changed meanwhile, nothing is written. A signed decision is
never edited: it is superseded by a new one.

Signing appends the decision to the chain of signed decisions, in the signing transaction
(``apps.decisions.integrity.chain_append``: its SHA-256 digest, chained to the previous one's):
``decision_sign`` for a draft, ``decision_record(sign=True)`` for a decision inserted signed.
These two are the only ways a decision becomes signed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from apps.decisions import integrity
from apps.decisions.models import Case, Decision, Meeting
from apps.patients.agent_choice import agent_choice_lesions
from apps.patients.locks import hold_patient
from apps.patients.models import Patient
from apps.scoring import services as scoring
from apps.scoring.models import PhenotypeAssessment

STALE_MESSAGE = (
    "The assessment was recomputed since this page was shown: review the new result before "
    "deciding."
)
STATUS_MESSAGE = (
    "The assessment status changed since this page was shown (it is now {status}): review it "
    "before deciding."
)
CONFLICT_MESSAGE = (
    "Another decision was recorded on this case since this page was shown: review it before "
    "deciding."
)


class DecisionSignedError(ValidationError):
    """Raised when someone tries to change a signed decision."""

    def __init__(self) -> None:
        super().__init__(
            "This decision is signed and cannot be edited; record a new decision that "
            "supersedes it.",
            code="decision_signed",
        )


class DecisionConflict(Exception):
    """What the page showed is no longer what stands (another decision, a new assessment):
    nothing was written. ``message`` says what changed, for the reader."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ShownAssessment:
    """The identity of the assessment a page showed: ``computed_at`` (ISO, or ""), the inputs
    digest and the status. The decision form carries it in hidden fields."""

    computed_at: str
    digest: str
    status: str

    @classmethod
    def from_post(cls, data: Any) -> ShownAssessment:
        return cls(
            computed_at=data.get("shown_computed_at", ""),
            digest=data.get("shown_digest", ""),
            status=data.get("shown_status", ""),
        )

    @classmethod
    def of_patient(cls, patient_id: int, phenotype: dict[str, Any]) -> ShownAssessment:
        """The identity of ``phenotype`` (a body as ``assessment_bodies`` gives it)."""
        digest = (
            PhenotypeAssessment.objects.filter(patient_id=patient_id)
            .values_list("inputs_digest", flat=True)
            .first()
        )
        return cls(
            computed_at=phenotype.get("computed_at") or "",
            digest=digest or "",
            status=phenotype.get("status", ""),
        )


PRELIMINARY_MESSAGE = (
    "The assessment is preliminary: a read behind it is not finished. Tick the acknowledgement "
    "to sign on it anyway, or wait until the reads are finished."
)
EARLY_MESSAGE = (
    "The meeting is on {held_on} and today is {today}: a decision signed before the meeting's "
    "date must be marked as a decision outside the meeting."
)


def signing_refusals(
    *, meeting_id: int, preliminary: bool, acknowledged_preliminary: bool, outside_meeting: bool
) -> dict[str, str]:
    """Why a decision may not be signed now, by field (empty: it may).

    A snapshot of a preliminary assessment needs ``acknowledged_preliminary``. Before the
    meeting's date — today in the hospital's time zone (``TIME_ZONE``), so the day of the
    meeting itself is allowed — only a decision outside the meeting (``outside_meeting``) may
    be signed."""
    refusals: dict[str, str] = {}
    if preliminary and not acknowledged_preliminary:
        refusals["acknowledged_preliminary"] = PRELIMINARY_MESSAGE
    if not outside_meeting:
        held_on = Meeting.objects.values_list("held_on", flat=True).get(pk=meeting_id)
        today = timezone.localdate()
        if today < held_on:
            refusals["outside_meeting"] = EARLY_MESSAGE.format(
                held_on=held_on.isoformat(), today=today.isoformat()
            )
    return refusals


def current_decision(case: Case) -> Decision | None:
    """The decision that stands for a case: the latest one no other decision supersedes."""
    return (
        Decision.objects.filter(case=case, superseded_by__isnull=True)
        .select_related("decided_by")
        .order_by("-decided_at", "-id")
        .first()
    )


def decision_record(
    *,
    case: Case,
    recommendation: str,
    rationale: str,
    decided_by: AbstractBaseUser,
    attendees: str = "",
    sign: bool = False,
    supersedes: Decision | None = None,
    shown: ShownAssessment | None = None,
    base: str | None = None,
    acknowledged_preliminary: bool = False,
    outside_meeting: bool = False,
) -> Decision:
    """Record the board's decision on ``case`` with the stored assessment as its snapshot.

    From the API (no ``shown``): a new decision, superseding ``supersedes`` when given.
    From a page (``shown`` and ``base``, the id of the decision it showed as standing or ""):
    raises ``DecisionConflict`` when another decision stands now or the assessment is no longer
    the one shown. Otherwise the standing decision is updated in place when it is the signer's
    own draft on this same assessment; any other standing decision is superseded, so a
    decision's author, snapshot and signature always belong together.

    Signing on a preliminary assessment (a draft read behind it) needs
    ``acknowledged_preliminary``, which the decision keeps; signing before the meeting's date
    needs ``outside_meeting`` (a decision outside the meeting), which the decision keeps too.
    Without them, ``ValidationError`` naming each field (``signing_refusals``); nothing is
    written.
    """
    with transaction.atomic():
        # Lock order (apps/patients/locks.py): the case, the patient, then the assessment.
        Case.objects.select_for_update(no_key=True).filter(pk=case.pk).first()
        hold_patient(case.patient_id)
        stored_digest, stored_uptake = (
            PhenotypeAssessment.objects.select_for_update(no_key=True)
            .filter(patient_id=case.patient_id)
            .values_list("inputs_digest", "uptake")
            .first()
        ) or ("", {})
        bodies = scoring.assessment_bodies(case.patient_id)
        phenotype, response = bodies["phenotype"], bodies["response"]
        values = {
            "recommendation": recommendation,
            "rationale": rationale,
            "attendees": attendees,
            "outside_meeting": outside_meeting,
        }
        if sign:
            refusals = signing_refusals(
                meeting_id=case.meeting_id,
                preliminary=bool(phenotype.get("preliminary")),
                acknowledged_preliminary=acknowledged_preliminary,
                outside_meeting=outside_meeting,
            )
            if refusals:
                raise ValidationError(refusals)
        acknowledged = bool(sign and phenotype.get("preliminary") and acknowledged_preliminary)
        if shown is not None:
            current = current_decision(case)
            _check_shown(current, base or "", shown, phenotype, stored_digest)
            if (
                current is not None
                and not current.is_signed
                and current.decided_by_id == decided_by.pk
                and current.phenotype_snapshot == phenotype
                and current.response_snapshot == response
            ):
                decision = decision_update(decision=current, **values)
                if not sign:
                    return decision
                return decision_sign(decision=decision, acknowledged_preliminary=acknowledged)
            supersedes = current
        if supersedes is not None and supersedes.case_id != case.pk:
            raise ValidationError(
                {"supersedes": "A decision can only supersede one on the same case."}
            )
        now = timezone.now()
        decision = Decision(
            case=case,
            decided_by=decided_by,
            decided_at=now,
            phenotype_snapshot=phenotype,
            response_snapshot=response,
            agent_choice_lesions=agent_choice_lesions(
                phenotype.get("agent_choice"), case.patient_id, stored_uptake
            ),
            signed_at=now if sign else None,
            acknowledged_preliminary=acknowledged,
            supersedes=supersedes,
            **values,
        )
        decision.full_clean()
        if sign:
            # Its digest covers its id: the id is taken before the INSERT, which writes the
            # decision signed and chained at once (a signed row cannot be updated afterwards).
            decision.pk = integrity.reserve_id()
            integrity.chain_append(decision)
        try:
            with transaction.atomic():
                decision.save(force_insert=True)
        except IntegrityError as exc:
            # The one-successor constraint: someone superseded it first.
            raise DecisionConflict(CONFLICT_MESSAGE) from exc
        return decision


def _check_shown(
    current: Decision | None,
    base: str,
    shown: ShownAssessment,
    phenotype: dict[str, Any],
    stored_digest: str,
) -> None:
    if (str(current.pk) if current is not None else "") != base:
        raise DecisionConflict(CONFLICT_MESSAGE)
    if (phenotype["computed_at"] or "") != shown.computed_at or stored_digest != shown.digest:
        raise DecisionConflict(STALE_MESSAGE)
    if phenotype["status"] != shown.status:
        raise DecisionConflict(STATUS_MESSAGE.format(status=phenotype["status"]))


@transaction.atomic
def decision_update(*, decision: Decision, **changes: Any) -> Decision:
    """Change a draft decision. Snapshots, author and time are not editable at all."""
    locked = Decision.objects.select_for_update(no_key=True).get(pk=decision.pk)
    if locked.is_signed:
        raise DecisionSignedError()
    allowed = {"recommendation", "rationale", "attendees", "outside_meeting"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    for field, value in changes.items():
        setattr(locked, field, value)
    locked.full_clean()
    locked.save(update_fields=[*changes, "updated_at"])
    return locked


@transaction.atomic
def decision_sign(
    *,
    decision: Decision,
    acknowledged_preliminary: bool = False,
    outside_meeting: bool | None = None,
) -> Decision:
    """Sign a draft decision: on a preliminary snapshot only with ``acknowledged_preliminary``,
    before the meeting's date only as a decision outside the meeting (``outside_meeting``,
    given here or already stored on the draft). ``ValidationError`` naming the field
    otherwise (``signing_refusals``), and the draft stays as it was."""
    locked = Decision.objects.select_for_update(no_key=True).get(pk=decision.pk)
    if locked.is_signed:
        raise DecisionSignedError()
    if outside_meeting is not None:
        locked.outside_meeting = outside_meeting
    preliminary = bool(locked.phenotype_snapshot.get("preliminary"))
    case_meeting = Case.objects.values_list("meeting_id", flat=True).get(pk=locked.case_id)
    refusals = signing_refusals(
        meeting_id=case_meeting,
        preliminary=preliminary,
        acknowledged_preliminary=acknowledged_preliminary,
        outside_meeting=locked.outside_meeting,
    )
    if refusals:
        raise ValidationError(refusals)
    locked.signed_at = timezone.now()
    locked.acknowledged_preliminary = preliminary
    integrity.chain_append(locked)
    locked.save(
        update_fields=[
            "signed_at",
            "acknowledged_preliminary",
            "outside_meeting",
            *integrity.CHAIN_FIELDS,
            "updated_at",
        ]
    )
    return locked


def decision_delete(*, decision: Decision) -> None:
    if Decision.objects.filter(pk=decision.pk, signed_at__isnull=False).exists():
        raise DecisionSignedError()
    decision.delete()


# --- Meetings and cases -------------------------------------------------------------------------


@transaction.atomic
def meeting_create(
    *, held_on: Any, title: str = "", cases: Sequence[dict[str, Any]] = ()
) -> Meeting:
    """A meeting with its agenda (``cases``: dicts of ``patient``, ``question``, ``status``)."""
    meeting = Meeting.objects.create(held_on=held_on, title=title)
    for position, case in enumerate(cases):
        Case.objects.create(meeting=meeting, position=position, **case)
    return meeting


@transaction.atomic
def meeting_update(
    *, meeting: Meeting, cases: list[dict[str, Any]] | None = None, **changes: Any
) -> Meeting:
    """Change a meeting; with ``cases``, the agenda becomes exactly that list, in that order.
    Cases are matched by patient: kept ones are updated, missing ones removed."""
    for field, value in changes.items():
        setattr(meeting, field, value)
    meeting.save()
    if cases is not None:
        existing = {case.patient_id: case for case in meeting.cases.all()}
        wanted = {case["patient"].pk for case in cases}
        for patient_id, case in existing.items():
            if patient_id not in wanted:
                case.delete()
        for position, data in enumerate(cases):
            case = existing.get(data["patient"].pk)
            if case is None:
                Case.objects.create(meeting=meeting, position=position, **data)
            else:
                case.question = data["question"]
                case.status = data.get("status", case.status)
                case.position = position
                case.save()
    return meeting


class AlreadyListed(Exception):
    """The patient is already listed at this meeting."""


def case_add(*, meeting: Meeting, patient: Patient, question: str) -> Case:
    """List a patient at the end of the agenda. The meeting row is locked, so two coordinators
    adding at once get distinct positions. Raises ``AlreadyListed``."""
    with transaction.atomic():
        Meeting.objects.select_for_update(no_key=True).filter(pk=meeting.pk).first()
        last = meeting.cases.aggregate(last=Max("position"))["last"]
        try:
            with transaction.atomic():
                return Case.objects.create(
                    meeting=meeting,
                    patient=patient,
                    question=question,
                    position=0 if last is None else last + 1,
                )
        except IntegrityError as exc:
            raise AlreadyListed() from exc


def case_move(*, case: Case, direction: str) -> None:
    """Move a case one place ``up`` or ``down``. Positions are renumbered 0..n-1 in agenda order
    (the API and older rows may share a position), under a lock on the meeting."""
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update(no_key=True).get(pk=case.meeting_id)
        cases = list(meeting.cases.order_by("position", "id"))
        index = next((i for i, c in enumerate(cases) if c.pk == case.pk), None)
        if index is None:  # removed meanwhile
            return
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(cases):
            cases[index], cases[other] = cases[other], cases[index]
        now = timezone.now()
        changed = []
        for position, item in enumerate(cases):
            if item.position != position:
                item.position, item.updated_at = position, now
                changed.append(item)
        Case.objects.bulk_update(changed, ["position", "updated_at"])


class CaseHasDecision(Exception):
    """A case with a recorded decision stays on its meeting's agenda."""


def case_remove(*, case: Case) -> None:
    """Take a case off the agenda, unless a decision was recorded on it (decisions are kept:
    the database refuses too)."""
    with transaction.atomic():
        if case.decisions.exists():
            raise CaseHasDecision()
        case.delete()
