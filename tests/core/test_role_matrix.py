"""Roles × the pages and endpoints added with DICOM SR (issue 16), security (issue 17) and the
outcome records (issue 18): every role tried on every one; a role that may not gets 403, a role
that may gets anything but 401/403 (a 400 for an empty body is an allowed call).

The older pages and endpoints are in test_roles.py and test_auth_everywhere.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.core.roles import ROLES
from tests.factories import StudyFactory, UserFactory

pytestmark = pytest.mark.django_db

EVERYONE = set(ROLES)
READERS = {"reader", "admin"}
AUDITORS = {"auditor", "admin"}
SURVIVAL = {"clinician", "auditor", "admin"}

# (method, path with {study}, roles allowed)
PAGES = [
    ("get", "/audit/", AUDITORS),
    ("get", "/audit/?tab=security", AUDITORS),
    ("get", "/accounts/two-factor/", EVERYONE),
    ("get", "/accounts/two-factor/enrol/", EVERYONE),
    ("get", "/studies/{study}/import/", READERS),
    ("get", "/studies/{study}/export.dcm", EVERYONE),
    ("get", "/analytics/", SURVIVAL),
    ("get", "/analytics/survival.csv", SURVIVAL),
    ("get", "/patients/{patient}/follow-ups/new/", READERS),
    ("post", "/patients/{patient}/follow-ups/new/", READERS),
]
API = [
    ("get", "/api/v1/studies/{study}/dicom-sr/", EVERYONE),
    ("post", "/api/v1/studies/{study}/dicom-sr/", READERS),
    ("post", "/api/v1/dicom-sr/", READERS),
    ("get", "/api/v1/access-events/", AUDITORS),
    ("get", "/api/v1/audit/", AUDITORS),
    ("get", "/api/v1/analytics/survival/", SURVIVAL),
    ("get", "/api/v1/follow-ups/", EVERYONE),
    ("post", "/api/v1/follow-ups/", READERS),
    ("get", "/api/v1/follow-ups/suggestions/?patient={patient}", EVERYONE),
]


def _cases(table: list[tuple[str, str, set[str]]]) -> list[Any]:
    return [
        pytest.param(method, path, role, role in allowed, id=f"{role}-{method}-{path}")
        for method, path, allowed in table
        for role in ROLES
    ]


@pytest.mark.parametrize(("method", "path", "role", "allowed"), _cases(PAGES))
def test_pages_follow_the_role(method: str, path: str, role: str, allowed: bool) -> None:
    study = StudyFactory()
    client = Client()
    client.force_login(UserFactory(role=role, is_staff=False))
    response = getattr(client, method)(path.format(study=study.pk, patient=study.patient_id))
    if allowed:
        assert response.status_code in (200, 302), response.status_code
        assert "/login/" not in response.get("Location", "")
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(("method", "path", "role", "allowed"), _cases(API))
def test_api_follows_the_role(
    token_client: Any, method: str, path: str, role: str, allowed: bool
) -> None:
    study = StudyFactory()
    client = token_client(role=role)
    url = path.format(study=study.pk, patient=study.patient_id)
    response = getattr(client, method)(url, HTTP_ACCEPT="*/*")
    assert response.status_code != 401
    assert (response.status_code != 403) is allowed, (response.status_code, response.content[:200])
    assert response.status_code < 500


@pytest.mark.parametrize("role", ROLES)
def test_only_user_administrators_reset_two_factor(role: str) -> None:
    target = UserFactory(username="target", role="reader", is_staff=False)
    client = Client()
    client.force_login(UserFactory(username=f"{role}-staff", role=role, is_staff=True))
    response = client.post(
        "/admin/auth/user/", {"action": "reset_two_factor", "_selected_action": [target.pk]}
    )
    from apps.core.models import SecurityEvent

    reset = SecurityEvent.objects.filter(kind="mfa_reset", username="target").exists()
    assert reset is (role == "admin"), response.status_code
