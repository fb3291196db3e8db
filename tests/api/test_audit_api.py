"""``GET /api/v1/audit/``: the change history, for auditors only (API.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from apps.core.models import AccessEvent
from tests.factories import LesionFactory, ObservationFactory

pytestmark = pytest.mark.django_db


def test_an_auditor_reads_who_changed_a_record_and_how(
    token_client: Callable[..., APIClient],
) -> None:
    writer = token_client("reader", "his-writer")
    lesion = LesionFactory(label="Segment 2")
    assert (
        writer.patch(f"/api/v1/lesions/{lesion.pk}/", {"label": "Segment 3"}, format="json")
    ).status_code == 200
    response = token_client("auditor", "his-audit").get(
        f"/api/v1/audit/?object=lesions:{lesion.pk}"
    )
    assert response.status_code == 200
    entries = response.json()["results"]
    assert [e["operation"] for e in entries] == ["insert", "update"]
    update = entries[1]
    assert update["resource"] == "lesions" and update["object_id"] == str(lesion.pk)
    assert update["username"] == "api:his-writer"
    assert update["source"] == "api"
    assert update["changes"]["label"] == ["Segment 2", "Segment 3"]
    assert AccessEvent.objects.filter(
        patient_id=lesion.patient_id, action="api_read:audit"
    ).exists()


def test_a_patient_scope_lists_changes_to_all_its_records(
    token_client: Callable[..., APIClient],
) -> None:
    observation = ObservationFactory()
    LesionFactory()  # another patient: not listed
    response = token_client("auditor").get(f"/api/v1/audit/?patient={observation.patient_id}")
    resources = {e["resource"] for e in response.json()["results"]}
    assert resources == {"patients", "studies", "lesions", "observations"}
    assert response.json()["count"] == 4


@pytest.mark.parametrize("role", ["reader", "clinician", "coordinator"])
def test_only_auditors_read_the_audit_trail(
    token_client: Callable[..., APIClient], role: str
) -> None:
    lesion = LesionFactory()
    response = token_client(role).get(f"/api/v1/audit/?object=lesions:{lesion.pk}")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [("", "object"), ("?object=lesions", "object"), ("?object=tumours:1", "object"),
     ("?patient=x", "patient"), ("?object=lesions:1&patient=1", "object")],
)  # fmt: skip
def test_a_bad_query_is_400_naming_the_parameter(
    token_client: Callable[..., APIClient], query: str, field: str
) -> None:
    response = token_client("auditor").get(f"/api/v1/audit/{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_audit_trail_is_never_writable(
    token_client: Callable[..., APIClient], method: str
) -> None:
    response = getattr(token_client("admin"), method)("/api/v1/audit/", {}, format="json")
    assert response.status_code == 405


def test_a_patient_scope_includes_records_reached_through_a_parent(
    token_client: Callable[..., APIClient], user_with_role: Callable[..., object]
) -> None:
    from datetime import date

    from apps.decisions.services import decision_record
    from apps.patients.models import TreatmentCycle
    from tests.factories import CaseFactory, TreatmentFactory

    treatment = TreatmentFactory()
    TreatmentCycle.objects.create(treatment=treatment, number=1, given_on=date(2024, 2, 1))
    case = CaseFactory(patient=treatment.patient)
    decision_record(
        case=case, recommendation="prrt", rationale="r", decided_by=user_with_role("clinician")
    )
    other = TreatmentFactory()  # another patient's cycle: not listed
    TreatmentCycle.objects.create(treatment=other, number=1, given_on=date(2024, 2, 1))
    response = token_client("auditor").get(f"/api/v1/audit/?patient={treatment.patient_id}")
    entries = response.json()["results"]
    assert {e["resource"] for e in entries} >= {"treatments", "cycles", "cases", "decisions"}
    assert sum(e["resource"] == "cycles" for e in entries) == 1
