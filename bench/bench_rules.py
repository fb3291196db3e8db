"""Benchmark of the clinical rules engine (apps/scoring/rules), one core.

A synthetic patient with 4 dual-tracer timepoints (4 SSTR PETs + 4 FDG PETs) x 40 lesions, i.e.
320 observations, assessed repeatedly with ``assess_phenotype``. Printed against a baseline
measured in the same run: iterating over the same 320 observations and
summing their SUVmax. No target (issue 14): the figure is printed.

    .venv/bin/python bench/bench_rules.py [--seconds 2] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.scoring.rules import (
    LesionIn,
    ObservationIn,
    PathologyIn,
    PatientIn,
    StudyIn,
    Thresholds,
    assess_phenotype,
)

TIMEPOINTS = 4
LESIONS = 40


def _suv(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.2f}")


def synthetic_patient(seed: int = 7) -> PatientIn:
    """Mixed data exercising every path: computed and visual scores, not seen, heterogeneity."""
    rng = random.Random(seed)
    studies = []
    start = date(2023, 1, 1)
    for t in range(TIMEPOINTS):
        day = start + timedelta(days=120 * t)
        sstr_obs = []
        fdg_obs = []
        for lesion in range(1, LESIONS + 1):
            size = Decimal(rng.randint(8, 60))
            if rng.random() < 0.05:
                sstr_obs.append(ObservationIn(lesion=lesion, state="not_seen"))
            else:
                sstr_obs.append(
                    ObservationIn(
                        lesion=lesion,
                        state="scored",
                        suv_max=_suv(rng, 0.5, 40),
                        krenning_visual=rng.choice([None, None, None, 2, 3, 4]),
                        long_axis_mm=size,
                        heterogeneous=rng.random() < 0.2,
                        target=lesion <= 5,
                    )
                )
            if rng.random() < 0.1:
                fdg_obs.append(ObservationIn(lesion=lesion, state="not_seen"))
            else:
                fdg_obs.append(
                    ObservationIn(
                        lesion=lesion,
                        state="scored",
                        suv_max=_suv(rng, 0.5, 12),
                        fdg_vs_sstr=rng.choice([None, None, None, "lower", "higher"]),
                        long_axis_mm=size,
                    )
                )
        studies.append(
            StudyIn(
                id=2 * t + 1,
                performed_on=day,
                tracer="ga68_dotatate",
                tracer_class="SSTR",
                blood_pool_suv=Decimal("1.5"),
                liver_suv=Decimal("6.0"),
                spleen_suv=Decimal("18.0"),
                observations=tuple(sstr_obs),
            )
        )
        studies.append(
            StudyIn(
                id=2 * t + 2,
                performed_on=day + timedelta(days=3),
                tracer="f18_fdg",
                tracer_class="FDG",
                blood_pool_suv=Decimal("1.8"),
                liver_suv=Decimal("2.5"),
                observations=tuple(fdg_obs),
            )
        )
    return PatientIn(
        id=1,
        primary_site="pancreas",
        lesions=tuple(LesionIn(id=i, label=f"L{i}") for i in range(1, LESIONS + 1)),
        studies=tuple(studies),
        pathology=(PathologyIn(reported_on=date(2022, 6, 1), who_grade="G2"),),
    )


def baseline(patient: PatientIn) -> Decimal:
    """Touch every observation once and sum the SUVmax: the floor of any per-lesion rule."""
    total = Decimal(0)
    for study in patient.studies:
        for obs in study.observations:
            if obs.suv_max is not None:
                total += obs.suv_max
    return total


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second, best of 5 rounds of about ``seconds / 5`` each."""
    fn()
    n = 1
    while True:  # calibrate a batch of about 50 ms
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > 0.05:
            break
        n *= 2
    batch = max(1, int(n * (seconds / 5) / elapsed))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        best = min(best, (time.perf_counter() - start) / batch)
    return 1.0 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument("--profile", action="store_true", help="print the top cProfile entries")
    args = parser.parse_args()

    patient = synthetic_patient()
    thresholds = Thresholds()
    observations = sum(len(study.observations) for study in patient.studies)
    result = assess_phenotype(patient, thresholds)
    assert len(result["timepoints"]) == TIMEPOINTS  # the benchmark measures the intended shape

    base = rate(lambda: baseline(patient), args.seconds)
    rules = rate(lambda: assess_phenotype(patient, thresholds), args.seconds)
    print(f"python: {platform.python_version()} ({sys.executable})")
    print(f"patient: {TIMEPOINTS} timepoints x {LESIONS} lesions = {observations} observations")
    print(f"baseline (iterate + sum SUVmax): {base:12,.0f} /s  {1e6 / base:8.1f} us")
    print(f"assess_phenotype:                {rules:12,.0f} /s  {1e6 / rules:8.1f} us")
    print(f"ratio assess_phenotype / baseline: {base / rules:.1f}x the baseline time")
    print(f"per observation: {1e9 / rules / observations:.0f} ns")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(500):
            assess_phenotype(patient, thresholds)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
