"""The patient page's content, shared by every page that shows a patient's timeline and findings
(the patient page, presentation mode, the printed case summary).

Everything here reads what the workers stored; nothing is computed but the timeline's geometry.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.urls import reverse

from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.agent_choice import agent_choice_view, record_names
from apps.patients.models import Analyte, Pathology, Patient, Treatment, TreatmentCycle
from apps.patients.timeline import (
    FDG_COLOURS,
    FDG_TEXT,
    SSTR_COLOURS,
    SSTR_TEXT,
    TimelineRecord,
    build_timeline,
)
from apps.scoring import services as scoring
from apps.scoring.models import latest_timepoint
from apps.scoring.rules.inputs import CycleIn, LesionIn, StudyIn, TreatmentIn


def labelled(body: dict[str, Any]) -> dict[str, Any]:
    """The body with ``computed_label``: its ``computed_at`` as a reader sees it (UTC)."""
    stamp = body.get("computed_at")
    body["computed_label"] = (
        datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC") if stamp else ""
    )
    return body


def patient_page_context(patient: Patient) -> dict[str, Any]:
    """What the patient page shows, for any page that shows a patient's timeline and findings
    (the patient page, presentation mode, the printed case summary): the stored phenotype and
    response with their status (``phenotype`` carries the status line's header), the latest
    timepoint, the timeline geometry from the stored uptake scores, the patient's studies
    newest first for the studies table (``studies``, each with ``read_count``: its
    observations), the latest pathology and the markers.

    The phenotype and response are the stored summary's (``PhenotypeAssessment.summary``: the
    bodies without their per-lesion lists), which is all that these pages show of them, with
    each lesion's NETPET pattern at the latest timepoint (``lesion_patterns``), which the
    timeline shows as the lesion's phenotype. ``agent``: the PPGL agent choice with each
    lesion's stored uptake (``apps.patients.agent_choice``), or None."""
    bodies = scoring.assessment_bodies(patient.pk, fields=("summary", "uptake"))
    header, summary = bodies["header"], bodies["summary"]
    phenotype = labelled(
        {
            **header,
            "timepoints": summary["timepoints"],
            "preliminary": summary.get("preliminary", False),
            "draft_studies": summary.get("draft_studies", []),
        }
    )
    response = {**header, **summary["response"]}
    studies = list(ImagingStudy.objects.filter(patient=patient).order_by("-performed_on", "-id"))
    record = timeline_record(patient.pk, studies)
    for study in studies:
        study.read_count = record.read_count.get(study.pk, 0)  # type: ignore[attr-defined]
    lesions = summary.get("lesion_patterns") or []
    choice = summary.get("agent_choice")
    labels, study_names = record_names(record.lesions, record.studies) if choice else ({}, {})
    return {
        "phenotype": phenotype,
        # DOMAIN.md §11 for a PPGL patient: the stored agent choice, each lesion's stored uptake
        # on the two studies it compares (None where §11 does not apply).
        "agent": agent_choice_view(
            choice,
            labels=labels,
            studies=study_names,
            uptake=bodies["uptake"],
        ),
        "response": response,
        "latest": latest_timepoint(phenotype),
        "patient": patient,
        "timeline": build_timeline(
            record, with_lesion_patterns(phenotype, lesions), response, bodies["uptake"]
        ),
        "studies": studies,
        "draft_reads": draft_reads(phenotype["draft_studies"]),
        "live": {
            "patient_id": patient.pk,
            "shown": {
                "version": bodies["inputs"]["version"],
                "computed_at": phenotype["computed_at"] or "",
            },
        },
        "pathology": Pathology.objects.filter(patient=patient)
        .order_by("-reported_on", "-id")
        .first(),
        "markers": [_sparkline(series) for series in response["biomarkers"]],
        "sstr_scale": list(zip(range(5), SSTR_COLOURS, SSTR_TEXT, strict=True)),
        "fdg_scale": list(zip(range(4), FDG_COLOURS, FDG_TEXT, strict=True)),
    }


