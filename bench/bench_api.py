"""Benchmark of the REST API against a hello-world DRF endpoint, in one run (issue 4).

Through the whole Django stack in-process (middleware, token authentication, DRF, PostgreSQL),
median wall time of: a hello-world DRF endpoint (the baseline); GET of a 100-patient page; GET
of a study with 40 observations; the complete-read PUT of 40 observations. Target: each within
4x the hello-world median.

    .venv/bin/python bench/bench_api.py [--rounds 200]
    BENCH_PROFILE="PUT 40 observations" .venv/bin/python bench/bench_api.py   # cProfile one case
    BENCH_PROFILE=... BENCH_SORT=tottime BENCH_CALLEES=dispatch ...         # sort, or the callees
    BENCH_LOOP="PUT 40 observations" py-spy record -o put.svg -- .venv/bin/python bench/bench_api.py
      # (the case in a loop for BENCH_SECONDS, default 20, under a sampling profiler)
    BENCH_QUERIES="PUT 40 observations" .venv/bin/python bench/bench_api.py   # its SQL, timed

Uses its own database (BENCH_API_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/netboard_bench_api, dropped and created).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchdb import api_bench_env, unthrottled_rest_framework

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get(
    "BENCH_API_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/netboard_bench_api"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
ENV = api_bench_env(DATABASE_URL, REDIS_URL)  # production settings, as bench/benchdb.py says
# No collected static files here: the API serves none.
warnings.filterwarnings("ignore", message="No directory at")
sys.path.insert(0, str(ROOT))


def prepare_database() -> None:
    from benchdb import fresh_database

    fresh_database(DATABASE_URL, ENV)


def median_ms(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median wall time of the call and median time spent waiting for SQL within it, in ms."""
    from django.db import connection

    in_sql = [0.0]

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_sql[0] += time.perf_counter() - start

    for _ in range(10):
        call()
    times, sql_times = [], []
    with connection.execute_wrapper(timed):
        for _ in range(rounds):
            in_sql[0] = 0.0
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
            sql_times.append(in_sql[0])
    return statistics.median(times) * 1000, statistics.median(sql_times) * 1000


def show_queries(call: Callable[[], object]) -> None:
    """Print each SQL statement of one call with its time, then the call's total."""
    from django.db import connection

    for _ in range(5):
        call()
    timings: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - start, sql))

    import gc

    collections: list[float] = []
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        else:
            collections.append(time.perf_counter() - started.pop())

    gc.callbacks.append(on_gc)
    start = time.perf_counter()
    with connection.execute_wrapper(timed):
        call()
    total = time.perf_counter() - start
    gc.callbacks.remove(on_gc)
    for seconds, sql in timings:
        print(f"{seconds * 1000:6.2f} ms  {' '.join(sql.split())[:150]}")
    in_sql = sum(seconds for seconds, _ in timings)
    print(
        f"total {total * 1000:.2f} ms, of which SQL {in_sql * 1000:.2f} ms, "
        f"garbage collection {sum(collections) * 1000:.2f} ms ({len(collections)} runs)"
    )


