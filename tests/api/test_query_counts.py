"""Query counts of the API do not grow with the number of rows (issue 4, "Speed")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import (
    CaseFactory,
    LesionFactory,
    MeetingFactory,
    ObservationFactory,
    PathologyFactory,
    PatientFactory,
    StudyFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db


def build(size: int) -> dict[str, Any]:
    patient = PatientFactory()
    study = StudyFactory(patient=patient)
    meeting = MeetingFactory()
    for n in range(size):
        other = PatientFactory()
        PathologyFactory(patient=other)
        TreatmentFactory(patient=other)
        CaseFactory(meeting=meeting, patient=other, position=n)
        ObservationFactory(study=study, lesion=LesionFactory(patient=patient))
    return {"patient": patient, "study": study, "meeting": meeting}


def queries(client: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


URLS = [
    "/api/v1/patients/?limit=100",
    "/api/v1/pathology/?limit=100",
    "/api/v1/treatments/?limit=100",
    "/api/v1/lesions/?limit=100",
    "/api/v1/observations/?limit=100",
    "/api/v1/studies/{study}/",
    "/api/v1/studies/?limit=100",
    "/api/v1/meetings/{meeting}/",
]


@pytest.mark.parametrize("template", URLS)
def test_queries_do_not_grow_with_rows(
    token_client: Callable[..., APIClient], template: str
) -> None:
    client = token_client("clinician")
    client.get("/api/v1/")  # the token's first use writes last_used_at: not part of a list
    small = build(3)
    few = queries(client, template.format(study=small["study"].pk, meeting=small["meeting"].pk))
    large = build(40)
    many = queries(client, template.format(study=large["study"].pk, meeting=large["meeting"].pk))
    assert many == few, f"{template}: {few} queries for 3 rows, {many} for 40"


def put_queries(client: APIClient, size: int) -> int:
    study = StudyFactory()
    lesions = [LesionFactory(patient=study.patient) for _ in range(size)]
    for lesion in lesions[: size // 2]:  # half updated, half new
        ObservationFactory(study=study, lesion=lesion)
    body = [{"lesion": lesion.pk, "suv_max": "7.5", "krenning_visual": 3} for lesion in lesions]
    with CaptureQueriesContext(connection) as captured:
        response = client.put(f"/api/v1/studies/{study.pk}/observations/", body, format="json")
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_complete_read_takes_the_same_queries_for_4_or_40_observations(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    client.get("/api/v1/")
    assert put_queries(client, 40) == put_queries(client, 4)
