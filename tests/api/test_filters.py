"""The list filters of API.md: ?patient=, ?mrn=, ?tracer_class=, ?performed_after=/before=,
?study=, ?lesion=, and more per resource. Unknown choice values are a 400 naming the filter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.test import APIClient

from apps.patients.models import Patient
from tests.factories import (
    CaseFactory,
    LesionFactory,
    ObservationFactory,
    PathologyFactory,
    PatientFactory,
    StudyFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_patients() -> dict[str, Any]:
    a, b = PatientFactory(mrn="FLT-A"), PatientFactory(mrn="FLT-B")
    records: dict[str, Any] = {"a": a, "b": b}
    for patient in (a, b):
        sstr = StudyFactory(patient=patient, performed_on=date(2024, 1, 10))
        fdg = StudyFactory(
            patient=patient, performed_on=date(2024, 6, 10), tracer="f18_fdg", spleen_suv=None
        )
        lesion = LesionFactory(patient=patient)
        ObservationFactory(study=sstr, lesion=lesion)
        ObservationFactory(study=fdg, lesion=lesion)
        PathologyFactory(patient=patient)
        TreatmentFactory(patient=patient)
        CaseFactory(patient=patient)
        records[f"{patient.mrn}-sstr"], records[f"{patient.mrn}-lesion"] = sstr, lesion
    return records


def ids(client: APIClient, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return int(response.json()["count"])


RESOURCES = ["pathology", "treatments", "lesions", "studies", "observations", "decisions"]


@pytest.mark.parametrize("resource", RESOURCES[:-1])
def test_patient_and_mrn_filters(
    token_client: Callable[..., APIClient], two_patients: dict[str, Any], resource: str
) -> None:
    client = token_client("clinician")
    total = ids(client, f"/api/v1/{resource}/")
    by_id = ids(client, f"/api/v1/{resource}/?patient={two_patients['a'].pk}")
    by_mrn = ids(client, f"/api/v1/{resource}/?mrn=FLT-A")
    assert by_id == by_mrn == total // 2 and by_id > 0


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("tracer_class=SSTR", 2),
        ("tracer_class=FDG", 2),
        ("performed_after=2024-03-01", 2),
        ("performed_before=2024-03-01", 2),
        ("performed_after=2024-01-10&performed_before=2024-01-10", 2),
        ("mrn=FLT-B&tracer_class=FDG", 1),
    ],
)
@pytest.mark.parametrize("resource", ["studies", "observations"])
def test_study_filters(
    token_client: Callable[..., APIClient],
    two_patients: dict[str, Any],
    resource: str,
    query: str,
    expected: int,
) -> None:
    assert ids(token_client("clinician"), f"/api/v1/{resource}/?{query}") == expected


def test_observation_filters_by_study_and_lesion(
    token_client: Callable[..., APIClient], two_patients: dict[str, Any]
) -> None:
    client = token_client("clinician")
    assert ids(client, f"/api/v1/observations/?study={two_patients['FLT-A-sstr'].pk}") == 1
    assert ids(client, f"/api/v1/observations/?lesion={two_patients['FLT-A-lesion'].pk}") == 2


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/studies/?tracer_class=PET", "tracer_class"),
        ("/api/v1/observations/?tracer_class=X", "tracer_class"),
        ("/api/v1/patients/?sex=robot", "sex"),
        ("/api/v1/observations/?performed_after=2024-13-01", "performed_after"),
        ("/api/v1/lesions/?patient=abc", "patient"),
    ],
)
def test_a_bad_filter_value_is_400_naming_it(
    token_client: Callable[..., APIClient], url: str, field: str
) -> None:
    response = token_client("clinician").get(url)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_a_request_without_filters_skips_django_filter_with_the_same_answer(
    token_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # apps.core.filters.FilterBackend: only pagination parameters, nothing to filter.
    PatientFactory.create_batch(5)
    client = token_client("reader")
    calls: list[str] = []
    original = DjangoFilterBackend.filter_queryset

    def spy(self: DjangoFilterBackend, request: Any, queryset: Any, view: Any) -> Any:
        calls.append(request.get_full_path())
        return original(self, request, queryset, view)

    monkeypatch.setattr(DjangoFilterBackend, "filter_queryset", spy)
    page = client.get("/api/v1/patients/?limit=3&offset=1")
    assert page.status_code == 200 and calls == []
    # An empty filter goes through django-filter, which filters nothing: the same page.
    same = client.get("/api/v1/patients/?limit=3&offset=1&sex=")
    assert calls == ["/api/v1/patients/?limit=3&offset=1&sex="]
    assert same.json()["results"] == page.json()["results"]
    assert page.json()["count"] == Patient.objects.count()
    # Any other parameter still reaches django-filter, which refuses a bad value.
    assert client.get("/api/v1/lesions/?patient=abc").status_code == 400
