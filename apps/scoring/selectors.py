"""Read patients' clinical records into the plain inputs of the rules (selectors return data
with their joins done; a fixed number of queries whatever the record's size, and whatever the
number of patients)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection

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


# One query reads the whole records of any number of patients: for each, PostgreSQL aggregates
# each child table into a JSON array of rows (columns in the positional order of the rules'
# dataclasses, apps/scoring/rules/inputs.py), and Python parses it once. Numbers come back as
# Decimal with their stored scale (json parse_float=Decimal), as the database driver would give
# them; dates are ISO strings.
_RECORD_SQL = """
SELECT p.id, p.primary_site, p.histology, p.sex, p.height_cm, p.weight_kg, p.ppgl_cluster,
  (SELECT coalesce(json_agg(json_build_array(
     x.id, x.label, x.site, x.nodal, x.is_primary) ORDER BY x.id), '[]')::text
   FROM imaging_lesion x WHERE x.patient_id = p.id),
  (SELECT coalesce(json_agg(json_build_array(
     x.id, x.performed_on, x.tracer, x.tracer_class, x.modality, x.post_therapy,
     x.blood_pool_suv, x.liver_suv, x.liver_suv_sd, x.spleen_suv, x.treatment_id,
     x.cycle_number, x.is_baseline, x.status = 'draft') ORDER BY x.performed_on, x.id),
     '[]')::text
   FROM imaging_imagingstudy x WHERE x.patient_id = p.id),
  (SELECT coalesce(json_agg(json_build_array(
     x.study_id, x.lesion_id, x.state, x.suv_max, x.suv_peak, x.krenning_visual,
     x.krenning_min, x.krenning_max, x.fdg_visual, x.fdg_vs_sstr, x.long_axis_mm,
     x.short_axis_mm, x.heterogeneous, x.target) ORDER BY x.study_id, x.lesion_id), '[]')::text
   FROM imaging_observation x WHERE x.patient_id = p.id),
  (SELECT coalesce(json_agg(json_build_array(
     x.reported_on, x.who_grade, x.ki67_percent, x.differentiation)
     ORDER BY x.reported_on DESC, x.id DESC), '[]')::text
   FROM patients_pathology x WHERE x.patient_id = p.id),
  (SELECT coalesce(json_agg(json_build_array(
     x.id, x.kind, x.started_on, x.ended_on) ORDER BY x.started_on, x.id), '[]')::text
   FROM patients_treatment x WHERE x.patient_id = p.id),
  (SELECT coalesce(json_agg(json_build_array(
     x.treatment_id, x.number, x.given_on, x.activity_gbq)
     ORDER BY x.treatment_id, x.number), '[]')::text
   FROM patients_treatmentcycle x JOIN patients_treatment t ON t.id = x.treatment_id
   WHERE t.patient_id = p.id),
  (SELECT coalesce(json_agg(json_build_array(
     x.analyte, x.value, x.measured_on, x.unit) ORDER BY x.analyte, x.measured_on, x.id),
     '[]')::text
   FROM patients_biomarker x WHERE x.patient_id = p.id)
FROM patients_patient p WHERE p.id = ANY(%s::bigint[])
"""


def _rows(text: str) -> list[list[Any]]:
    rows: list[list[Any]] = json.loads(text, parse_float=Decimal)
    return rows


def patient_rules_input(patient_id: int) -> PatientIn:
    """The whole record of one patient as rules input, in one query whatever its size.

    Raises ``Patient.DoesNotExist`` for an unknown id.
    """
    found = patients_rules_input([patient_id])
    if patient_id not in found:
        # By its label: scoring reads the clinical tables by SQL and imports no clinical app.
        patient_model = django_apps.get_model("patients", "Patient")
        raise patient_model.DoesNotExist(f"no patient with id {patient_id}")
    return found[patient_id]


def patients_rules_input(patient_ids: Iterable[int]) -> dict[int, PatientIn]:
    """The whole records of these patients as rules input, by id, in one query whatever their
    number and size (the regrade's chunks; ``patient_rules_input`` is the same for one). Unknown
    ids are left out."""
    ids = sorted({int(patient_id) for patient_id in patient_ids})
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_RECORD_SQL, [ids])
        rows = cursor.fetchall()
    return {row[0]: _patient_in(row) for row in rows}


def _patient_in(row: tuple[Any, ...]) -> PatientIn:
    """One row of ``_RECORD_SQL`` as rules input."""
    lesions, studies, observations, pathology, treatments, cycles, biomarkers = map(_rows, row[7:])
    by_study: dict[int, list[ObservationIn]] = {}
    for study_id, *fields in observations:
        by_study.setdefault(study_id, []).append(ObservationIn(*fields))
    by_treatment: dict[int, list[CycleIn]] = {}
    for treatment_id, number, given_on, activity in cycles:
        by_treatment.setdefault(treatment_id, []).append(CycleIn(number, _date(given_on), activity))
    return PatientIn(
        *row[:7],
        lesions=tuple(LesionIn(*fields) for fields in lesions),
        studies=tuple(
            StudyIn(
                study_id,
                _date(performed_on),
                *fields,
                observations=tuple(by_study.get(study_id, ())),
                is_baseline=is_baseline,
                draft=draft,
            )
            for study_id, performed_on, *fields, is_baseline, draft in studies
        ),
        pathology=tuple(
            PathologyIn(_date(reported_on), *fields) for reported_on, *fields in pathology
        ),
        treatments=tuple(
            TreatmentIn(
                treatment_id,
                kind,
                _date(started_on),
                _date(ended_on) if ended_on else None,
                cycles=tuple(by_treatment.get(treatment_id, ())),
            )
            for treatment_id, kind, started_on, ended_on in treatments
        ),
        biomarkers=tuple(
            BiomarkerIn(analyte, value, _date(measured_on), unit)
            for analyte, value, measured_on, unit in biomarkers
        ),
    )


_date = date.fromisoformat


def observation_in(observation: Any) -> ObservationIn:
    """An observation model as the rules take it."""
    return ObservationIn(
        observation.lesion_id,
        observation.state,
        observation.suv_max,
        observation.suv_peak,
        observation.krenning_visual,
        observation.krenning_min,
        observation.krenning_max,
        observation.fdg_visual,
        observation.fdg_vs_sstr,
        observation.long_axis_mm,
        observation.short_axis_mm,
        observation.heterogeneous,
        observation.target,
    )


def study_in(study: Any) -> StudyIn:
    """A study model as the rules take it, without its observations."""
    return StudyIn(
        study.pk,
        study.performed_on,
        study.tracer,
        study.tracer_class,
        study.modality,
        study.post_therapy,
        study.blood_pool_suv,
        study.liver_suv,
        study.liver_suv_sd,
        study.spleen_suv,
    )


def observation_uptake(observation: Any, study: Any, thresholds: Thresholds | None = None) -> Any:
    """The §2 uptake grade (``Uptake``: computed Krenning score and flags) of one observation
    model on its study model, as the API shows it beside the reader's entry."""
    from apps.scoring.rules import score_observation

    return score_observation(
        observation_in(observation), study_in(study), thresholds or rules_thresholds()
    )
