"""Rate limits per token, per user and for anonymous attempts: 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

RATES = {"token": "3/min", "user": "2/min", "anon": "2/min"}


@pytest.fixture
def low_limits() -> Any:
    rest = {**api_settings.user_settings, "DEFAULT_THROTTLE_RATES": RATES}
    with override_settings(REST_FRAMEWORK=rest):
        yield


def test_a_token_over_its_rate_gets_429_with_retry_after(
    low_limits: None, token_client: Callable[..., APIClient]
) -> None:
    one, other = token_client("reader", "his-a"), token_client("reader", "his-b")
    assert [one.get("/api/v1/patients/").status_code for _ in range(3)] == [200] * 3
    refused = one.get("/api/v1/patients/")
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert other.get("/api/v1/patients/").status_code == 200  # its own budget


def test_a_signed_in_user_over_the_rate_gets_429(
    low_limits: None, user_with_role: Callable[..., Any]
) -> None:
    client = APIClient()
    client.force_login(user_with_role("clinician"))
    assert [client.get("/api/v1/patients/").status_code for _ in range(2)] == [200, 200]
    assert client.get("/api/v1/patients/").status_code == 429


def test_guessing_keys_is_limited_per_address(low_limits: None, api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Token nbk_guess")
    assert [api_client.get("/api/v1/patients/").status_code for _ in range(2)] == [401, 401]
    refused = api_client.get("/api/v1/patients/")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


@pytest.mark.parametrize("value", ["many", "0/min", "10/week", "10"])
def test_a_bad_rate_setting_stops_start_up(value: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from netboard import settings

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NETBOARD_API_RATE_TOKEN", value)
        with pytest.raises(ImproperlyConfigured, match="NETBOARD_API_RATE_TOKEN"):
            settings._rate("NETBOARD_API_RATE_TOKEN", "3000/min")
