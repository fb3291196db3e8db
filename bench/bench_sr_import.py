"""Benchmark of the DICOM SR import through the API against the complete-read PUT, in one run
(issue 16).

Through the whole Django stack in-process (middleware, token authentication, DRF, PostgreSQL,
a Redis broker), median wall time of: the complete-read PUT of 40 observations (the baseline,
as bench_api.py makes it); ``POST studies/{id}/dicom-sr/`` of one 40-lesion TID 1500 SR
(planar ROI groups with SUVmax, long axis and Krenning score, and a liver reference region)
that really writes, as a patient's first import (creates its 40 lesions) and as the next
timepoint (same tracking UIDs, the lesions exist); the same POST with ``?commit=false`` (the
review only); and, with no HTTP, the parse alone (``dicom_sr.read_report``). Every round of a
write imports an SR of its own (its own SOP Instance UID) into a fresh study, all built before
the timing; the cases take turns, round by round. Target: an SR import within 3x the PUT.
Exits 0 whatever the ratio; non-zero only on an error (a response other than 200 is printed
with its body).

    .venv/bin/python bench/bench_sr_import.py [--rounds 10]
    BENCH_PROFILE="SR import, next timepoint" .venv/bin/python bench/bench_sr_import.py
      # cProfile one case (BENCH_PROFILE_CALLS times, default 5); BENCH_SORT=tottime to sort
      # otherwise, BENCH_CALLEES=<function> or BENCH_CALLERS=<function> for its callees/callers,
      # BENCH_PROFILE_LINES=80 for more lines
    BENCH_QUERIES="SR import, next timepoint" .venv/bin/python bench/bench_sr_import.py  # its SQL

Uses its own database (BENCH_SR_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/netboard_bench_sr, dropped and created) and Redis database
(BENCH_SR_REDIS_URL, default redis://127.0.0.1:6379/9, flushed).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchdb import api_bench_env, unthrottled_rest_framework

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get(
    "BENCH_SR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/netboard_bench_sr"
)
REDIS_URL = os.environ.get("BENCH_SR_REDIS_URL", "redis://127.0.0.1:6379/9")
ENV = api_bench_env(DATABASE_URL, REDIS_URL)  # production settings, as bench/benchdb.py says
# No collected static files here: the API serves none.
warnings.filterwarnings("ignore", message="No directory at")
sys.path.insert(0, str(ROOT))

LESIONS = 40
PUT = "PUT 40 observations (baseline)"
FIRST = "SR import, first (creates lesions)"
NEXT = "SR import, next timepoint"
REVIEW = "SR review, ?commit=false"
PARSE = "read_report alone (no HTTP)"
IMPORTS = {"first import": FIRST, "next timepoint": NEXT}  # the target's cases
# Warm-up calls before the timed rounds: as bench_api.py for the PUT; fewer for the SR cases,
# each of which costs seconds and, for a write, an SR and a study of its own.
WARMUP = {PUT: 10, FIRST: 2, NEXT: 2, REVIEW: 2, PARSE: 2}
BOUNDARY = "BenchSrBoundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class BenchError(RuntimeError):
    pass


def prepare_database() -> None:
    from benchdb import fresh_database

    fresh_database(DATABASE_URL, ENV)


def build_file(job: tuple[str, tuple[str, ...], float]) -> bytes:
    """One 40-lesion SR (planar ROIs: SUVmax, long axis, Krenning; a liver reference region) of
    patient ``mrn`` with these tracking UIDs, its values scaled (each call: new SOP Instance,
    series and Study Instance UIDs). Runs in a worker process."""
    from tests.imaging.sr_factory import SITES, SrLesionSpec, build_sr

    mrn, uids, scale = job
    sites = list(SITES.values())
    specs = [
        SrLesionSpec(
            tracking_uid=uid,
            identifier=f"Lesion {n + 1}",
            site=sites[n % len(sites)],
            suv_max=round((8 + 0.7 * n) * scale, 1),
            long_axis=round((10 + n) * scale, 1),
            krenning=2 + n % 3,
        )
        for n, uid in enumerate(uids)
    ]
    return build_sr(specs, patient_id=mrn, reference={SITES["liver"]: round(6.2 * scale, 1)})


def build_files(jobs: list[tuple[str, tuple[str, ...], float]]) -> list[bytes]:
    """The SRs of ``jobs``, built on every core (before Django opens a connection)."""
    with ProcessPoolExecutor(mp_context=get_context("fork")) as pool:
        return list(pool.map(build_file, jobs))


def multipart(data: bytes) -> bytes:
    """The request body of an upload of one SR file (encoded once, before the timing)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test.client import encode_multipart

    return encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("sr.dcm", data)})


