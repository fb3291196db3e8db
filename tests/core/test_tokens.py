from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.core.models import ApiToken

pytestmark = pytest.mark.django_db


def create(name: str, *args: str) -> str:
    out = StringIO()
    call_command("create_api_token", name, *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip().splitlines()[-1]


def test_create_prints_the_key_last_and_stores_only_its_sha256() -> None:
    key = create("pacs-bridge", "--role", "clinician")
    token = ApiToken.objects.get(name="pacs-bridge")
    assert len(key) >= 40
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key not in token.digest
    assert token.user.groups.get().name == "clinician"


def test_key_authenticates_and_revocation_stops_it_at_once() -> None:
    key = create("his")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/patients/").status_code == 200
    call_command("revoke_api_token", "his", stdout=StringIO())
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_wrong_or_malformed_keys_are_refused() -> None:
    create("his")
    client = APIClient()
    for header in ("Token nbk_wrong", "Token", "Token a b"):
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.get("/api/v1/patients/").status_code == 401, header


def test_duplicate_names_and_unknown_roles_are_refused() -> None:
    create("his")
    with pytest.raises(CommandError, match="already exists"):
        create("his")
    with pytest.raises(CommandError):
        create("other", "--role", "superhero")
    with pytest.raises(CommandError, match="No active token"):
        call_command("revoke_api_token", "nobody", stdout=StringIO())


def test_a_revoked_name_can_be_issued_again_with_a_new_key() -> None:
    first = create("his")
    call_command("revoke_api_token", "his", stdout=StringIO())
    second = create("his")
    assert first != second
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert client.get("/api/v1/patients/").status_code == 200


def test_a_key_with_an_expiry_works_until_then_and_is_refused_after() -> None:
    from datetime import timedelta

    from django.utils import timezone

    err = StringIO()
    out = StringIO()
    call_command("create_api_token", "lab", "--expires-in-days", "30", stdout=out, stderr=err)
    key = out.getvalue().strip().splitlines()[-1]
    token = ApiToken.objects.get(name="lab")
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert "expires " in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/patients/").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert "Token expired at" in response.json()["detail"]


def test_a_key_without_expiry_never_expires_and_a_bad_expiry_is_refused() -> None:
    create("ris")
    assert ApiToken.objects.get(name="ris").expires_at is None
    with pytest.raises(CommandError, match="--expires-in-days must be 1 or more"):
        create("ris2", "--expires-in-days", "0")
    assert not ApiToken.objects.filter(name="ris2").exists()


def test_last_used_at_is_set_by_a_request() -> None:
    key = create("his")
    assert ApiToken.objects.get(name="his").last_used_at is None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.get("/api/v1/patients/")
    assert ApiToken.objects.get(name="his").last_used_at is not None
