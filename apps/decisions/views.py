"""Browser pages for MDT meetings: the list, the agenda, presentation mode, recording a decision,
the decision with its snapshot, and the printable case summary.

Two rules shape this module:

- A decision stores the assessment EXACTLY AS SHOWN. The page that shows an assessment carries
  its identity (``computed_at``, inputs digest, status) in hidden fields; the write compares it
  with the stored assessment under a row lock and refuses if they differ, so the snapshot the
  decision keeps is the one the board looked at, never a result computed in between.
- Pages that show a decision show its snapshot, never the current data: a later change of the
  patient's data must not rewrite what the board saw.

Every page that shows patient data writes access events (``record_access``); nothing about a
patient goes to the logs or into URLs beyond ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import JSONField
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.access import record_access
from apps.decisions import services
from apps.decisions.forms import CaseAddForm, CaseForm, DecisionForm, MeetingForm
from apps.decisions.models import Case, CaseStatus, Decision, Meeting
from apps.patients.locks import hold_patient
from apps.patients.models import Patient
from apps.patients.page import patient_page_context
from apps.scoring import services as scoring
from apps.scoring.models import InputVersion, PhenotypeAssessment

VIEW_CASES = [
    "decisions.view_meeting",
    "decisions.view_case",
    "patients.view_patient",
    "scoring.view_phenotypeassessment",
]
VIEW_DECISIONS = [*VIEW_CASES, "decisions.view_decision"]
PAST_PAGE_SIZE = 25

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
OVERALL_LABELS = {
    "no_blocking_finding": "No blocking finding",
    "blocking_findings_present": "Blocking findings present",
}
GRADE_NAMES = {"netpet": "NETPET", "karfis": "Karfis", "zidan": "Zidan"}

# The latest timepoint's grades, read off the stored JSON in the database: the same timepoint
# the patient page calls "latest" (the last one with an FDG PET, else the last one), without
# loading every patient's whole result to read three short strings.
_LATEST_GRADES = RawSQL(
    "SELECT jsonb_build_object("
    "'netpet', tp -> 'netpet' ->> 'grade', 'karfis', tp -> 'karfis' ->> 'group', "
    "'zidan', tp -> 'zidan' ->> 'group', 'overall', tp -> 'prrt_support' ->> 'overall', "
    "'provisional', tp -> 'provisional', 'grading_order', tp -> 'grading_order') "
    "FROM jsonb_array_elements(scoring_phenotypeassessment.result -> 'timepoints') "
    "WITH ORDINALITY AS t(tp, n) "
    "ORDER BY jsonb_typeof(tp -> 'fdg_study') = 'number' DESC, n DESC LIMIT 1",
    [],
    output_field=JSONField(),
)


# --- Reading the assessment and the snapshot ----------------------------------------------------


def latest_timepoint(phenotype: dict[str, Any]) -> dict[str, Any] | None:
    """The timepoint the patient page calls "latest": the last with an FDG PET, else the last."""
    timepoints = phenotype.get("timepoints") or []
    paired = [tp for tp in timepoints if tp.get("fdg_study") is not None]
    if paired:
        return paired[-1]
    return timepoints[-1] if timepoints else None


def stamp_label(stamp: str | None) -> str:
    """An ISO timestamp as a reader sees it (UTC, minutes), as on the patient page."""
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def support_view(timepoint: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a page shows of one timepoint: the three grades in the site's order (Zidan first
    for a lung primary) with their reasons and wording, and the PRRT decision-support findings
    with the overall line. Built here because a template cannot index a dict by a variable."""
    if timepoint is None:
        return None
    order = timepoint.get("grading_order") or ["netpet", "karfis", "zidan"]
    grades = []
    for key in order:
        result = timepoint.get(key) or {}
        grades.append(
            {
                "key": key,
                "name": GRADE_NAMES.get(key, key),
                "value": result.get("grade" if key == "netpet" else "group"),
                "reason": result.get("reason", ""),
                "suitability": result.get("suitability"),
                "note": result.get("note", ""),
                "provisional": bool(result.get("provisional")),
            }
        )
    support = timepoint.get("prrt_support") or {}
    overall = support.get("overall", "")
    return {
        "sstr_performed_on": timepoint.get("sstr_performed_on"),
        "fdg_performed_on": timepoint.get("fdg_performed_on"),
        "provisional": bool(timepoint.get("provisional")),
        "grades": grades,
        "findings": support.get("findings") or [],
        "overall": overall,
        "overall_label": OVERALL_LABELS.get(overall, overall.replace("_", " ")),
        "blocking": overall == "blocking_findings_present",
    }


