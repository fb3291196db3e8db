"""PostgreSQL failing a request (issue 13): one retry of a deadlocked request, and a 503 with
``Retry-After`` — never a 500 or a traceback — when the database cannot be reached."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from apps.core.middleware import AuditContextMiddleware
from apps.core.outages import forget_warnings
from apps.patients.models import Patient
from apps.patients.serializers import PatientSerializer
from tests.factories import PatientFactory
from tests.processes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _raise_sqlstate(code: str) -> None:
    """A real error of that SQLSTATE from PostgreSQL, in the current transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"DO $$ BEGIN RAISE EXCEPTION 'test' USING ERRCODE = '{code}'; END $$")


def _failing_update(times: int, code: str = "40P01") -> Callable[..., Any]:
    """PatientSerializer.update that fails the first ``times`` calls with ``code`` after it
    has written (so a retry that kept that write would show it twice)."""
    real = PatientSerializer.update
    calls = {"n": 0}

    def update(self: PatientSerializer, instance: Patient, validated_data: dict[str, Any]) -> Any:
        calls["n"] += 1
        saved = real(self, instance, validated_data)
        if calls["n"] <= times:
            _raise_sqlstate(code)
        return saved

    update.calls = calls  # type: ignore[attr-defined]
    return update


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("code", ["40P01", "40001"])
def test_a_deadlocked_request_is_run_once_more_and_succeeds(
    token_client: Callable[..., APIClient], caplog: pytest.LogCaptureFixture, code: str
) -> None:
    patient = PatientFactory(weight_kg="60.0")
    update = _failing_update(times=1, code=code)
    with (
        mock.patch.object(PatientSerializer, "update", update),
        caplog.at_level(logging.WARNING, "apps.core.database"),
    ):
        response = token_client().patch(
            f"/api/v1/patients/{patient.pk}/", {"weight_kg": "61.5"}, format="json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["weight_kg"] == "61.5"
    assert update.calls["n"] == 2  # type: ignore[attr-defined]
    assert "retrying the request once" in caplog.text
    assert code in caplog.text
    patient.refresh_from_db()
    assert str(patient.weight_kg) == "61.5"


@pytest.mark.django_db(transaction=True)
def test_a_request_deadlocked_twice_is_a_503_with_retry_after_and_changes_nothing(
    token_client: Callable[..., APIClient],
) -> None:
    patient = PatientFactory(weight_kg="60.0")
    update = _failing_update(times=2)
    with mock.patch.object(PatientSerializer, "update", update):
        response = token_client().patch(
            f"/api/v1/patients/{patient.pk}/", {"weight_kg": "61.5"}, format="json"
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 503
    assert update.calls["n"] == 2  # type: ignore[attr-defined]
    patient.refresh_from_db()
    assert str(patient.weight_kg) == "60.0"


@pytest.mark.django_db
def test_no_retry_inside_a_transaction_left_open_around_the_request(
    token_client: Callable[..., APIClient],
) -> None:
    """Here the test's own transaction is around the request: running the view again would
    keep the locks of the failed attempt, so it is answered 503 at once."""
    patient = PatientFactory()
    update = _failing_update(times=1)
    with mock.patch.object(PatientSerializer, "update", update):
        response = token_client().patch(
            f"/api/v1/patients/{patient.pk}/", {"weight_kg": "61.5"}, format="json"
        )
    assert response.status_code == 503
    assert update.calls["n"] == 1  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_other_database_errors_are_not_retried(token_client: Callable[..., APIClient]) -> None:
    patient = PatientFactory()
    update = _failing_update(times=1, code="57P01")  # the server shut the connection down
    with mock.patch.object(PatientSerializer, "update", update):
        response = token_client().patch(
            f"/api/v1/patients/{patient.pk}/", {"weight_kg": "61.5"}, format="json"
        )
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert update.calls["n"] == 1  # type: ignore[attr-defined]


# --- PostgreSQL unreachable ---------------------------------------------------------------


@pytest.fixture
def database_refusing(db: None) -> Iterator[None]:
    """The connection pointed at a port where nothing listens: every connect is refused."""
    settings = connection.settings_dict
    kept = settings["PORT"]
    connection.close()
    settings["PORT"] = str(free_port())
    forget_warnings()
    try:
        yield
    finally:
        connection.close()
        settings["PORT"] = kept


@pytest.mark.django_db(transaction=True)
def test_database_down_the_api_fhir_pages_and_health_answer_503(
    token_client: Callable[..., APIClient],
    as_role: Callable[..., Client],
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api, browser = token_client(), as_role("clinician")
    patient = PatientFactory()
    request.getfixturevalue("database_refusing")
    with caplog.at_level(logging.WARNING, "apps.core.database"):
        answers = {
            "list": api.get("/api/v1/patients/"),
            "write": api.post("/api/v1/patients/", {"mrn": "X-1"}, format="json"),
            "fhir": api.get(f"/fhir/R4/Patient/{patient.pk}/$everything"),
            "page": browser.get("/"),
            "login": Client().get("/accounts/login/"),
        }
        health = Client().get("/health/")
    for name, response in answers.items():
        assert response.status_code == 503, name
        assert response["Retry-After"] == "5", name
    assert answers["list"]["Content-Type"] == "application/problem+json"
    assert answers["list"].json()["detail"].startswith("The database is not available")
    assert answers["fhir"]["Content-Type"] == "application/fhir+json"
    assert answers["fhir"].json()["issue"][0]["code"] == "transient"
    page = answers["page"].content.decode()
    assert "NETboard is briefly unavailable" in page
    assert "Traceback" not in page
    assert health.status_code == 503
    assert health.json()["database"] == "down"
    # One warning for the outage, not one per request.
    assert caplog.text.count("database unavailable: OperationalError") == 1
    assert "Service Unavailable: /api/" not in caplog.text  # not Django's error per request


@pytest.mark.django_db(transaction=True)
def test_a_database_failure_in_a_middleware_is_a_503_too(
    user_with_role: Callable[..., Any],
) -> None:
    """Past the middleware's own connect: the failure reaches Django's 500 handler."""
    browser = Client(raise_request_exception=False)
    browser.force_login(user_with_role("clinician"))

    def broken(self: AuditContextMiddleware, request: Any) -> Any:
        _raise_sqlstate("08006")  # connection failure

    with mock.patch.object(AuditContextMiddleware, "get_context", broken):
        response = browser.get("/")
    assert response.status_code == 503
    assert "NETboard is briefly unavailable" in response.content.decode()


def test_a_real_server_without_its_database_answers_503_not_a_traceback(tmp_path: Path) -> None:
    """gunicorn, as in production, but DJANGO_DEBUG=1 (as `make run`): the debug page would
    show a traceback, and must not get the chance."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{free_port()}/netboard",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "DJANGO_DEBUG": "1",
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "-m", "gunicorn", "netboard.wsgi:application"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        call = urllib.request.Request(base + path, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(call, timeout=10) as answer:  # noqa: S310 - loopback
                return answer.status, dict(answer.headers), answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    def up() -> bool:
        try:
            return get("/health/")[0] == 503
        except OSError:
            return False

    try:
        wait_for(up, timeout=30, what="gunicorn")
        status, headers, body = get("/api/v1/patients/", {"Authorization": "Token nope"})
        assert (status, headers["Retry-After"]) == (503, "5")
        assert headers["Content-Type"] == "application/problem+json"
        status, headers, body = get("/")
        assert status == 503
        assert "NETboard is briefly unavailable" in body
        assert "Traceback" not in body
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
