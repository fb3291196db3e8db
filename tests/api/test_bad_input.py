"""Bad input, every field of every resource (issue 4, "Bad input"): wrong types, out-of-range
values, unknown codes, missing required fields, dates that cannot be in the future, unknown and
other patients' foreign keys. Each answer is a 400 problem document naming the field, and the
database is unchanged. The cases are generated from the live OpenAPI schema, so a new field is
covered the day it is added."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.factories import (
    CaseFactory,
    LesionFactory,
    PatientFactory,
    StudyFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
MODELS = {
    "patients": "patients.Patient",
    "pathology": "patients.Pathology",
    "biomarkers": "patients.Biomarker",
    "treatments": "patients.Treatment",
    "lesions": "imaging.Lesion",
    "studies": "imaging.ImagingStudy",
    "observations": "imaging.Observation",
    "meetings": "decisions.Meeting",
    "decisions": "decisions.Decision",
}
# Fields whose dates cannot lie in the future.
PAST_ONLY = {"birth_date", "performed_on", "reported_on", "measured_on"}


def request_schema(resource: str) -> dict[str, Any]:
    body = SCHEMA["paths"][f"/api/v1/{resource}/"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    return dict(SCHEMA["components"]["schemas"][ref])


def resolve(prop: dict[str, Any]) -> dict[str, Any]:
    merged = dict(prop)
    for part in prop.get("allOf", []) + [o for o in prop.get("oneOf", []) if "$ref" in o]:
        if "$ref" in part:
            merged.update(SCHEMA["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]])
    return merged


def bad_values(name: str, prop: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(what is wrong, value) for one property, from its schema."""
    spec = resolve(prop)
    kind, fmt = spec.get("type"), spec.get("format")
    if "enum" in spec:
        yield "unknown code", "not_a_code"
        yield "wrong type", ["list"]
        return
    if kind == "integer":
        yield "wrong type", "abc"
        if "minimum" in spec:
            yield "below minimum", spec["minimum"] - 1
        if "maximum" in spec:
            yield "above maximum", spec["maximum"] + 1
    elif kind == "string" and fmt == "decimal":
        yield "wrong type", "abc"
        yield "wrong type", {"value": 1}
    elif kind == "string" and fmt == "date":
        yield "impossible date", "2024-13-45"
        if name in PAST_ONLY:
            yield "future date", (timezone.localdate() + timedelta(days=2)).isoformat()
    elif kind == "string":
        yield "wrong type", {"text": "x"}
        if "maxLength" in spec:
            yield "too long", "x" * (spec["maxLength"] + 1)
    elif kind == "boolean":
        yield "wrong type", "maybe"
    elif kind == "array":
        yield "wrong type", "not a list"


@pytest.fixture
def world() -> dict[str, Any]:
    patient = PatientFactory(mrn="BAD-BASE")
    other = PatientFactory(mrn="BAD-OTHER")
    study = StudyFactory(patient=patient)
    return {
        "patient": patient,
        "other": other,
        "study": study,
        "lesion": LesionFactory(patient=patient),
        "foreign_lesion": LesionFactory(patient=other),
        "foreign_treatment": TreatmentFactory(patient=other),
        "case": CaseFactory(patient=patient),
    }


def valid_body(resource: str, w: dict[str, Any]) -> dict[str, Any]:
    p = w["patient"].pk
    return {
        "patients": {"mrn": "BAD-NEW", "family_name": "New", "sex": "female"},
        "pathology": {"patient": p, "reported_on": "2024-01-01", "who_grade": "G2"},
        "biomarkers": {
            "patient": p, "analyte": "chromogranin_a", "value": "10", "unit": "ng/mL",
            "measured_on": "2024-01-01",
        },
        "treatments": {"patient": p, "kind": "ssa", "started_on": "2024-01-01"},
        "lesions": {"patient": p, "label": "New lesion", "site": "liver"},
        "studies": {
            "patient": p, "performed_on": "2024-02-01", "modality": "pet_ct",
            "tracer": "ga68_dotatate",
        },
        "observations": {"study": w["study"].pk, "lesion": w["lesion"].pk, "suv_max": "5"},
        "meetings": {"held_on": "2024-06-01", "title": "Board"},
        "decisions": {"case": w["case"].pk, "recommendation": "prrt", "rationale": "Consensus"},
    }[resource]  # fmt: skip


