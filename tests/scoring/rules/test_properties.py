"""Invariants of the rules over generated patients (Hypothesis).

Patients have 1-3 SSTR PETs, each usually with an FDG PET near it, and 1-12 lesions whose
observations mix every state and entry: SUVs with 2 decimals (often near the band edges of the
standard references), visual scores, plain FDG calls, reader comparisons, diameters, targets.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.scoring.rules import (
    LesionIn,
    ObservationIn,
    PatientIn,
    StudyIn,
    Thresholds,
    assess_phenotype,
    score_observation,
)

from .builders import pathology, reordered, strings

T = Thresholds()
PATTERN_ORDER = ("P0", "P1", "P2", "P3", "P4", "P5")
# Generating a patient costs far more than assessing it; 60 examples keep the suite fast.
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

suvs = st.one_of(
    st.decimals(min_value=0, max_value=40, places=2),
    # the band edges of the standard references, and their neighbours
    st.sampled_from(["1.35", "1.65", "6.0", "18.0", "1.62", "1.98", "2.5", "3.0"]).map(Decimal),
)


@st.composite
def observations(draw: st.DrawFn, lesion: int, fdg: bool) -> ObservationIn:
    state = draw(st.sampled_from(["scored"] * 6 + ["not_seen", "not_evaluable"]))
    low = draw(st.none() | st.integers(0, 4))
    return ObservationIn(
        lesion=lesion,
        state=state,
        suv_max=draw(st.none() | suvs if draw(st.integers(0, 9)) == 0 else suvs),
        krenning_visual=draw(st.none() | st.none() | st.integers(0, 3 if fdg else 4)),
        krenning_min=low,
        krenning_max=None if low is None else draw(st.integers(low, 4)),
        fdg_visual=draw(st.sampled_from([None, None, "positive", "negative"])) if fdg else None,
        fdg_vs_sstr=draw(st.sampled_from([None, None, "lower", "equal", "higher"]))
        if fdg
        else None,
        long_axis_mm=draw(st.none() | st.decimals(min_value=5, max_value=60, places=1)),
        heterogeneous=draw(st.booleans()),
        target=draw(st.booleans()),
    )


@st.composite
def references(draw: st.DrawFn, fdg: bool) -> dict[str, Any]:
    standard: dict[str, Any] = (
        {"blood_pool_suv": Decimal("1.8"), "liver_suv": Decimal("2.5"), "spleen_suv": None}
        if fdg
        else {
            "blood_pool_suv": Decimal("1.5"),
            "liver_suv": Decimal("6.0"),
            "spleen_suv": draw(st.sampled_from([Decimal("18.0"), None])),
        }
    )
    if draw(st.integers(0, 4)):
        return standard
    value = st.none() | st.decimals(min_value=0, max_value=20, places=1)
    return {"blood_pool_suv": draw(value), "liver_suv": draw(value), "spleen_suv": draw(value)}


@st.composite
def patients(draw: st.DrawFn) -> PatientIn:
    lesion_ids = range(1, draw(st.integers(1, 12)) + 1)
    studies = []
    start = date(2024, 1, 1)
    for t in range(draw(st.integers(1, 3))):
        day = start + timedelta(days=90 * t)
        study_id = 10 * t + 1
        for fdg in (False, True):
            if fdg and not draw(st.integers(0, 5)):
                continue  # sometimes no FDG PET at this timepoint
            on = day + timedelta(days=draw(st.integers(-70, 70))) if fdg else day
            studies.append(
                StudyIn(
                    id=study_id + fdg,
                    performed_on=on,
                    tracer="f18_fdg" if fdg else "ga68_dotatate",
                    tracer_class="FDG" if fdg else "SSTR",
                    observations=tuple(
                        draw(observations(lesion, fdg))
                        for lesion in lesion_ids
                        if draw(st.integers(0, 7))  # sometimes no observation: unpaired
                    ),
                    **draw(references(fdg)),
                )
            )
    reports = draw(
        st.lists(
            st.builds(
                pathology,
                st.sampled_from(["2023-01-01", "2023-06-01"]),
                st.sampled_from([None, "G1", "G2", "G3", "NEC"]),
                st.none() | st.decimals(min_value=0, max_value=100, places=1),
            ),
            max_size=2,
        )
    )
    return PatientIn(
        id=1,
        primary_site=draw(st.sampled_from(["lung", "pancreas", "unknown"])),
        lesions=tuple(
            LesionIn(id=i, label=draw(st.sampled_from(["", f"L{i}"]))) for i in lesion_ids
        ),
        studies=tuple(studies),
        pathology=tuple(reports),
    )


def pattern_rank(tp: dict[str, Any]) -> int:
    pattern = tp["netpet"]["pattern"]
    return PATTERN_ORDER.index(pattern) if pattern else -1


@PROPERTY
@given(patients())
def test_never_raises_on_valid_input_and_is_plain_json(patient: PatientIn) -> None:
    result = assess_phenotype(patient, T)
    assert json.loads(json.dumps(result)) == result
    assert len(result["timepoints"]) == sum(s.tracer_class == "SSTR" for s in patient.studies)
    assert not [s for s in strings(result) if "eligible" in s.lower() or "approved" in s.lower()]


@PROPERTY
@given(patients(), st.data())
def test_raising_one_fdg_suvmax_never_lowers_the_netpet_pattern(
    patient: PatientIn, data: st.DataObject
) -> None:
    """Holds for every input, reader entries included: a higher FDG SUVmax can only raise the
    computed FDG grade (negative → positive: P0 → P5, P1 → P2-P4) and the computed comparison
    (lower → equal → higher); visual grades, plain calls and reader comparisons ignore SUVs, and
    a lesion not seen counts as SUVmax 0 whatever is typed."""
    candidates = [
        (index, position)
        for index, study in enumerate(patient.studies)
        if study.tracer_class == "FDG"
        for position, o in enumerate(study.observations)
        if o.suv_max is not None
    ]
    if not candidates:
        return
    index, position = data.draw(st.sampled_from(candidates))
    rise = data.draw(st.decimals(min_value=0, max_value=30, places=2))
    study = patient.studies[index]
    observations = list(study.observations)
    observed = observations[position]
    observations[position] = dataclasses.replace(observed, suv_max=observed.suv_max + rise)  # type: ignore[operator]
    raised_study = dataclasses.replace(study, observations=tuple(observations))
    studies = list(patient.studies)
    studies[index] = raised_study
    raised = dataclasses.replace(patient, studies=tuple(studies))

    before = assess_phenotype(patient, T)["timepoints"]
    after = assess_phenotype(raised, T)["timepoints"]
    for old, new in zip(before, after, strict=True):
        assert pattern_rank(new) >= pattern_rank(old)


@PROPERTY
@given(patients())
def test_p5_exactly_when_a_graded_lesion_is_sstr_negative_and_fdg_positive(
    patient: PatientIn,
) -> None:
    by_id = {study.id: study for study in patient.studies}
    for tp in assess_phenotype(patient, T)["timepoints"]:
        if tp["fdg_study"] is None:
            continue
        sstr, fdg = by_id[tp["sstr_study"]], by_id[tp["fdg_study"]]
        sstr_scores = {o.lesion: score_observation(o, sstr, T).score for o in sstr.observations}
        fdg_scores = {o.lesion: score_observation(o, fdg, T).score for o in fdg.observations}
        graded = [
            (sstr_scores[lesion], fdg_scores[lesion])
            for lesion in sstr_scores.keys() & fdg_scores.keys()
            if sstr_scores[lesion] is not None and fdg_scores[lesion] is not None
        ]
        discordant = any(s < 2 and f >= 2 for s, f in graded)  # type: ignore[operator]
        assert (tp["netpet"]["pattern"] == "P5") is discordant
        assert len(tp["netpet"]["lesions"]) == len(graded)


@PROPERTY
@given(patients())
def test_karfis_c3_exactly_when_netpet_has_a_p5_lesion(patient: PatientIn) -> None:
    for tp in assess_phenotype(patient, T)["timepoints"]:
        has_p5 = any(row["pattern"] == "P5" for row in tp["netpet"]["lesions"])
        assert (tp["karfis"]["group"] == "C3") is has_p5


@PROPERTY
@given(patients(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_input_order(patient: PatientIn, rnd: Any) -> None:
    assert assess_phenotype(reordered(patient, rnd), T) == assess_phenotype(patient, T)


fractions = st.decimals(min_value=0, max_value=1, places=2)
amounts = st.decimals(min_value=0, max_value=500, places=2)


@PROPERTY
@given(
    st.builds(
        Thresholds,
        krenning_tolerance=fractions,
        small_lesion_mm=amounts,
        pairing_window_days=st.integers(0, 365),
        netpet_equal_tolerance=fractions,
        ki67_high=amounts,
        fdg_suvmax_prognostic=amounts,
        heterogeneous_share=fractions,
        majority_low_share=fractions,
        percist_sul_units=amounts,
    )
)
def test_from_overrides_round_trips_as_dict(thresholds: Thresholds) -> None:
    assert Thresholds.from_overrides(thresholds.as_dict()) == thresholds


@PROPERTY
@given(patients(), st.sampled_from([{"krenning_tolerance": 0}, {"netpet_equal_tolerance": 1}]))
def test_never_raises_with_extreme_settings(patient: PatientIn, overrides: dict[str, int]) -> None:
    result = assess_phenotype(patient, Thresholds.from_overrides(overrides))
    assert result["thresholds"] == Thresholds.from_overrides(overrides).as_dict()