def assessment_view(phenotype: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The parts of a phenotype and response body that the meeting pages show, for the current
    assessment and for a decision's snapshot alike (one template renders both)."""
    recist = response.get("recist") or []
    percist = response.get("percist") or []
    return {
        "status": phenotype.get("status", ""),
        "computed_at": phenotype.get("computed_at"),
        "computed_label": stamp_label(phenotype.get("computed_at")),
        "rules_version": phenotype.get("rules_version"),
        "support": support_view(latest_timepoint(phenotype)),
        "dual_tracer": response.get("dual_tracer") or [],
        "alerts": response.get("dual_tracer_alerts") or [],
        "recist": recist[-1] if recist else None,
        "percist": percist[-1] if percist else None,
    }


@dataclass(frozen=True)
class ShownAssessment:
    """The identity of the assessment a page showed: the hidden fields of the decision form."""

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


def _stored_digest(patient_id: int) -> str:
    digest = (
        PhenotypeAssessment.objects.filter(patient_id=patient_id)
        .values_list("inputs_digest", flat=True)
        .first()
    )
    return digest or ""


def age_on(birth_date: date | None, day: date) -> int | None:
    """Age in whole years on ``day`` (the meeting's date, so the page does not change later)."""
    if birth_date is None:
        return None
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday


def current_decision(case: Case) -> Decision | None:
    """The decision that stands for a case: the latest one no other decision supersedes."""
    return (
        Decision.objects.filter(case=case, superseded_by__isnull=True)
        .select_related("decided_by")
        .order_by("-decided_at", "-id")
        .first()
    )


def _ordered_cases(meeting: Meeting) -> list[Case]:
    return list(meeting.cases.select_related("patient").order_by("position", "id"))


# --- Meetings ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@permission_required("decisions.view_meeting", raise_exception=True)
def meeting_list(request: HttpRequest) -> HttpResponse:
    """Upcoming meetings (soonest first) and past ones (latest first, paged), with their number
    of cases; coordinators create a meeting here. No patient data, so no access event."""
    form = MeetingForm(auto_id="meeting_%s")
    if request.method == "POST":
        if not request.user.has_perm("decisions.add_meeting"):
            raise PermissionDenied
        form = MeetingForm(request.POST, context={"request": request}, auto_id="meeting_%s")
        if form.is_valid():
            meeting = form.save()
            if meeting is not None:
                messages.success(request, "Meeting created.")
                return redirect("meeting-page", meeting.pk)
    today = timezone.localdate()
    meetings = Meeting.objects.annotate(case_count=Count("cases"))
    upcoming = meetings.filter(held_on__gte=today).order_by("held_on", "id")
    past = Paginator(meetings.filter(held_on__lt=today).order_by("-held_on", "-id"), PAST_PAGE_SIZE)
    return render(
        request,
        "decisions/meeting_list.html",
        {
            "form": form,
            "upcoming": upcoming,
            "past": past.get_page(request.GET.get("page")),
            "today": today,
        },
    )


def _agenda_rows(cases: list[Case]) -> list[dict[str, Any]]:
    """One row per case with the latest grades, the assessment status and the decision state,
    in a fixed number of queries whatever the number of cases (three: assessments, versions,
    decisions)."""
    patient_ids = [case.patient_id for case in cases]
    assessments = {
        a.patient_id: a
        for a in PhenotypeAssessment.objects.filter(patient_id__in=patient_ids)
        .defer("result", "response")
        .annotate(latest=_LATEST_GRADES)
    }
    versions = {v.patient_id: v for v in InputVersion.objects.filter(patient_id__in=patient_ids)}
    decisions: dict[int, Decision] = {}
    for decision in Decision.objects.filter(
        case_id__in=[case.pk for case in cases], superseded_by__isnull=True
    ).order_by("decided_at", "id"):
        decisions[decision.case_id] = decision  # the latest one stands
    fingerprint = scoring.rules_fingerprint()
    rows = []
    for case in cases:
        assessment = assessments.get(case.patient_id)
        latest = (assessment.latest if assessment is not None else None) or {}
        order = latest.get("grading_order") or ["netpet", "karfis", "zidan"]
        decision = decisions.get(case.pk)
        rows.append(
            {
                "case": case,
                "patient": case.patient,
                "grades": [(GRADE_NAMES[key], latest.get(key)) for key in order],
                "blocking": latest.get("overall") == "blocking_findings_present",
                "provisional": bool(latest.get("provisional")),
                "status": scoring.status_of(versions.get(case.patient_id), assessment, fingerprint),
                "computed_label": stamp_label(
                    assessment.computed_at.isoformat() if assessment is not None else None
                ),
                "decision": decision,
                "decision_state": (
                    "none" if decision is None else "signed" if decision.is_signed else "draft"
                ),
            }
        )
    return rows


def _agenda(
    request: HttpRequest,
    meeting: Meeting,
    *,
    add_form: CaseAddForm | None = None,
    edit: tuple[int, CaseForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The agenda page, also re-rendered with a refused form's errors and typed values."""
    cases = _ordered_cases(meeting)
    rows = _agenda_rows(cases)
    for number, row in enumerate(rows, start=1):
        row["number"] = number
        row["first"], row["last"] = number == 1, number == len(rows)
        if edit is not None and edit[0] == row["case"].pk:
            row["edit_form"], row["edit_open"] = edit[1], True
        else:
            row["edit_form"] = CaseForm(instance=row["case"], auto_id=f"case{row['case'].pk}_%s")
    record_access(request, [case.patient_id for case in cases], "view_meeting_agenda")
    return render(
        request,
        "decisions/meeting_detail.html",
        {
            "meeting": meeting,
            "rows": rows,
            "add_form": add_form or CaseAddForm(meeting=meeting, auto_id="add_%s"),
            "first_case": cases[0] if cases else None,
        },
        status=status,
    )


@require_GET
@permission_required(VIEW_CASES, raise_exception=True)
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The agenda: the cases in order with the patient, question, status, latest grades,
    assessment status and decision state; coordinators manage the list here."""
    return _agenda(request, get_object_or_404(Meeting, pk=pk))


@require_POST
@permission_required([*VIEW_CASES, "decisions.add_case"], raise_exception=True)
def case_add(request: HttpRequest, pk: int) -> HttpResponse:
    """List a patient (by MRN) at the end of the agenda. The meeting row is locked so two
    coordinators adding at once get distinct positions."""
    with transaction.atomic():
        meeting = get_object_or_404(Meeting.objects.select_for_update(no_key=True), pk=pk)
        form = CaseAddForm(request.POST, meeting=meeting, auto_id="add_%s")
        if form.is_valid() and form.patient is not None:
            last = meeting.cases.aggregate(last=Max("position"))["last"]
            try:
                with transaction.atomic():
                    case = Case.objects.create(
                        meeting=meeting,
                        patient=form.patient,
                        question=form.cleaned_data["question"],
                        position=0 if last is None else last + 1,
                    )
            except IntegrityError:
                form.add_error("mrn", "This patient is already listed at this meeting.")
            else:
                messages.success(request, "Case added to the agenda.")
                return redirect(reverse("meeting-page", args=[meeting.pk]) + f"#case-{case.pk}")
    return _agenda(request, meeting, add_form=form)


@require_POST
@permission_required([*VIEW_CASES, "decisions.change_case"], raise_exception=True)
def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a case's question and status (validated by the API's ``CaseSerializer``)."""
    case = get_object_or_404(Case.objects.select_related("meeting"), pk=pk)
    form = CaseForm(
        request.POST,
        instance=case,
        extra_data={"patient": case.patient_id},
        auto_id=f"case{case.pk}_%s",
    )
    if form.is_valid() and form.save() is not None:
        messages.success(request, "Case updated.")
        return redirect(reverse("meeting-page", args=[case.meeting_id]) + f"#case-{case.pk}")
    return _agenda(request, case.meeting, edit=(case.pk, form))


@require_POST
@permission_required([*VIEW_CASES, "decisions.change_case"], raise_exception=True)
def case_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a case one place up or down. Positions are renumbered 0..n-1 in agenda order (the
    API and older rows may share a position), under a lock on the meeting."""
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("direction must be up or down")
    case = get_object_or_404(Case, pk=pk)
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update(no_key=True).get(pk=case.meeting_id)
        cases = list(meeting.cases.order_by("position", "id"))
        index = next((i for i, c in enumerate(cases) if c.pk == case.pk), None)
        if index is None:  # removed meanwhile
            return redirect("meeting-page", case.meeting_id)
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
    return redirect(reverse("meeting-page", args=[case.meeting_id]) + f"#case-{case.pk}")


@require_POST
@permission_required([*VIEW_CASES, "decisions.delete_case"], raise_exception=True)
def case_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Take a case off the agenda, unless a decision was recorded on it (decisions are kept)."""
    case = get_object_or_404(Case, pk=pk)
    if case.decisions.exists():
        messages.error(
            request, "This case has a recorded decision and stays on the agenda of its meeting."
        )
    else:
        case.delete()
        messages.success(request, "Case removed from the agenda.")
    return redirect("meeting-page", case.meeting_id)


# --- Presentation and decisions ---------------------------------------------------------------


def _save_decision(request: HttpRequest, case: Case) -> HttpResponse | tuple[DecisionForm, int]:
    """Record, update or sign the decision posted for ``case``; a redirect when saved, else the
    bound form with its errors and the status to answer with.

    Under a lock on the case (one decision write per case at a time) and on the stored
    assessment (no recompute can replace it until this commits), the write checks that the page
    showed the decision that stands now (``base``) and the assessment that is stored now
    (``computed_at``, inputs digest, status). The snapshot stored is then exactly the bodies the
    page showed. A draft is updated in place only by its author and only while its snapshot is
    still the shown assessment; otherwise, like a signed decision, it is superseded by a new one,
    so a decision's author, snapshot and signature always belong together.
    """
    sign = request.POST.get("action") == "sign"
    shown = ShownAssessment.from_post(request.POST)
    base = request.POST.get("base", "")
    with transaction.atomic():
        Case.objects.select_for_update(no_key=True).filter(pk=case.pk).first()
        hold_patient(case.patient_id)  # before the assessment: apps/patients/locks.py
        stored = (
            PhenotypeAssessment.objects.select_for_update(no_key=True)
            .filter(patient_id=case.patient_id)
            .values_list("inputs_digest", flat=True)
            .first()
        )
        current = current_decision(case)
        bodies = scoring.assessment_bodies(case.patient_id)
        phenotype, response = bodies["result"], bodies["response"]
        conflict = None
        if (str(current.pk) if current is not None else "") != base:
            conflict = CONFLICT_MESSAGE
        elif (phenotype["computed_at"] or "") != shown.computed_at or (stored or "") != (
            shown.digest
        ):
            conflict = STALE_MESSAGE
        elif phenotype["status"] != shown.status:
            conflict = STATUS_MESSAGE.format(status=phenotype["status"])
        update_draft = (
            current is not None
            and not current.is_signed
            and current.decided_by_id == request.user.pk
            and current.phenotype_snapshot == phenotype
            and current.response_snapshot == response
        )
        supersedes = None if current is None or update_draft else current
        extra: dict[str, Any] = {"case": case.pk}
        if supersedes is not None:
            extra["supersedes"] = supersedes.pk
        form = DecisionForm(
            request.POST,
            instance=current if update_draft else None,
            extra_data=extra,
            auto_id="decision_%s",
        )
        valid = form.is_valid()
        if conflict is not None:
            form.add_error(None, conflict)
            return form, 409
        if not valid:
            # A draft saved again since this page was shown (ApiForm's ETag check) is a
            # conflict too; anything else is the user's input to correct.
            return form, 409 if form.conflict else 200
        values = {
            "recommendation": form.cleaned_data["recommendation"],
            "rationale": form.cleaned_data["rationale"],
            "attendees": form.cleaned_data.get("attendees", ""),
        }
        try:
            with transaction.atomic():
                if update_draft and current is not None:
                    decision = services.decision_update(decision=current, **values)
                    if sign:
                        decision = services.decision_sign(decision=decision)
                else:
                    decision = services.decision_record(
                        case=case,
                        decided_by=request.user,  # type: ignore[arg-type]
                        phenotype_snapshot=phenotype,
                        response_snapshot=response,
                        sign=sign,
                        supersedes=supersedes,
                        **values,
                    )
        except services.DecisionSignedError:
            form.add_error(None, CONFLICT_MESSAGE)
            return form, 409
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                target = field if field in form.fields else None
                for message in errors:
                    form.add_error(target, message)
            return form, 200
    messages.success(
        request, "Decision signed." if decision.is_signed else "Decision saved as a draft."
    )
    return redirect(request.path + "#decision")


def _decision_block(
    request: HttpRequest,
    case: Case,
    current: Decision | None,
    phenotype: dict[str, Any],
    response: dict[str, Any],
    form: DecisionForm | None,
) -> dict[str, Any]:
    """What the decision part of a case page needs: the standing decision, whether the form
    shows (and what saving it will do), and the identity of the assessment shown."""
    can_decide = request.user.has_perm("decisions.add_decision")
    supersede_mode = request.GET.get("supersede") == "1"
    own_draft = (
        current is not None
        and not current.is_signed
        and current.decided_by_id == request.user.pk
        and current.phenotype_snapshot.get("computed_at") == phenotype.get("computed_at")
        and current.phenotype_snapshot.get("status") == phenotype.get("status")
    )
    show_form = can_decide and (
        current is None or not current.is_signed or supersede_mode or form is not None
    )
    if form is None and show_form:
        # Superseding starts from what stands: a draft's whole content (someone else's, or one
        # on an older assessment), a signed decision's attendees (the same people are present).
        initial: dict[str, Any] = {}
        if current is not None and not own_draft:
            initial["attendees"] = current.attendees
            if not current.is_signed:
                initial.update(recommendation=current.recommendation, rationale=current.rationale)
        form = DecisionForm(
            instance=current if own_draft else None, initial=initial, auto_id="decision_%s"
        )
    notice = ""
    if show_form and current is not None:
        if current.is_signed:
            notice = (
                "Saving records a new decision that supersedes the signed one; the signed "
                "decision is kept unchanged."
            )
        elif not own_draft:
            notice = (
                "This draft was saved by another clinician or on another assessment than the "
                "one shown here: saving records a new decision on the assessment shown, which "
                "supersedes the draft."
            )
    return {
        "decision": current,
        "can_decide": can_decide,
        "show_form": show_form,
        "form": form,
        "notice": notice,
        "base": current.pk if current is not None else "",
        "shown": ShownAssessment(
            computed_at=phenotype.get("computed_at") or "",
            digest=_stored_digest(case.patient_id),
            status=phenotype.get("status", ""),
        ),
    }


def _case_page(request: HttpRequest, case: Case, template: str, action: str) -> HttpResponse:
    """A case with its current assessment and the decision form (presentation mode and the
    case's decision page): POST records the decision, GET shows the page."""
    form: DecisionForm | None = None
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("decisions.add_decision"):
            raise PermissionDenied
        outcome = _save_decision(request, case)
        if isinstance(outcome, HttpResponse):
            return outcome
        form, status = outcome
    patient = case.patient
    context = patient_page_context(patient)
    ordered = list(
        Case.objects.filter(meeting_id=case.meeting_id)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )
    index = ordered.index(case.pk)
    record_access(request, [patient.pk], action)
    context.update(
        {
            "case": case,
            "meeting": case.meeting,
            "age": age_on(patient.birth_date, case.meeting.held_on),
            "assessment": assessment_view(context["phenotype"], context["response"]),
            "number": index + 1,
            "total": len(ordered),
            "previous_id": ordered[index - 1] if index > 0 else None,
            "next_id": ordered[index + 1] if index + 1 < len(ordered) else None,
            **_decision_block(
                request,
                case,
                current_decision(case),
                context["phenotype"],
                context["response"],
                form,
            ),
        }
    )
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@permission_required(VIEW_CASES, raise_exception=True)
def meeting_present(request: HttpRequest, pk: int, case_id: int) -> HttpResponse:
    """Presentation mode: one case full-screen for the projector, with the decision form for
    clinicians. Keyboard shortcuts are in static/js/present.js."""
    case = get_object_or_404(
        Case.objects.select_related("meeting", "patient"), pk=case_id, meeting_id=pk
    )
    return _case_page(request, case, "decisions/present.html", "present_case")


@require_http_methods(["GET", "POST"])
@permission_required(VIEW_CASES, raise_exception=True)
def case_decision(request: HttpRequest, pk: int) -> HttpResponse:
    """The decision on a case outside presentation mode (same content, the site's layout)."""
    case = get_object_or_404(Case.objects.select_related("meeting", "patient"), pk=pk)
    return _case_page(request, case, "decisions/case_decision.html", "view_case_decision")


def _snapshot_context(decision: Decision) -> dict[str, Any]:
    return {
        "snapshot": assessment_view(decision.phenotype_snapshot, decision.response_snapshot),
        "has_snapshot": bool(decision.phenotype_snapshot),
    }


@require_GET
@permission_required(VIEW_DECISIONS, raise_exception=True)
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A decision with the assessment as shown when it was made (its snapshot), never the
    current data; the patient page has those."""
    decision = get_object_or_404(
        Decision.objects.select_related(
            "case__meeting", "case__patient", "decided_by", "supersedes", "superseded_by"
        ),
        pk=pk,
    )
    patient: Patient = decision.case.patient
    record_access(request, [patient.pk], "view_decision")
    standing = getattr(decision, "superseded_by", None) is None
    return render(
        request,
        "decisions/decision_detail.html",
        {
            "decision": decision,
            "case": decision.case,
            "meeting": decision.case.meeting,
            "patient": patient,
            "age": age_on(patient.birth_date, decision.case.meeting.held_on),
            "superseded_by": getattr(decision, "superseded_by", None),
            "can_supersede": standing
            and decision.is_signed
            and request.user.has_perm("decisions.add_decision"),
            "can_edit": standing
            and not decision.is_signed
            and request.user.has_perm("decisions.add_decision"),
            **_snapshot_context(decision),
        },
    )


@require_GET
@permission_required(VIEW_DECISIONS, raise_exception=True)
def case_summary(request: HttpRequest, pk: int) -> HttpResponse:
    """The printable summary of a case: patient, question, the standing decision with its
    snapshot, attendees and signature. For a PDF, the browser's Print to PDF."""
    case = get_object_or_404(Case.objects.select_related("meeting", "patient"), pk=pk)
    decision = current_decision(case)
    record_access(request, [case.patient_id], "view_case_summary")
    context: dict[str, Any] = {
        "case": case,
        "meeting": case.meeting,
        "patient": case.patient,
        "age": age_on(case.patient.birth_date, case.meeting.held_on),
        "decision": decision,
        "status_labels": dict(CaseStatus.choices),
        "printed_at": timezone.now(),
    }
    if decision is not None:
        context.update(_snapshot_context(decision))
    return render(request, "decisions/case_summary.html", context)
