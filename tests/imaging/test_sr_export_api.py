"""GET /api/v1/studies/{id}/dicom-sr/: the study's read as a TID 1500 SR (issue 16)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.core.models import AccessEvent
from apps.imaging.dicom_sr import read_report
from tests.factories import LesionFactory, ObservationFactory, StudyFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("accept", ["application/dicom", "*/*", None])
def test_the_export_is_a_dicom_file_of_the_read(token_client, accept) -> None:  # type: ignore[no-untyped-def]
    study = StudyFactory(liver_suv=Decimal("6.5"), blood_pool_suv=None, spleen_suv=None)
    lesion = LesionFactory(patient=study.patient, label="Sacrum", site="bone")
    ObservationFactory(study=study, lesion=lesion, suv_max=Decimal("14.2"), krenning_visual=3)
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = token_client("clinician").get(f"/api/v1/studies/{study.pk}/dicom-sr/", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom"
    assert "attachment" in response["Content-Disposition"]
    report = read_report(response.content)
    assert report.patient_id == study.patient.mrn
    (only,) = report.lesions
    assert (only.tracking_identifier, only.site, only.values["suv_max"]) == (
        "Sacrum",
        "bone",
        Decimal("14.2"),
    )
    assert only.values["krenning_visual"] == 3
    assert report.reference == {"liver_suv": Decimal("6.5")}
    # An export is a read of the patient's data: it is an access event.
    assert AccessEvent.objects.filter(
        patient_id=study.patient_id, action__contains="export_sr"
    ).exists()


def test_an_unknown_study_is_a_problem_not_a_file(token_client) -> None:  # type: ignore[no-untyped-def]
    response = token_client("clinician").get(
        "/api/v1/studies/999999/dicom-sr/", HTTP_ACCEPT="application/dicom"
    )
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 404