def measure(
    cases: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]], rounds: int
) -> dict[str, tuple[float, float]]:
    """Per case, the median wall time of its call and the median time spent waiting for SQL
    within it, in ms. The cases take turns, round by round, so that a change of the machine's
    load (a round of an SR import takes seconds) weighs on them alike. Each result is checked
    after the clock stops."""
    from django.db import connection

    in_sql = [0.0]

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            in_sql[0] += time.perf_counter() - start

    for name, (call, check) in cases.items():
        for _ in range(WARMUP[name]):
            check(call())
    times: dict[str, list[float]] = {name: [] for name in cases}
    sql_times: dict[str, list[float]] = {name: [] for name in cases}
    with connection.execute_wrapper(timed):
        for _ in range(rounds):
            for name, (call, check) in cases.items():
                in_sql[0] = 0.0
                start = time.perf_counter()
                result = call()
                times[name].append(time.perf_counter() - start)
                sql_times[name].append(in_sql[0])
                check(result)
    return {
        name: (statistics.median(times[name]) * 1000, statistics.median(sql_times[name]) * 1000)
        for name in cases
    }


def show_queries(call: Callable[[], Any], check: Callable[[Any], None]) -> None:
    """Print each SQL statement of one call with its time, then the call's total."""
    from django.db import connection

    check(call())
    timings: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - start, sql))

    start = time.perf_counter()
    with connection.execute_wrapper(timed):
        result = call()
    total = time.perf_counter() - start
    check(result)
    for seconds, sql in timings:
        print(f"{seconds * 1000:6.2f} ms  {' '.join(sql.split())[:150]}")
    in_sql = sum(seconds for seconds, _ in timings)
    print(
        f"total {total * 1000:.2f} ms, of which SQL {in_sql * 1000:.2f} ms "
        f"({len(timings)} statements)"
    )


def profile(call: Callable[[], Any], check: Callable[[Any], None], calls: int) -> None:
    import cProfile
    import pstats

    check(call())
    results: list[Any] = []
    runner = cProfile.Profile()
    runner.runcall(lambda: results.extend(call() for _ in range(calls)))
    for result in results:
        check(result)
    stats = pstats.Stats(runner).sort_stats(os.environ.get("BENCH_SORT", "cumulative"))
    if os.environ.get("BENCH_CALLEES"):
        stats.print_callees(os.environ["BENCH_CALLEES"])
    elif os.environ.get("BENCH_CALLERS"):
        stats.print_callers(os.environ["BENCH_CALLERS"])
    else:
        stats.print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "40")))


def expect_status(name: str, response: Any) -> None:
    if response.status_code != 200:
        body = response.content.decode(errors="replace")[:4000]
        raise BenchError(f"{name}: HTTP {response.status_code}\n{body}")


def import_check(name: str, *, written: bool, new_lesions: bool) -> Callable[[Any], None]:
    """The check of an SR POST: 200, one report of 40 lesions, written or not, matched to
    existing lesions or new ones."""

    def check(response: Any) -> None:
        expect_status(name, response)
        (report,) = response.json()["reports"]
        matched = [row["lesion"] is not None for row in report["lesions"]]
        problem = (
            report["written"] is not written
            or report["already_imported"]
            or len(matched) != LESIONS
            or any(matched) is new_lesions
            or report["reference"]["values"].get("liver_suv") is None
        )
        if problem:
            raise BenchError(f"{name}: not the import expected\n{response.content.decode()}")

    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    try:
        run(args.rounds)
    except BenchError as error:
        sys.exit(f"bench_sr_import: {error}")


