"""Every invariant the database can hold is refused by the database itself (raw SQL or ORM
paths that skip validation), not only by forms and serializers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from apps.imaging.models import ImagingStudy, Observation
from apps.patients.models import Patient
from tests.factories import (
    LesionFactory,
    ObservationFactory,
    PathologyFactory,
    PatientFactory,
    StudyFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db


def rejected(sql: str, params: list[object]) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except IntegrityError:
        return True
    return False


def test_mrn_is_unique() -> None:
    PatientFactory(mrn="DUP-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.bulk_create([Patient(mrn="DUP-1", family_name="X")])


def test_one_observation_per_lesion_per_study() -> None:
    obs = ObservationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Observation.objects.bulk_create(
            [Observation(study=obs.study, lesion=obs.lesion, patient=obs.patient)]
        )


def test_observation_lesion_of_another_patient_is_refused_by_raw_sql() -> None:
    study = StudyFactory()
    foreign_lesion = LesionFactory()  # another patient
    own_lesion = LesionFactory(patient=study.patient)
    insert = (
        "INSERT INTO imaging_observation (study_id, lesion_id, patient_id, state, heterogeneous,"
        " target, created_at, updated_at) VALUES (%s, %s, %s, 'scored', false, false, now(), now())"
    )
    assert rejected(insert, [study.pk, foreign_lesion.pk, foreign_lesion.patient_id])
    assert rejected(insert, [study.pk, foreign_lesion.pk, study.patient_id])
    assert not rejected(insert, [study.pk, own_lesion.pk, study.patient_id])


def test_observation_patient_always_follows_its_study() -> None:
    obs = ObservationFactory()
    other = PatientFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE imaging_observation SET patient_id = %s WHERE id = %s", [other.pk, obs.pk]
        )
    obs.refresh_from_db()
    assert obs.patient_id == obs.study.patient_id != other.pk


def test_study_treatment_of_another_patient_is_refused() -> None:
    study = StudyFactory()
    foreign_treatment = TreatmentFactory()
    assert rejected(
        "UPDATE imaging_imagingstudy SET treatment_id = %s WHERE id = %s",
        [foreign_treatment.pk, study.pk],
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("suv_max", -0.1),
        ("suv_peak", -1),
        ("long_axis_mm", -1),
        ("short_axis_mm", -0.5),
        ("volume_ml", -2),
        ("krenning_visual", 5),
        ("krenning_min", 5),
        ("krenning_max", 7),
        ("state", "maybe"),
        ("fdg_visual", "weak"),
        ("fdg_vs_sstr", "bigger"),
    ],
)
def test_observation_values_out_of_range_are_refused(column: str, value: object) -> None:
    obs = ObservationFactory()
    assert rejected(f"UPDATE imaging_observation SET {column} = %s WHERE id = %s", [value, obs.pk])  # noqa: S608 - column names from the test table


@pytest.mark.parametrize("value", [0, 2, 4])
def test_observation_krenning_in_range_is_accepted(value: int) -> None:
    obs = ObservationFactory()
    assert not rejected(
        "UPDATE imaging_observation SET krenning_visual = %s WHERE id = %s", [value, obs.pk]
    )


def test_krenning_min_above_max_is_refused() -> None:
    obs = ObservationFactory()
    assert rejected(
        "UPDATE imaging_observation SET krenning_min = 3, krenning_max = 2 WHERE id = %s", [obs.pk]
    )


@pytest.mark.parametrize("column", ["blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv"])
def test_study_reference_suvs_cannot_be_negative(column: str) -> None:
    study = StudyFactory()
    assert rejected(f"UPDATE imaging_imagingstudy SET {column} = -1 WHERE id = %s", [study.pk])  # noqa: S608


@pytest.mark.parametrize(
    ("ki67", "refused"),
    [(Decimal("-0.01"), True), (0, False), (100, False), (Decimal("100.01"), True)],
)
def test_ki67_is_a_percentage(ki67: Decimal, refused: bool) -> None:
    report = PathologyFactory()
    assert (
        rejected("UPDATE patients_pathology SET ki67_percent = %s WHERE id = %s", [ki67, report.pk])
        is refused
    )


def test_post_therapy_study_needs_a_therapeutic_tracer() -> None:
    study = StudyFactory(tracer="ga68_dotatate")
    assert rejected("UPDATE imaging_imagingstudy SET post_therapy = true WHERE id = %s", [study.pk])
    therapy = StudyFactory(tracer="lu177_dotatate", modality="spect_ct")
    assert not rejected(
        "UPDATE imaging_imagingstudy SET post_therapy = true WHERE id = %s", [therapy.pk]
    )


def test_tracer_class_must_match_the_catalogue() -> None:
    study = StudyFactory(tracer="f18_fdg")
    assert study.tracer_class == "FDG"
    assert rejected(
        "UPDATE imaging_imagingstudy SET tracer_class = 'SSTR' WHERE id = %s", [study.pk]
    )


def test_ct_takes_no_tracer_and_pet_needs_one() -> None:
    patient = PatientFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ImagingStudy.objects.create(
            patient=patient, performed_on=date(2024, 1, 1), modality="ct", tracer="f18_fdg"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ImagingStudy.objects.create(
            patient=patient, performed_on=date(2024, 1, 1), modality="pet_ct", tracer="none"
        )


def test_treatment_cannot_end_before_it_starts() -> None:
    treatment = TreatmentFactory(started_on=date(2024, 5, 1))
    assert rejected(
        "UPDATE patients_treatment SET ended_on = '2024-04-30' WHERE id = %s", [treatment.pk]
    )


def test_biomarker_value_cannot_be_negative() -> None:
    patient = PatientFactory()
    assert rejected(
        "INSERT INTO patients_biomarker (patient_id, analyte, value, unit, measured_on,"
        " created_at, updated_at) VALUES (%s, 'cea', -1, '', '2024-01-01', now(), now())",
        [patient.pk],
    )
