from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_health_reports_database_and_broker_without_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] in {"ok", "eager"}


def _health_in_subprocess(env: dict[str, str]) -> tuple[int, str]:
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/health/', HTTP_HOST='localhost');"
        "print(r.status_code, json.dumps(r.json()))"
    )
    result = subprocess.run(  # noqa: S603 - fixed interpreter and code
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "netboard.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(status), body


def test_health_is_503_when_the_database_is_down() -> None:
    # A real connection attempt to a port where nothing listens.
    status, body = _health_in_subprocess(
        {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/netboard", "REDIS_URL": ""}
    )
    assert status == 503
    assert '"database": "down"' in body


@pytest.mark.django_db
def test_health_reports_a_broker_that_is_down() -> None:
    db = connection.settings_dict  # the test database: the only one a fresh machine has
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    status, body = _health_in_subprocess(
        {"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    assert status == 200
    assert '"broker": "down"' in body
