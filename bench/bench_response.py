"""Benchmark of the response rules (DOMAIN.md §7-§9) against the phenotype rules, one core.

A synthetic patient with 12 studies x 40 lesions: 4 timepoints, each an SSTR PET, an FDG PET
and a CT (480 observations), a PRRT course, an SSA and tumour markers. Measured in the same run:
``assess_phenotype`` of that patient (the reference) and ``assess_response`` given that
phenotype, as the worker computes it. Target (issue 5): the response within 2x the phenotype.

    .venv/bin/python bench/bench_response.py [--seconds 2]
    PYTHONPATH=. python3.11 bench/bench_response.py     # the rules need only the standard library
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_rules import rate

from apps.scoring.rules import (
    BiomarkerIn,
    LesionIn,
    ObservationIn,
    PatientIn,
    StudyIn,
    Thresholds,
    TreatmentIn,
    assess_phenotype,
)
from apps.scoring.rules.response import assess_response

TIMEPOINTS = 4
LESIONS = 40
SITES = ["liver", "liver", "bone", "lymph_node", "pancreas", "peritoneum"]


def _dec(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.2f}")


def synthetic_patient(seed: int = 11) -> PatientIn:
    rng = random.Random(seed)
    start = date(2023, 1, 1)
    studies: list[StudyIn] = []
    for t in range(TIMEPOINTS):
        day = start + timedelta(days=120 * t)
        sstr, fdg, ct = [], [], []
        for lesion in range(1, LESIONS + 1):
            axis = _dec(rng, 6, 60)
            short = _dec(rng, 5, float(axis))
            if rng.random() < 0.05:
                sstr.append(ObservationIn(lesion=lesion, state="not_seen"))
            else:
                sstr.append(
                    ObservationIn(
                        lesion=lesion,
                        state="scored",
                        suv_max=_dec(rng, 0.5, 40),
                        krenning_visual=rng.choice([None, None, 2, 3, 4]),
                        long_axis_mm=axis,
                        heterogeneous=rng.random() < 0.2,
                    )
                )
            fdg.append(
                ObservationIn(
                    lesion=lesion,
                    state="scored",
                    suv_max=_dec(rng, 0.5, 12),
                    suv_peak=_dec(rng, 0.4, 9),
                    long_axis_mm=axis,
                )
            )
            ct.append(
                ObservationIn(
                    lesion=lesion,
                    state="scored",
                    long_axis_mm=axis,
                    short_axis_mm=short,
                    target=t == 0 and lesion in (1, 3, 5, 7, 9),
                )
            )
        refs = {"blood_pool_suv": Decimal("1.5"), "liver_suv": Decimal("6.0")}
        studies += [
            StudyIn(
                3 * t + 1,
                day,
                "ga68_dotatate",
                "SSTR",
                spleen_suv=Decimal("18.0"),
                observations=tuple(sstr),
                **refs,
            ),
            StudyIn(
                3 * t + 2,
                day + timedelta(days=3),
                "f18_fdg",
                "FDG",
                blood_pool_suv=Decimal("1.8"),
                liver_suv=Decimal("2.5"),
                liver_suv_sd=Decimal("0.3"),
                observations=tuple(fdg),
            ),
            StudyIn(
                3 * t + 3, day + timedelta(days=5), "none", "ANATOMIC", "ct", observations=tuple(ct)
            ),
        ]
    return PatientIn(
        id=1,
        primary_site="small_intestine",
        sex="female",
        height_cm=Decimal("168"),
        weight_kg=Decimal("64"),
        lesions=tuple(
            LesionIn(
                id=i,
                label=f"L{i}",
                site=SITES[i % len(SITES)],
                nodal=SITES[i % len(SITES)] == "lymph_node",
            )
            for i in range(1, LESIONS + 1)
        ),
        studies=tuple(studies),
        treatments=(
            TreatmentIn(1, "ssa", date(2023, 2, 1)),
            TreatmentIn(2, "prrt_lu177_dotatate", date(2023, 3, 1)),
        ),
        biomarkers=tuple(
            BiomarkerIn(
                "chromogranin_a", Decimal(100 + 30 * n), start + timedelta(days=60 * n), "ng/mL"
            )
            for n in range(8)
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    patient = synthetic_patient()
    thresholds = Thresholds()
    phenotype = assess_phenotype(patient, thresholds)
    response = assess_response(patient, thresholds, phenotype)
    # The benchmark measures the intended shape: every series has its follow-ups.
    assert len(response["recist"]) == len(response["percist"]) == TIMEPOINTS - 1, response
    assert len(response["dual_tracer"]) == TIMEPOINTS

    pheno_rate = rate(lambda: assess_phenotype(patient, thresholds), args.seconds)
    resp_rate = rate(lambda: assess_response(patient, thresholds, phenotype), args.seconds)
    ratio = pheno_rate / resp_rate
    print(f"python: {platform.python_version()} ({sys.executable})")
    observations = sum(len(s.observations) for s in patient.studies)
    print(
        f"patient: {len(patient.studies)} studies x {LESIONS} lesions = {observations} observations"
    )
    print(f"assess_phenotype (reference):  {1e6 / pheno_rate:8.1f} us")
    print(f"assess_response (given it):    {1e6 / resp_rate:8.1f} us")
    verdict = "OK" if ratio <= 2 else "MISSED"
    print(f"ratio response / phenotype: {ratio:.2f}x (target <= 2x): {verdict}")


if __name__ == "__main__":
    main()
