"""Benchmark: the survival analysis of a 10,000-patient cohort from a cold cache (issue 18).

Builds a synthetic cohort in a database of its own: per patient a pathology report, a stored
assessment with two dual-tracer timepoints (the phenotype and summary bodies of a real
assessment of 10 lesions, with the patient's dates and grades), a 177Lu-DOTATATE treatment for
about 40 %, and follow-up records (two interim contacts, a progression, a death or a last
contact) drawn from exponential survival with the medians of the NETPET validation (Chan et al.
2023: OS 101.8 / 46.5 / 11.5 months, time to progression 25.5 / 16.7 / 6.6 months for P1,
P2-P4, P5). It then measures in the same run:

- baseline: the raw SQL read of the same rows (patients' primary site, pathology dates and
  grades, PRRT starts, follow-up records, the stored timepoints), fetched into Python;
- the analysis as a request for it meets it with an empty cache (``survival_status``: the input
  version, the cohort read, lifelines' Kaplan-Meier fits and log-rank test, storing the
  result), for OS and PFS by NETPET group, every NETPET grade from the PRRT start, and Karfis.

Each is the best of ``--runs``; lifelines is imported (once per process, about a second) before
timing. Target (issue 18): the analysis within 5x the raw read.

    .venv/bin/python bench/bench_survival.py [--patients 10000] [--runs 5]

Needs PostgreSQL (BENCH_SURVIVAL_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
netboard_bench_survival, dropped and created). No Redis: the cache is the process's own and the
analysis runs in the process, as without a worker.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get(
    "BENCH_SURVIVAL_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/netboard_bench_survival"
)
ENV = {
    **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}},
    "DATABASE_URL": DATABASE_URL,
    # As deployed: Django keeps no log of the queries.
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "bench-survival-" + "s" * 50,
    "DJANGO_ALLOWED_HOSTS": "localhost",
}
os.environ.clear()
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netboard.settings")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MONTH = 30.4375
# (share of the cohort, NETPET grade, Karfis, Zidan, median OS and time to progression, months)
GROUPS = [
    (0.40, "P1", "C1", "2", 101.8, 25.5),
    (0.15, "P2a", "C2", "3", 46.5, 16.7),
    (0.15, "P3b", "C2", "3", 46.5, 16.7),
    (0.15, "P4b", "C2", "3", 46.5, 16.7),
    (0.10, "P5", "C3", "4", 11.5, 6.6),
    (0.05, None, None, None, 40.0, 12.0),  # no FDG PET paired: not classifiable
]
TODAY = date(2026, 1, 1)
COMPUTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def template() -> dict[str, Any]:
    """The phenotype of a real assessment (the rules run on a synthetic patient of 10 lesions
    and two dual-tracer timepoints), the body every patient's is made from."""
    import bench_response

    from apps.scoring.rules import Thresholds, assess_phenotype

    bench_response.TIMEPOINTS, bench_response.LESIONS = 2, 10
    phenotype = assess_phenotype(bench_response.synthetic_patient(), Thresholds())
    return json.loads(json.dumps(phenotype))


def _exponential(rng: random.Random, median_months: float) -> int:
    return max(1, int(rng.expovariate(math.log(2) / (median_months * MONTH))))


def build_cohort(patients: int, seed: int = 18) -> None:
    """Bulk inserts, consistent by construction (no death before a progression or contact, no
    date after TODAY)."""
    from apps.outcomes.models import FollowUp
    from apps.patients.models import Pathology, Patient, Treatment
    from apps.scoring.models import PhenotypeAssessment, assessment_summary

    rng = random.Random(seed)
    body = json.dumps(template())
    weights = [g[0] for g in GROUPS]
    batch = 500
    for first in range(0, patients, batch):
        people = Patient.objects.bulk_create(
            Patient(
                mrn=f"SURV-{n:06d}",
                family_name=f"Synthetic{n}",
                given_name="Survival",
                primary_site=rng.choice(["small_intestine", "pancreas", "lung", "rectum"]),
                histology="net",
            )
            for n in range(first, min(first + batch, patients))
        )
        pathology, treatments, assessments, follow_ups = [], [], [], []
        for person in people:
            _share, grade, karfis, zidan, os_months, ttp_months = rng.choices(GROUPS, weights)[0]
            index = date(2014, 1, 1) + timedelta(days=rng.randrange(0, 9 * 365))
            pathology.append(
                Pathology(
                    patient=person,
                    reported_on=index - timedelta(days=rng.randrange(30, 400)),
                    who_grade=rng.choice(["G1", "G2", "G2", "G3"]),
                )
            )
            phenotype = json.loads(body)
            for n, timepoint in enumerate(phenotype["timepoints"]):
                day = index + timedelta(days=180 * n)
                timepoint["sstr_performed_on"] = (day - timedelta(days=3)).isoformat()
                paired = grade is not None
                timepoint["fdg_performed_on"] = day.isoformat() if paired else None
                if not paired:
                    timepoint["fdg_study"] = None
                    timepoint["netpet"] = timepoint["karfis"] = timepoint["zidan"] = None
                elif grade is not None:
                    timepoint["netpet"].update(grade=grade, pattern=grade[:2])
                    timepoint["karfis"]["group"] = karfis
                    timepoint["zidan"]["group"] = zidan
            assessments.append(
                PhenotypeAssessment(
                    patient=person,
                    phenotype=phenotype,
                    response={},
                    summary=assessment_summary(phenotype, {}),
                    rules_version="bench",
                    rules_fingerprint="bench",
                    inputs_digest=f"{person.pk:064x}",
                    inputs_version=1,
                    computed_at=COMPUTED_AT,
                )
            )
            death = index + timedelta(days=_exponential(rng, os_months))
            progression = index + timedelta(days=_exponential(rng, ttp_months))
            end = min(index + timedelta(days=rng.randrange(180, 10 * 365)), TODAY)
            if rng.random() < 0.4:
                start = index + timedelta(days=rng.randrange(30, 200))
                if start < min(death, end):
                    treatments.append(
                        Treatment(patient=person, kind="prrt_lu177_dotatate", started_on=start)
                    )
            last = min(death, end)
            for fraction in (0.3, 0.6):
                contact = index + (last - index) * fraction
                if contact > index:
                    follow_ups.append(
                        FollowUp(patient=person, kind="last_contact", occurred_on=contact)
                    )
            if progression < last:
                follow_ups.append(
                    FollowUp(
                        patient=person,
                        kind="progression",
                        occurred_on=progression,
                        basis=rng.choice(["recist", "percist", "clinical"]),
                    )
                )
            if death <= end:
                follow_ups.append(FollowUp(patient=person, kind="death", occurred_on=death))
            else:
                follow_ups.append(FollowUp(patient=person, kind="last_contact", occurred_on=end))
        Pathology.objects.bulk_create(pathology)
        Treatment.objects.bulk_create(treatments)
        PhenotypeAssessment.objects.bulk_create(assessments)
        FollowUp.objects.bulk_create(follow_ups)


