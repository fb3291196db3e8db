"""Browser pages for patients: the list, and the patient page with the phenotype timeline.

Every page reads what the workers stored (phenotype and response with their status); nothing is
computed here but the timeline's geometry. Every read of patient data writes an access event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from apps.core.access import record_access
from apps.decisions.models import Case, Decision
from apps.imaging.models import ImagingStudy
from apps.patients.models import Analyte, Patient, PrimarySite
from apps.patients.timeline import FDG_COLOURS, FDG_TEXT, SSTR_COLOURS, SSTR_TEXT, build_timeline
from apps.scoring import services as scoring
from apps.scoring.selectors import patient_rules_input, rules_thresholds

PAGE_SIZE = 25
# The latest timepoint's NETPET grade and whether its findings block, read off the stored JSON.
_LATEST_GRADE = RawSQL(
    "SELECT a.result -> 'timepoints' -> -1 -> 'netpet' ->> 'pattern' "
    "FROM scoring_phenotypeassessment a WHERE a.patient_id = patients_patient.id",
    [],
)
_LATEST_LABEL = RawSQL(
    "SELECT a.result -> 'timepoints' -> -1 -> 'netpet' ->> 'grade' "
    "FROM scoring_phenotypeassessment a WHERE a.patient_id = patients_patient.id",
    [],
)
_BLOCKING = RawSQL(
    "SELECT coalesce(a.result -> 'timepoints' -> -1 -> 'prrt_support' ->> 'overall', '') "
    "= 'blocking_findings_present' "
    "FROM scoring_phenotypeassessment a WHERE a.patient_id = patients_patient.id",
    [],
)
SORTS = {
    "name": ("family_name", "given_name", "id"),
    "-name": ("-family_name", "-given_name", "-id"),
    "mrn": ("mrn",),
    "-mrn": ("-mrn",),
    "updated": ("-updated_at", "id"),
    "grade": ("latest_grade", "family_name", "id"),
    "-grade": ("-latest_grade", "family_name", "id"),
}
GRADES = ["P0", "P1", "P2", "P3", "P4", "P5"]


@require_GET
@permission_required("patients.view_patient", raise_exception=True)
def patient_list(request: HttpRequest) -> HttpResponse:
    """Search by MRN or name, filter by primary site, latest NETPET pattern, blocking findings
    and listing at a meeting; sort; paginate. The form keeps what was chosen."""
    params = request.GET
    patients = Patient.objects.annotate(
        latest_grade=_LATEST_GRADE, latest_label=_LATEST_LABEL, blocking=_BLOCKING
    )
    query = params.get("q", "").strip()
    if query:
        patients = patients.filter(
            Q(mrn__icontains=query)
            | Q(family_name__icontains=query)
            | Q(given_name__icontains=query)
        )
    site = params.get("site", "")
    if site in PrimarySite.values:
        patients = patients.filter(primary_site=site)
    grade = params.get("grade", "")
    if grade in GRADES:
        patients = patients.filter(latest_grade=grade)
    if params.get("blocking") == "1":
        patients = patients.filter(blocking=True)
    if params.get("listed") == "1":
        patients = patients.filter(cases__isnull=False).distinct()
    sort = params.get("sort", "name")
    patients = patients.order_by(*SORTS.get(sort, SORTS["name"]))
    page = Paginator(patients, PAGE_SIZE).get_page(params.get("page"))
    record_access(request, [p.pk for p in page.object_list], "list_patients")
    keep = params.copy()
    keep.pop("page", None)
    return render(
        request,
        "patients/list.html",
        {
            "page": page,
            "query": query,
            "site": site,
            "grade": grade,
            "blocking": params.get("blocking") == "1",
            "listed": params.get("listed") == "1",
            "sort": sort if sort in SORTS else "name",
            "sites": PrimarySite.choices,
            "grades": GRADES,
            "keep": keep.urlencode(),
        },
    )


def _labelled(body: dict[str, Any]) -> dict[str, Any]:
    """The body with ``computed_label``: its ``computed_at`` as a reader sees it (UTC)."""
    stamp = body.get("computed_at")
    body["computed_label"] = (
        datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC") if stamp else ""
    )
    return body


def _assessment_context(patient: Patient) -> dict[str, Any]:
    bodies = scoring.assessment_bodies(patient.pk)
    phenotype, response = _labelled(bodies["result"]), bodies["response"]
    timepoints = phenotype["timepoints"]
    latest = next((tp for tp in reversed(timepoints) if tp["fdg_study"] is not None), None)
    latest = latest or (timepoints[-1] if timepoints else None)
    return {"phenotype": phenotype, "response": response, "latest": latest}


@require_GET
@permission_required(
    ["patients.view_patient", "scoring.view_phenotypeassessment"], raise_exception=True
)
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient page: the SSTR/FDG phenotype timeline, the current decision-support findings,
    RECIST/PERCIST tables and tumour markers, with the status of the assessment."""
    patient = get_object_or_404(Patient, pk=pk)
    record_access(request, [patient.pk], "view_patient_page")
    studies = (
        ImagingStudy.objects.filter(patient=patient)
        .annotate(read_count=Count("observations"))
        .order_by("-performed_on", "-id")
    )
    cases = list(
        Case.objects.filter(patient=patient)
        .select_related("meeting")
        .prefetch_related(
            Prefetch("decisions", queryset=Decision.objects.order_by("decided_at", "id"))
        )
        .order_by("-meeting__held_on", "-id")
    )
    for case in cases:
        decisions = list(case.decisions.all())
        case.latest_decision = decisions[-1] if decisions else None  # type: ignore[attr-defined]
    return render(
        request,
        "patients/detail.html",
        {**patient_page_context(patient), "studies": studies, "cases": cases},
    )


