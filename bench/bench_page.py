"""Benchmark of the patient page against a hello-world page, in one run (issue 6).

A synthetic patient with 24 PET studies x 40 lesions: 12 timepoints, each an SSTR PET and an
FDG PET two days later (960 observations), plus a CT at every third timepoint, an SSA, a PRRT
course of four cycles, pathology and two tumour-marker series. Its assessment is computed and
stored first (``recompute_phenotype``, synchronously, as a worker would), so the page shows a
fresh result. Through the whole Django stack in-process (middleware, session login, templates,
PostgreSQL), median wall time of a hello-world page extending base.html (the baseline,
bench/urls_bench.py) and of GET /patients/<pk>/ of that patient, as the same logged-in user.
The page is rendered for every view (no cache): it reads the stored assessment (with its
per-lesion scores) and the rules inputs, builds the timeline and renders the templates.

The two take turns in blocks of 25 requests, so that a change of the machine's load during the
run weighs on both alike. The tables are vacuumed and analysed after the patient is written, as
autovacuum would have done on a server.

Target: the patient page within 10x the hello-world median, with as many queries as the page
of a patient of 2 studies x 3 lesions (also printed: the page's size).

    .venv/bin/python bench/bench_page.py [--rounds 200]
    BENCH_PROFILE=1 .venv/bin/python bench/bench_page.py   # cProfile the patient page

Uses its own database (BENCH_PAGE_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/netboard_bench_page, dropped and created). No broker: nothing
is queued (a page read writes only its access event).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get(
    "BENCH_PAGE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/netboard_bench_page"
)
ENV = {
    **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
    "DATABASE_URL": DATABASE_URL,
    "DJANGO_DEBUG": "1",
}
os.environ.clear()
os.environ.update(ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netboard.settings")
sys.path.insert(0, str(ROOT))

TIMEPOINTS = 12  # x (SSTR PET + FDG PET) = 24 PET studies
LESIONS = 40
CT_EVERY = 3
SITES = ["liver", "liver", "liver", "bone", "lymph_node", "pancreas", "peritoneum", "lung"]


def prepare_database() -> None:
    from benchdb import fresh_database

    fresh_database(DATABASE_URL, ENV)


def _dec(rng: random.Random, low: float, high: float, places: int = 2) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.{places}f}")


def build_patient(seed: int = 7, timepoints: int = TIMEPOINTS, lesions_count: int = LESIONS) -> Any:
    """The patient, in bulk inserts (no signals: nothing queued); returns the Patient."""
    from apps.imaging.models import ImagingStudy, Lesion, Observation
    from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle

    rng = random.Random(seed)
    start = date(2021, 1, 11)
    patient = Patient.objects.bulk_create(
        [
            Patient(
                mrn=f"BENCH-PAGE-{timepoints:02d}-{lesions_count:02d}",
                family_name="Benchmark",
                given_name="Large Record",
                birth_date=date(1958, 4, 2),
                sex="female",
                height_cm=Decimal("168"),
                weight_kg=Decimal("64"),
                primary_site="small_intestine",
                histology="net",
            )
        ]
    )[0]
    Pathology.objects.bulk_create(
        [Pathology(patient=patient, reported_on=start, who_grade="G2", ki67_percent=Decimal("8"))]
    )
    ssa, prrt = Treatment.objects.bulk_create(
        [
            Treatment(patient=patient, kind="ssa", started_on=start + timedelta(days=20)),
            Treatment(
                patient=patient,
                kind="prrt_lu177_dotatate",
                started_on=start + timedelta(days=200),
                ended_on=start + timedelta(days=200 + 3 * 56),
            ),
        ]
    )
    TreatmentCycle.objects.bulk_create(
        TreatmentCycle(
            treatment=prrt,
            number=n + 1,
            given_on=start + timedelta(days=200 + 56 * n),
            activity_gbq=Decimal("7.4"),
        )
        for n in range(4)
    )
    Biomarker.objects.bulk_create(
        Biomarker(
            patient=patient,
            analyte=analyte,
            value=_dec(rng, low, high),
            unit=unit,
            measured_on=start + timedelta(days=60 * n),
        )
        for analyte, unit, low, high in (
            ("chromogranin_a", "ng/mL", 80, 400),
            ("hiaa_5", "mg/24h", 4, 30),
        )
        for n in range(12)
    )
    lesions = Lesion.objects.bulk_create(
        Lesion(
            patient=patient,
            label=(
                f"Liver segment {1 + n % 8} lesion {n + 1}"
                if SITES[n % len(SITES)] == "liver"
                else f"{SITES[n % len(SITES)].replace('_', ' ').title()} lesion {n + 1}"
            ),
            site=SITES[n % len(SITES)],
            nodal=SITES[n % len(SITES)] == "lymph_node",
        )
        for n in range(lesions_count)
    )
    studies: list[Any] = []
    for t in range(timepoints):
        day = start + timedelta(days=90 * t)
        studies.append(
            ImagingStudy(
                patient=patient,
                performed_on=day,
                modality="pet_ct",
                tracer="ga68_dotatate",
                tracer_class="SSTR",
                blood_pool_suv=Decimal("1.5"),
                liver_suv=Decimal("6.0"),
                spleen_suv=Decimal("18.0"),
                status="final",
            )
        )
        studies.append(
            ImagingStudy(
                patient=patient,
                performed_on=day + timedelta(days=2),
                modality="pet_ct",
                tracer="f18_fdg",
                tracer_class="FDG",
                blood_pool_suv=Decimal("1.8"),
                liver_suv=Decimal("2.5"),
                liver_suv_sd=Decimal("0.3"),
                status="final",
            )
        )
        if t % CT_EVERY == 0:
            studies.append(
                ImagingStudy(
                    patient=patient,
                    performed_on=day + timedelta(days=5),
                    modality="ct",
                    tracer="none",
                    tracer_class="ANATOMIC",
                    status="final",
                )
            )
    studies = ImagingStudy.objects.bulk_create(studies)
    observations = []
    for study in studies:
        for n, lesion in enumerate(lesions):
            axis = _dec(rng, 8, 60, 1)
            if study.tracer_class == "SSTR":
                seen = rng.random() > 0.05
                observations.append(
                    Observation(
                        study=study,
                        lesion=lesion,
                        patient=patient,
                        state="scored" if seen else "not_seen",
                        suv_max=_dec(rng, 0.5, 40) if seen else None,
                        krenning_visual=rng.choice([None, None, 2, 3, 4]) if seen else None,
                        long_axis_mm=axis if seen else None,
                        heterogeneous=seen and rng.random() < 0.2,
                    )
                )
            elif study.tracer_class == "FDG":
                observations.append(
                    Observation(
                        study=study,
                        lesion=lesion,
                        patient=patient,
                        state="scored",
                        suv_max=_dec(rng, 0.5, 12),
                        suv_peak=_dec(rng, 0.4, 9),
                        long_axis_mm=axis,
                    )
                )
            else:
                observations.append(
                    Observation(
                        study=study,
                        lesion=lesion,
                        patient=patient,
                        state="scored",
                        long_axis_mm=axis,
                        short_axis_mm=_dec(rng, 5, float(axis), 1),
                        target=n < 5,
                    )
                )
    Observation.objects.bulk_create(observations, batch_size=1000)
    return patient


def median_ms(
    call: Callable[[], object], rounds: int, before: Callable[[], object] | None = None
) -> float:
    """Median wall time of ``call`` in ms, after 10 warm-up calls; ``before`` runs ahead of each
    call, outside the timed part."""
    return statistics.median(timed_in_turns({"": (call, before)}, rounds)[""]) * 1000


def timed_in_turns(
    cases: dict[str, tuple[Callable[[], object], Callable[[], object] | None]],
    rounds: int,
    block: int = 25,
) -> dict[str, list[float]]:
    """Wall times (s) of ``rounds`` calls of each case, in turns of ``block`` calls of each
    (after 10 untimed calls of each), so that a change of the machine's load during the run
    weighs on all of them alike, while each call still follows calls of its own kind (one call
    of each in turn would charge the cheap page with the garbage the big one leaves). A case's
    ``before`` runs ahead of each of its calls, untimed."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for call, before in cases.values():
        for _ in range(10):
            if before is not None:
                before()
            call()
    while any(len(values) < rounds for values in times.values()):
        for name, (call, before) in cases.items():
            for _ in range(min(block, rounds - len(times[name]))):
                if before is not None:
                    before()
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    return times


