"""Browser pages for patients: the list, and the patient page with the phenotype timeline.

Every page reads what the workers stored (phenotype and response with their status); what the
patient page shows is in ``apps.patients.page``. Every read of patient data writes an access
event.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import BooleanField, ExpressionWrapper, F, Prefetch, Q
from django.db.models.fields.json import KT
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.access import record_access
from apps.decisions.models import Case, Decision
from apps.patients.models import Patient, PrimarySite
from apps.patients.page import labelled, live_state, patient_page_context
from apps.scoring import services as scoring

PAGE_SIZE = 25
# The latest timepoint's NETPET pattern and grade, and whether its findings block: read off the
# worker's stored ``latest_timepoint(phenotype)`` (apps.scoring.models), the one the patient page
# shows. No assessment yet: NULL (sorted last, matching no grade and no blocking filter).
_LATEST = {"latest": F("phenotype_assessment__latest_timepoint")}
_LATEST_GRADE = KT("latest__netpet__pattern")
_LATEST_LABEL = KT("latest__netpet__grade")
_BLOCKING = ExpressionWrapper(
    Q(latest__prrt_support__overall="blocking_findings_present"), output_field=BooleanField()
)
_PRELIMINARY = ExpressionWrapper(Q(latest__preliminary=True), output_field=BooleanField())
# Why the list shows no NETPET grade ("—"): read off the same stored latest timepoint.
NO_GRADE_REASONS = {
    "not_computed": "not yet computed",
    "no_timepoint": "no dual-tracer timepoint yet (no pre-therapy SSTR PET)",
    "no_fdg_partner": "SSTR PET without an FDG PET partner",
    "not_classifiable": "not classifiable (no lesion graded on both PETs)",
}
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


# What was typed in the search box is patient data (a name, an MRN): it is kept in the session
# under a random token, and the list's URL carries the token only (``?search=…``), never the text,
# so that it is in no history, bookmark, referrer or access log. The newest searches are kept.
SEARCHES = "patient_searches"
KEPT_SEARCHES = 20
SEARCH_LENGTH = 200  # characters of the text typed that are searched (and kept), as the picker
SEARCH_GONE = "That search is no longer kept (searches last as long as the session): type it again."


def _search_token(request: HttpRequest, text: str) -> str:
    """The token of ``text`` among the session's searches (a new one if it is not there)."""
    searches: dict[str, str] = dict(request.session.get(SEARCHES, {}))
    for token, kept in searches.items():
        if kept == text:
            return token
    token = secrets.token_urlsafe(6)
    searches[token] = text
    request.session[SEARCHES] = dict(list(searches.items())[-KEPT_SEARCHES:])
    return token


def _to_search(request: HttpRequest, params: Any) -> HttpResponse:
    """Redirect to the list with ``params`` (the form's fields), the typed text as its token."""
    kept = {
        name: params.get(name)
        for name in ("site", "grade", "blocking", "listed", "sort")
        if params.get(name)
    }
    text = params.get("q", "").strip()[:SEARCH_LENGTH]
    if text:
        kept = {"search": _search_token(request, text), **kept}
    return redirect(reverse("home") + (f"?{urlencode(kept)}" if kept else ""))


@require_http_methods(["GET", "POST"])
@permission_required("patients.view_patient", raise_exception=True)
def patient_list(request: HttpRequest) -> HttpResponse:
    """Search by MRN or name (every word typed, in any order: ``Patient.objects.search``, as
    the agenda's patient picker), filter by primary site, latest NETPET pattern, blocking findings
    and listing at a meeting; sort; paginate. The form keeps what was chosen.

    The form is sent by POST and answered with a redirect to the list whose URL names the search
    by its token (``SEARCHES``); a ``?q=`` link (typed by hand, or an old bookmark) is redirected
    the same way."""
    if request.method == "POST":
        return _to_search(request, request.POST)
    if "q" in request.GET:
        return _to_search(request, request.GET)
    params = request.GET
    token = params.get("search", "")
    query = request.session.get(SEARCHES, {}).get(token, "") if token else ""
    if token and not query:
        messages.info(request, SEARCH_GONE)
    patients = Patient.objects.alias(**_LATEST).annotate(
        latest_grade=_LATEST_GRADE,
        latest_label=_LATEST_LABEL,
        blocking=_BLOCKING,
        preliminary=_PRELIMINARY,
        assessed_at=F("phenotype_assessment__computed_at"),
        latest_sstr=KT("latest__sstr_performed_on"),
    )
    if query:
        patients = patients.search(query)
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
    for patient in page.object_list:
        patient.no_grade_reason = _no_grade_reason(patient)  # type: ignore[attr-defined]
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
            "no_grade_reasons": NO_GRADE_REASONS.values(),
        },
    )


