"""Regrades as batch work (issue: recomputation in chunks): the sweeper and ``manage.py regrade``
send chunks of patients, each claimed, read and stored with a fixed number of queries, storing
exactly what the single-patient recompute stores.

Tasks run in-process here (no broker configured), except in the last test: a real worker.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from apps.patients.models import Biomarker, Patient, TreatmentCycle
from apps.scoring import queue, services
from apps.scoring.models import InputVersion, PhenotypeAssessment
from tests.database import second_connection
from tests.factories import (
    PathologyFactory,
    PatientFactory,
    TreatmentFactory,
    dual_tracer_record,
    three_liver_lesions,
)
from tests.processes import Stack, wait_for

pytestmark = pytest.mark.django_db

STORED = [
    "patient_id",
    "phenotype",
    "response",
    "uptake",
    "latest_timepoint",
    "summary",
    "rules_version",
    "rules_fingerprint",
    "inputs_digest",
    "inputs_version",
]  # every field but computed_at


def cohort(count: int) -> list[int]:
    """Patients of every shape the rules read: dual-tracer records with FDG-negative and
    -positive lesions, a treatment with cycles, biomarkers, pathology, and an empty record."""
    ids = []
    for n in range(count):
        patient = PatientFactory()
        kind = n % 4
        if kind in (0, 1):
            three_liver_lesions(patient, "negative" if kind == 0 else "positive")
        if kind == 1:
            PathologyFactory(patient=patient)
            treatment = TreatmentFactory(patient=patient)
            TreatmentCycle.objects.create(
                treatment=treatment, number=1, given_on=date(2024, 3, 1), activity_gbq=7.4
            )
        if kind == 2:
            Biomarker.objects.create(
                patient=patient,
                analyte="chromogranin_a",
                value=Decimal("120"),
                unit="ng/mL",
                measured_on=date(2024, 1, 1),
            )
        ids.append(patient.pk)
    return ids


def stored_rows(ids: list[int]) -> dict[int, dict[str, Any]]:
    return {
        row["patient_id"]: row
        for row in PhenotypeAssessment.objects.filter(patient_id__in=ids).values(*STORED)
    }


def test_a_chunk_stores_exactly_what_the_single_recompute_stores() -> None:
    ids = cohort(8)
    record = dual_tracer_record(3, 12, mrn="REGRADE-RECORD").pk  # stored by the single path
    ids.append(record)
    for pid in ids[:-1]:
        assert services.recompute_phenotype(pid) == "written"
    single = stored_rows(ids)
    PhenotypeAssessment.objects.all().delete()

    assert set(services.assessments_recompute(patient_ids=ids).values()) == {"written"}
    batch = stored_rows(ids)
    assert len(batch) == len(ids)
    assert batch == single

    # And under other thresholds: a regrade changes every row as the single path would.
    with override_settings(NETBOARD_RULES={"small_lesion_mm": 40, "pairing_window_days": 20}):
        assert set(services.assessments_recompute(patient_ids=ids).values()) == {"written"}
        regraded = stored_rows(ids)
        PhenotypeAssessment.objects.all().delete()
        for pid in ids:
            assert services.recompute_phenotype(pid) == "written"
        assert stored_rows(ids) == regraded
    assert regraded != single


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """The first word of each statement, leaving out the savepoints of the test's transaction
    (in a worker the chunk's transaction is the outermost one: it has none)."""
    words = [query["sql"].split()[0] for query in captured.captured_queries]
    return [word for word in words if word not in ("SAVEPOINT", "RELEASE")]


def test_a_chunk_takes_a_fixed_number_of_queries_whatever_its_size() -> None:
    def queries(ids: list[int]) -> list[str]:
        # Make every outcome happen: written (new rules for all), then one patient's version
        # raised without a change (confirmed), one unchanged, one missing its version row.
        services.assessments_recompute(patient_ids=ids)
        Patient.objects.filter(pk=ids[0]).update(weight_kg=F("weight_kg"))  # same: a new version
        InputVersion.objects.filter(patient_id=ids[1]).delete()
        Patient.objects.filter(pk__in=ids[2:]).update(height_cm=181)  # changed inputs
        with CaptureQueriesContext(connection) as captured:
            outcomes = services.assessments_recompute(patient_ids=[*ids, 999_999_999])
        assert outcomes[ids[0]] == "confirmed"
        assert outcomes[ids[1]] == "written"
        assert {outcomes[pid] for pid in ids[2:]} == {"written"}
        assert outcomes[999_999_999] == "gone"
        assert services.assessments_recompute(patient_ids=ids[:1]) == {ids[0]: "unchanged"}
        return _statements(captured)

    small, large = queries(cohort(4)), queries(cohort(40))
    # The transaction's settings, the claim, the missing version rows, the read, confirm, store.
    assert len(small) == len(large) == 6
    assert small == large

    # The usual regrade (new rules, nothing else): four queries for the chunk.
    ids = cohort(12)
    with CaptureQueriesContext(connection) as captured:
        services.assessments_recompute(patient_ids=ids)
    assert _statements(captured) == ["SELECT", "WITH", "SELECT", "INSERT"]


def test_a_chunk_leaves_fresh_patients_alone_and_clears_the_queued_marks() -> None:
    ids = cohort(6)
    services.assessments_recompute(patient_ids=ids)
    before = {row["patient_id"]: row for row in PhenotypeAssessment.objects.values()}
    InputVersion.objects.update(queued_at=services.timezone.now())
    outcomes = services.assessments_recompute(patient_ids=ids)
    assert set(outcomes.values()) == {"unchanged"}
    assert {row["patient_id"]: row for row in PhenotypeAssessment.objects.values()} == before
    assert not InputVersion.objects.filter(queued_at__isnull=False).exists()
    assert {services.phenotype_body(pid)["status"] for pid in ids} == {"fresh"}


@pytest.mark.django_db(transaction=True)
def test_a_chunk_skips_a_patient_being_written_and_queues_it_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held, free = cohort(2)
    Patient.objects.update(height_cm=170)  # both stale
    InputVersion.objects.update(queued_at=services.timezone.now())  # as the sweep marked them
    before = list(PhenotypeAssessment.objects.filter(patient_id=held).values_list("computed_at"))
    resent: list[list[int]] = []
    monkeypatch.setattr(queue, "_send", lambda ids, chunk_size=1: resent.append(ids))
    with second_connection() as writer:
        # A write of the patient in progress: its trigger holds the version row.
        writer.execute(
            "UPDATE scoring_inputversion SET version = version WHERE patient_id = %s", [held]
        )
        outcomes = services.assessments_recompute(patient_ids=[held, free])
        queue.send_skipped(outcomes)  # what the chunk's task does once the chunk committed
        writer.rollback()
    assert outcomes == {held: "skipped", free: "written"}
    assert resent == [[held]]  # after the chunk committed
    assert InputVersion.objects.get(patient_id=held).queued_at is not None  # still queued
    assert InputVersion.objects.get(patient_id=free).queued_at is None
    assert services.phenotype_body(held)["status"] == "pending"
    assert before == list(
        PhenotypeAssessment.objects.filter(patient_id=held).values_list("computed_at")
    )


def test_tasks_are_chunks_of_at_most_the_chunk_size_spread_over_several_workers() -> None:
    assert queue._tasks([1, 2, 3], 100) == [[1], [2], [3]]  # a few: their own tasks
    assert queue._tasks(list(range(10)), 1) == [[n] for n in range(10)]
    sizes = [len(task) for task in queue._tasks(list(range(20)), 100)]
    assert sizes == [3, 3, 3, 3, 2, 2, 2, 2]
    tasks = queue._tasks(list(range(1005)), 100)
    assert [len(task) for task in tasks] == [92] * 4 + [91] * 7
    assert [pid for task in tasks for pid in task] == list(range(1005))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """The tasks handed to the broker (not run): (task name, its patient ids)."""
    from apps.scoring.tasks import recompute_patient, regrade_chunk

    calls: list[tuple[str, Any]] = []
    for task in (recompute_patient, regrade_chunk):
        monkeypatch.setattr(
            task,
            "apply_async",
            lambda args, name=task.name, **options: calls.append(
                (name, args[0] if isinstance(args[0], list) else [args[0]])
            ),
        )
    return calls


def test_the_sweeper_sends_chunks_when_many_patients_are_stale(
    sent: list[tuple[str, Any]],
) -> None:
    ids = cohort(40)
    assert queue.sweep_stale(chunk_size=5) == 40
    assert {name for name, _ in sent} == {"scoring.regrade_chunk"}
    assert [len(chunk) for _, chunk in sent] == [5] * 8
    assert sorted(pid for _, chunk in sent for pid in chunk) == sorted(ids)
    assert InputVersion.objects.filter(queued_at__isnull=False).count() == 40
    sent.clear()
    assert queue.sweep_stale(chunk_size=5) == 0  # all queued: nothing sent twice
    assert sent == []


def test_a_broker_lost_midway_through_the_chunks_takes_back_the_unsent_marks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kombu.exceptions import OperationalError

    from apps.scoring.tasks import regrade_chunk

    cohort(20)
    sent: list[list[int]] = []

    def flaky(args: tuple[list[int]], **options: Any) -> None:
        if sent:
            raise OperationalError("connection lost")
        sent.append(args[0])

    monkeypatch.setattr(regrade_chunk, "apply_async", flaky)
    assert queue.sweep_stale(chunk_size=10) == len(sent[0]) == 3  # 20 over 8 tasks
    queued = set(
        InputVersion.objects.filter(queued_at__isnull=False).values_list("patient_id", flat=True)
    )
    assert queued == set(sent[0])


def test_a_sweep_without_a_broker_regrades_in_process_in_chunks() -> None:
    ids = cohort(24)
    queue.sweep_stale()
    with override_settings(NETBOARD_RULES={"small_lesion_mm": 40}):
        assert {services.phenotype_body(pid)["status"] for pid in ids} == {"stale"}
        with CaptureQueriesContext(connection) as captured:
            assert queue.sweep_stale(chunk_size=6) == 24
        claims = [q for q in captured.captured_queries if "FOR KEY SHARE SKIP LOCKED" in q["sql"]]
        assert len(claims) == 8  # 24 patients over 8 chunk tasks
        bodies = [services.phenotype_body(pid) for pid in ids]
    assert {body["status"] for body in bodies} == {"fresh"}
    assert {body["thresholds"]["small_lesion_mm"] for body in bodies} == {40}
    # Back under the default thresholds, every result is stale again.
    assert {services.phenotype_body(pid)["status"] for pid in ids} == {"stale"}


def test_the_regrade_command_queues_every_stale_patient_in_chunks() -> None:
    ids = cohort(30)
    with override_settings(NETBOARD_RULES={"pairing_window_days": 5}):
        out = StringIO()
        call_command("regrade", "--chunk", "4", stdout=out)
        assert out.getvalue().strip() == "30 patient(s) queued for recompute in chunks of up to 4."
        assert {services.phenotype_body(pid)["status"] for pid in ids} == {"fresh"}
        out = StringIO()
        call_command("regrade", stdout=out)
        assert out.getvalue().startswith("0 patient(s) queued")


def test_regrade_sweeps_in_batches_until_none_is_stale(sent: list[tuple[str, Any]]) -> None:
    ids = cohort(25)
    assert queue.regrade(chunk_size=3, batch=10) == (25, 0)
    assert sorted(pid for _, chunk in sent for pid in chunk) == sorted(ids)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_regrade_by_a_real_worker_stores_what_the_single_path_stores(stack: Stack) -> None:
    ids = cohort(30)
    for pid in ids:
        services.recompute_phenotype(pid)
    rules = {"small_lesion_mm": 40}
    env = {"NETBOARD_RULES": json.dumps(rules)}
    stack.worker(**env)
    stack.worker(**env)
    regrade = stack.spawn(["manage.py", "regrade", "--chunk", "7"], **env)
    assert regrade.wait(timeout=60) == 0, stack.log_tails()
    with override_settings(NETBOARD_RULES=rules):

        def all_fresh() -> bool:
            return {services.phenotype_body(pid)["status"] for pid in ids} == {"fresh"}

        wait_for(all_fresh, timeout=60, what="every patient regraded by the workers")
        by_workers = stored_rows(ids)
        assert {
            row["phenotype"]["thresholds"]["small_lesion_mm"] for row in by_workers.values()
        } == {40}
        PhenotypeAssessment.objects.all().delete()
        for pid in ids:
            assert services.recompute_phenotype(pid) == "written"
        assert stored_rows(ids) == by_workers
    assert "Traceback" not in stack.log_tails()
