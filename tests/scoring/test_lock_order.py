"""Writers and the recompute take a patient's rows in one order: the patient row, then its input
version, then its assessment (issue 13). Each test pauses a real recompute inside its claim
(the version row held, the result about to be stored, its foreign-key check on the patient
still to come at COMMIT), sends a write of the same patient through the API from another
connection, lets the recompute finish while the write waits, and expects both to succeed.

Before the lock order, the write took the patient row FOR UPDATE (the API's row lock) and then
waited for the version row, while the recompute held the version row and waited at COMMIT for
its FOR KEY SHARE check of the patient row: PostgreSQL broke the cycle by aborting the write
(a 500)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from apps.imaging.models import Observation
from apps.scoring import services
from apps.scoring.models import PhenotypeAssessment
from tests.database import second_connection
from tests.factories import LesionFactory, PatientFactory, StudyFactory, three_liver_lesions
from tests.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def _deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


class PausedRecompute:
    """``recompute_phenotype`` in a thread, stopped after its claim until ``finish()``."""

    def __init__(self, patient_id: int) -> None:
        self.claimed, self.release = threading.Event(), threading.Event()
        self.outcome: Any = None
        real = services.assess_phenotype

        def paused(*args: Any, **kwargs: Any) -> Any:
            self.claimed.set()
            assert self.release.wait(30)
            return real(*args, **kwargs)

        self._patch = mock.patch.object(services, "assess_phenotype", paused)
        self._patch.start()
        self.thread = threading.Thread(target=self._run, args=(patient_id,))
        self.thread.start()
        assert self.claimed.wait(30), "the recompute never reached its claim"

    def _run(self, patient_id: int) -> None:
        try:
            self.outcome = services.recompute_phenotype(patient_id)
        except Exception as exc:  # reported by the test
            self.outcome = exc
        finally:
            connections["default"].close()

    def finish(self) -> None:
        self.release.set()
        self.thread.join(30)
        self._patch.stop()


def _in_thread(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["response"] = call()
        except Exception as exc:
            box["response"] = exc
        finally:
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


@pytest.fixture
def client(token_client: Callable[..., APIClient]) -> Iterator[APIClient]:
    yield token_client("reader")


def _writes(patient_id: int) -> dict[str, Callable[[APIClient], Any]]:
    lesion = LesionFactory(patient_id=patient_id, label="Segment 2")
    study = StudyFactory(patient_id=patient_id, tracer="ga68_dotatate", performed_on="2024-06-01")
    url = f"/api/v1/patients/{patient_id}/"
    return {
        "patch": lambda c: c.patch(url, {"weight_kg": "70.5"}, format="json"),
        # A new MRN changes a unique key: PostgreSQL then locks the row FOR UPDATE by itself.
        "patch_mrn": lambda c: c.patch(url, {"mrn": "LOCK-ORDER-2"}, format="json"),
        "observation": lambda c: c.post(
            "/api/v1/observations/",
            {"study": study.pk, "lesion": lesion.pk, "state": "scored", "krenning_visual": 3},
            format="json",
        ),
    }


@pytest.mark.parametrize("write", ["patch", "patch_mrn", "observation"])
def test_a_write_waiting_on_a_recompute_of_its_patient_succeeds(
    client: APIClient, write: str
) -> None:
    patient = three_liver_lesions(PatientFactory(mrn="LOCK-ORDER-1"))
    writes = _writes(patient.pk)
    # The recompute below stores the first result: an INSERT, checked against the patient row.
    PhenotypeAssessment.objects.filter(patient=patient).delete()
    deadlocks = _deadlocks()

    recompute = PausedRecompute(patient.pk)
    thread, box = _in_thread(lambda: writes[write](client))
    try:
        wait_for(_waiting_on_a_lock, timeout=20, what="the write to wait for the recompute")
    finally:
        recompute.finish()
        thread.join(30)

    assert recompute.outcome == "written", recompute.outcome
    response = box["response"]
    assert not isinstance(response, Exception), repr(response)
    assert response.status_code in (200, 201), response.content
    # The write committed after the paused result and queued its own recompute (run in-process
    # here): the stored result is that of the inputs with the write.
    assert services.phenotype_body(patient.pk)["status"] == services.FRESH
    assert _deadlocks() == deadlocks


def _other_connection_can_lock(sql: str, params: list[Any]) -> bool:
    """Whether a second connection gets the lock at once (NOWAIT) or finds it held."""
    import psycopg

    with second_connection() as other:
        try:
            other.execute(sql + " NOWAIT", params)
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            other.rollback()
    return True


def test_an_input_write_holds_its_patient_row_before_its_version_row() -> None:
    """The trigger takes the patient row (FOR KEY SHARE) at the write's statement, not only at
    its COMMIT: so a delete or key change of the patient, which holds the patient row first,
    cannot be waiting for this write's version row while this write waits for the patient."""
    from django.db import transaction

    patient = PatientFactory(mrn="LOCK-ORDER-3")
    lesion = LesionFactory(patient=patient)
    study = StudyFactory(patient=patient)
    patient_row = "SELECT 1 FROM patients_patient WHERE id = %s FOR UPDATE"
    version_row = "SELECT 1 FROM scoring_inputversion WHERE patient_id = %s FOR UPDATE"
    assert _other_connection_can_lock(patient_row, [patient.pk])
    with transaction.atomic():
        Observation.objects.create(study=study, lesion=lesion, patient=patient, state="scored")
        assert not _other_connection_can_lock(version_row, [patient.pk])
        assert not _other_connection_can_lock(patient_row, [patient.pk])
        # FOR KEY SHARE: an edit of the patient that keeps its keys is not held back.
        assert _other_connection_can_lock(
            "SELECT 1 FROM patients_patient WHERE id = %s FOR NO KEY UPDATE", [patient.pk]
        )