def cases() -> Iterator[Any]:
    for resource in MODELS:
        component = request_schema(resource)
        required = set(component.get("required", []))
        for name, prop in component["properties"].items():
            for what, value in bad_values(name, prop):
                yield pytest.param(resource, name, value, id=f"{resource}.{name}: {what}")
            if name in required:
                yield pytest.param(resource, name, None, id=f"{resource}.{name}: missing")


def count(resource: str) -> int:
    return int(apps.get_model(MODELS[resource]).objects.count())


@pytest.mark.parametrize("resource", list(MODELS))
def test_the_valid_bodies_are_accepted(
    token_client: Callable[..., APIClient], world: dict[str, Any], resource: str
) -> None:
    """The baseline: each case below changes exactly one field of a body that is accepted."""
    response = token_client("admin").post(
        f"/api/v1/{resource}/", valid_body(resource, world), format="json"
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("resource", "field", "value"), list(cases()))
def test_a_bad_field_is_a_400_naming_it_and_nothing_is_written(
    token_client: Callable[..., APIClient],
    world: dict[str, Any],
    resource: str,
    field: str,
    value: Any,
) -> None:
    body = valid_body(resource, world)
    if value is None:
        body.pop(field, None)
    else:
        body[field] = value
    before = count(resource)
    response = token_client("admin").post(f"/api/v1/{resource}/", body, format="json")
    assert response.status_code == 400, (field, value, response.content)
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in response.json()["errors"], response.json()
    assert count(resource) == before


FOREIGN = [
    ("observations", "lesion", "foreign_lesion"),  # lesion of another patient than the study
    ("studies", "treatment", "foreign_treatment"),  # treatment of another patient
    ("observations", "study", None),  # no such study
    ("pathology", "patient", None),  # no such patient
    ("decisions", "case", None),  # no such case
]


@pytest.mark.parametrize(("resource", "field", "target"), FOREIGN)
def test_foreign_keys_to_missing_or_other_patients_records_are_refused(
    token_client: Callable[..., APIClient],
    world: dict[str, Any],
    resource: str,
    field: str,
    target: str | None,
) -> None:
    body = valid_body(resource, world)
    body[field] = world[target].pk if target else 987654
    before = count(resource)
    response = token_client("admin").post(f"/api/v1/{resource}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert count(resource) == before


# Decimal fields carry no minimum/maximum in the schema (they travel as strings): their ranges
# from API.md and DOMAIN.md, one by one.
RANGES = [
    ("pathology", "ki67_percent", "100.1"),
    ("pathology", "ki67_percent", "-1"),
    ("biomarkers", "value", "-0.01"),
    ("patients", "height_cm", "0"),
    ("patients", "weight_kg", "-70"),
    ("observations", "suv_max", "-1"),
    ("observations", "suv_peak", "-0.5"),
    ("observations", "long_axis_mm", "-3"),
    ("studies", "liver_suv", "-1"),
    ("treatments", "ended_on", "2023-12-31"),  # before started_on
]


@pytest.mark.parametrize(("resource", "field", "value"), RANGES)
def test_out_of_range_decimals_and_dates_are_refused(
    token_client: Callable[..., APIClient],
    world: dict[str, Any],
    resource: str,
    field: str,
    value: str,
) -> None:
    body = {**valid_body(resource, world), field: value}
    before = count(resource)
    response = token_client("admin").post(f"/api/v1/{resource}/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert count(resource) == before


# Codes whose "not recorded" is null. Bug: an empty string was accepted for the pathology ones
# and broke the database's check constraint (a 409 "conflicts with another record").
EMPTY_CODES = [
    ("patients", "histology"),
    ("patients", "ppgl_cluster"),
    ("pathology", "who_grade"),
    ("pathology", "differentiation"),
    ("observations", "fdg_visual"),
    ("observations", "fdg_vs_sstr"),
]


@pytest.mark.parametrize(("resource", "field"), EMPTY_CODES)
def test_an_empty_code_is_a_400_naming_it_and_null_means_not_recorded(
    token_client: Callable[..., APIClient], world: dict[str, Any], resource: str, field: str
) -> None:
    client = token_client("admin")
    before = count(resource)
    body = {**valid_body(resource, world), field: ""}
    response = client.post(f"/api/v1/{resource}/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert count(resource) == before
    created = client.post(
        f"/api/v1/{resource}/", {**valid_body(resource, world), field: None}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()[field] is None
