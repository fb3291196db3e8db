"""A study's read exported as a DICOM TID 1500 SR (``apps.imaging.dicom_sr_export``): what
``read_report`` reads back of it, the round trip export → empty database → import → export, and
UIDs that are the same on every export."""

from __future__ import annotations

import io
import logging
import warnings
from datetime import date
from decimal import Decimal
from typing import Any

import highdicom as hd
import pydicom
import pytest
from pydicom.uid import generate_uid

from apps.imaging import dicom_sr
from apps.imaging.dicom_sr import read_report
from apps.imaging.dicom_sr_export import PHENOTYPE_IDENTIFIER, build_report
from apps.imaging.models import ImagingStudy, Lesion, LesionSite, Observation
from apps.imaging.services import sr_import, study_finish
from apps.patients.models import Patient
from apps.scoring.models import PhenotypeAssessment
from apps.scoring.rules.version import RULES_VERSION
from tests.factories import (
    LesionFactory,
    ObservationFactory,
    PatientFactory,
    StudyFactory,
    UserFactory,
    three_liver_lesions,
)

pytestmark = pytest.mark.django_db

MAPPED_SITES = sorted(set(dicom_sr.LESION_SITES.values()))  # the reader's map: sites with a code


def _patient(mrn: str = "MRN-EXPORT-1") -> Patient:
    patient: Patient = PatientFactory(
        mrn=mrn, family_name="Müller", given_name="Anna", birth_date=date(1958, 4, 2), sex="female"
    )
    return patient


def _sstr_study(patient: Patient, **fields: Any) -> ImagingStudy:
    values: dict[str, Any] = {
        "patient": patient,
        "performed_on": date(2024, 3, 1),
        "modality": "pet_ct",
        "tracer": "ga68_dotatate",
        "liver_suv": Decimal("6.2"),
        "blood_pool_suv": None,
        "spleen_suv": None,
        **fields,
    }
    study: ImagingStudy = StudyFactory(**values)
    return study


def _observe(study: ImagingStudy, label: str, site: str = "liver", **values: Any) -> Observation:
    lesion = LesionFactory(patient=study.patient, label=label, site=site)
    obs: Observation = ObservationFactory(study=study, lesion=lesion, **{"suv_max": None, **values})
    return obs


def _by_identifier(report: dicom_sr.SrReport) -> dict[str | None, dicom_sr.SrLesion]:
    return {lesion.tracking_identifier: lesion for lesion in report.lesions}


def _content(report: dicom_sr.SrReport) -> dict[str, Any]:
    """The clinical content of a parsed report (not the SR instance's own UIDs or times)."""
    return {
        "patient_id": report.patient_id,
        "study_instance_uid": report.study_instance_uid,
        "study_date": report.study_date,
        "lesions": sorted(
            (
                (
                    lesion.tracking_uid,
                    lesion.tracking_identifier,
                    lesion.site,
                    lesion.finding_site,
                    lesion.values,
                )
                for lesion in report.lesions
            ),
            key=lambda row: str(row[0]),
        ),
        "reference": report.reference,
    }


def test_every_lesion_reads_back_with_its_tracking_site_and_values() -> None:
    study = _sstr_study(
        _patient(),
        study_instance_uid="1.2.826.0.1.3680043.8.498.4242",
        accession_number="ACC-77",
        blood_pool_suv=Decimal("1.4"),
        spleen_suv=Decimal("17.5"),
    )
    full = _observe(
        study,
        "Liver 4",
        suv_max=Decimal("24.500"),
        suv_peak=Decimal("18.250"),
        long_axis_mm=Decimal("32.5"),
        short_axis_mm=Decimal("21.0"),
        volume_ml=Decimal("14.75"),
        krenning_visual=4,
    )
    _observe(study, "Sacrum", site="bone", suv_max=Decimal("9.1"), krenning_visual=3)
    data = build_report(study)

    assert data[128:132] == b"DICM"
    report = read_report(data)
    lesions = _by_identifier(report)
    assert sorted(lesions) == ["Liver 4", "Sacrum"]
    liver = lesions["Liver 4"]
    assert liver.tracking_uid == str(
        generate_uid(entropy_srcs=["netboard-lesion", str(full.lesion.pk)])
    )
    assert liver.site == "liver"
    assert liver.finding_site is not None and liver.finding_site.key == ("SCT", "10200004")
    assert liver.values == {
        "suv_max": Decimal("24.5"),
        "suv_peak": Decimal("18.25"),
        "long_axis_mm": Decimal("32.5"),
        "short_axis_mm": Decimal("21"),
        "volume_ml": Decimal("14.75"),
        "krenning_visual": 4,
    }
    sacrum = lesions["Sacrum"]
    assert sacrum.site == "bone"
    assert sacrum.values == {"suv_max": Decimal("9.1"), "krenning_visual": 3}
    assert report.reference == {
        "liver_suv": Decimal("6.2"),
        "blood_pool_suv": Decimal("1.4"),
        "spleen_suv": Decimal("17.5"),
    }
    assert report.patient_id == "MRN-EXPORT-1"
    assert report.study_instance_uid == "1.2.826.0.1.3680043.8.498.4242"
    assert report.study_date == date(2024, 3, 1)
    assert report.sop_class == "Comprehensive 3D SR Storage"
    assert report.instance_number == 1
    header = pydicom.dcmread(io.BytesIO(data))
    assert str(header.PatientName) == "Müller^Anna"
    assert (header.PatientBirthDate, header.PatientSex) == ("19580402", "F")
    assert header.AccessionNumber == "ACC-77"
    assert header.Manufacturer == "NETboard"
    assert header.PreliminaryFlag == "PRELIMINARY"  # a draft read
    assert "CurrentRequestedProcedureEvidenceSequence" not in header  # no image referenced


