"""Walk every URL the resolver knows: without a login, only the login page, static files and
/health/ and /favicon.ico answer; every other page redirects to the login and every API
endpoint says 401."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# The login, health, icon. (The admin's login sends to NETboard's: password, lockout and second
# factor alike.)
PUBLIC = {"accounts/login/", "health/", "favicon.ico"}


def walk(patterns: list[object], prefix: str = "") -> list[str]:
    urls: list[str] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            urls += walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            urls.append(prefix + str(entry.pattern))
    return urls


def _fill_named_groups(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("(?P<", i):
            depth, j = 0, i
            while True:
                if pattern[j] == "(" and pattern[j - 1] != "\\":
                    depth += 1
                elif pattern[j] == ")" and pattern[j - 1] != "\\":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            out.append("json" if pattern.startswith("(?P<format>", i) else "1")
            i = j + 1
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def concrete(pattern: str) -> str:
    """Fill every parameter with a plausible value: the check must happen before any lookup."""
    url = _fill_named_groups(pattern)
    url = url.replace("<drf_format_suffix:format>", ".json")
    url = re.sub(r"<(?:\w+:)?\w+>", "1", url)
    # A $ before a name is literal (FHIR's $everything); elsewhere it is an anchor.
    url = re.sub(r"\\?\$(?!\w)", "", url).replace("\\$", "$")
    for token, replacement in (("^", ""), ("\\Z", ""), ("\\.", "."), ("/?", "/")):
        url = url.replace(token, replacement)
    return "/" + url


ALL_URLS = sorted({concrete(p) for p in walk(get_resolver().url_patterns)})


def test_the_walk_covers_pages_admin_and_api() -> None:
    assert "/" in ALL_URLS
    assert any(url.startswith("/admin/") for url in ALL_URLS)
    assert "/api/v1/patients/" in ALL_URLS
    assert "/api/v1/studies/1/" in ALL_URLS
    assert len(ALL_URLS) > 40


@pytest.mark.django_db
@pytest.mark.parametrize("url", ALL_URLS)
def test_every_url_needs_authentication(client, url: str) -> None:  # type: ignore[no-untyped-def]
    if url.lstrip("/") in PUBLIC:
        response = client.get(url)
        assert response.status_code in (200, 301), url
        assert "/login/" not in response.get("Location", ""), url
        return
    response = client.get(url)
    if url.startswith(("/api/", "/fhir/")):
        assert response.status_code == 401, url
    else:
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url


@pytest.mark.django_db
def test_static_files_need_no_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/static/css/netboard.css")
    assert response.status_code == 200
