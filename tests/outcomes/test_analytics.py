"""Survival analyses on request (issue 18, part 3): computed by a worker, cached by the cohort's
input version; 202 with a status link while pending; computed in the request when no worker's
result can reach it (no broker, no shared cache, Redis down)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from celery import current_app
from kombu.exceptions import OperationalError as KombuOperationalError

from apps.outcomes import analytics, survival, tasks
from apps.outcomes.selectors import input_version
from apps.outcomes.survival import SurvivalQuery
from apps.patients.models import Pathology, Patient
from apps.scoring.models import PhenotypeAssessment
from tests.factories import PathologyFactory, PatientFactory, TreatmentFactory
from tests.outcomes.cohort import record, store_assessment

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/survival/"


def cohort() -> Patient:
    patient = PatientFactory()
    store_assessment(patient, [(date(2022, 1, 3), date(2022, 1, 7), "P1", "C1", "2")])
    record(patient, "last_contact", date(2023, 1, 7))
    return patient


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> list[SurvivalQuery]:
    """Every run of the computation, in order."""
    runs: list[SurvivalQuery] = []
    real = analytics.survival_figures

    def counted(query: SurvivalQuery) -> dict[str, Any]:
        runs.append(query)
        return real(query)

    monkeypatch.setattr(analytics, "survival_figures", counted)
    return runs


def test_a_result_is_served_from_the_cache_until_an_input_changes(
    token_client: Any, computations: list[SurvivalQuery]
) -> None:
    client = token_client("clinician")
    patient = cohort()
    first = client.get(URL)
    assert first.status_code == 200
    assert client.get(URL).json() == first.json()
    assert len(computations) == 1
    # Another query is another result.
    assert client.get(URL, {"endpoint": "pfs"}).status_code == 200
    assert len(computations) == 2
    record(patient, "death", date(2023, 6, 1))
    again = client.get(URL)
    assert len(computations) == 3
    assert again.json()["version"] != first.json()["version"]
    assert again.json()["groups"][0]["events"] == 1


def test_the_input_version_follows_every_input_of_the_analysis() -> None:
    patient = cohort()
    last = [input_version()]

    def changed() -> bool:
        version = input_version()
        new = version != last[-1]
        last.append(version)
        return new

    contact = record(patient, "last_contact", date(2023, 3, 1))
    assert changed()
    contact.occurred_on = date(2023, 3, 2)
    contact.save()
    assert changed()
    contact.delete()
    assert changed()
    # A function of the data: back to the same rows, back to the same version.
    assert last[-1] == last[-4]
    Patient.objects.filter(pk=patient.pk).update(primary_site="lung")
    assert changed()
    pathology = PathologyFactory(patient=patient, reported_on=date(2021, 1, 1))
    assert changed()
    Pathology.objects.filter(pk=pathology.pk).update(who_grade="G3")
    assert changed()
    TreatmentFactory(patient=patient, started_on=date(2022, 2, 1))
    assert changed()
    PhenotypeAssessment.objects.filter(patient=patient).update(inputs_digest="another")
    assert changed()
    # What the analysis does not read leaves it.
    Patient.objects.filter(pk=patient.pk).update(family_name="Renamed")
    TreatmentFactory(patient=patient, kind="ssa", started_on=date(2022, 2, 1))
    assert not changed()


@pytest.fixture
def worker_mode(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """As deployed with a broker and a shared cache: the request queues the task (recorded
    here, not run) and answers 202."""
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(analytics, "_computed_here", lambda: False)
    monkeypatch.setattr(analytics, "_broker_unavailable_until", 0.0)
    task = current_app.tasks[analytics.TASK]
    monkeypatch.setattr(task, "apply_async", lambda args, **kw: sent.append(args))
    return sent


def test_without_a_cached_result_the_answer_is_202_until_the_worker_ran(
    token_client: Any, worker_mode: list[tuple[Any, ...]], computations: list[SurvivalQuery]
) -> None:
    client = token_client("clinician")
    cohort()
    pending = client.get(URL, {"endpoint": "pfs", "received_prrt": "false"})
    assert pending.status_code == 202
    assert pending["Retry-After"] == "2"
    body = pending.json()
    assert body["status"] == "pending"
    assert pending["Location"] == body["status_url"]
    assert f"version={body['version']}" in body["status_url"]
    assert "received_prrt=false" in body["status_url"]
    # Polling sends nothing more: one task per query and version.
    assert client.get(body["status_url"]).status_code == 202
    assert client.get(URL, {"endpoint": "pfs", "received_prrt": "false"}).status_code == 202
    assert len(worker_mode) == 1
    assert computations == []
    # The task takes the query's parameters and a version string: no patient data.
    (params, version) = worker_mode[0]
    assert json.loads(json.dumps(params)) == params
    assert params == SurvivalQuery(endpoint="pfs", received_prrt=False).as_dict()
    assert version == body["version"]

    tasks.survival.run(params, version)  # what the worker does
    ready = client.get(body["status_url"])
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["endpoint"] == "pfs"
    assert client.get(URL, {"endpoint": "pfs", "received_prrt": "false"}).status_code == 200
    assert len(computations) == 1


def test_a_poller_gets_its_result_even_when_the_data_changed_meanwhile(
    token_client: Any, worker_mode: list[tuple[Any, ...]]
) -> None:
    client = token_client("clinician")
    patient = cohort()
    status_url = client.get(URL).json()["status_url"]
    record(patient, "death", date(2023, 6, 1))  # while the task waits in the queue
    tasks.survival.run(*worker_mode[0])
    ready = client.get(status_url)
    assert ready.status_code == 200
    # Computed from the data as the worker read it, and labelled with that version.
    assert ready.json()["groups"][0]["events"] == 1
    assert ready.json()["version"] == input_version()
    assert client.get(URL).status_code == 200
    assert len(worker_mode) == 1


def test_a_failed_computation_is_queued_again_at_the_next_poll(
    token_client: Any, worker_mode: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = token_client("clinician")
    cohort()
    status_url = client.get(URL).json()["status_url"]

    def broken(query: SurvivalQuery) -> dict[str, Any]:
        raise RuntimeError("worker failure")

    monkeypatch.setattr(analytics, "survival_figures", broken)
    with pytest.raises(RuntimeError):
        tasks.survival.run(*worker_mode[0])
    assert client.get(status_url).status_code == 202
    assert len(worker_mode) == 2


def test_with_the_broker_down_it_is_computed_in_the_request(
    token_client: Any, monkeypatch: pytest.MonkeyPatch, computations: list[SurvivalQuery]
) -> None:
    monkeypatch.setattr(analytics, "_computed_here", lambda: False)
    monkeypatch.setattr(analytics, "_broker_unavailable_until", 0.0)

    def down(*args: Any, **kwargs: Any) -> None:
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(current_app.tasks[analytics.TASK], "apply_async", down)
    cohort()
    client = token_client("clinician")
    response = client.get(URL)
    assert response.status_code == 200
    assert len(computations) == 1
    # For a few seconds the broker is not tried again: the next new query is computed at once.
    assert client.get(URL, {"grouping": "karfis"}).status_code == 200
    assert len(computations) == 2


class _DownCache:
    """The fail-open cache while Redis is down: every read a miss, every write dropped."""

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def add(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def set(self, *args: Any, **kwargs: Any) -> None:
        return None

    def delete(self, *args: Any, **kwargs: Any) -> bool:
        return False


def test_with_the_cache_down_it_is_computed_in_the_request(
    token_client: Any, worker_mode: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(analytics, "cache", _DownCache())
    cohort()
    response = token_client("clinician").get(URL)
    assert response.status_code == 200
    assert worker_mode == []  # no task whose result could never be read


def test_an_unknown_version_starts_again_from_the_data_as_it_is(
    token_client: Any, computations: list[SurvivalQuery]
) -> None:
    cohort()
    response = token_client("clinician").get(URL, {"version": "0" * 32})
    assert response.status_code == 200
    assert response.json()["version"] == input_version()


def test_a_malformed_version_is_a_400_naming_it(token_client: Any) -> None:
    response = token_client("clinician").get(URL, {"version": "not-a-version"})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["version"]


def test_the_figures_function_is_what_a_page_calls(computations: list[SurvivalQuery]) -> None:
    cohort()
    result = analytics.survival_status(SurvivalQuery(grouping="zidan"))
    assert result.status == "ready"
    assert result.figures is not None
    assert [g["group"] for g in result.figures["groups"]] == ["2"]
    assert survival.survival_figures(SurvivalQuery())["groups"][0]["group"] == "P1"