def test_the_fdg_visual_call_reads_back() -> None:
    study = _sstr_study(_patient(), tracer="f18_fdg", liver_suv=None)
    _observe(study, "Node A", site="lymph_node", suv_max=Decimal("7.5"), fdg_visual="positive")
    _observe(study, "Node B", site="lymph_node", fdg_visual="negative")
    report = read_report(build_report(study))
    lesions = _by_identifier(report)
    assert lesions["Node A"].values == {"suv_max": Decimal("7.5"), "fdg_visual": "positive"}
    assert lesions["Node B"].values == {"fdg_visual": "negative"}
    assert report.reference == {}


@pytest.mark.parametrize("site", MAPPED_SITES)
def test_each_mapped_site_round_trips(site: str) -> None:
    study = _sstr_study(_patient())
    _observe(study, f"A {site} lesion", site=site, suv_max=Decimal("5"))
    (lesion,) = read_report(build_report(study)).lesions
    assert lesion.site == site
    assert lesion.finding_site is not None
    assert dicom_sr.LESION_SITES[lesion.finding_site.key] == site
    assert lesion.finding_site.meaning and lesion.finding_site.meaning != lesion.finding_site.value


def test_a_site_without_a_code_has_no_finding_site() -> None:
    assert LesionSite.OTHER not in MAPPED_SITES
    study = _sstr_study(_patient())
    _observe(study, "Elsewhere", site=LesionSite.OTHER, suv_max=Decimal("3.5"))
    (lesion,) = read_report(build_report(study)).lesions
    assert (lesion.finding_site, lesion.site) == (None, None)
    assert lesion.values == {"suv_max": Decimal("3.5")}


def test_an_observation_without_values_is_left_out() -> None:
    study = _sstr_study(_patient())
    _observe(study, "Seen", suv_max=Decimal("8"))
    _observe(study, "Gone", state="not_seen")
    report = read_report(build_report(study))
    assert [lesion.tracking_identifier for lesion in report.lesions] == ["Seen"]


def test_lesions_are_written_in_label_order() -> None:
    study = _sstr_study(_patient())
    for label in ("Liver 2", "Adrenal", "Liver 10"):
        _observe(study, label, suv_max=Decimal("4"))
    report = read_report(build_report(study))
    assert [lesion.tracking_identifier for lesion in report.lesions] == sorted(
        ["Liver 2", "Adrenal", "Liver 10"]
    )


def test_an_export_imported_into_an_empty_database_exports_the_same_read() -> None:
    study = _sstr_study(_patient(), liver_suv=Decimal("5.8"))
    _observe(study, "Liver 1", suv_max=Decimal("31.2"), krenning_visual=4, long_axis_mm=40)
    _observe(study, "Liver 2", suv_max=Decimal("12.0"), suv_peak=Decimal("9.5"), krenning_visual=3)
    _observe(study, "Pancreas head", site="pancreas", suv_max=Decimal("6.4"), krenning_visual=2)
    _observe(study, "Sacrum", site="bone", krenning_visual=1, volume_ml=Decimal("3.25"))
    first = build_report(study)
    before = read_report(first)

    Patient.objects.all().delete()
    assert not Lesion.objects.exists() and not ImagingStudy.objects.exists()

    patient = PatientFactory(mrn="MRN-EXPORT-1", family_name="Müller", given_name="Anna")
    empty = _sstr_study(patient, liver_suv=None)
    reader = UserFactory(role="reader")
    result = sr_import(study=empty, report=read_report(first), user=reader, commit=True)
    assert result.written is True
    assert Lesion.objects.filter(patient=patient).count() == 4
    again = build_report(ImagingStudy.objects.get(pk=empty.pk))

    after = read_report(again)
    assert after.sop_instance_uid != before.sop_instance_uid
    assert _content(after) == _content(before)
    assert len(after.lesions) == 4
    assert after.reference == {"liver_suv": Decimal("5.8")}
    assert _by_identifier(after)["Sacrum"].values == {
        "krenning_visual": 1,
        "volume_ml": Decimal("3.25"),
    }


