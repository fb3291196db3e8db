"""Real-browser tests: Debian's Chromium driven by Playwright against a live server.

``make test`` installs Chromium through apt when it is missing (Makefile ``browser``); a missing
browser fails these tests rather than skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def chromium_page() -> Iterator[Any]:
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # The live server answers each request in a thread of its own; with persistent connections
    # those threads would leave sessions open on the test database after the test. Connections
    # opened from here on close at the end of each request.
    shared = connections.settings["default"]
    kept_age = shared.get("CONN_MAX_AGE", 0)
    shared["CONN_MAX_AGE"] = 0

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test makes
    # between browser steps are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        try:
            yield page
        finally:
            browser.close()
            # With Playwright's loop in this thread, the ORM calls of the test body open a
            # connection of their own (Django keeps connections per thread and asyncio
            # context), which pytest-django's teardown does not see: closed here, or it holds
            # a session on the test database until the process ends.
            connections.close_all()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            shared["CONN_MAX_AGE"] = kept_age
