"""Every API error is an RFC 9457 problem document (application/problem+json), never an HTML
page or a stack trace (API.md conventions; issue 4 "Errors")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.imaging.api import LesionViewSet
from tests.factories import LesionFactory

pytestmark = pytest.mark.django_db


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "errors"} <= set(body)
    assert b"<html" not in response.content.lower() and b"Traceback" not in response.content
    return body


JSON = "application/json"
CASES = [
    ("unknown endpoint", "get", "/api/v1/nope/", {}, 404),
    ("unknown record", "get", "/api/v1/patients/999999/", {}, 404),
    ("method not allowed", "delete", "/api/v1/patients/", {}, 405),
    ("not JSON", "post", "/api/v1/patients/", {"data": "a=1", "content_type": "text/plain"}, 415),
    ("broken JSON", "post", "/api/v1/patients/", {"data": "{", "content_type": JSON}, 400),
    ("HTML only", "get", "/api/v1/patients/", {"HTTP_ACCEPT": "text/html"}, 406),
    ("bad limit", "get", "/api/v1/patients/?limit=abc", {}, 400),
    ("negative offset", "get", "/api/v1/patients/?offset=-1", {}, 400),
    ("limit too high", "get", "/api/v1/patients/?limit=501", {}, 400),
    ("bad filter", "get", "/api/v1/studies/?performed_after=yesterday", {}, 400),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_errors_are_problem_documents(
    token_client: Callable[..., APIClient],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    assert_problem(getattr(token_client("reader"), method)(path, **kwargs), status)


def test_401_and_403_are_problem_documents(
    api_client: APIClient, token_client: Callable[..., APIClient]
) -> None:
    body = assert_problem(api_client.get("/api/v1/patients/"), 401)
    assert body["title"] == "Authentication required"
    assert_problem(token_client("auditor").post("/api/v1/patients/", {}, format="json"), 403)


def test_validation_errors_name_every_bad_field(token_client: Callable[..., APIClient]) -> None:
    body = assert_problem(
        token_client("reader").post(
            "/api/v1/patients/", {"mrn": "", "sex": "x", "birth_date": "soon"}, format="json"
        ),
        400,
    )
    assert {"mrn", "sex", "birth_date", "family_name"} <= set(body["errors"])


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2048)
def test_a_body_over_the_limit_is_413_before_it_is_read(
    token_client: Callable[..., APIClient], client: Any
) -> None:
    big = '{"mrn": "' + "x" * 4096 + '"}'
    body = assert_problem(
        token_client("reader").post("/api/v1/patients/", big, content_type="application/json"),
        413,
    )
    assert "2048" in body["detail"]
    browser = client.post("/accounts/login/", big, content_type="application/json")
    assert browser.status_code == 413


def test_an_unexpected_error_is_a_500_problem_without_internals(
    token_client: Callable[..., APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    LesionFactory()

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals: MRN DEMO-0001")

    monkeypatch.setattr(LesionViewSet, "list", explode)
    client = token_client("reader")
    client.raise_request_exception = False
    response = client.get("/api/v1/lesions/")
    body = assert_problem(response, 500)
    assert "secret" not in response.content.decode() and "DEMO-0001" not in body["detail"]


def test_an_empty_code_is_refused_by_the_serializer_not_the_database(
    token_client: Callable[..., APIClient],
) -> None:
    """Found by the fuzzer: "" passed the serializer and hit a database check (a 500)."""
    body = {"mrn": "E-1", "family_name": "X", "ppgl_cluster": "", "histology": ""}
    response = token_client("reader").post("/api/v1/patients/", body, format="json")
    errors = assert_problem(response, 400)["errors"]
    assert {"ppgl_cluster", "histology"} <= set(errors)


def test_a_database_rule_the_serializers_miss_is_a_400_naming_the_rule(
    token_client: Callable[..., APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apps.patients.serializers import PatientSerializer

    # Take out the serializer's own check, so the database's rule is what refuses the value.
    monkeypatch.setattr(PatientSerializer, "validate", lambda self, attrs: {**attrs, "sex": "x"})
    response = token_client("reader").post(
        "/api/v1/patients/", {"mrn": "E-2", "family_name": "X"}, format="json"
    )
    body = assert_problem(response, 400)
    assert "patient_sex_valid" in str(body["errors"])


def test_a_treatment_with_post_therapy_scans_cannot_be_deleted_alone(
    token_client: Callable[..., APIClient],
) -> None:
    from apps.patients.models import Patient
    from tests.factories import StudyFactory, TreatmentFactory

    treatment = TreatmentFactory()
    StudyFactory(
        patient=treatment.patient, tracer="lu177_dotatate", modality="spect_ct",
        post_therapy=True, treatment=treatment, cycle_number=1,
    )  # fmt: skip
    client = token_client("reader")
    assert_problem(client.delete(f"/api/v1/treatments/{treatment.pk}/"), 409)
    # The whole patient can still go (found by the FHIR round trip: it used to fail).
    assert client.delete(f"/api/v1/patients/{treatment.patient_id}/").status_code == 204
    assert not Patient.objects.filter(pk=treatment.patient_id).exists()


def test_an_unknown_fhir_url_is_an_operation_outcome(
    token_client: Callable[..., APIClient],
) -> None:
    response = token_client("reader").get("/fhir/R4/Nothing/1")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"