def put_parts(study: Any) -> dict[str, Callable[[], object]]:
    """Pieces of the PUT timed alone: the validation of its 40 items by the API's serializer (as
    the view runs it), and its response (the 40 observations serialized)."""
    from apps.imaging.models import Lesion, Observation
    from apps.imaging.serializers import ObservationReadItemSerializer, ObservationSerializer

    lesions = {lesion.pk: lesion for lesion in Lesion.objects.filter(patient=study.patient_id)}
    items = [{"lesion": pk, "suv_max": "14.0", "krenning_visual": 3} for pk in lesions]
    observations = list(Observation.objects.filter(study=study).select_related("study"))

    def validate() -> object:
        reader = ObservationReadItemSerializer(context={"study": study, "lesions": lesions})
        return [reader.run_validation(item) for item in items]

    def represent() -> object:
        return ObservationSerializer(observations, many=True, context={}).data

    return {
        "validate 40 items (ObservationReadItemSerializer)": validate,
        "serialize 40 observations for the response": represent,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    prepare_database()
    import django

    django.setup()
    from datetime import date
    from decimal import Decimal

    from django.test import Client, override_settings

    from apps.core.tokens import api_token_create
    from apps.imaging.models import ImagingStudy, Lesion, Observation
    from apps.patients.models import Patient

    patients = Patient.objects.bulk_create(
        Patient(mrn=f"API-{n:04d}", family_name=f"Bench{n}", sex="female") for n in range(120)
    )
    study = ImagingStudy.objects.create(
        patient=patients[0],
        performed_on=date(2024, 3, 1),
        modality="pet_ct",
        tracer="ga68_dotatate",
        blood_pool_suv=Decimal("1.5"),
        liver_suv=Decimal("6"),
        spleen_suv=Decimal("18"),
    )
    lesions = Lesion.objects.bulk_create(
        Lesion(patient=patients[0], label=f"L{n}", site="liver") for n in range(40)
    )
    Observation.objects.bulk_create(
        Observation(study=study, lesion=lesion, patient=patients[0], suv_max=Decimal("12.5"))
        for lesion in lesions
    )
    _token, key = api_token_create(name="bench", role="admin")
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Token {key}", "secure": True}
    body = [{"lesion": lesion.pk, "suv_max": "14.0", "krenning_visual": 3} for lesion in lesions]
    rest = unthrottled_rest_framework()
    flip = iter(range(10**9))

    def put() -> object:
        # Alternate two reads, so that every round really changes 40 rows.
        value = "14.0" if next(flip) % 2 else "15.0"
        data = [{**item, "suv_max": value} for item in body]
        return client.put(
            f"/api/v1/studies/{study.pk}/observations/",
            data,
            content_type="application/json",
            **auth,
        )

    with override_settings(ROOT_URLCONF="bench.urls_bench", REST_FRAMEWORK=rest):
        client = Client()
        cases = {
            "hello world (baseline)": lambda: client.get("/bench/hello/", **auth),
            "GET 100 patients": lambda: client.get("/api/v1/patients/?limit=100", **auth),
            "GET study, 40 observations": lambda: client.get(
                f"/api/v1/studies/{study.pk}/", **auth
            ),
            "PUT 40 observations": put,
        }
        for name, call in cases.items():
            response = call()
            assert response.status_code == 200, (name, response.status_code)  # type: ignore[attr-defined]
        if os.environ.get("BENCH_LOOP"):  # one case, over and over, for a sampling profiler
            target = cases[os.environ["BENCH_LOOP"]]
            deadline = time.perf_counter() + float(os.environ.get("BENCH_SECONDS", "20"))
            while time.perf_counter() < deadline:
                target()
            return
        if os.environ.get("BENCH_QUERIES"):
            show_queries(cases[os.environ["BENCH_QUERIES"]])
            return
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            target = cases[os.environ["BENCH_PROFILE"]]
            profile = cProfile.Profile()
            profile.runcall(lambda: [target() for _ in range(20)])
            stats = pstats.Stats(profile).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
            if os.environ.get("BENCH_CALLEES"):
                stats.print_callees(os.environ["BENCH_CALLEES"])
            elif os.environ.get("BENCH_CALLERS"):
                stats.print_callers(os.environ["BENCH_CALLERS"])
            else:
                stats.print_stats(40)
            return
        results = {name: median_ms(call, args.rounds) for name, call in cases.items()}
        parts = {name: median_ms(call, args.rounds) for name, call in put_parts(study).items()}
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    # Issue 14's ceiling against regressions: 1.5x the ratios measured before plain DRF.
    ceilings = {
        "GET 100 patients": 1.5 * 4.8,
        "GET study, 40 observations": 1.5 * 5.6,
        "PUT 40 observations": 1.5 * 11.6,
    }
    baseline = results["hello world (baseline)"][0]
    print(f"{'':30s} {'median':>10s}  {'ratio':>6s}  {'of which SQL':>14s}")
    for name, (ms, sql_ms) in results.items():
        ratio = ms / baseline
        ceiling = ceilings.get(name)
        verdict = "" if ceiling is None else ("OK" if ratio <= ceiling else "OVER")
        print(
            f"{name:30s} {ms:7.2f} ms  {ratio:5.1f}x  {sql_ms:5.2f} ms {sql_ms / baseline:4.1f}x"
            f"  {verdict}"
        )
    print("ceiling: 1.5x issue 14's ratios (4.8x, 5.6x, 11.6x), against regressions")
    print("parts of the PUT, outside a request:")
    for name, (ms, _sql_ms) in parts.items():
        print(f"  {name:58s} {ms:6.2f} ms  {ms / baseline:4.1f}x hello world")


if __name__ == "__main__":
    main()