def run(rounds: int) -> None:
    from pydicom.uid import generate_uid

    profiled = os.environ.get("BENCH_PROFILE") or os.environ.get("BENCH_QUERIES")
    profile_calls = int(os.environ.get("BENCH_PROFILE_CALLS", "5"))
    # SRs for each write round, its warm-up and the first check (or the profile's calls).
    writes = 1 + (profile_calls if profiled else WARMUP[FIRST] + rounds)
    tracked = tuple(str(generate_uid()) for _ in range(LESIONS))
    started = time.perf_counter()
    first_jobs = [
        (f"SR-F-{k:04d}", tuple(str(generate_uid()) for _ in range(LESIONS)), 1.0)
        for k in range(writes)
    ]
    # The next timepoints: the lesions of the patient's first SR, measured again (one file
    # more: the first SR itself, imported in the set-up; and one for the review).
    next_jobs = [("SR-NEXT", tracked, 1.0 + 0.01 * k) for k in range(writes + 2)]
    files = build_files(first_jobs + next_jobs)
    first_files, next_files = files[:writes], files[writes:]
    print(
        f"built {len(files)} SRs of {LESIONS} lesions ({len(files[0]) // 1024} KiB each) in "
        f"{time.perf_counter() - started:.0f} s",
        flush=True,
    )
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    prepare_database()
    import django

    django.setup()
    from decimal import Decimal

    from django.test import Client, override_settings

    from apps.core.tokens import api_token_create
    from apps.imaging.dicom_sr import read_report
    from apps.imaging.models import ImagingStudy, Lesion, Observation
    from apps.patients.models import Patient

    def new_study(patient: Patient, day: int) -> ImagingStudy:
        # A PET awaiting its read: the reference uptake comes with the SR.
        return ImagingStudy.objects.create(
            patient=patient,
            performed_on=date(2020, 1, 1) + timedelta(days=day),
            modality="pet_ct",
            tracer="ga68_dotatate",
            blood_pool_suv=Decimal("1.5"),
            spleen_suv=Decimal("18"),
        )

    # The baseline, as bench_api.py: a study with 40 observations, its complete read PUT.
    patient = Patient.objects.create(mrn="API-0000", family_name="Bench0", sex="female")
    study = ImagingStudy.objects.create(
        patient=patient,
        performed_on=date(2024, 3, 1),
        modality="pet_ct",
        tracer="ga68_dotatate",
        blood_pool_suv=Decimal("1.5"),
        liver_suv=Decimal("6"),
        spleen_suv=Decimal("18"),
    )
    lesions = Lesion.objects.bulk_create(
        Lesion(patient=patient, label=f"L{n}", site="liver") for n in range(LESIONS)
    )
    Observation.objects.bulk_create(
        Observation(study=study, lesion=lesion, patient=patient, suv_max=Decimal("12.5"))
        for lesion in lesions
    )
    # First imports: a patient of its own each (no lesions yet) with a study awaiting its read.
    first_studies = [
        new_study(Patient.objects.create(mrn=mrn, family_name=f"First{k}", sex="female"), 0)
        for k, (mrn, _uids, _scale) in enumerate(first_jobs)
    ]
    # Next timepoints: one patient, one study per SR, the first imported in the set-up.
    tracked_patient = Patient.objects.create(mrn="SR-NEXT", family_name="Next", sex="female")
    next_studies = [new_study(tracked_patient, 30 * k) for k in range(len(next_files))]
    _token, key = api_token_create(name="bench", role="admin")
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Token {key}", "secure": True}
    body = [{"lesion": lesion.pk, "suv_max": "14.0", "krenning_visual": 3} for lesion in lesions]
    rest = unthrottled_rest_framework()
    flip = iter(range(10**9))

    def put() -> Any:
        # Alternate two reads, so that every round really changes 40 rows.
        value = "14.0" if next(flip) % 2 else "15.0"
        data = [{**item, "suv_max": value} for item in body]
        return client.put(
            f"/api/v1/studies/{study.pk}/observations/",
            data,
            content_type="application/json",
            **auth,
        )

    def check_put(response: Any) -> None:
        expect_status(PUT, response)
        if len(response.json()) != LESIONS:
            raise BenchError(f"{PUT}: not {LESIONS} observations\n{response.content.decode()}")

    def poster(uploads: Iterator[tuple[ImagingStudy, bytes]], query: str = "") -> Any:
        def post() -> Any:
            try:
                target, upload = next(uploads)
            except StopIteration:
                raise BenchError("more rounds than SRs built") from None
            return client.post(
                f"/api/v1/studies/{target.pk}/dicom-sr/{query}", upload, MULTIPART, **auth
            )

        return post

    first_uploads = iter(list(zip(first_studies, map(multipart, first_files), strict=True)))
    next_uploads = [multipart(data) for data in next_files]
    review_study, review_upload = next_studies[-1], next_uploads[-1]

    cases: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
        PUT: (put, check_put),
        FIRST: (
            poster(first_uploads),
            import_check(FIRST, written=True, new_lesions=True),
        ),
        NEXT: (
            poster(iter(list(zip(next_studies[1:-1], next_uploads[1:-1], strict=True)))),
            import_check(NEXT, written=True, new_lesions=False),
        ),
        REVIEW: (
            poster(itertools.repeat((review_study, review_upload)), "?commit=false"),
            import_check(REVIEW, written=False, new_lesions=False),
        ),
        PARSE: (lambda: read_report(next_files[-1]), lambda report: None),
    }
    with override_settings(ROOT_URLCONF="bench.urls_bench", REST_FRAMEWORK=rest):
        client = Client()
        # The patient's first SR: its 40 tracked lesions, which the next timepoints land on.
        import_check("set-up import", written=True, new_lesions=True)(
            poster(iter([(next_studies[0], next_uploads[0])]))()
        )
        if os.environ.get("BENCH_QUERIES"):
            show_queries(*cases[os.environ["BENCH_QUERIES"]])
            return
        if os.environ.get("BENCH_PROFILE"):
            profile(*cases[os.environ["BENCH_PROFILE"]], profile_calls)
            return
        results = measure(cases, rounds)
    redis.Redis.from_url(REDIS_URL).flushdb()
    baseline = results[PUT][0]
    print(f"{LESIONS} lesions, median of {rounds} rounds")
    print(f"{'':36s} {'median':>11s}  {'ratio':>7s}  {'of which SQL':>12s}")
    for name, (ms, sql_ms) in results.items():
        print(f"{name:36s} {ms:8.1f} ms  {ms / baseline:6.1f}x  {sql_ms:7.1f} ms")
    ratios = {label: results[name][0] / baseline for label, name in IMPORTS.items()}
    verdict = "met" if max(ratios.values()) <= 3 else "not met"
    shown = ", ".join(f"{label} {ratio:.1f}x" for label, ratio in ratios.items())
    print(f"SR import <= 3x PUT: {verdict} ({shown})")


if __name__ == "__main__":
    main()
