"""What each role may do, in the admin and through the API."""

from __future__ import annotations

import pytest

from tests.factories import CaseFactory, ObservationFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "url", "status"),
    [
        ("reader", "/admin/imaging/observation/add/", 200),
        ("reader", "/admin/decisions/meeting/add/", 403),
        ("clinician", "/admin/imaging/observation/", 200),
        ("clinician", "/admin/imaging/observation/add/", 403),
        ("coordinator", "/admin/decisions/meeting/add/", 200),
        ("coordinator", "/admin/imaging/lesion/add/", 403),
        ("auditor", "/admin/core/accessevent/", 200),
        ("reader", "/admin/core/accessevent/", 403),
        ("clinician", "/admin/core/accessevent/", 403),
        ("admin", "/admin/auth/user/", 200),
        ("reader", "/admin/auth/user/", 403),
    ],
)
def test_admin_pages_follow_the_role(client, user_with_role, role, url, status) -> None:  # type: ignore[no-untyped-def]
    client.force_login(user_with_role(role))
    assert client.get(url).status_code == status


@pytest.mark.parametrize(
    ("role", "can_write_observation", "can_write_meeting", "can_read_access_log"),
    [
        ("reader", True, False, False),
        ("clinician", False, False, False),
        ("coordinator", False, True, False),
        ("auditor", False, False, True),
        ("admin", True, True, True),
    ],
)
def test_api_writes_follow_the_role(  # type: ignore[no-untyped-def]
    token_client, role, can_write_observation, can_write_meeting, can_read_access_log
) -> None:
    client = token_client(role=role)
    observation = ObservationFactory()
    patient = PatientFactory()
    patch = client.patch(
        f"/api/v1/observations/{observation.pk}/", {"suv_max": "14.5"}, format="json"
    )
    assert (patch.status_code == 200) is can_write_observation, patch.content
    meeting = client.post(
        "/api/v1/meetings/",
        {
            "held_on": "2024-06-01",
            "title": "NET MDT",
            "cases": [{"patient": patient.pk, "question": "PRRT?"}],
        },
        format="json",
    )
    assert (meeting.status_code == 201) is can_write_meeting, meeting.content
    audit = client.get("/api/v1/access-events/")
    assert (audit.status_code == 200) is can_read_access_log
    # every role reads clinical data
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200


def test_only_clinicians_record_decisions_and_the_author_is_the_caller(token_client) -> None:  # type: ignore[no-untyped-def]
    case = CaseFactory()
    body = {"case": case.pk, "recommendation": "prrt", "rationale": "Krenning 4 throughout."}
    assert (
        token_client(role="reader", name="r")
        .post("/api/v1/decisions/", body, format="json")
        .status_code
        == 403
    )
    response = token_client(role="clinician", name="c").post(
        "/api/v1/decisions/", body, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["decided_by"] is not None


def test_anonymous_api_calls_get_401_problem_documents(api_client) -> None:  # type: ignore[no-untyped-def]
    response = api_client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401


@pytest.mark.parametrize(
    ("role", "writes_follow_ups", "reads_survival"),
    [
        ("reader", True, False),
        ("clinician", False, True),
        ("coordinator", False, False),
        ("auditor", False, True),
        ("admin", True, True),
    ],
)
def test_follow_ups_and_survival_analytics_follow_the_role(  # type: ignore[no-untyped-def]
    token_client, role, writes_follow_ups, reads_survival
) -> None:
    client = token_client(role=role)
    patient = PatientFactory()
    created = client.post(
        "/api/v1/follow-ups/",
        {"patient": patient.pk, "kind": "last_contact", "occurred_on": "2024-06-01"},
        format="json",
    )
    assert (created.status_code == 201) is writes_follow_ups, created.content
    assert client.get("/api/v1/follow-ups/").status_code == 200  # every role reads them
    survival = client.get("/api/v1/analytics/survival/")
    assert (survival.status_code == 200) is reads_survival, survival.content