def with_lesion_patterns(
    phenotype: dict[str, Any], lesions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The phenotype (a summary) with ``lesions`` as its latest timepoint's ``netpet.lesions``,
    for the timeline (a copy: the page's phenotype is left as it is)."""
    latest = latest_timepoint(phenotype)
    if latest is None or not lesions:
        return phenotype
    timepoints = list(phenotype["timepoints"])
    index = max(
        i for i, tp in enumerate(timepoints) if tp.get("sstr_study") == latest.get("sstr_study")
    )
    timepoints[index] = {**latest, "netpet": {**(latest.get("netpet") or {}), "lesions": lesions}}
    return {**phenotype, "timepoints": timepoints}


def live_state(patient_id: int) -> dict[str, Any]:
    """What a page showing the patient checks for changes (``patients/_live.html``): the
    version of the patient's inputs, when the stored assessment was computed, and its status."""
    bodies = scoring.assessment_bodies(patient_id, fields=())
    return {
        "version": bodies["inputs"]["version"],
        "computed_at": bodies["header"]["computed_at"] or "",
        "status": bodies["header"]["status"],
    }


def draft_reads(study_ids: list[int]) -> list[dict[str, Any]]:
    """The draft reads behind a preliminary result (its ``draft_studies``), named as a reader
    says them ("18F-FDG PET/CT 2024-03-01"), each with the URL of its read, in date order."""
    if not study_ids:
        return []  # a result on finished reads only: no query
    studies = ImagingStudy.objects.filter(pk__in=study_ids).order_by("performed_on", "id")
    return [
        {
            "id": study.pk,
            "name": f"{study.get_tracer_display()} {study.get_modality_display()} "
            f"{study.performed_on:%Y-%m-%d}",
            "url": reverse("study-grid", args=[study.pk]),
        }
        for study in studies
    ]


def timeline_record(patient_id: int, studies: list[ImagingStudy]) -> TimelineRecord:
    """What the timeline shows of the patient's record, in a fixed number of queries: the
    patient's ``studies`` (read by the caller, which shows them too), treatments with their
    cycles, lesions, and the SUVmax and long axis of every observation."""
    cycles: dict[int, list[CycleIn]] = {}
    for treatment_id, number, given_on, activity in (
        TreatmentCycle.objects.filter(treatment__patient_id=patient_id)
        .order_by("number")
        .values_list("treatment_id", "number", "given_on", "activity_gbq")
    ):
        cycles.setdefault(treatment_id, []).append(CycleIn(number, given_on, activity))
    treatments = Treatment.objects.filter(patient_id=patient_id).values_list(
        "id", "kind", "started_on", "ended_on"
    )
    suv_max: dict[tuple[int, int], Decimal] = {}
    long_axis: dict[tuple[int, int], Decimal] = {}
    read_count: Counter[int] = Counter()
    for study, lesion, suv, axis in Observation.objects.filter(patient_id=patient_id).values_list(
        "study_id", "lesion_id", "suv_max", "long_axis_mm"
    ):
        read_count[study] += 1
        if suv is not None:
            suv_max[study, lesion] = suv
        if axis is not None:
            long_axis[study, lesion] = axis
    return TimelineRecord(
        studies=[
            StudyIn(
                s.pk,
                s.performed_on,
                s.tracer,
                s.tracer_class,
                s.modality,
                s.post_therapy,
                cycle_number=s.cycle_number,
            )
            for s in studies
        ],
        treatments=[
            TreatmentIn(pk, kind, started, ended, tuple(cycles.get(pk, ())))
            for pk, kind, started, ended in treatments
        ],
        lesions=[
            LesionIn(pk, label, site)
            for pk, label, site in Lesion.objects.filter(patient_id=patient_id).values_list(
                "id", "label", "site"
            )
        ],
        suv_max=suv_max,
        read_count=read_count,
        long_axis=long_axis,
    )


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
