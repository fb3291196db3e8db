"""Read a patient's clinical record into the plain inputs of the rules (DESIGN.md: selectors
return data with their joins done; a fixed number of queries whatever the record's size)."""

from __future__ import annotations

from django.conf import settings

from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle
from apps.scoring.rules import (
    BiomarkerIn,
    CycleIn,
    LesionIn,
    ObservationIn,
    PathologyIn,
    PatientIn,
    StudyIn,
    Thresholds,
    TreatmentIn,
)


def rules_thresholds() -> Thresholds:
    return Thresholds.from_overrides(settings.NETBOARD_RULES)


# Columns in the positional order of the rules' dataclasses (apps/scoring/rules/inputs.py), read
# with values_list: no model instances, and ordered by key columns so that no query joins
# another table for its ordering.
_OBSERVATION = (
    "study_id",
    "lesion_id",
    "state",
    "suv_max",
    "suv_peak",
    "krenning_visual",
    "krenning_min",
    "krenning_max",
    "fdg_visual",
    "fdg_vs_sstr",
    "long_axis_mm",
    "short_axis_mm",
    "heterogeneous",
    "target",
)
_STUDY = (
    "id",
    "performed_on",
    "tracer",
    "tracer_class",
    "modality",
    "post_therapy",
    "blood_pool_suv",
    "liver_suv",
    "liver_suv_sd",
    "spleen_suv",
    "treatment_id",
    "cycle_number",
)
_PATIENT = ("id", "primary_site", "histology", "sex", "height_cm", "weight_kg", "ppgl_cluster")


def patient_rules_input(patient_id: int) -> PatientIn:
    """The whole record of one patient as rules input, in eight queries whatever its size.

    Raises ``Patient.DoesNotExist`` for an unknown id.
    """
    patient = Patient.objects.filter(pk=patient_id).values_list(*_PATIENT).get()
    observations: dict[int, list[ObservationIn]] = {}
    for study_id, *fields in (
        Observation.objects.filter(patient_id=patient_id)
        .order_by("study_id", "lesion_id")
        .values_list(*_OBSERVATION)
    ):
        observations.setdefault(study_id, []).append(ObservationIn(*fields))
    studies = tuple(
        StudyIn(*fields, observations=tuple(observations.get(fields[0], ())))
        for fields in ImagingStudy.objects.filter(patient_id=patient_id)
        .order_by("performed_on", "id")
        .values_list(*_STUDY)
    )
    cycles: dict[int, list[CycleIn]] = {}
    for treatment_id, *fields in (
        TreatmentCycle.objects.filter(treatment__patient_id=patient_id)
        .order_by("treatment_id", "number")
        .values_list("treatment_id", "number", "given_on", "activity_gbq")
    ):
        cycles.setdefault(treatment_id, []).append(CycleIn(*fields))
    return PatientIn(
        *patient,
        lesions=tuple(
            LesionIn(*fields)
            for fields in Lesion.objects.filter(patient_id=patient_id)
            .order_by("id")
            .values_list("id", "label", "site", "nodal", "is_primary")
        ),
        studies=studies,
        pathology=tuple(
            PathologyIn(*fields)
            for fields in Pathology.objects.filter(patient_id=patient_id)
            .order_by("-reported_on", "-id")
            .values_list("reported_on", "who_grade", "ki67_percent", "differentiation")
        ),
        treatments=tuple(
            TreatmentIn(*fields, cycles=tuple(cycles.get(fields[0], ())))
            for fields in Treatment.objects.filter(patient_id=patient_id)
            .order_by("started_on", "id")
            .values_list("id", "kind", "started_on", "ended_on")
        ),
        biomarkers=tuple(
            BiomarkerIn(*fields)
            for fields in Biomarker.objects.filter(patient_id=patient_id)
            .order_by("analyte", "measured_on", "id")
            .values_list("analyte", "value", "measured_on", "unit")
        ),
    )
