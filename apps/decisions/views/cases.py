"""A case in front of the board: presentation mode and the case's decision page, both showing
the current assessment with the decision form. The decision is written by
``services.decision_record``, which refuses when the page no longer shows what stands."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.core.access import record_access
from apps.decisions import services
from apps.decisions.display import age_on, assessment_view
from apps.decisions.forms import DecisionForm
from apps.decisions.models import Case, Decision
from apps.decisions.services import ShownAssessment, current_decision
from apps.decisions.views import VIEW_CASES
from apps.patients.page import patient_page_context
from apps.scoring import services as scoring


def _own_draft(current: Decision | None, user: Any, phenotype: dict[str, Any]) -> bool:
    """Whether the standing decision is this user's draft on the assessment shown: saving the
    form then changes that draft instead of superseding it."""
    return (
        current is not None
        and not current.is_signed
        and current.decided_by_id == user.pk
        and current.phenotype_snapshot.get("computed_at") == phenotype.get("computed_at")
        and current.phenotype_snapshot.get("status") == phenotype.get("status")
    )


def _save_decision(request: HttpRequest, case: Case) -> HttpResponse | tuple[DecisionForm, int]:
    """Record, update or sign the decision posted for ``case``: a redirect when saved, else the
    bound form with its errors and the status to answer with (409 when what the page showed no
    longer stands)."""
    current = current_decision(case)
    # The form checks the draft's ETag when the page showed this user's own draft; the service
    # checks again under its locks what stands and which assessment is stored.
    header = scoring.assessment_bodies(case.patient_id, fields=())["header"]
    edits_draft = _own_draft(current, request.user, header)
    extra: dict[str, Any] = {"case": case.pk}
    if current is not None and not edits_draft:
        extra["supersedes"] = current.pk
    form = DecisionForm(
        request.POST,
        instance=current if edits_draft else None,
        extra_data=extra,
        auto_id="decision_%s",
    )
    if not form.is_valid():
        # A draft saved again since this page was shown (ApiForm's ETag check) is a conflict
        # too; anything else is the user's input to correct.
        return form, 409 if form.conflict else 200
    try:
        decision = services.decision_record(
            case=case,
            decided_by=request.user,  # type: ignore[arg-type]
            recommendation=form.cleaned_data["recommendation"],
            rationale=form.cleaned_data["rationale"],
            attendees=form.cleaned_data.get("attendees", ""),
            sign=request.POST.get("action") == "sign",
            shown=ShownAssessment.from_post(request.POST),
            base=request.POST.get("base", ""),
            acknowledged_preliminary=request.POST.get("acknowledged_preliminary") == "on",
            outside_meeting=bool(form.cleaned_data.get("outside_meeting", False)),
        )
    except services.DecisionConflict as exc:
        form.add_error(None, exc.message)
        return form, 409
    except services.DecisionSignedError:
        form.add_error(None, services.CONFLICT_MESSAGE)
        return form, 409
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for message in errors:
                form.add_error(target, message)
        form.describe_fields()  # tie each message to its input
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
    form: DecisionForm | None,
) -> dict[str, Any]:
    """What the decision part of a case page needs: the standing decision, whether the form
    shows (and what saving it will do), and the identity of the assessment shown."""
    can_decide = request.user.has_perm("decisions.add_decision")
    supersede_mode = request.GET.get("supersede") == "1"
    own_draft = _own_draft(current, request.user, phenotype)
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
        "shown": ShownAssessment.of_patient(case.patient_id, phenotype),
        # Signing now needs "a decision outside the meeting" (services.signing_refusals).
        "before_meeting": timezone.localdate() < case.meeting.held_on,
    }


def _case_page(request: HttpRequest, case: Case, template: str, action: str) -> HttpResponse:
    """A case with its current assessment and the decision form: POST records the decision,
    GET shows the page."""
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
            "assessment": assessment_view(
                context["phenotype"], context["response"], agent=context["agent"]
            ),
            "number": index + 1,
            "total": len(ordered),
            "previous_id": ordered[index - 1] if index > 0 else None,
            "next_id": ordered[index + 1] if index + 1 < len(ordered) else None,
            **_decision_block(request, case, current_decision(case), context["phenotype"], form),
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
