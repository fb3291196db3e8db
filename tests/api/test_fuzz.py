"""Schemathesis against the live schema (issue 4, "Fuzzing"): generated requests for every
operation, through the real WSGI application and database. Zero 5xx answers, and every
documented response matches its schema. Bounded: FUZZ_EXAMPLES examples per operation, 50 in CI
(CI=true) and 10 otherwise, to keep `make test` quick on a laptop."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from netboard.wsgi import application

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or (50 if os.environ.get("CI") else 10))
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _schema() -> Any:
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(document)
    loaded.app = application
    return loaded


SCHEMA = _schema()
# One test per operation, each with its own id: schemathesis' own parametrize gives every
# operation the same pytest node id, and pytest-xdist then runs only one of them.
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture
def auth() -> dict[str, str]:
    """An admin system: every operation is reachable, so the fuzzer meets the real code."""
    from apps.core.tokens import api_token_create
    from tests.factories import LesionFactory, ObservationFactory

    observation = ObservationFactory()  # something for ids to hit
    LesionFactory(patient=observation.study.patient)
    _token, key = api_token_create(name="his-fuzz", role="admin")
    return {"Authorization": f"Token {key}"}


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 50
    assert "PUT /api/v1/studies/{id}/observations/" in {op.label for op in OPERATIONS}


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"]
)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_server_errors_and_responses_match_the_schema(
    operation: Any, mode: GenerationMode, auth: dict[str, str]
) -> None:
    """Valid requests (as the schema allows) and invalid ones (schemathesis' negative data):
    neither may get a 5xx."""
    # Rate limits would answer 429 long before the fuzzer is done; they have their own tests.
    rest = {**django_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
    calls: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def fuzz(case: Any) -> None:
        with override_settings(REST_FRAMEWORK=rest):
            response = case.call(headers=auth)
        calls.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, response.text[:300])
        checks = [not_a_server_error, response_schema_conformance]
        case.validate_response(
            response, checks=checks if mode == GenerationMode.POSITIVE else checks[:1]
        )

    fuzz()
    assert calls, "no request was generated"
