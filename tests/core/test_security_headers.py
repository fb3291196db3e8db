"""Security headers on pages and API responses alike (issue 17 §7): a Content Security Policy
without 'unsafe-inline' (or 'unsafe-eval') that forbids framing, Referrer-Policy,
X-Content-Type-Options and X-Frame-Options."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def directives(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def assert_secure_headers(response: Any) -> None:
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    for name, sources in csp.items():
        assert "'unsafe-inline'" not in sources, name
        assert "'unsafe-eval'" not in sources, name
        assert not any(s.startswith(("http:", "https:")) or s == "*" for s in sources), name
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_a_page_sends_them(as_role: Any) -> None:
    response = as_role("clinician").get("/")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_the_login_page_sends_them(client: Client) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_an_api_response_sends_them(token_client: Any) -> None:
    response = token_client("reader").get("/api/v1/patients/")
    assert response.status_code == 200
    assert_secure_headers(response)


def test_an_api_error_sends_them(client: Client) -> None:
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert_secure_headers(response)


def test_the_enrolment_page_keeps_to_the_policy(client: Client, user_with_role: Any) -> None:
    """The QR code is inline SVG made of paths with presentation attributes: no style, no
    script, nothing the policy would have to allow."""
    client.force_login(user_with_role("reader", "rita"))
    response = client.get("/accounts/two-factor/enrol/")
    assert response.status_code == 200
    assert_secure_headers(response)
    html = response.content.decode()
    assert "<svg" in html and "<?xml" not in html
    assert not re.search(r"\sstyle=", html)
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)
    assert not re.search(r"\son[a-z]+=", html)
