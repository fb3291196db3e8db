"""Benchmark: a full recompute (a regrade) of a synthetic cohort by real Celery workers.

Builds a cohort in a database of its own (default 10,000 patients, each with 2 dual-tracer
timepoints x 20 lesions: 4 PET studies, 80 observations, one pathology report), computes it once
(the first results), then measures in the same run:

- baseline: reading the same rows (patients, lesions, studies, observations, pathology) with one
  raw SQL query, fetched into Python;
- regrade by 1 worker process, then by 2: the thresholds change (so every stored result is
  stale), ``regrade()`` queues the cohort in chunks of NETBOARD_REGRADE_CHUNK patients
  (``scoring.regrade_chunk``), and the workers recompute until every assessment is fresh.

Printed as patients per second, with the ratios 2 workers / 1 worker (target >= 1.8x) and
2-worker regrade / raw read (target <= 3x).

    .venv/bin/python bench/bench_recompute.py [--patients 10000] [--timepoints 2] [--lesions 20]
        [--chunk 100]

Needs PostgreSQL and Redis (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
netboard_bench, dropped and created; BENCH_REDIS_URL, default redis://127.0.0.1:6379/9, flushed).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/netboard_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
ENV = {
    **os.environ,
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "CELERY_BROKER_URL": REDIS_URL,
    "DJANGO_DEBUG": "1",
}
# The workers run as deployed: DJANGO_DEBUG=0, so that Django keeps no log of their queries
# (a regrade's statements carry megabytes of JSON).
WORKER_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-recompute-" + "k" * 50,
    "DJANGO_ALLOWED_HOSTS": "localhost",
}
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netboard.settings")
sys.path.insert(0, str(ROOT))


def prepare_database() -> None:
    from benchdb import fresh_database

    fresh_database(DATABASE_URL, ENV)


def build_cohort(patients: int, timepoints: int, lesions: int) -> None:
    """Bulk inserts (no signals, so nothing is queued yet); the triggers keep versions."""
    from apps.imaging.models import ImagingStudy, Lesion, Observation
    from apps.patients.models import Pathology, Patient

    rng = random.Random(11)
    batch = 200
    for first in range(0, patients, batch):
        people = Patient.objects.bulk_create(
            Patient(
                mrn=f"BENCH-{n:06d}",
                family_name=f"Bench{n}",
                given_name="Synthetic",
                birth_date=date(1955, 1, 1),
                sex="female",
                primary_site="small_intestine",
                histology="net",
            )
            for n in range(first, min(first + batch, patients))
        )
        Pathology.objects.bulk_create(
            Pathology(patient=p, reported_on=date(2022, 6, 1), who_grade="G2") for p in people
        )
        all_lesions = Lesion.objects.bulk_create(
            Lesion(patient=p, label=f"L{i}", site="liver") for p in people for i in range(lesions)
        )
        by_patient: dict[int, list[Lesion]] = {}
        for lesion in all_lesions:
            by_patient.setdefault(lesion.patient_id, []).append(lesion)
        studies = ImagingStudy.objects.bulk_create(
            ImagingStudy(
                patient=p,
                performed_on=date(2023, 1, 1) + timedelta(days=120 * t + (3 if fdg else 0)),
                modality="pet_ct",
                tracer="f18_fdg" if fdg else "ga68_dotatate",
                tracer_class="FDG" if fdg else "SSTR",
                blood_pool_suv=Decimal("1.5"),
                liver_suv=Decimal("2.5") if fdg else Decimal("6.0"),
                spleen_suv=None if fdg else Decimal("18.0"),
            )
            for p in people
            for t in range(timepoints)
            for fdg in (False, True)
        )
        Observation.objects.bulk_create(
            Observation(
                study=study,
                lesion=lesion,
                patient_id=study.patient_id,
                state="scored",
                suv_max=Decimal(f"{rng.uniform(0.5, 12 if study.tracer == 'f18_fdg' else 40):.2f}"),
                long_axis_mm=Decimal(rng.randint(8, 60)),
                heterogeneous=rng.random() < 0.2,
                target=i < 5,
            )
            for study in studies
            for i, lesion in enumerate(by_patient[study.patient_id])
        )


RAW_READ = """
SELECT p.id, p.primary_site, p.histology, p.sex, p.height_cm, p.weight_kg, p.ppgl_cluster,
       s.id, s.performed_on, s.tracer, s.tracer_class, s.modality, s.post_therapy,
       s.blood_pool_suv, s.liver_suv, s.liver_suv_sd, s.spleen_suv, s.treatment_id,
       s.cycle_number, l.id, l.label, l.site, l.nodal, l.is_primary,
       o.state, o.suv_max, o.suv_peak, o.krenning_visual, o.krenning_min, o.krenning_max,
       o.fdg_visual, o.fdg_vs_sstr, o.long_axis_mm, o.short_axis_mm, o.heterogeneous, o.target,
       (SELECT max(reported_on) FROM patients_pathology x WHERE x.patient_id = p.id)
