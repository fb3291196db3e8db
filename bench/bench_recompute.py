"""Benchmark: a full recompute of a synthetic cohort by real Celery workers (issue 3).

Builds a cohort in a database of its own (default 2,000 patients, each with 2 dual-tracer
timepoints x 20 lesions: 4 PET studies, 80 observations, one pathology report), then measures
in the same run:

- baseline: reading the same rows (patients, lesions, studies, observations, pathology) with one
  raw SQL query, fetched into Python;
- recompute: every patient queued by the sweeper and computed by 2 worker processes until every
  assessment is fresh.

Printed as patients per second and as the ratio recompute / baseline. Target: within 5x.

    .venv/bin/python bench/bench_recompute.py [--patients 2000] [--timepoints 2] [--lesions 20]

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


def start_workers(count: int) -> list[subprocess.Popen[bytes]]:
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
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(count)
    ]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--timepoints", type=int, default=2)
    parser.add_argument("--lesions", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    prepare_database()
    import django

    django.setup()
    from apps.scoring.services import rules_fingerprint, sweep_stale

    start = time.perf_counter()
    build_cohort(args.patients, args.timepoints, args.lesions)
    observations = args.patients * args.timepoints * 2 * args.lesions
    print(
        f"cohort: {args.patients} patients x {args.timepoints} dual-tracer timepoints x "
        f"{args.lesions} lesions = {observations} observations "
        f"(built in {time.perf_counter() - start:.0f} s)"
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after a load this size
    baseline, rows = raw_read_seconds()
    print(f"baseline: one raw SQL read of {rows} rows: {baseline:.2f} s")

    workers = start_workers(args.workers)
    try:
        wait_until_ready(args.workers)
        fingerprint = rules_fingerprint()
        start = time.perf_counter()
        queued = sweep_stale(limit=args.patients)
        while fresh_count(fingerprint) < args.patients:
            time.sleep(0.05)
        elapsed = time.perf_counter() - start
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    ratio = elapsed / baseline
    print(
        f"recompute: {queued} queued, all fresh in {elapsed:.2f} s with {args.workers} workers "
        f"= {args.patients / elapsed:,.0f} patients/s"
    )
    verdict = "OK" if ratio <= 5 else "MISSED"
    print(f"ratio recompute / raw read: {ratio:.1f}x (target <= 5x): {verdict}")


if __name__ == "__main__":
    main()
