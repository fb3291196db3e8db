"""POST /api/v1/dicom-sr/: an SR import that finds its study by Study Instance UID, or imports
into the study the sender names, or creates it with the date, modality and tracer the SR and
its image library give (issue 16)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom.sr.coding import Code

from apps.imaging.models import ImagingStudy, Lesion, Observation
from tests.factories import PatientFactory, StudyFactory
from tests.imaging.sr_factory import SrLesionSpec, build_sr

pytestmark = pytest.mark.django_db

FDG = Code("35321007", "SCT", "Fluorodeoxyglucose F^18^")
DOTATATE = Code("724025002", "SCT", "Dotatate Ga^68^")
UNKNOWN_AGENT = Code("422855001", "SCT", "ATSM Cu^64^")


def _post(client, *files: bytes, query: str = "", **fields):  # type: ignore[no-untyped-def]
    uploads = [SimpleUploadedFile(f"sr{n}.dcm", data) for n, data in enumerate(files)]
    return client.post(f"/api/v1/dicom-sr/{query}", {"file": uploads, **fields}, format="multipart")


def test_the_study_is_found_by_its_study_instance_uid(token_client) -> None:  # type: ignore[no-untyped-def]
    patient = PatientFactory(mrn="MRN-1")
    StudyFactory(patient=patient, study_instance_uid="1.2.3.4.1")  # another study
    study = StudyFactory(patient=patient, study_instance_uid="1.2.3.4.2", tracer="f18_fdg")
    data = build_sr([SrLesionSpec(tracking_uid="1.2.5.1", suv_max=7)], study_uid="1.2.3.4.2")
    response = _post(token_client("reader"), data)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["study"], body["study_created"]) == (study.pk, False)
    assert Observation.objects.get(study=study).suv_max == 7


def test_a_new_study_takes_date_modality_and_tracer_from_the_sr(token_client) -> None:  # type: ignore[no-untyped-def]
    patient = PatientFactory(mrn="MRN-1")
    data = build_sr(
        [SrLesionSpec(tracking_uid="1.2.5.1", suv_max=9)],
        study_uid="1.2.3.4.9",
        radiopharmaceutical=FDG,
    )
    client = token_client("reader")
    response = _post(client, data)
    assert response.status_code == 201, response.content
    study = ImagingStudy.objects.get(pk=response.json()["study"])
    assert (study.patient, study.performed_on, study.modality, study.tracer) == (
        patient,
        date(2024, 3, 1),  # the SR's Study Date
        "pet_ct",  # its image library: PET
        "f18_fdg",  # its radiopharmaceutical agent (TID 1607)
    )
    assert study.study_instance_uid == "1.2.3.4.9"
    assert Lesion.objects.get(patient=patient).tracking_uid == "1.2.5.1"
    # The same file again finds that study and changes nothing.
    again = _post(client, data)
    assert again.status_code == 200
    assert again.json()["study"] == study.pk
    assert again.json()["reports"][0]["already_imported"] is True
    assert ImagingStudy.objects.filter(patient=patient).count() == 1


@pytest.mark.parametrize(
    ("build", "fields", "missing"),
    [
        ({}, {}, "modality"),  # no image library: the SR says neither modality nor tracer
        ({"library": True}, {}, "tracer"),  # a library without the agent: PET, tracer unknown
        ({"radiopharmaceutical": UNKNOWN_AGENT}, {}, "tracer"),  # an agent NETboard does not map
    ],
)
def test_what_the_sr_does_not_say_is_asked_for_by_name(  # type: ignore[no-untyped-def]
    token_client, build, fields, missing
) -> None:
    PatientFactory(mrn="MRN-1")
    response = _post(token_client("reader"), build_sr([SrLesionSpec()], **build), **fields)
    assert response.status_code == 400
    assert missing in response.json()["errors"]
    assert not ImagingStudy.objects.exists() and not Lesion.objects.exists()


def test_the_sender_gives_what_the_sr_does_not_say(token_client) -> None:  # type: ignore[no-untyped-def]
    PatientFactory(mrn="MRN-1")
    response = _post(
        token_client("reader"),
        build_sr([SrLesionSpec()]),
        modality="pet_ct",
        tracer="ga68_dotatate",
    )
    assert response.status_code == 201, response.content
    study = ImagingStudy.objects.get(pk=response.json()["study"])
    assert (study.modality, study.tracer) == ("pet_ct", "ga68_dotatate")


def test_the_sender_contradicting_the_sr_is_refused(token_client) -> None:  # type: ignore[no-untyped-def]
    PatientFactory(mrn="MRN-1")
    data = build_sr([SrLesionSpec()], radiopharmaceutical=FDG)
    response = _post(token_client("reader"), data, tracer="ga68_dotatate")
    assert response.status_code == 400
    assert "The SR says f18_fdg" in response.json()["errors"]["tracer"][0]
    assert not ImagingStudy.objects.exists()


def test_an_unknown_mrn_is_refused_naming_it(token_client) -> None:  # type: ignore[no-untyped-def]
    PatientFactory(mrn="MRN-1")
    response = _post(token_client("reader"), build_sr([SrLesionSpec()], patient_id="MRN-404"))
    assert response.status_code == 400
    assert "MRN-404" in response.json()["errors"]["file.0"][0]
    assert not ImagingStudy.objects.exists()


def test_a_review_creates_nothing(token_client) -> None:  # type: ignore[no-untyped-def]
    PatientFactory(mrn="MRN-1")
    data = build_sr([SrLesionSpec(suv_max=5)], radiopharmaceutical=DOTATATE)
    response = _post(token_client("reader"), data, query="?commit=false")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["study"], body["study_created"]) == (None, True)
    assert body["reports"][0]["lesions"][0]["values"]["suv_max"] == 5
    assert not ImagingStudy.objects.exists() and not Lesion.objects.exists()


def test_files_of_two_studies_are_refused(token_client) -> None:  # type: ignore[no-untyped-def]
    PatientFactory(mrn="MRN-1")
    first = build_sr([SrLesionSpec()], study_uid="1.2.3.4.1", radiopharmaceutical=FDG)
    second = build_sr([SrLesionSpec()], study_uid="1.2.3.4.2", radiopharmaceutical=FDG)
    response = _post(token_client("reader"), first, second)
    assert response.status_code == 400
    assert "one study's reports per request" in response.json()["errors"]["file.1"][0]
    assert not ImagingStudy.objects.exists()


def test_a_named_study_of_another_patient_is_refused(token_client) -> None:  # type: ignore[no-untyped-def]
    PatientFactory(mrn="MRN-1")
    elsewhere = StudyFactory(patient=PatientFactory(mrn="MRN-2"))
    response = _post(token_client("reader"), build_sr([SrLesionSpec()]), study=elsewhere.pk)
    assert response.status_code == 400
    assert "study" in response.json()["errors"]
    assert not Lesion.objects.exists()


def test_a_named_study_receives_the_sr_and_its_uid(token_client) -> None:  # type: ignore[no-untyped-def]
    study = StudyFactory(patient=PatientFactory(mrn="MRN-1"), study_instance_uid="")
    data = build_sr([SrLesionSpec(suv_max=4)], study_uid="1.2.3.4.7")
    response = _post(token_client("reader"), data, study=study.pk)
    assert response.status_code == 200, response.content
    study.refresh_from_db()
    assert study.study_instance_uid == "1.2.3.4.7"
    assert Observation.objects.get(study=study).suv_max == 4


def test_only_readers_import(token_client) -> None:  # type: ignore[no-untyped-def]
    PatientFactory(mrn="MRN-1")
    response = _post(token_client("clinician"), build_sr([SrLesionSpec()], radiopharmaceutical=FDG))
    assert response.status_code == 403
    assert not ImagingStudy.objects.exists()
