"""Load test: readers saving grid rows, clinicians opening patient pages and an integrator
posting studies, all at once against a whole stack of its own (bench/stack.py), with Locust.

The stack: a fresh database (LOAD_DATABASE, default netboard_load, dropped and created, then
dropped at the end), its own redis-server on a free port, gunicorn (3 workers) on a free
loopback port, 2 Celery workers (concurrency 1) and beat (sweeping every 2 s); rate limits
raised. Seeded through the ORM: LOAD_PATIENTS patients (default 36), each with 6 lesions and an
SSTR PET and an FDG PET with half the lesions recorded; 10 reader and 5 clinician accounts; an
API token for the integrator. The users are in bench/locustfile.py.

Then Locust runs headless (LOAD_USERS, default 50; LOAD_SPAWN_RATE, default 10/s; LOAD_SECONDS,
default 120) and this prints: requests/s, p50/p95/p99 per request kind, every 5xx (path, status,
request id, and the tracebacks of the server's log), observations acknowledged to the clients
against those found in the database, and how long until every assessment is fresh. Exit status
1 on any 5xx, request without an answer, lost observation, or assessment not fresh within 30 s.

    .venv/bin/python bench/bench_load.py
    LOAD_USERS=20 LOAD_SECONDS=20 .venv/bin/python bench/bench_load.py   # a quick try
    BENCH_KEEP_LOGS=1 ...   # keep the logs (gunicorn, access, workers, beat, locust CSVs)
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
USERS = int(os.environ.get("LOAD_USERS", "50"))
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "10"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "120"))
PATIENTS = int(os.environ.get("LOAD_PATIENTS", "36"))
DATABASE = os.environ.get("LOAD_DATABASE", "netboard_load")
LESIONS = 6
READERS, CLINICIANS = 10, 5
FRESH_WITHIN = 30.0
sys.path.insert(0, str(HERE))


def seed(password: str) -> dict[str, Any]:
    """The cohort, the accounts and the integrator's token, through the ORM (each patient in
    one transaction, so each is queued for its recompute once)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import transaction

    from apps.core.roles import CLINICIAN, READER
    from apps.core.tokens import api_token_create
    from apps.imaging.models import ImagingStudy, Lesion, Observation
    from apps.patients.models import Patient

    users: dict[str, list[str]] = {"readers": [], "clinicians": []}
    for role, count, key in ((READER, READERS, "readers"), (CLINICIAN, CLINICIANS, "clinicians")):
        group = Group.objects.get(name=role)
        for n in range(count):
            user = get_user_model().objects.create_user(
                username=f"load-{role}-{n}", password=password
            )
            user.groups.set([group])
            users[key].append(user.username)
    _token, key = api_token_create(name="load-integrator", role=READER)
    sites = ["liver", "liver", "liver", "bone", "lymph_node", "pancreas"]
    patients, studies = [], []
    for n in range(PATIENTS):
        with transaction.atomic():
            patient = Patient.objects.create(
                mrn=f"LOAD-{n:04d}",
                family_name=f"Load{n}",
                given_name="Synthetic",
                birth_date=date(1950, 1, 1) + timedelta(days=97 * n),
                sex="female" if n % 2 else "male",
                primary_site="pancreas" if n % 3 else "small_intestine",
                histology="net",
            )
            lesions = [
                Lesion.objects.create(patient=patient, label=f"L{i + 1}", site=sites[i])
                for i in range(LESIONS)
            ]
            sstr = ImagingStudy.objects.create(
                patient=patient,
                performed_on=date(2024, 3, 1),
                modality="pet_ct",
                tracer="ga68_dotatate",
                blood_pool_suv=Decimal("1.5"),
                liver_suv=Decimal("6.0"),
                spleen_suv=Decimal("18.0"),
            )
            fdg = ImagingStudy.objects.create(
                patient=patient,
                performed_on=date(2024, 3, 8),
                modality="pet_ct",
                tracer="f18_fdg",
                blood_pool_suv=Decimal("1.6"),
                liver_suv=Decimal("2.4"),
            )
            for i, lesion in enumerate(lesions[: LESIONS // 2]):
                Observation.objects.create(
                    study=sstr,
                    lesion=lesion,
                    suv_max=Decimal(f"{12 + 3 * i}.0"),
                    krenning_visual=3,
                    long_axis_mm=Decimal(20 + i),
                )
                Observation.objects.create(
                    study=fdg,
                    lesion=lesion,
                    suv_max=Decimal(f"{2 + i}.5"),
                    fdg_visual="positive" if i % 2 else "negative",
                    long_axis_mm=Decimal(20 + i),
                )
        patients.append({"id": patient.pk, "lesions": [lesion.pk for lesion in lesions]})
        studies += [sstr.pk, fdg.pk]
    return {
        "patients": patients,
        "studies": studies,
        "password": password,
        "token": key,
        **users,
    }


def print_stats(report: dict[str, Any]) -> None:
    kinds, total = report["kinds"], report["total"]
    width = max(len(kind["name"]) for kind in kinds)
    print(f"\n{'request kind':<{width}}  {'count':>7} {'fail':>5} {'p50':>6} {'p95':>6} {'p99':>6}")
    for kind in [*kinds, {**total, "name": "all requests"}]:
        print(
            f"{kind['name']:<{width}}  {kind['requests']:>7} {kind['failures']:>5} "
            f"{kind['p50']:>6} {kind['p95']:>6} {kind['p99']:>6}"
        )
    print(
        f"(times in ms) requests/s overall: {total['rps']:.1f} "
        f"({total['requests']} requests in {report['seconds']:.0f} s)"
    )


def main() -> int:
    from stack import Stack

    failures: list[str] = []
    with Stack(DATABASE) as stack:
        stack.start(web_workers=3, celery_workers=2, beat=True)
        started = time.monotonic()
        seeded = seed(secrets.token_urlsafe(12))
        seed_file = stack.logs / "seed.json"
        seed_file.write_text(json.dumps(seeded))
        print(
            f"seeded {PATIENTS} patients x {LESIONS} lesions, SSTR + FDG PET each, "
            f"{READERS} readers, {CLINICIANS} clinicians, 1 API token "
            f"({time.monotonic() - started:.1f} s)"
        )
        fresh_before, counts = stack.wait_fresh(60)
        print(f"initial assessments: {dict(counts)} after {fresh_before or 60:.1f} s")

        report_file = stack.logs / "locust-report.json"
        print(
            f"locust: {USERS} users (2 integrators, readers : clinicians = 3 : 1), spawn "
            f"{SPAWN_RATE:g}/s, {SECONDS} s against {stack.base}",
            flush=True,
        )
        code = stack.run(
            "locust",
            [str(Path(sys.executable).parent / "locust"), "-f", str(HERE / "locustfile.py")]
            + ["--headless", "--host", stack.base, "-u", str(USERS), "-r", str(SPAWN_RATE)]
            + ["-t", f"{SECONDS}s", "--stop-timeout", "10", "--csv", str(stack.logs / "locust")]
            + ["--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            timeout=SECONDS + 120,
            LOAD_SEED=str(seed_file),
            LOAD_REPORT=str(report_file),
        )
        ended = time.monotonic()
        if code != 0 or not report_file.exists():
            print((stack.logs / "locust.log").read_text(errors="replace")[-4000:])
            stack.failed = True
            print(
                f"FAILED: locust exited with {code}"
                + ("" if report_file.exists() else ", no report")
            )
            return 1
        report = json.loads(report_file.read_text())
        print_stats(report)
        for outcome, count in sorted(report["outcomes"].items()):
            print(f"  {outcome}: {count}")

        if report["failures"]:
            print("client-side failures (unexpected answers, 5xx included):")
            for failure in report["failures"]:
                print(f"  {failure['count']}x {failure['name']}: {failure['error'][:200]}")
        errors = report["server_errors"]
        print(f"\n5xx responses: {len(errors)}")
        for error in errors:
            print(
                f"  {error['status']} {error['method']} {error['path']} "
                f"request_id={error['request_id']} {error['body'][:120]!r}"
            )
        if errors:
            failures.append(f"{len(errors)} responses 5xx")
        dropped = report["connection_errors"]
        if dropped:
            print(f"requests without an answer: {len(dropped)}")
            for error in dropped[:20]:
                print(f"  {error['method']} {error['path']}: {error['error']}")
            failures.append(f"{len(dropped)} requests without an answer")

        from apps.imaging.models import Observation

        acknowledged = set(report["acknowledged"])
        written = set(Observation.objects.filter(pk__in=acknowledged).values_list("pk", flat=True))
        lost = sorted(acknowledged - written)
        print(f"observations acknowledged: {len(acknowledged)}")
        print(f"observations written:      {len(written)}")
        if lost:
            print(f"  LOST (acknowledged, not in the database): {lost[:50]}")
            failures.append(f"{len(lost)} acknowledged observations not in the database")

        took, counts = stack.wait_fresh(FRESH_WITHIN, since=ended)
        if took is None:
            print(f"assessments NOT all fresh within {FRESH_WITHIN:.0f} s: {dict(counts)}")
            failures.append("assessments not fresh within 30 s")
        else:
            print(
                f"every assessment fresh {took:.1f} s after the load stopped "
                f"({counts['fresh']} patients)"
            )
        dead = stack.alive()
        if dead:
            failures.append(f"processes died during the run: {', '.join(dead)}")

        stack.stop()  # the backends report their counters as they exit
        deadlocks = stack.deadlocks()
        print(f"deadlocks detected by PostgreSQL during the run: {deadlocks}")
        return stack.verdict(failures, "no 5xx, nothing lost, every assessment fresh")


if __name__ == "__main__":
    from stack import run_main

    run_main(main)
