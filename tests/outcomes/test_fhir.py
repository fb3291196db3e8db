"""Follow-up records in FHIR R4 (issue 18, part 1): exported in ``$everything`` as Observations
(a death also as the Patient's deceasedDateTime), imported from a transaction Bundle through the
same serializer and service as ``follow-ups/``, with the same refusals."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from apps.outcomes.models import FollowUp
from apps.patients.models import Patient
from tests.factories import PatientFactory, StudyFactory
from tests.fhir.test_fhir import as_transaction, clinical_content, export
from tests.outcomes.cohort import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def followed() -> Patient:
    patient = PatientFactory(mrn="FHIR-FU-1")
    study = StudyFactory(patient=patient, performed_on=date(2024, 3, 1), tracer="f18_fdg")
    record(patient, "last_contact", date(2024, 1, 15))
    record(patient, "progression", date(2024, 3, 1), basis="percist", study=study)
    record(patient, "death", date(2024, 8, 2), cause="liver failure")
    return patient


def follow_ups(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["id"].startswith("follow-up-")
    ]


def test_follow_ups_are_exported_as_observations(
    token_client: Callable[..., APIClient], followed: Patient
) -> None:
    bundle = export(token_client("clinician"), followed.pk)
    Bundle.model_validate(bundle)
    observations = follow_ups(bundle)
    assert [o["code"]["coding"][0]["code"] for o in observations] == [
        "follow-up-last-contact",
        "follow-up-progression",
        "follow-up-death",
    ]
    contact, progression, death = observations
    assert contact["effectiveDateTime"] == "2024-01-15T00:00:00Z"
    assert {
        "system": "http://loinc.org",
        "code": "97509-4",
        "display": "Cancer disease progression",
    } in progression["code"]["coding"]
    assert progression["method"]["coding"][0]["code"] == "percist"
    assert progression["derivedFrom"][0]["reference"].startswith("ImagingStudy/")
    assert progression["valueCodeableConcept"]["coding"][0]["code"] == "271299001"
    assert death["valueString"] == "liver failure"
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    assert patient["deceasedDateTime"] == "2024-08-02T00:00:00Z"


def test_export_then_import_into_an_empty_database_gives_the_same_follow_ups(
    token_client: Callable[..., APIClient], followed: Patient
) -> None:
    clinician = token_client("clinician")
    first = export(clinician, followed.pk)
    Patient.objects.all().delete()
    assert not FollowUp.objects.exists()
    response = token_client("admin", "his-fhir").post(
        "/fhir/R4/", as_transaction(first), format="json"
    )
    assert response.status_code == 200, response.content[:1000]
    imported = Patient.objects.get(mrn="FHIR-FU-1")
    assert imported.follow_ups.count() == 3
    second = export(clinician, imported.pk)
    assert clinical_content(second)["follow_ups"] == clinical_content(first)["follow_ups"]
    assert clinical_content(second) == clinical_content(first)


def test_an_imported_follow_up_is_refused_as_the_api_refuses_it(
    token_client: Callable[..., APIClient], followed: Patient
) -> None:
    bundle = as_transaction(export(token_client("clinician"), followed.pk))
    Patient.objects.all().delete()
    entries = [e for e in bundle["entry"] if e["resource"]["id"].startswith("follow-up-")]
    death = copy.deepcopy(entries[-1])
    death["resource"]["effectiveDateTime"] = "2024-02-01T00:00:00Z"  # before the progression
    bundle["entry"][bundle["entry"].index(entries[-1])] = death
    response = token_client("admin", "his-adm").post("/fhir/R4/", bundle, format="json")
    assert response.status_code == 400
    issues = response.json()["issue"]
    assert any("effectiveDateTime" in " ".join(i.get("expression", [])) for i in issues), issues
    assert not Patient.objects.exists()