def turn_ratios(times: list[float], baseline: list[float], block: int = 25) -> float:
    """The median over the turns of (median of the case's block / median of the baseline's
    block of the same turn): a ratio that a slow spell of the machine does not tilt."""
    ratios = [
        statistics.median(times[i : i + block]) / statistics.median(baseline[i : i + block])
        for i in range(0, min(len(times), len(baseline)), block)
    ]
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    prepare_database()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from apps.imaging.models import ImagingStudy, Observation
    from apps.scoring.services import phenotype_body, recompute_phenotype

    small = build_patient(timepoints=1, lesions_count=3)
    patient = build_patient()
    for one in (small, patient):
        outcome = recompute_phenotype(one.pk)
        assert outcome == "written", outcome
        assert phenotype_body(one.pk)["status"] == "fresh"
    with connection.cursor() as cursor:
        # The steady state of a server, where autovacuum has seen the tables: planner
        # statistics and visibility maps (bulk-loaded tables have neither yet).
        cursor.execute("VACUUM ANALYZE")
    user = get_user_model().objects.create_user("bench-clinician", password="x" * 16)
    user.groups.add(Group.objects.get(name="clinician"))
    studies = ImagingStudy.objects.filter(patient=patient)
    pet = studies.exclude(tracer="none").count()
    print(f"python: {platform.python_version()} ({sys.executable})")
    print(
        f"patient: {pet} PET studies + {studies.count() - pet} CT x {LESIONS} lesions = "
        f"{Observation.objects.filter(patient=patient).count()} observations"
    )

    # DEBUG off while timing, as deployed: no log of every query.
    timing = {"ROOT_URLCONF": "bench.urls_bench", "ALLOWED_HOSTS": ["testserver"], "DEBUG": False}
    with override_settings(**timing):
        client = Client()
        client.force_login(user)
        url = f"/patients/{patient.pk}/"
        cases: dict[str, tuple[Callable[[], object], Callable[[], object] | None]] = {
            "hello-world page (baseline)": (lambda: client.get("/bench/hello-page/"), None),
            "patient page": (lambda: client.get(url), None),
        }
        pages = {}
        queries_of = {}
        for name, call in (
            *((name, call) for name, (call, _) in cases.items()),
            ("patient page, 2 studies x 3 lesions", lambda: client.get(f"/patients/{small.pk}/")),
        ):
            call()
            with CaptureQueriesContext(connection) as queries:
                response: Any = call()
            assert response.status_code == 200, (name, response.status_code)
            pages[name] = html = response.content.decode()
            queries_of[name] = len(queries)
            print(f"{name:36s} {len(queries):3d} queries  {len(html.encode()) / 1024:7.1f} KiB")
        html = pages["patient page"]
        assert html.count('class="mark mark-sstr"') == TIMEPOINTS, "SSTR marks"
        assert html.count('class="mark mark-fdg"') == TIMEPOINTS, "FDG marks"
        assert html.count('<g class="cell"') == 2 * TIMEPOINTS * LESIONS, "cells"
        assert "eligible" not in html.lower()
        constant = queries_of["patient page"] == queries_of["patient page, 2 studies x 3 lesions"]
        print(f"queries constant in studies and lesions: {'yes' if constant else 'NO'}")
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            call = cases["patient page"][0]

            def twenty() -> None:
                for _ in range(20):
                    call()

            profile = cProfile.Profile()
            profile.runcall(twenty)
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(30)
            return
        times = timed_in_turns(cases, args.rounds)
        parts = {name: median_ms(call, args.rounds) for name, call in page_parts(patient).items()}
    hello = times["hello-world page (baseline)"]
    baseline = statistics.median(hello) * 1000
    print(f"{'':30s} {'median':>10s}  {'ratio':>5s}  {'turns':>5s}")
    for name, values in times.items():
        ms = statistics.median(values) * 1000
        ratio, turns = ms / baseline, turn_ratios(values, hello)
        verdict = "" if name.startswith("hello") else ("OK" if ratio <= 10 else "MISSED")
        print(f"{name:30s} {ms:7.2f} ms  {ratio:5.1f}x  {turns:5.1f}x  {verdict}")
    print(
        f"rounds: {args.rounds} per case, in turns of 25; ratio: of the medians; turns: median of "
        "the ratios of each turn's medians; target: the patient page within 10x the hello-world "
        "page"
    )
    print("where the patient page's time goes (medians of the parts alone, same run):")
    for name, ms in parts.items():
        print(f"  {name:52s} {ms:7.2f} ms  {ms / baseline:5.1f}x the baseline")


