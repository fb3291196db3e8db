"""Deadlock soak: one sequential API client writing patients while two Celery workers
recompute them, against a whole stack of its own (bench/stack.py: a fresh database, its own
redis-server, gunicorn with 3 workers, 2 Celery workers, beat sweeping every 2 s).

For each patient, one request after the other (no concurrency on the client side): create the
patient (POST /api/v1/patients/), PATCH it (If-Match), POST a lesion, an SSTR PET study and an
observation of the lesion on it, then PATCH the patient again (If-Match). Every write raises the
patient's input version and queues a recompute, so the workers store assessments of the same
patients that the API is writing: the writes and the workers' claims meet on the same rows.

Runs for SOAK_SECONDS (default 120) or until SOAK_PATIENTS patients are written (then at most
SOAK_SECONDS if that is set too, else one hour). Prints the requests per step with their
p50/p95, every 5xx and every other unexpected answer, PostgreSQL's deadlock count for the
database (pg_stat_database) before and after, the deadlocks and serialization failures the
server logged, and whether every assessment is fresh within 30 s. Exit status 1 on any 5xx or
unexpected answer, any new deadlock, or an assessment not fresh in time.

    .venv/bin/python bench/bench_soak.py
    SOAK_SECONDS=60 .venv/bin/python bench/bench_soak.py
    SOAK_PATIENTS=200 .venv/bin/python bench/bench_soak.py

Database: SOAK_DATABASE (default netboard_soak), dropped and created, dropped at the end.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATABASE = os.environ.get("SOAK_DATABASE", "netboard_soak")
PATIENTS = int(os.environ["SOAK_PATIENTS"]) if os.environ.get("SOAK_PATIENTS") else None
SECONDS = float(os.environ.get("SOAK_SECONDS") or (3600 if PATIENTS else 120))
FRESH_WITHIN = 30.0
sys.path.insert(0, str(HERE))


class Soak:
    """The client: each step's status and time recorded; unexpected answers kept."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.times: dict[str, list[float]] = defaultdict(list)
        self.server_errors: list[str] = []
        self.unexpected: list[str] = []

    def step(
        self, name: str, method: str, path: str, body: Any, expect: int, **headers: str
    ) -> tuple[Any, dict[str, str]] | None:
        start = time.perf_counter()
        status, data, answer_headers = self.api.call(method, path, body, headers)
        self.times[name].append(time.perf_counter() - start)
        if status == expect:
            return data, answer_headers
        request_id = answer_headers.get("x-request-id", "-")
        line = f"{status} {method} {path} ({name}) request_id={request_id} {str(data)[:200]!r}"
        (self.server_errors if status >= 500 else self.unexpected).append(line)
        return None

    def patient(self, n: int) -> bool:
        """The six writes of one patient; stops at the first unexpected answer."""
        created = self.step(
            "POST patient",
            "POST",
            "/api/v1/patients/",
            {
                "mrn": f"SOAK-{n:06d}",
                "family_name": f"Soak{n}",
                "given_name": "Synthetic",
                "birth_date": "1961-02-03",
                "sex": "female",
                "primary_site": "pancreas",
                "histology": "net",
            },
            201,
        )
        if created is None:
            return False
        patient, headers = created
        pk = patient["id"]
        patched = self.step(
            "PATCH patient (1)",
            "PATCH",
            f"/api/v1/patients/{pk}/",
            {"weight_kg": "70.5", "height_cm": "168"},
            200,
            **{"If-Match": headers.get("etag", "*")},
        )
        if patched is None:
            return False
        etag = patched[1].get("etag", "*")
        lesion = self.step(
            "POST lesion",
            "POST",
            "/api/v1/lesions/",
            {"patient": pk, "label": "Liver 1", "site": "liver"},
            201,
        )
        study = self.step(
            "POST study",
            "POST",
            "/api/v1/studies/",
            {
                "patient": pk,
                "performed_on": "2024-03-01",
                "modality": "pet_ct",
                "tracer": "ga68_dotatate",
                "blood_pool_suv": "1.5",
                "liver_suv": "6.0",
                "spleen_suv": "18.0",
            },
            201,
        )
        if lesion is None or study is None:
            return False
        observation = self.step(
            "POST observation",
            "POST",
            "/api/v1/observations/",
            {
                "study": study[0]["id"],
                "lesion": lesion[0]["id"],
                "suv_max": "25.0",
                "krenning_visual": 4,
                "long_axis_mm": "31",
            },
            201,
        )
        if observation is None:
            return False
        again = self.step(
            "PATCH patient (2)",
            "PATCH",
            f"/api/v1/patients/{pk}/",
            {"weight_kg": "71.0", "primary_site": "small_intestine"},
            200,
            **{"If-Match": etag},
        )
        return again is not None

    def print_times(self) -> None:
        width = max(len(name) for name in self.times)
        print(f"\n{'step':<{width}}  {'count':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
        for name, times in self.times.items():
            ordered = sorted(times)
            p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
            print(
                f"{name:<{width}}  {len(times):>6} {statistics.median(times) * 1000:>7.0f} "
                f"{p95 * 1000:>7.0f} {ordered[-1] * 1000:>7.0f}"
            )


def main() -> int:
    from stack import Api, Stack

    failures: list[str] = []
    with Stack(DATABASE) as stack:
        stack.start(web_workers=3, celery_workers=2, beat=True)
        from apps.core.tokens import api_token_create

        _token, key = api_token_create(name="soak", role="reader")
        soak = Soak(Api(stack.base, key))
        deadlocks_before = stack.deadlocks()
        bound = f"{PATIENTS} patients or {SECONDS:.0f} s" if PATIENTS else f"{SECONDS:.0f} s"
        print(f"soak: one sequential client, 2 workers recomputing, for {bound}", flush=True)
        start = time.monotonic()
        written = incomplete = 0
        while time.monotonic() - start < SECONDS and (PATIENTS is None or written < PATIENTS):
            incomplete += not soak.patient(written)
            written += 1
            if written % 100 == 0:
                print(f"  {written} patients, {time.monotonic() - start:.0f} s", flush=True)
        ended = time.monotonic()
        print(
            f"{written} patients in {ended - start:.0f} s "
            f"({sum(len(t) for t in soak.times.values()) / (ended - start):.1f} requests/s), "
            f"{incomplete} stopped at an unexpected answer"
        )
        soak.print_times()

        print(f"\n5xx responses: {len(soak.server_errors)}")
        for line in soak.server_errors[:50]:
            print(f"  {line}")
        if soak.server_errors:
            failures.append(f"{len(soak.server_errors)} responses 5xx")
        if soak.unexpected:
            print(f"other unexpected answers: {len(soak.unexpected)}")
            for line in soak.unexpected[:20]:
                print(f"  {line}")
            failures.append(f"{len(soak.unexpected)} unexpected answers")

        took, counts = stack.wait_fresh(FRESH_WITHIN, since=ended)
        if took is None:
            print(f"assessments NOT all fresh within {FRESH_WITHIN:.0f} s: {dict(counts)}")
            failures.append("assessments not fresh within 30 s")
        else:
            print(f"every assessment fresh {took:.1f} s after the last write ({counts['fresh']})")
        dead = stack.alive()
        if dead:
            failures.append(f"processes died during the run: {', '.join(dead)}")

        stack.stop()  # the backends report their counters as they exit
        deadlocks_after = stack.deadlocks()
        print(
            f"deadlocks (pg_stat_database): {deadlocks_before} before, {deadlocks_after} after"
            f" ({deadlocks_after - deadlocks_before:+d})"
        )
        if deadlocks_after > deadlocks_before:
            failures.append(f"{deadlocks_after - deadlocks_before} deadlocks")
        return stack.verdict(failures, "no 5xx, no deadlock, every assessment fresh")


if __name__ == "__main__":
    from stack import run_main

    run_main(main)
