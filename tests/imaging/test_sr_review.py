"""The review of an SR import (apps.imaging.sr_review): matching by tracking UID, what would
change, and conflicts with values already entered by hand. It writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.imaging.dicom_sr import read_report
from apps.imaging.models import Lesion, Observation
from apps.imaging.sr_review import review_import
from tests.factories import LesionFactory, ObservationFactory, PatientFactory, StudyFactory
from tests.imaging.sr_factory import SITES, SrLesionSpec, build_sr

pytestmark = pytest.mark.django_db


def _study():  # type: ignore[no-untyped-def]
    patient = PatientFactory(mrn="MRN-1")
    return StudyFactory(patient=patient, tracer="ga68_dotatate", modality="pet_ct")


def test_a_known_tracking_uid_lands_on_its_lesion_and_an_unknown_one_is_new() -> None:
    study = _study()
    known = LesionFactory(patient=study.patient, tracking_uid="1.2.840.1", label="Liver 1")
    report = read_report(
        build_sr(
            [
                SrLesionSpec(tracking_uid="1.2.840.1", suv_max=20),
                SrLesionSpec(tracking_uid="1.2.840.2", identifier="New node"),
            ]
        )
    )
    review = review_import(report=report, study=study)
    assert [row.lesion for row in review.rows] == [known.pk, None]
    assert review.rows[1].source is not None
    assert review.rows[1].source.tracking_identifier == "New node"
    assert not review.unchanged
    assert Lesion.objects.filter(patient=study.patient).count() == 1  # nothing written
    assert not Observation.objects.filter(study=study).exists()


def test_a_different_value_entered_by_hand_is_a_conflict_an_equal_one_is_not() -> None:
    study = _study()
    lesion = LesionFactory(patient=study.patient, tracking_uid="1.2.840.1")
    ObservationFactory(
        study=study, lesion=lesion, suv_max=Decimal("24.000"), long_axis_mm=Decimal("30.0")
    )
    report = read_report(
        build_sr([SrLesionSpec(tracking_uid="1.2.840.1", suv_max=24.0, long_axis=31)])
    )
    (row,) = review_import(report=report, study=study).rows
    assert row.conflicts == {
        "long_axis_mm": {"current": Decimal("30.0"), "imported": Decimal("31")}
    }
    assert row.changes == {"long_axis_mm": Decimal("31")}


def test_the_same_values_again_change_nothing() -> None:
    study = _study()
    lesion = LesionFactory(patient=study.patient, tracking_uid="1.2.840.1")
    ObservationFactory(study=study, lesion=lesion, suv_max=Decimal("12.5"), long_axis_mm=22)
    study.liver_suv = Decimal("6.200")
    study.save()
    report = read_report(
        build_sr(
            [SrLesionSpec(tracking_uid="1.2.840.1", suv_max=12.5, long_axis=22)],
            reference={SITES["liver"]: 6.2},
        )
    )
    review = review_import(report=report, study=study)
    assert review.unchanged
    assert not review.conflicted


def test_a_reference_value_differing_from_the_study_is_a_conflict() -> None:
    study = _study()
    study.liver_suv = Decimal("5.0")
    study.save()
    report = read_report(build_sr([SrLesionSpec()], reference={SITES["liver"]: 6.2}))
    review = review_import(report=report, study=study)
    assert review.reference.conflicts == {
        "liver_suv": {"current": Decimal("5.000"), "imported": Decimal("6.2")}
    }
    assert review.conflicted
