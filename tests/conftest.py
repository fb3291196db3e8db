from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.core.tokens import api_token_create
from tests import read_guard
from tests.factories import UserFactory
from tests.processes import stack  # noqa: F401 - the fixture: a web server and workers

# Before any test module is collected: a test that opens or lists a file beside the repository
# (in the folder that holds the checkout, outside it) fails, naming the file. See read_guard.
read_guard.install()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Each test starts with empty rate-limit counters (they live in the cache)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def token_client(db: None):  # type: ignore[no-untyped-def]
    """An API client authenticated as a hospital system with the given role."""

    def make(role: str = "reader", name: str = "his-test") -> APIClient:
        _token, key = api_token_create(name=name, role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def user_with_role(db: None):  # type: ignore[no-untyped-def]
    def make(role: str, username: str | None = None):  # type: ignore[no-untyped-def]
        return UserFactory(role=role, **({"username": username} if username else {}))

    return make


@pytest.fixture
def as_role(user_with_role):  # type: ignore[no-untyped-def]
    """A browser (Django test client) signed in as a new user with the given role."""
    from django.test import Client

    def make(role: str, username: str | None = None) -> Client:
        client = Client()
        client.force_login(user_with_role(role, username))
        return client

    return make
