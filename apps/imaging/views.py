"""Browser pages for imaging: the study form and the reader's main screen, the study grid.

The grid is rendered here with every known lesion of the patient as a row. What the reader types
is saved by ``static/js/grid.js`` through the documented REST API (``/api/v1/observations/``,
``/api/v1/lesions/``) with the session's credentials: one write path for the hospital system and
the browser, with its validation, ETag/If-Match conflict refusal and Idempotency-Key. While the
reader types, ``study_preview`` answers the computed uptake score and the flags for the row as
typed, without writing anything.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.access import record_access
from apps.core.api_base import etag_for
from apps.core.numbers import mm, suv
from apps.core.people import display_name
from apps.imaging import services
from apps.imaging.flags import FLAG_SHORT, FLAG_TEXT
from apps.imaging.forms import StudyForm
from apps.imaging.import_views import PAGE_PERMISSIONS as SR_IMPORT_PAGE
from apps.imaging.models import (
    OBSERVATION_READ_FIELDS,
    FdgVisual,
    FdgVsSstr,
    ImagingStudy,
    Lesion,
    LesionSite,
    Modality,
    Observation,
    ObservationState,
    StudyStatus,
    Tracer,
)
from apps.imaging.paired import paired_read
from apps.imaging.serializers import ObservationSerializer
from apps.patients.models import Patient
from apps.scoring.models import PhenotypeAssessment
from apps.scoring.rules.pairing import is_fdg_pet, is_sstr_pet
from apps.scoring.rules.uptake import computes_score
from apps.scoring.selectors import observation_in, observation_uptake, rules_thresholds, study_in

# The row template the grid clones for a lesion added inline (grid.js fills the placeholders).
BLANK_ROW = {
    "lesion": {"pk": "__ID__", "label": "__LABEL__", "site": "__SITE__", "nodal": False},
    "observation": None,
    "values": {},
    "flags": [],
    "computed": None,
    "pairing": None,
}


# The 0–4 visual score of the other receptor and transporter tracers, against blood pool, liver
# and spleen as on SSTR: not a Krenning score, which is SSTR's (docs/clinical-rules.md §2).
_UPTAKE_NAMES = {
    "LAT": "DOPA uptake",
    "GLP1R": "GLP-1R uptake",
    "CCK2R": "CCK2R uptake",
    "GIPR": "GIPR uptake",
    "INTEGRIN": "integrin uptake",
}


def _score_name(study: ImagingStudy) -> str:
    """What the grid calls the 0–4 visual score of a receptor or transporter study: Krenning on
    SSTR; on MIBG (and MFBG), DOPA, GLP-1R and the other tracers the same visual scale against
    blood pool, liver and spleen, which is no Krenning score (docs/clinical-rules.md §2, §11)."""
    if study.tracer_class == "NET":
        return "MFBG uptake" if study.tracer == Tracer.F18_MFBG else "MIBG uptake"
    return _UPTAKE_NAMES.get(study.tracer_class, "Krenning")


def _agent_partner(study: ImagingStudy) -> tuple[ImagingStudy, str] | None:
    """The other study of the PPGL agent choice (docs/clinical-rules.md §11) when this study is
    one of its two, as the worker last stored it (``agent_choice.sstr_study`` /
    ``mibg_study`` of the stored summary), with what that other study is ("SSTR" or "MIBG")."""
    if study.tracer_class not in ("SSTR", "NET"):
        return None
    choice = (
        PhenotypeAssessment.objects.filter(patient_id=study.patient_id)
        .values_list("summary__agent_choice", flat=True)
        .first()
    )
    if not isinstance(choice, dict):
        return None
    if choice.get("mibg_study") == study.pk:
        other, side = choice.get("sstr_study"), "SSTR"
    elif choice.get("sstr_study") == study.pk:
        other, side = choice.get("mibg_study"), "MIBG"
    else:
        return None
    partner = ImagingStudy.objects.filter(pk=other, patient_id=study.patient_id).first()
    return (partner, side) if partner is not None else None


def _kind(study: ImagingStudy) -> str:
    """Which columns the grid shows: ``FDG``, ``ANATOMIC`` or ``RECEPTOR`` (0–4 with spleen)."""
    if study.tracer_class in ("FDG", "ANATOMIC"):
        return study.tracer_class
    return "RECEPTOR"


def _flags(codes: tuple[str, ...] | list[str], small_mm: Decimal) -> list[dict[str, str]]:
    return [
        {
            "code": code,
            "short": FLAG_SHORT.get(code, code),
            "text": FLAG_TEXT.get(code, code).format(mm=small_mm),
        }
        for code in codes
    ]


# Numbers in the grid's inputs at clinical precision (SUV 24.0, not 24.000; no typed digit lost).
_PRECISION = {"suv_max": suv, "suv_peak": suv, "long_axis_mm": mm, "short_axis_mm": mm}


def _values(obs: Observation) -> dict[str, Any]:
    """The entry fields of one observation as the grid's inputs hold them (strings)."""
    values: dict[str, Any] = {}
    for field in OBSERVATION_READ_FIELDS:
        value = getattr(obs, field)
        if isinstance(value, bool):
            values[field] = value
        elif field in _PRECISION:
            values[field] = _PRECISION[field](value)
        else:
            values[field] = "" if value is None else str(value)
    return values