def page_parts(patient: Any) -> dict[str, Callable[[], object]]:
    """The steps of the patient page on their own: the two reads (the stored summary and
    per-lesion scores, about 150 kB of JSON for this patient, and what the timeline shows of
    the record), the timeline's geometry, all of the context (``patient_page_context``), and
    the rendering of the timeline's template."""
    from django.template.loader import render_to_string

    from apps.patients.page import patient_page_context, timeline_record
    from apps.patients.timeline import build_timeline
    from apps.scoring.services import assessment_bodies

    fields = ("summary", "uptake")
    context = patient_page_context(patient)
    studies = context["studies"]
    record = timeline_record(patient.pk, studies)
    bodies = assessment_bodies(patient.pk, fields=fields)
    phenotype, response = context["phenotype"], context["response"]
    uptake = bodies["uptake"]
    return {
        "read the stored assessment (assessment_bodies)": lambda: assessment_bodies(
            patient.pk, fields=fields
        ),
        "read the record (timeline_record)": lambda: timeline_record(patient.pk, studies),
        "build_timeline": lambda: build_timeline(record, phenotype, response, uptake),
        "all of the context (patient_page_context)": lambda: patient_page_context(patient),
        "render the timeline (patients/_timeline.html)": lambda: render_to_string(
            "patients/_timeline.html", context
        ),
    }


if __name__ == "__main__":
    main()