def test_uids_are_the_same_on_every_export() -> None:
    study = _sstr_study(_patient(), study_instance_uid="")
    _observe(study, "Liver 1", suv_max=Decimal("10"))
    _observe(study, "Liver 2", suv_max=Decimal("11"))
    one, two = read_report(build_report(study)), read_report(build_report(study))
    assert [lesion.tracking_uid for lesion in one.lesions] == [
        lesion.tracking_uid for lesion in two.lesions
    ]
    assert len({lesion.tracking_uid for lesion in one.lesions}) == 2
    expected = str(generate_uid(entropy_srcs=["netboard-study", str(study.pk)]))
    assert one.study_instance_uid == two.study_instance_uid == expected
    assert one.series_instance_uid == two.series_instance_uid  # one SR series per study
    assert one.sop_instance_uid != two.sop_instance_uid
    study.refresh_from_db()
    assert study.study_instance_uid == ""  # exporting writes nothing
    assert not Lesion.objects.exclude(tracking_uid="").exists()


def test_a_stored_tracking_uid_is_kept() -> None:
    study = _sstr_study(_patient())
    obs = _observe(study, "Tracked", suv_max=Decimal("10"))
    Lesion.objects.filter(pk=obs.lesion.pk).update(tracking_uid="1.2.840.113619.7.7")
    (lesion,) = read_report(build_report(study)).lesions
    assert lesion.tracking_uid == "1.2.840.113619.7.7"


def test_a_study_without_observations_has_no_lesion_groups() -> None:
    study = _sstr_study(_patient(), blood_pool_suv=Decimal("1.6"))
    report = read_report(build_report(study))
    assert report.lesions == []
    assert report.reference == {"liver_suv": Decimal("6.2"), "blood_pool_suv": Decimal("1.6")}


def test_a_study_with_nothing_recorded_is_still_a_valid_report() -> None:
    study = _sstr_study(_patient(), modality="ct", tracer="none", liver_suv=None)
    data = build_report(study)
    report = read_report(data)
    assert (report.lesions, report.reference) == ([], {})
    assert report.patient_id == "MRN-EXPORT-1"
    header = pydicom.dcmread(io.BytesIO(data))
    assert header.SOPClassUID == pydicom.uid.Comprehensive3DSRStorage
    procedure = hd.sr.MeasurementReport.from_sequence([hd.sr.srread(io.BytesIO(data))])
    assert procedure is not None


def _groups(data: bytes) -> list[Any]:
    document = hd.sr.srread(io.BytesIO(data))
    report = hd.sr.MeasurementReport.from_sequence([document])
    return list(report.get_image_measurement_groups())


def test_the_phenotype_grades_are_written_and_not_read_as_lesions() -> None:
    from apps.scoring.services import recompute_phenotype

    patient = three_liver_lesions(_patient())
    assert recompute_phenotype(patient.pk) == "written"
    sstr = ImagingStudy.objects.get(patient=patient, tracer="ga68_dotatate")
    data = build_report(sstr)

    report = read_report(data)
    assert sorted(lesion.tracking_identifier for lesion in report.lesions) == ["L0", "L1", "L2"]
    (grades,) = [g for g in _groups(data) if g.tracking_identifier == PHENOTYPE_IDENTIFIER]
    assert grades.get_measurements() == []
    assert grades.finding_sites == []
    evaluations = {
        (e.name.value): (e.value.scheme_designator, e.value.value)
        for e in grades.get_qualitative_evaluations()
    }
    stored = PhenotypeAssessment.objects.get(patient=patient).latest_timepoint
    assert stored["netpet"]["grade"] == "P1"  # Krenning 4, FDG negative
    assert evaluations == {
        "netpet-grade": ("99NETBOARD", "netpet-P1"),
        "karfis-group": ("99NETBOARD", f"karfis-{stored['karfis']['group']}"),
        "zidan-group": ("99NETBOARD", f"zidan-{stored['zidan']['group']}"),
        "preliminary": ("SCT", "373066001"),  # Yes: both reads are drafts
        "grades-status": ("99NETBOARD", "fresh"),
    }
    version = [
        item.value
        for item in hd.sr.utils.find_content_items(grades[0], recursive=True)
        if item.name.value == "111003"  # Algorithm Version
    ]
    assert version == [RULES_VERSION]