# The same rows as the analysis reads, plainly.
RAW_READ = [
    "SELECT id, primary_site FROM patients_patient",
    "SELECT patient_id, reported_on, who_grade FROM patients_pathology",
    "SELECT patient_id, started_on FROM patients_treatment WHERE kind = 'prrt_lu177_dotatate'",
    "SELECT patient_id, kind, occurred_on FROM outcomes_followup",
    "SELECT patient_id, summary->'timepoints' FROM scoring_phenotypeassessment",
]


def raw_read_seconds(runs: int) -> tuple[float, int]:
    from django.db import connection

    best, rows = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        rows = 0
        with connection.cursor() as cursor:
            for sql in RAW_READ:
                cursor.execute(sql)
                rows += len(cursor.fetchall())
        best = min(best, time.perf_counter() - start)
    return best, rows


def analysis_seconds(query: Any, runs: int) -> tuple[float, dict[str, Any]]:
    from django.core.cache import cache

    from apps.outcomes.analytics import survival_status

    best, figures = float("inf"), {}
    for _ in range(runs):
        cache.clear()  # cold: nothing cached for this version
        start = time.perf_counter()
        result = survival_status(query)
        best = min(best, time.perf_counter() - start)
        assert result.status == "ready" and result.figures is not None
        figures = result.figures
    return best, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from benchdb import fresh_database

    fresh_database(DATABASE_URL, ENV)
    import django

    django.setup()
    import lifelines  # noqa: F401 - imported before timing, as a worker has it
    from django.db import connection

    from apps.outcomes.survival import SurvivalQuery

    start = time.perf_counter()
    build_cohort(args.patients)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after a load this size
        cursor.execute("SELECT count(*) FROM outcomes_followup")
        follow_ups = cursor.fetchone()[0]
    print(
        f"cohort: {args.patients} patients, {follow_ups} follow-up records "
        f"(built in {time.perf_counter() - start:.0f} s)"
    )
    baseline, rows = raw_read_seconds(args.runs)
    print(f"baseline: raw SQL read of the same {rows} rows: {baseline * 1000:.1f} ms")
    queries = [
        SurvivalQuery(endpoint="os", grouping="netpet"),
        SurvivalQuery(endpoint="pfs", grouping="netpet"),
        SurvivalQuery(endpoint="os", grouping="netpet_grades", index="prrt_start"),
        SurvivalQuery(endpoint="pfs", grouping="karfis", who_grade="G2"),
    ]
    worst = 0.0
    for query in queries:
        seconds, figures = analysis_seconds(query, args.runs)
        ratio = seconds / baseline
        worst = max(worst, ratio)
        medians = ", ".join(
            f"{g['group']} n={g['n']} median "
            + (f"{g['median_days'] / MONTH:.1f}" if g["median_days"] is not None else "n/r")
            for g in figures["groups"][:5]
        )
        logrank = figures["logrank"]
        test = f"log-rank chi2 {logrank['chi2']:.0f}, df {logrank['df']}" if logrank else "no test"
        print(
            f"{query.endpoint} by {query.grouping} from {query.index}"
            f"{' (G2)' if query.who_grade else ''}: {seconds * 1000:.1f} ms = {ratio:.2f}x the "
            f"raw read; {figures['analysed']} analysed; {medians} months; {test}"
        )
    print(
        f"worst ratio analysis / raw read: {worst:.2f}x (target <= 5x): "
        f"{'OK' if worst <= 5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
