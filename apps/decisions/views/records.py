"""What was decided: a decision with the assessment as shown when it was made (its snapshot),
and the printable case summary. Never the current data: the patient page has those."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.core.access import record_access
from apps.decisions.display import age_on, assessment_view
from apps.decisions.models import Case, CaseStatus, Decision
from apps.decisions.services import current_decision
from apps.decisions.views import VIEW_DECISIONS
from apps.patients.agent_choice import snapshot_agent_choice
from apps.patients.models import Patient


def _snapshot_context(decision: Decision, patient_id: int) -> dict[str, Any]:
    phenotype = decision.phenotype_snapshot
    # The agent choice as the snapshot holds it, never the patient's current one.
    agent = snapshot_agent_choice(phenotype, patient_id, decision.agent_choice_lesions)
    return {
        "snapshot": assessment_view(phenotype, decision.response_snapshot, agent=agent),
        "has_snapshot": bool(phenotype),
    }


@require_GET
@permission_required(VIEW_DECISIONS, raise_exception=True)
def decision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A decision with its snapshot, and what may be done with it (edit a standing draft,
    supersede a standing signed decision)."""
    decision = get_object_or_404(
        Decision.objects.select_related(
            "case__meeting", "case__patient", "decided_by", "supersedes", "superseded_by"
        ),
        pk=pk,
    )
    patient: Patient = decision.case.patient
    record_access(request, [patient.pk], "view_decision")
    standing = getattr(decision, "superseded_by", None) is None
    may_decide = standing and request.user.has_perm("decisions.add_decision")
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
            "can_supersede": may_decide and decision.is_signed,
            "can_edit": may_decide and not decision.is_signed,
            **_snapshot_context(decision, patient.pk),
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
        context.update(_snapshot_context(decision, case.patient_id))
    return render(request, "decisions/case_summary.html", context)