def patient_page_context(patient: Patient) -> dict[str, Any]:
    """What the patient page shows, for any page that shows a patient's timeline and findings
    (the patient page, presentation mode, the printed case summary): the stored phenotype and
    response with their status, the timeline geometry, the latest pathology and the markers."""
    context = _assessment_context(patient)
    thresholds = rules_thresholds()
    inputs = patient_rules_input(patient.pk)
    timeline = build_timeline(inputs, context["phenotype"], context["response"], thresholds)
    pathology = max(inputs.pathology, key=lambda p: p.reported_on, default=None)
    markers = [_sparkline(series) for series in context["response"]["biomarkers"]]
    return {
        **context,
        "patient": patient,
        "timeline": timeline,
        "pathology": pathology,
        "markers": markers,
        "sstr_scale": list(zip(range(5), SSTR_COLOURS, SSTR_TEXT, strict=True)),
        "fdg_scale": list(zip(range(4), FDG_COLOURS, FDG_TEXT, strict=True)),
    }


@require_GET
@permission_required(
    ["patients.view_patient", "scoring.view_phenotypeassessment"], raise_exception=True
)
def patient_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status line alone (htmx polls it while ``pending``; once the result is in, the page
    reloads itself to show it)."""
    patient = get_object_or_404(Patient, pk=pk)
    phenotype = _labelled(scoring.assessment_bodies(patient.pk, fields=())["header"])
    response = render(
        request,
        "patients/_status.html",
        {"patient": patient, "phenotype": phenotype, "polled": True},
    )
    shown = request.GET.get("shown", "")
    if phenotype["status"] == "fresh" and shown != (phenotype["computed_at"] or ""):
        response["HX-Refresh"] = "true"  # a newer result than the page shows: reload the page
    return response


def _sparkline(series: dict[str, Any]) -> dict[str, Any]:
    """Points of a small line chart (120 × 28) of one tumour-marker series."""
    values = [point["value"] for point in series["values"]]
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    n = len(values)
    xs = [4 + (i / (n - 1) if n > 1 else 0.5) * 112 for i in range(n)]
    ys = [24 - (v - low) / spread * 20 for v in values]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    name = dict(Analyte.choices).get(series["analyte"], series["analyte"])
    return {**series, "name": name, "points": points, "latest": values[-1], "count": n}
