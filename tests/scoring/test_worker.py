"""The scoring engine with real processes: a web server and Celery workers on Redis and
PostgreSQL, data written through the HTTP API (issue 3, "Computation by workers").

Each test runs the web server (``manage.py runserver``) and the workers as subprocesses against
the test database, committing for real. Tests of one pytest process share one Redis database.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.db import connection

from tests.processes import (
    BROKER,
    DEAD_BROKER,
    Stack,
    fresh,
    wait_for,
    write_dual_tracer_patient,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_writes_through_the_api_turn_fresh_with_the_right_grade(stack: Stack) -> None:
    api = stack.web()
    stack.worker()
    written = write_dual_tracer_patient(api, "WRK-0001")
    body = wait_for(lambda: fresh(api, written["patient"]), what="fresh P1")
    assert body["timepoints"][0]["netpet"]["grade"] == "P1"
    assert body["timepoints"][0]["karfis"]["group"] == "C1"

    # Lesion 0 turns SSTR-negative and FDG-positive: a P5 lesion, so the patient is P5.
    first_computed = body["computed_at"]
    status, _ = api.call(
        "PATCH",
        f"/api/v1/observations/{written['sstr'][0]}/",
        {"krenning_visual": 0, "suv_max": "1.0"},
    )
    assert status == 200
    status, _ = api.call(
        "PATCH",
        f"/api/v1/observations/{written['fdg'][0]}/",
        {"fdg_visual": "positive", "suv_max": "9.5"},
    )
    assert status == 200
    body = wait_for(
        lambda: (b := fresh(api, written["patient"])) and b["computed_at"] != first_computed and b,
        what="fresh P5",
    )
    assert body["timepoints"][0]["netpet"]["grade"] == "P5"
    assert body["timepoints"][0]["karfis"]["group"] == "C3"

    # Asking again for unchanged data is accepted and writes nothing new.
    status, accepted = api.call("POST", f"/api/v1/patients/{written['patient']}/recompute/")
    assert status == 202 and accepted["patient"] == written["patient"]
    time.sleep(1.5)
    assert api.phenotype(written["patient"])["computed_at"] == body["computed_at"]


def test_a_worker_killed_mid_task_still_leaves_the_assessment_fresh(stack: Stack) -> None:
    api = stack.web()
    written = write_dual_tracer_patient(api, "WRK-0002")  # queued; no worker yet
    patient = written["patient"]
    assert api.phenotype(patient)["status"] == "pending"

    database = connection.settings_dict["NAME"]
    with psycopg.connect(stack.database_url.replace("postgres://", "postgresql://")) as hold:
        # Hold the patient's version row: the worker's claim will wait here, mid-task.
        hold.execute(
            "SELECT 1 FROM scoring_inputversion WHERE patient_id = %s FOR UPDATE", [patient]
        )
        doomed = stack.worker()

        def worker_waiting() -> bool:
            with psycopg.connect(stack.database_url.replace("postgres://", "postgresql://")) as c:
                row = c.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND wait_event_type = 'Lock' AND query LIKE %s",
                    [database, "%UPDATE scoring_inputversion SET queued_at = NULL%"],
                ).fetchone()
            return bool(row and row[0])

        try:
            wait_for(worker_waiting, what="the worker to be inside the task")
        except AssertionError:
            with psycopg.connect(stack.database_url.replace("postgres://", "postgresql://")) as c:
                rows = c.execute(
                    "SELECT datname, state, wait_event_type, left(query, 200) FROM pg_stat_activity"
                ).fetchall()
            print(rows, api.phenotype(patient), redis.Redis.from_url(BROKER).keys("*"))
            raise
        stack.kill(doomed)
        hold.rollback()

    # The task was taken and never acknowledged; nothing was written.
    assert api.phenotype(patient)["status"] == "pending"
    stack.worker()
    body = wait_for(lambda: fresh(api, patient), timeout=90, what="redelivered task")
    assert body["timepoints"][0]["netpet"]["grade"] == "P1"


def test_data_written_while_the_broker_is_down_is_swept_once_it_is_back(
    stack: Stack, tmp_path: Path
) -> None:
    offline = stack.web(CELERY_BROKER_URL=DEAD_BROKER, REDIS_URL="")
    status, health = offline.call("GET", "/health/")
    assert status == 200 and health["broker"] == "down"
    written = write_dual_tracer_patient(offline, "WRK-0003")  # every write still 201
    assert offline.phenotype(written["patient"])["status"] == "stale"

    stack.worker("--beat", "--schedule", str(tmp_path / "beat-schedule"))
    body = wait_for(lambda: fresh(offline, written["patient"]), what="sweeper")
    assert body["timepoints"][0]["netpet"]["grade"] == "P1"


def test_a_patient_followed_over_four_timepoints_gets_a_fresh_response(stack: Stack) -> None:
    """Issue 5 end to end: a hospital system writes four timepoints (SSTR PET, FDG PET and CT
    each) and an SSA line through the API; a real worker computes the response history."""
    api = stack.web()
    stack.worker()
    patient = api.post(
        "/api/v1/patients/",
        {"mrn": "WRK-0005", "family_name": "Followed", "sex": "male", "primary_site": "pancreas"},
    )["id"]
    api.post(
        "/api/v1/treatments/",
        {"patient": patient, "kind": "ssa", "started_on": "2024-05-15"},
    )
    lesions = [
        api.post("/api/v1/lesions/", {"patient": patient, "label": f"L{n}", "site": "liver"})["id"]
        for n in (1, 2, 3)
    ]
    # Per timepoint: (date, SSTR Krenning, FDG call, CT long axes) for L1, L2, L3 (None: absent).
    reads = [
        ("2024-01-10", (4, 4, None), ("negative", "negative", None), ("40", "30", None)),
        ("2024-05-20", (4, 4, None), ("negative", "negative", None), ("30", "20", None)),
        ("2024-09-10", (4, 0, None), ("negative", "positive", None), ("26", "20", None)),
        ("2025-01-10", (4, 0, 4), ("negative", "positive", "negative"), ("26", "20", "15")),
    ]
    sstr_studies = []
    ct_studies = []
    for day, krenning, calls, axes in reads:
        sstr = api.post(
            "/api/v1/studies/",
            {
                "patient": patient,
                "performed_on": day,
                "modality": "pet_ct",
                "tracer": "ga68_dotatate",
                "blood_pool_suv": "1.5",
                "liver_suv": "6.0",
                "spleen_suv": "18.0",
            },
        )["id"]
        fdg = api.post(
            "/api/v1/studies/",
            {
                "patient": patient,
                "performed_on": day,
                "modality": "pet_ct",
                "tracer": "f18_fdg",
                "blood_pool_suv": "1.6",
                "liver_suv": "2.2",
                "liver_suv_sd": "0.3",
            },
        )["id"]
        ct = api.post(
            "/api/v1/studies/",
            {"patient": patient, "performed_on": day, "modality": "ct", "tracer": "none"},
        )["id"]
        sstr_studies.append(sstr)
        ct_studies.append(ct)
        for lesion, score, call, axis in zip(lesions, krenning, calls, axes, strict=True):
            if score is None:
                continue
            api.post(
                "/api/v1/observations/",
                {"study": sstr, "lesion": lesion, "krenning_visual": score, "long_axis_mm": axis},
            )
            api.post("/api/v1/observations/", {"study": fdg, "lesion": lesion, "fdg_visual": call})
            api.post(
                "/api/v1/observations/",
                {
                    "study": ct,
                    "lesion": lesion,
                    "long_axis_mm": axis,
                    "target": day == "2024-01-10",
                },
            )

    def fresh_response() -> dict[str, Any] | None:
        status, body = api.call("GET", f"/api/v1/patients/{patient}/response/")
        assert status == 200, body
        return body if body["status"] == "fresh" and len(body["recist"]) == 3 else None

    body = wait_for(fresh_response, what="fresh response over four timepoints")
    # RECIST against the CT of 2024-01-10 (the last one before the SSA began): 70 mm at
    # baseline; 50 mm (-28.6%: SD); 46 mm (-34.3%: PR); a new lesion (PD).
    assert [(r["study"], r["category"]) for r in body["recist"]] == [
        (ct_studies[1], "SD"),
        (ct_studies[2], "PR"),
        (ct_studies[3], "PD"),
    ]
    assert body["recist"][2]["new_lesions"] == [lesions[2]]
    assert [g["netpet"] for g in body["dual_tracer"]] == ["P1", "P1", "P5", "P5"]
    alerts = [(a["code"], a["study"], a["lesions"]) for a in body["dual_tracer_alerts"]]
    assert ("ssa_started_between", sstr_studies[1], []) in alerts
    assert ("new_fdg_positive_sstr_negative", sstr_studies[2], [lesions[1]]) in alerts
    assert [len(body[name]) for name in ("percist", "sstr")] == [3, 3]