def test_no_stored_assessment_no_grades_group() -> None:
    study = _sstr_study(_patient())
    _observe(study, "Liver 1", suv_max=Decimal("10"))
    identifiers = [group.tracking_identifier for group in _groups(build_report(study))]
    assert identifiers == ["Liver 1", "Reference Liver"]


def test_a_finished_read_names_its_reader_and_is_final() -> None:
    study = _sstr_study(_patient())
    _observe(study, "Liver 1", suv_max=Decimal("10"))
    reader = UserFactory(role="reader", first_name="Rita", last_name="Reader")
    study_finish(study=study, user=reader)
    data = build_report(ImagingStudy.objects.get(pk=study.pk))
    header = pydicom.dcmread(io.BytesIO(data))
    assert (header.PreliminaryFlag, header.CompletionFlag) == ("FINAL", "COMPLETE")
    names = [
        str(item.value)
        for item in hd.sr.utils.find_content_items(
            hd.sr.srread(io.BytesIO(data)), name=pydicom.sr.codedict.codes.DCM.PersonObserverName
        )
    ]
    assert names == ["Reader^Rita"]
    assert read_report(data).lesions[0].values == {"suv_max": Decimal("10")}


def test_no_patient_data_is_logged_or_warned(caplog: pytest.LogCaptureFixture) -> None:
    study = _sstr_study(_patient(mrn="MRN-SECRET-9"), accession_number="ACC-SECRET")
    _observe(study, "Liver 1", suv_max=Decimal("10"))
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = build_report(study)
    assert read_report(data).patient_id == "MRN-SECRET-9"
    said = caplog.text + " ".join(str(w.message) for w in caught)
    for secret in ("MRN-SECRET-9", "Müller", "Anna", "ACC-SECRET", "19580402"):
        assert secret not in said


SITE_ROOT = "1.2.826.0.1.3680043.10.999."


def test_every_uid_netboard_makes_is_under_the_sites_root(settings: Any) -> None:
    study = _sstr_study(_patient(), study_instance_uid="")
    obs = _observe(study, "Derived", suv_max=Decimal("10"))
    tracked = _observe(study, "Tracked", suv_max=Decimal("12"))
    Lesion.objects.filter(pk=tracked.lesion.pk).update(tracking_uid="1.2.840.113619.7.7")
    shared = read_report(build_report(study))  # no root set: pydicom's, as before
    settings.NETBOARD_DICOM_UID_ROOT = SITE_ROOT
    data = build_report(study)
    dataset = pydicom.dcmread(io.BytesIO(data))
    own = read_report(data)
    derived = {lesion.tracking_identifier: lesion.tracking_uid for lesion in own.lesions}
    assert derived["Derived"].startswith(SITE_ROOT)  # type: ignore[union-attr]
    assert derived["Tracked"] == "1.2.840.113619.7.7"  # a workstation's stays as it came
    assert own.series_instance_uid.startswith(SITE_ROOT)
    assert own.sop_instance_uid.startswith(SITE_ROOT)
    assert own.study_instance_uid.startswith(SITE_ROOT)  # the study had none
    devices = [
        str(item.UID)
        for item in hd.sr.utils.find_content_items(dataset, recursive=True)
        if item.get("ValueType") == "UIDREF"
        and item.ConceptNameCodeSequence[0].CodeValue == "121012"
    ]
    assert devices and all(uid.startswith(SITE_ROOT) for uid in devices)
    # The same lesion id at a site using pydicom's root derives another UID; both are stable.
    assert {lesion.tracking_identifier: lesion.tracking_uid for lesion in shared.lesions}[
        "Derived"
    ] == str(generate_uid(entropy_srcs=["netboard-lesion", str(obs.lesion.pk)]))
    assert derived["Derived"] != str(
        generate_uid(entropy_srcs=["netboard-lesion", str(obs.lesion.pk)])
    )
    assert read_report(build_report(study)).lesions[0].tracking_uid in derived.values()
