"""The meeting list and a meeting's agenda, where coordinators manage the cases."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.access import record_access
from apps.decisions import services
from apps.decisions.display import DEFAULT_ORDER, GRADE_NAMES, grade_value, stamp_label
from apps.decisions.forms import CaseAddForm, CaseForm, MeetingForm
from apps.decisions.models import Case, Decision, Meeting
from apps.decisions.picker import patient_matches
from apps.decisions.views import VIEW_CASES
from apps.scoring import services as scoring
from apps.scoring.models import InputVersion, PhenotypeAssessment

PAST_PAGE_SIZE = 25
# Who may add cases to an agenda, and so use its patient picker.
ADD_CASE = [*VIEW_CASES, "decisions.add_case"]
PICKER_ACTION = "search_patients_for_agenda"


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
    decisions). The grades are those of the stored latest timepoint. A case whose standing
    decision is signed is *decided* (``decided_at``: when it was signed)."""
    patient_ids = [case.patient_id for case in cases]
    assessments = {
        a.patient_id: a
        for a in PhenotypeAssessment.objects.filter(patient_id__in=patient_ids).defer(
            "phenotype", "response", "uptake", "summary"
        )
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
        latest = (assessment.latest_timepoint if assessment is not None else None) or {}
        order = latest.get("grading_order") or DEFAULT_ORDER
        decision = decisions.get(case.pk)
        overall = (latest.get("prrt_support") or {}).get("overall")
        rows.append(
            {
                "case": case,
                "patient": case.patient,
                "grades": [(GRADE_NAMES[key], grade_value(latest, key)) for key in order],
                "blocking": overall == "blocking_findings_present",
                "provisional": bool(latest.get("provisional")),
                "preliminary": bool(latest.get("preliminary")),
                "status": scoring.status_of(versions.get(case.patient_id), assessment, fingerprint),
                "computed_label": stamp_label(
                    assessment.computed_at.isoformat() if assessment is not None else None
                ),
                "decision": decision,
                "decision_state": (
                    "none" if decision is None else "signed" if decision.is_signed else "draft"
                ),
                "decided_at": decision.signed_at if decision is not None else None,
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
    cases = list(meeting.cases.select_related("patient").order_by("position", "id"))
    rows = _agenda_rows(cases)
    for number, row in enumerate(rows, start=1):
        row["number"] = number
        row["first"], row["last"] = number == 1, number == len(rows)
        if edit is not None and edit[0] == row["case"].pk:
            row["edit_form"], row["edit_open"] = edit[1], True
        else:
            row["edit_form"] = CaseForm(instance=row["case"], auto_id=f"case{row['case'].pk}_%s")
    record_access(request, [case.patient_id for case in cases], "view_meeting_agenda")
    if add_form is not None and add_form.matches:
        # The patients listed to choose from (a typed query submitted without the picker).
        record_access(request, [m.patient.pk for m in add_form.matches], PICKER_ACTION)
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


def _agenda_url(case: Case) -> str:
    return reverse("meeting-page", args=[case.meeting_id]) + f"#case-{case.pk}"


@require_GET
@permission_required(VIEW_CASES, raise_exception=True)
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The agenda: the cases in order with the patient, question, status, latest grades,
    assessment status and decision state; coordinators manage the list here."""
    return _agenda(request, get_object_or_404(Meeting, pk=pk))


@require_POST
@permission_required(ADD_CASE, raise_exception=True)
def case_add(request: HttpRequest, pk: int) -> HttpResponse:
    """List a patient at the end of the agenda: the one picked (by id), or named by an exact
    MRN; any other text re-shows the page with the matching patients to choose from, each with
    an Add button (``CaseAddForm``), and what was typed kept."""
    meeting = get_object_or_404(Meeting, pk=pk)
    form = CaseAddForm(request.POST, meeting=meeting, auto_id="add_%s")
    if form.is_valid() and form.found is not None:
        try:
            case = services.case_add(
                meeting=meeting, patient=form.found, question=form.cleaned_data["question"]
            )
        except services.AlreadyListed:
            form.add_error("mrn", "This patient is already listed at this meeting.")
        else:
            messages.success(request, "Case added to the agenda.")
            return redirect(_agenda_url(case))
    return _agenda(request, meeting, add_form=form)


@require_POST
@permission_required(ADD_CASE, raise_exception=True)
def meeting_patient_search(request: HttpRequest, pk: int) -> JsonResponse:
    """The patient picker's matches for ``q`` (what the coordinator typed to add a case, sent in
    the body of a POST, so that it is in no URL, history or access log):
    ``{"results": [{"id", "mrn", "name", "birth_date", "listed"}], "more"}``, up to
    ``PICKER_LIMIT`` (an MRN typed whole first), ``listed`` when already on this agenda. Patient
    data only in the body (never stored or logged: the typed text included); an access event
    per patient returned; not cached."""
    meeting = get_object_or_404(Meeting, pk=pk)
    matches, more = patient_matches(meeting, request.POST.get("q", "")[:200])
    record_access(request, [m.patient.pk for m in matches], PICKER_ACTION)
    response = JsonResponse(
        {
            "results": [
                {
                    "id": m.patient.pk,
                    "mrn": m.patient.mrn,
                    "name": m.name,
                    "birth_date": (
                        m.patient.birth_date.isoformat() if m.patient.birth_date else None
                    ),
                    "listed": m.listed,
                }
                for m in matches
            ],
            "more": more,
        }
    )
    add_never_cache_headers(response)
    return response


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
        return redirect(_agenda_url(case))
    return _agenda(request, case.meeting, edit=(case.pk, form))


@require_POST
@permission_required([*VIEW_CASES, "decisions.change_case"], raise_exception=True)
def case_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a case one place up or down."""
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("direction must be up or down")
    case = get_object_or_404(Case, pk=pk)
    services.case_move(case=case, direction=direction)
    return redirect(_agenda_url(case))


@require_POST
@permission_required([*VIEW_CASES, "decisions.delete_case"], raise_exception=True)
def case_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Take a case off the agenda, unless a decision was recorded on it (decisions are kept)."""
    case = get_object_or_404(Case, pk=pk)
    try:
        services.case_remove(case=case)
    except services.CaseHasDecision:
        messages.error(
            request, "This case has a recorded decision and stays on the agenda of its meeting."
        )
    else:
        messages.success(request, "Case removed from the agenda.")
    return redirect("meeting-page", case.meeting_id)