FROM imaging_observation o
JOIN imaging_imagingstudy s ON s.id = o.study_id
JOIN imaging_lesion l ON l.id = o.lesion_id
JOIN patients_patient p ON p.id = o.patient_id
ORDER BY p.id, s.performed_on, s.id, l.id
"""


def raw_read_seconds() -> tuple[float, int]:
    from django.db import connection

    best, rows = float("inf"), 0
    for _ in range(3):
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(RAW_READ)
            rows = len(cursor.fetchall())
        best = min(best, time.perf_counter() - start)
    return best, rows


def start_workers(count: int, **env: str) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(  # noqa: S603 - fixed interpreter and arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "netboard",
                "worker",
                "--pool=solo",
                "--loglevel=WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"bench{n}@%h",
            ],
            cwd=ROOT,
            env={**ENV, **WORKER_ENV, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def wait_until_ready(count: int) -> None:
    """Each worker answers a ping task (imports done, connections open) before timing starts."""
    import uuid

    from django.core.cache import cache

    from apps.core.tasks import ping_broker

    nonces = [uuid.uuid4().hex for _ in range(count * 4)]
    for nonce in nonces:
        ping_broker.delay(nonce)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(cache.get(f"netboard:ping:{nonce}") for nonce in nonces):
            return
        time.sleep(0.1)
    raise SystemExit("workers did not start")


def fresh_count(fingerprint: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM scoring_phenotypeassessment a JOIN scoring_inputversion v "
            "USING (patient_id) WHERE a.inputs_version = v.version AND a.rules_fingerprint = %s",
            [fingerprint],
        )
        return int(cursor.fetchone()[0])


def regrade_seconds(workers: int, patients: int, rules: dict[str, int]) -> float:
    """Seconds for ``workers`` worker processes to make every assessment fresh again under
    ``rules`` (new thresholds: every stored result is stale), queued by ``regrade()``."""
    import json

    from django.conf import settings
    from django.db import connection

    from apps.scoring.queue import regrade
    from apps.scoring.services import rules_fingerprint

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # the previous run's dead rows, as autovacuum would
    settings.NETBOARD_RULES = rules  # this process sends and polls under the workers' rules
    running = start_workers(workers, NETBOARD_RULES=json.dumps(rules))
    try:
        wait_until_ready(workers)
        fingerprint = rules_fingerprint()
        start = time.perf_counter()
        sent, _left = regrade()
        while fresh_count(fingerprint) < patients:
            # Each count reads the whole table: polled often, it would slow the workers down.
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
    finally:
        stop_workers(running)
    print(
        f"regrade by {workers} worker(s): {sent} queued, all fresh in {elapsed:.2f} s "
        f"= {patients / elapsed:,.0f} patients/s"
    )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--timepoints", type=int, default=2)
    parser.add_argument("--lesions", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=0, help="NETBOARD_REGRADE_CHUNK")
    args = parser.parse_args()
    if args.chunk:
        ENV["NETBOARD_REGRADE_CHUNK"] = os.environ["NETBOARD_REGRADE_CHUNK"] = str(args.chunk)

    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    prepare_database()
    import django

    django.setup()
    from django.conf import settings

    start = time.perf_counter()
    build_cohort(args.patients, args.timepoints, args.lesions)
    observations = args.patients * args.timepoints * 2 * args.lesions
    print(
        f"cohort: {args.patients} patients x {args.timepoints} dual-tracer timepoints x "
        f"{args.lesions} lesions = {observations} observations "
        f"(built in {time.perf_counter() - start:.0f} s); "
        f"chunks of {settings.NETBOARD_REGRADE_CHUNK} patients"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after a load this size
    baseline, rows = raw_read_seconds()
    print(f"baseline: one raw SQL read of {rows} rows: {baseline:.2f} s")

    # The first results (inserts), so that the regrades below replace stored ones.
    first = regrade_seconds(2, args.patients, {})
    print(f"  (first results, not a regrade: {first / baseline:.1f}x the raw read)")
    one = regrade_seconds(1, args.patients, {"small_lesion_mm": 21})
    two = regrade_seconds(2, args.patients, {"small_lesion_mm": 22})
    scaling, ratio = one / two, two / baseline
    print(
        f"throughput 2 workers / 1 worker: {scaling:.2f}x (target >= 1.8x): "
        f"{'OK' if scaling >= 1.8 else 'MISSED'}"
    )
    print(
        f"ratio 2-worker regrade / raw read: {ratio:.1f}x (target <= 3x): "
        f"{'OK' if ratio <= 3 else 'MISSED'}"
    )
    print(
        f"1M patients at the 2-worker rate: {1_000_000 / (args.patients / two) / 3600:.2f} h "
        f"on 2 workers"
    )


if __name__ == "__main__":
    main()
