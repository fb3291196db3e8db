"""The whole response (DOMAIN.md §7-§9) as one: Hypothesis properties over generated histories
(never raises, plain JSON, never decides, independent of the order rows were entered) and the
parts wired together (a picked baseline, the biomarker flag beside stable imaging)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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

from .builders import reordered
from .test_properties import patients, strings

T = Thresholds()
PROPERTY = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
diameters = st.none() | st.decimals(min_value=0, max_value=120, places=1)


@st.composite
def histories(draw: st.DrawFn) -> PatientIn:
    """A generated phenotype patient plus CT follow-ups, post-therapy SPECTs, treatment lines,
    tumour markers and the body measures PERCIST reads."""
    patient = draw(patients())
    lesion_ids = [lesion.id for lesion in patient.lesions]
    extra: list[StudyIn] = []
    start = date(2024, 1, 1)
    for n in range(draw(st.integers(0, 4))):
        extra.append(
            StudyIn(
                id=100 + n,
                performed_on=start + timedelta(days=draw(st.integers(-30, 400))),
                tracer="none",
                tracer_class="ANATOMIC",
                modality=draw(st.sampled_from(["ct", "mri"])),
                is_baseline=n == 0 and draw(st.booleans()),
                observations=tuple(
                    ObservationIn(
                        lesion=lesion,
                        state=draw(st.sampled_from(["scored", "scored", "not_seen"])),
                        long_axis_mm=draw(diameters),
                        short_axis_mm=draw(diameters),
                        target=draw(st.booleans()),
                    )
                    for lesion in lesion_ids
                    if draw(st.integers(0, 5))
                ),
            )
        )
    for n in range(draw(st.integers(0, 2))):
        extra.append(
            StudyIn(
                id=200 + n,
                performed_on=start + timedelta(days=draw(st.integers(30, 300))),
                tracer="lu177_dotatate",
                tracer_class="SSTR",
                modality="spect_ct",
                post_therapy=True,
                treatment=draw(st.sampled_from([None, 1])),
                cycle_number=None,
                observations=tuple(
                    ObservationIn(
                        lesion=lesion, state="scored", krenning_visual=draw(st.integers(0, 4))
                    )
                    for lesion in lesion_ids
                ),
            )
        )
    treatments = tuple(
        TreatmentIn(
            id=1 + n,
            kind=draw(st.sampled_from(["ssa", "prrt_lu177_dotatate", "chemotherapy"])),
            started_on=start + timedelta(days=draw(st.integers(-60, 300))),
        )
        for n in range(draw(st.integers(0, 3)))
    )
    markers = tuple(
        BiomarkerIn(
            draw(st.sampled_from(["chromogranin_a", "calcitonin"])),
            draw(st.decimals(min_value=0, max_value=5000, places=1)),
            start + timedelta(days=draw(st.integers(0, 400))),
            "ng/mL",
        )
        for _ in range(draw(st.integers(0, 6)))
    )
    return dataclasses.replace(
        patient,
        studies=patient.studies + tuple(extra),
        treatments=treatments,
        biomarkers=markers,
        sex=draw(st.sampled_from(["male", "female", "unknown"])),
        height_cm=draw(st.none() | st.decimals(min_value=120, max_value=210, places=1)),
        weight_kg=draw(st.none() | st.decimals(min_value=35, max_value=180, places=1)),
        histology=draw(st.sampled_from([None, "net", "mtc", "insulinoma", "paraganglioma"])),
        lesions=tuple(
            dataclasses.replace(
                lesion,
                nodal=draw(st.booleans()),
                site=draw(st.sampled_from(["liver", "bone", "lymph_node"])),
            )
            for lesion in patient.lesions
        ),
    )


@PROPERTY
@given(histories())
def test_never_raises_is_plain_json_and_never_decides(patient: PatientIn) -> None:
    result = assess_response(patient, T)
    assert json.loads(json.dumps(result)) == result
    assert not [s for s in strings(result) if "eligible" in s.lower() or "approved" in s.lower()]
    # Every follow-up of every series is reported once, in date order.
    for name in ("recist", "percist", "sstr"):
        dates = [entry["performed_on"] for entry in result[name]]
        assert dates == sorted(dates)


@PROPERTY
@given(histories(), st.randoms(use_true_random=False))
def test_the_response_does_not_depend_on_the_order_rows_were_entered(
    patient: PatientIn, rnd: Any
) -> None:
    assert assess_response(reordered(patient, rnd), T) == assess_response(patient, T)


def _ct(id: int, day: str, *axes: str, **fields: Any) -> StudyIn:
    return StudyIn(
        id=id,
        performed_on=date.fromisoformat(day),
        tracer="none",
        tracer_class="ANATOMIC",
        modality="ct",
        observations=tuple(
            ObservationIn(lesion=n + 1, state="scored", long_axis_mm=Decimal(axis), target=True)
            for n, axis in enumerate(axes)
        ),
        **fields,
    )


def test_a_rising_marker_is_flagged_only_beside_stable_imaging() -> None:
    markers = (
        BiomarkerIn("chromogranin_a", Decimal("100"), date(2024, 1, 1)),
        BiomarkerIn("chromogranin_a", Decimal("125"), date(2024, 6, 1)),  # exactly +25%
    )
    lesions = (LesionIn(id=1, site="liver"), LesionIn(id=2, site="bone"))
    stable = PatientIn(
        id=1,
        lesions=lesions,
        studies=(_ct(1, "2024-01-01", "40", "30"), _ct(2, "2024-06-01", "40", "29")),
        biomarkers=markers,
    )
    result = assess_response(stable, T)
    assert result["recist"][-1]["category"] == "SD"
    assert result["biomarkers"][0]["rising_with_stable_imaging"] is True
    shrinking = dataclasses.replace(
        stable, studies=(_ct(1, "2024-01-01", "40", "30"), _ct(2, "2024-06-01", "20", "15"))
    )
    result = assess_response(shrinking, T)
    assert result["recist"][-1]["category"] == "PR"
    assert result["biomarkers"][0]["rising_with_stable_imaging"] is False


def test_the_phenotype_given_is_the_one_computed() -> None:
    patient = PatientIn(
        id=1,
        lesions=(LesionIn(id=1, site="liver"),),
        studies=(_ct(1, "2024-01-01", "40"), _ct(2, "2024-06-01", "41")),
    )
    assert assess_response(patient, T) == assess_response(patient, T, assess_phenotype(patient, T))
