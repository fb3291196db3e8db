"""A lesion's DICOM SR tracking (tracking UID and identifier): read-only in the API, one lesion per
tracking UID and patient."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from apps.imaging.models import Lesion
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_the_api_shows_the_tracking_and_does_not_take_it(token_client) -> None:  # type: ignore[no-untyped-def]
    patient = PatientFactory()
    client = token_client("admin")
    response = client.post(
        "/api/v1/lesions/",
        {
            "patient": patient.pk,
            "label": "Liver 1",
            "site": "liver",
            "tracking_uid": "1.2.3",
            "tracking_identifier": "typed",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["tracking_uid"] == ""
    assert response.json()["tracking_identifier"] == ""
    lesion = Lesion.objects.get(pk=response.json()["id"])
    Lesion.objects.filter(pk=lesion.pk).update(tracking_uid="1.2.840.9", tracking_identifier="L1")
    shown = client.get(f"/api/v1/lesions/{lesion.pk}/").json()
    assert (shown["tracking_uid"], shown["tracking_identifier"]) == ("1.2.840.9", "L1")


def test_one_lesion_per_tracking_uid_and_patient() -> None:
    patient, other = PatientFactory(), PatientFactory()
    Lesion.objects.create(patient=patient, label="A", site="liver", tracking_uid="1.2.9")
    Lesion.objects.create(patient=other, label="A", site="liver", tracking_uid="1.2.9")
    Lesion.objects.create(patient=patient, label="B", site="liver")
    Lesion.objects.create(patient=patient, label="C", site="liver")  # blank UIDs do not clash
    with pytest.raises(IntegrityError), transaction.atomic():
        Lesion.objects.create(patient=patient, label="D", site="bone", tracking_uid="1.2.9")
