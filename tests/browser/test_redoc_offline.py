"""The ReDoc page (/api/v1/redoc/) asks nothing of another host: every request the browser makes
while rendering it is to our own server (or a blob:/data: URL it made itself), and nothing is
blocked by the Content Security Policy. Stock ReDoc fetches its "API docs by Redocly" logo from
cdn.redoc.ly; hospital networks are often offline, and our CSP refuses it (a console error)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.factories import UserFactory

from .keyboard import log_in


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_redoc_page_fetches_nothing_from_another_host(
    live_server: Any, chromium_page: Any
) -> None:
    page, base = chromium_page, live_server.url
    UserFactory(username="redoc-reader", role="reader")
    log_in(page, base, "redoc-reader")

    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))

    page.goto(base + "/api/v1/redoc/")
    # Rendered: the side menu (with the attribution at its foot) and an operation.
    page.wait_for_selector("text=API docs by Redocly")
    page.wait_for_selector("text=/api/v1/patients/", state="attached")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # the logo is asked for in an effect after the menu mounts

    ours = urlsplit(base)
    outside = [
        url
        for url in requested
        if urlsplit(url).scheme not in {"blob", "data"}
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (ours.scheme, ours.netloc)
    ]
    assert requested, "the page made no request at all?"
    assert outside == [], f"requests to other hosts: {outside}"
    assert problems == [], f"console errors: {problems}"