def _no_grade_reason(patient: Patient) -> str:
    """Why a listed patient has no latest NETPET pattern (the list shows "—"), or "" when it
    has one; from the annotations of ``patient_list``. No stored assessment yet; an assessment
    without a timepoint (no pre-therapy SSTR PET); a latest timepoint without an FDG PET (the
    latest timepoint is a dual-tracer one whenever there is one, so no SSTR PET has a partner);
    a dual-tracer timepoint graded "not classifiable"."""
    if getattr(patient, "latest_grade", None):
        return ""
    if getattr(patient, "assessed_at", None) is None:
        return NO_GRADE_REASONS["not_computed"]
    if getattr(patient, "latest_label", None) == "not_classifiable":
        return NO_GRADE_REASONS["not_classifiable"]
    if getattr(patient, "latest_sstr", None) is None:
        return NO_GRADE_REASONS["no_timepoint"]
    return NO_GRADE_REASONS["no_fdg_partner"]


@require_GET
@permission_required(
    ["patients.view_patient", "scoring.view_phenotypeassessment"], raise_exception=True
)
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient page: the SSTR/FDG phenotype timeline, the current decision-support findings,
    RECIST/PERCIST tables and tumour markers, with the status of the assessment; the patient's
    studies and its tumour-board cases."""
    patient = get_object_or_404(Patient, pk=pk)
    record_access(request, [patient.pk], "view_patient_page")
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
    context = patient_page_context(patient)
    return render(request, "patients/detail.html", {**context, "cases": cases})


@require_GET
@permission_required(
    ["patients.view_patient", "scoring.view_phenotypeassessment"], raise_exception=True
)
def patient_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The status line alone (htmx polls it while ``pending``; once the result is in, the page
    reloads itself to show it)."""
    patient = get_object_or_404(Patient, pk=pk)
    phenotype = labelled(scoring.assessment_bodies(patient.pk, fields=())["header"])
    response = render(
        request,
        "patients/_status.html",
        {"patient": patient, "phenotype": phenotype, "polled": True},
    )
    shown = request.GET.get("shown", "")
    if phenotype["status"] == "fresh" and shown != (phenotype["computed_at"] or ""):
        response["HX-Refresh"] = "true"  # a newer result than the page shows: reload the page
    return response


@require_GET
@permission_required(
    ["patients.view_patient", "scoring.view_phenotypeassessment"], raise_exception=True
)
def patient_changes(request: HttpRequest, pk: int) -> HttpResponse:
    """Has anything changed since a page showing the patient was drawn? The page polls this
    every few seconds with what it shows (``version``: the inputs' version, ``computed_at``: the
    assessment's). Unchanged: 204, and the page stays as it is. Changed: the banner saying so,
    which keeps polling with what the page shows; ``static/js/live.js`` reloads the page once
    the new result is stored, unless something is being typed on it. Ids only, no patient data:
    not an access event."""
    get_object_or_404(Patient.objects.only("pk"), pk=pk)
    live = live_state(pk)
    shown = {
        "version": request.GET.get("version", ""),
        "computed_at": request.GET.get("computed_at", ""),
    }
    if str(live["version"]) == shown["version"] and live["computed_at"] == shown["computed_at"]:
        return HttpResponse(status=204)
    return render(
        request,
        "patients/_live.html",
        {"patient_id": pk, "shown": shown, "changed": True, "fresh": live["status"] == "fresh"},
    )
