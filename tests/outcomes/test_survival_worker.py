"""The survival analytics with real processes (issue 18, part 3): a web server and a Celery
worker on Redis, as deployed. The request queues the computation and answers 202; the worker
computes and caches; the poll of the status link gets the figures."""

from __future__ import annotations

from datetime import date

import pytest

from apps.core.tokens import api_token_create
from tests.factories import PatientFactory
from tests.outcomes.cohort import record, store_assessment
from tests.processes import Api, Stack, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_worker_computes_what_the_request_queued(stack: Stack) -> None:
    reader = stack.web()
    stack.worker()
    for grade in ("P1", "P1", "P5"):
        patient = PatientFactory()
        store_assessment(patient, [(date(2022, 1, 3), date(2022, 1, 7), grade, "C1", "2")])
        record(patient, "death", date(2023, 1, 7))
    _token, key = api_token_create(name="his-clinician", role="clinician")
    api = Api(reader.base, key)

    status, body = api.call("GET", "/api/v1/analytics/survival/?grouping=netpet")
    assert status == 202, body
    assert body["status"] == "pending"
    poll = body["status_url"].removeprefix(reader.base)

    def ready() -> dict[str, object] | None:
        code, figures = api.call("GET", poll)
        assert code in (200, 202), figures
        return figures if code == 200 else None

    figures = wait_for(ready, timeout=60, what="the survival figures")
    assert [(g["group"], g["n"], g["events"]) for g in figures["groups"]] == [
        ("P1", 2, 2),
        ("P5", 1, 1),
    ]
    # Cached for the cohort as it is: the same query answers 200 at once.
    status, again = api.call("GET", "/api/v1/analytics/survival/?grouping=netpet")
    assert status == 200
    assert again["version"] == figures["version"]