def _previous_study(study: ImagingStudy) -> ImagingStudy | None:
    """The latest earlier study of the same patient and tracer class with a read."""
    return (
        ImagingStudy.objects.filter(
            patient_id=study.patient_id,
            tracer_class=study.tracer_class,
            observations__isnull=False,
        )
        .filter(
            Q(performed_on__lt=study.performed_on)
            | Q(performed_on=study.performed_on, pk__lt=study.pk)
        )
        .order_by("-performed_on", "-pk")
        .distinct()
        .first()
    )


@require_http_methods(["GET", "POST"])
@permission_required(["patients.view_patient", "imaging.add_imagingstudy"], raise_exception=True)
def study_create(request: HttpRequest, pk: int) -> HttpResponse:
    """A new study of the patient; on success the reader lands on its grid."""
    patient = get_object_or_404(Patient, pk=pk)
    form = StudyForm(
        request.POST if request.method == "POST" else None,
        patient_id=patient.pk,
        context={"request": request},
    )
    if request.method == "POST" and form.is_valid() and form.save() is not None:
        messages.success(request, "Study created: enter the read below.")
        return redirect("study-grid", pk=form.saved.pk)  # type: ignore[union-attr]
    record_access(request, [patient.pk], "study_form")
    return render(
        request,
        "imaging/study_form.html",
        {"form": form, "patient": patient, "study": None},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


@require_http_methods(["GET", "POST"])
@permission_required(["patients.view_patient", "imaging.change_imagingstudy"], raise_exception=True)
def study_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a study's details (references, date, baseline pick); refused if changed meanwhile."""
    study = get_object_or_404(ImagingStudy.objects.select_related("patient"), pk=pk)
    form = StudyForm(
        request.POST if request.method == "POST" else None,
        instance=study,
        patient_id=study.patient_id,
        context={"request": request},
    )
    if request.method == "POST" and form.is_valid() and form.save() is not None:
        messages.success(request, "Study saved.")
        return redirect("study-grid", pk=study.pk)
    record_access(request, [study.patient_id], "study_form")
    return render(
        request,
        "imaging/study_form.html",
        {"form": form, "patient": study.patient, "study": study},
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


@require_GET
@permission_required(["patients.view_patient", "imaging.view_imagingstudy"], raise_exception=True)
def study_grid(request: HttpRequest, pk: int) -> HttpResponse:
    """The reader's main screen: every known lesion of the patient as a row of the read."""
    study = get_object_or_404(
        ImagingStudy.objects.select_related("patient", "finalized_by", "reopened_by"), pk=pk
    )
    record_access(request, [study.patient_id], "study_grid")
    thresholds = rules_thresholds()
    lesions = list(Lesion.objects.filter(patient_id=study.patient_id).order_by("id"))
    observations = {
        obs.lesion_id: obs for obs in Observation.objects.filter(study=study).order_by("lesion_id")
    }
    for obs in observations.values():
        obs.study = study  # no query per row for the uptake grade
    previous = _previous_study(study)
    copied = {}
    if previous is not None:
        copied = {
            obs.lesion_id: _values(obs)
            for obs in Observation.objects.filter(study=previous).order_by("lesion_id")
        }
    paired = paired_read(study, thresholds)
    own_in = study_in(study)
    rows = []
    for lesion in lesions:
        obs = observations.get(lesion.pk)
        uptake = observation_uptake(obs, study, thresholds) if obs is not None else None
        rows.append(
            {
                "pairing": paired.lesion(lesion.pk, observation_in(obs) if obs else None)
                if paired
                else None,
                "lesion": lesion,
                "observation": obs,
                "values": _values(obs) if obs is not None else {},
                "etag": etag_for(obs) if obs is not None else "",
                "computed": uptake.computed if uptake is not None else None,
                "score": uptake.score if uptake is not None else None,
                "flags": _flags(uptake.flags, thresholds.small_lesion_mm) if uptake else [],
            }
        )
    can_read = request.user.has_perms(
        ["imaging.add_observation", "imaging.change_observation", "imaging.add_lesion"]
    )
    final = study.status == StudyStatus.FINAL
    can_edit = can_read and not final  # a final read is reopened before it changes
    config = {
        "study": study.pk,
        "patient": study.patient_id,
        "kind": _kind(study),
        "editable": can_edit,
        "urls": {
            "observations": reverse("observation-list"),
            "lesions": reverse("lesion-list"),
            "preview": reverse("study-preview", args=[study.pk]),
        },
        "rows": {
            str(row["lesion"].pk): {
                "observation": row["observation"].pk if row["observation"] else None,
                "etag": row["etag"],
            }
            for row in rows
        },
        "previous": {str(lesion): values for lesion, values in copied.items()},
        "small_lesion_mm": str(thresholds.small_lesion_mm),
        "score_label": "FDG grade" if _kind(study) == "FDG" else _score_name(study),
    }
    return render(
        request,
        "imaging/grid.html",
        {
            "study": study,
            "patient": study.patient,
            "kind": _kind(study),
            "rows": rows,
            "previous": previous,
            "copyable": sum(
                1 for row in rows if row["observation"] is None and row["lesion"].pk in copied
            ),
            "blank_row": BLANK_ROW,
            "editable": can_edit,
            "final": final,
            "can_sign_off": can_read and request.user.has_perm("imaging.change_imagingstudy"),
            "can_import": request.user.has_perms(SR_IMPORT_PAGE),
            "config": config,
            "states": ObservationState.choices,
            "fdg_calls": FdgVisual.choices,
            "fdg_vs": FdgVsSstr.choices,
            "sites": LesionSite.choices,
            "max_score": 3 if _kind(study) == "FDG" else 4,
            "small_lesion_mm": thresholds.small_lesion_mm,
            "recorded": len(observations),
            "paired": paired,
            "finished_by": display_name(study.finalized_by, nobody="the sending system"),
            "reopened_by": display_name(study.reopened_by),
            "partner_name": "SSTR" if _kind(study) == "FDG" else "FDG",
            # A pre-therapy SSTR or FDG PET may form a dual-tracer timepoint; no other study can.
            "could_pair": is_sstr_pet(own_in) or is_fdg_pet(own_in),
            "agent_partner": _agent_partner(study),
            "score_name": _score_name(study),
            # Planar scintigraphy has no SUV; a score is computed from SUVs only where
            # ``computes_score`` says so (docs/clinical-rules.md §2, §11.1).
            "has_suv": study.modality != Modality.PLANAR,
            "computes": computes_score(own_in),
        },
    )


@require_POST
@permission_required(
    ["imaging.change_imagingstudy", "imaging.change_observation"], raise_exception=True
)
def study_finish(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Finish read": the study's read becomes final, with who and when; back to the grid."""
    study = get_object_or_404(ImagingStudy, pk=pk)
    services.study_finish(study=study, user=request.user)
    messages.success(request, "Read finished: grades from it are no longer preliminary.")
    return redirect("study-grid", pk=study.pk)


@require_POST
@permission_required(
    ["imaging.change_imagingstudy", "imaging.change_observation"], raise_exception=True
)
def study_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Reopen read": the read is a draft again (recorded with who and when); back to the grid,
    now editable."""
    study = get_object_or_404(ImagingStudy, pk=pk)
    services.study_reopen(study=study, user=request.user)
    messages.info(request, "Read reopened: grades from it are preliminary until it is finished.")
    return redirect("study-grid", pk=study.pk)


@require_POST
@permission_required(["patients.view_patient", "imaging.view_imagingstudy"], raise_exception=True)
def study_preview(request: HttpRequest, pk: int) -> JsonResponse:
    """The computed score and flags of one row as typed (JSON in, JSON out), writing nothing.

    The row is validated by the API's observation serializer, so a value the save would refuse
    is named here with the same message while the reader is still typing.
    """
    study = get_object_or_404(ImagingStudy, pk=pk)
    if len(request.body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return JsonResponse({"errors": {"non_field_errors": ["Too large."]}}, status=413)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"errors": {"non_field_errors": ["Send the row as JSON."]}}, status=400)
    if not isinstance(body, dict):
        return JsonResponse(
            {"errors": {"non_field_errors": ["Send the row as an object."]}}, status=400
        )
    lesion_id = body.get("lesion")
    existing = (
        Observation.objects.filter(study=study, lesion_id=lesion_id).first()
        if isinstance(lesion_id, int)
        else None
    )
    serializer = ObservationSerializer(
        instance=existing, data={**body, "study": study.pk}, context={"request": request}
    )
    if not serializer.is_valid():
        return JsonResponse({"errors": serializer.errors, "flags": [], "computed": None})
    data = {k: v for k, v in serializer.validated_data.items() if k != "study"}
    obs = Observation(study=study, **data)
    thresholds = rules_thresholds()
    uptake = observation_uptake(obs, study, thresholds)
    paired = paired_read(study, thresholds)
    return JsonResponse(
        {
            "errors": {},
            "computed": uptake.computed,
            "score": uptake.score,
            "flags": _flags(uptake.flags, thresholds.small_lesion_mm),
            "pairing": paired.lesion(obs.lesion_id, observation_in(obs)) if paired else None,
        }
    )
