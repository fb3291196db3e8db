"""FHIR R4: $everything validates against the base resources, a transaction Bundle creates the
same records the JSON API would, and export -> import into an empty database -> export gives the
same clinical content (issue 4, item 8)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import TestCase
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.models import Patient

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"


@pytest.fixture
def demo_patient() -> Patient:
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("load_demo", no_users=True, stdout=StringIO())
    return Patient.objects.get(mrn="DEMO-0010")  # 12 studies, SPECTs, relapse P5


def export(client: APIClient, patient_id: int) -> dict[str, Any]:
    response = client.get(f"/fhir/R4/Patient/{patient_id}/$everything")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith(FHIR)
    return dict(response.json())


def test_everything_is_a_valid_bundle_with_every_part(
    token_client: Callable[..., APIClient], demo_patient: Patient
) -> None:
    bundle = export(token_client("clinician"), demo_patient.pk)
    Bundle.model_validate(bundle)  # raises on any invalid resource
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Patient") == 1
    assert kinds.count("Procedure") == demo_patient.treatments.count()
    assert kinds.count("BodyStructure") == demo_patient.lesions.count()
    assert kinds.count("ImagingStudy") == demo_patient.studies.count()
    lesion_obs = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation" and e["resource"]["id"].startswith("obs-")
    ]
    assert len(lesion_obs) == Observation.objects.filter(patient=demo_patient).count()
    suv = [
        c for o in lesion_obs for c in o["component"] if c["code"]["coding"][0]["code"] == "126401"
    ]
    assert (
        suv
        and suv[0]["code"]["coding"][0]["system"] == "http://dicom.nema.org/resources/ontology/DCM"
    )
    grades = {
        e["resource"]["code"]["coding"][0]["code"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and not e["resource"]["id"].startswith(("obs-", "follow-up-"))
    }
    assert grades == {"netpet-grade", "karfis-group", "zidan-group"}
    report = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport"
    ]
    assert len(report) == 1 and report[0]["status"] == "final"
    netpet = [
        e["resource"]["valueCodeableConcept"]["coding"][0]["code"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["coding"][0]["code"] == "netpet-grade"
    ]
    assert netpet[-1] == "P5"  # the relapse of the seed paper's Fig. 4


def as_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """What a hospital system would send: the exported resources, POSTed, no grades changed."""
    entries = []
    for entry in bundle["entry"]:
        resource = copy.deepcopy(entry["resource"])
        entries.append(
            {
                "fullUrl": f"{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def clinical_content(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle without ids and references, lesions and studies keyed by label and date."""
    by_id = {
        (e["resource"]["resourceType"], e["resource"]["id"]): e["resource"] for e in bundle["entry"]
    }
    content: dict[str, Any] = {"observations": {}, "grades": []}
    for (kind, _id), resource in sorted(by_id.items()):
        references = {"id", "subject", "patient", "focus", "partOf", "derivedFrom", "result"}
        clean = {k: v for k, v in resource.items() if k not in references | {"issued"}}
        if "extension" in clean:  # a link to a treatment: compare what it links to, not its id
            clean["extension"] = [
                {"treatment": by_id[tuple(e["valueReference"]["reference"].split("/"))]["code"]}
                if "valueReference" in e
                else e
                for e in clean["extension"]
            ]
        if kind == "Patient":
            content["patient"] = clean
        elif kind == "Procedure":
            content.setdefault("treatments", []).append(clean)
        elif kind == "BodyStructure":
            content.setdefault("lesions", {})[resource["description"]] = clean
        elif kind == "ImagingStudy":
            content.setdefault("studies", {})[
                resource["started"] + resource["procedureCode"][0]["coding"][0]["code"]
            ] = clean
        elif kind == "Observation" and resource["id"].startswith("obs-"):
            study = by_id[("ImagingStudy", resource["partOf"][0]["reference"].split("/")[1])]
            lesion = by_id[("BodyStructure", resource["focus"][0]["reference"].split("/")[1])]
            tracer = study["procedureCode"][0]["coding"][0]["code"]
            key = f"{study['started']} {tracer} {lesion['description']}"
            content["observations"][key] = clean
        elif kind == "Observation" and resource["id"].startswith("follow-up-"):
            derived = [  # the study it was seen on, by date and tracer
                by_id[tuple(d["reference"].split("/"))]["started"]
                for d in resource.get("derivedFrom", [])
            ]
            content.setdefault("follow_ups", []).append((clean, derived))
        elif kind == "Observation":
            content["grades"].append(
                (
                    resource["effectiveDateTime"],
                    resource["code"]["coding"][0]["code"],
                    resource["valueCodeableConcept"]["coding"][0]["code"],
                )
            )
    content["grades"].sort()
    content.get("follow_ups", []).sort(key=repr)
    return content  # fmt: skip


def test_round_trip_export_import_into_an_empty_database_export(
    token_client: Callable[..., APIClient], demo_patient: Patient
) -> None:
    clinician = token_client("clinician")
    first = export(clinician, demo_patient.pk)
    with TestCase.captureOnCommitCallbacks(execute=True):
        Patient.objects.all().delete()  # an empty database (clinical tables)
    assert not ImagingStudy.objects.exists() and not Lesion.objects.exists()

    system = token_client("admin", "his-fhir")
    with TestCase.captureOnCommitCallbacks(execute=True):  # the recompute, after commit
        response = system.post("/fhir/R4/", as_transaction(first), format="json")
    assert response.status_code == 200, response.content[:1000]
    assert response.json()["type"] == "transaction-response"
    imported = Patient.objects.get(mrn="DEMO-0010")
    second = export(clinician, imported.pk)
    assert clinical_content(second) == clinical_content(first)


def test_an_invalid_entry_writes_nothing_and_names_it(
    token_client: Callable[..., APIClient], demo_patient: Patient
) -> None:
    bundle = as_transaction(export(token_client("clinician", "his-c"), demo_patient.pk))
    Patient.objects.all().delete()
    studies = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "ImagingStudy"]
    studies[1]["resource"]["procedureCode"][0]["coding"][0]["code"] = "unobtainium"
    response = token_client("admin", "his-adm").post("/fhir/R4/", bundle, format="json")
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any("procedureCode" in issue["expression"][0] for issue in outcome["issue"])
    assert not Patient.objects.exists() and not ImagingStudy.objects.exists()


ROBOT = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {
            "resource": {"resourceType": "Patient", "gender": "robot"},
            "request": {"method": "POST", "url": "Patient"},
        }
    ],
}


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        ({"resourceType": "Patient"}, "Bundle"),
        ({"resourceType": "Bundle", "type": "collection"}, "Bundle.type"),
        (ROBOT, "gender"),
    ],
)  # fmt: skip
def test_a_malformed_bundle_is_400_operation_outcome(
    token_client: Callable[..., APIClient], body: dict[str, Any], expression: str
) -> None:
    response = token_client("admin").post("/fhir/R4/", body, format="json")
    assert response.status_code == 400
    issues = response.json()["issue"]
    assert any(expression in " ".join(i.get("expression", [])) for i in issues), issues


def test_fhir_needs_the_same_permissions(
    token_client: Callable[..., APIClient], api_client: APIClient, demo_patient: Patient
) -> None:
    url = f"/fhir/R4/Patient/{demo_patient.pk}/$everything"
    assert api_client.get(url).status_code == 401
    assert token_client("auditor", "his-a").post("/fhir/R4/", {}, format="json").status_code == 403
    missing = token_client("reader", "his-r").get("/fhir/R4/Patient/999999/$everything")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
