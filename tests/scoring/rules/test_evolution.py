"""DOMAIN.md §8 "Dual-tracer evolution": the grades at every dual-tracer timepoint and the three
alerts, table-driven with boundaries on both sides, and Hypothesis for input order."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.scoring.rules import PatientIn, Thresholds, assess_phenotype
from apps.scoring.rules.evolution import (
    FDG_GROWING_LOW_SSTR,
    FDG_RESOLVED,
    NEW_FDG_POSITIVE_SSTR_NEGATIVE,
    dual_tracer_evolution,
)
from apps.scoring.rules.wording import LesionNames

from .builders import fdg, obs, patient, reordered, sstr

DATES = [("2024-01-10", "2024-01-12"), ("2024-05-10", "2024-05-12"), ("2024-09-10", "2024-09-12")]


def timepoints(*reads: dict[int, tuple[int, int, str | None]]) -> PatientIn:
    """One dual-tracer timepoint per read: {lesion: (Krenning, FDG grade, long axis mm)}."""
    studies = []
    for index, read in enumerate(reads):
        sstr_day, fdg_day = DATES[index]
        studies.append(
            sstr(
                10 + index,
                sstr_day,
                *(
                    obs(lesion, krenning_visual=k, long_axis_mm=axis)
                    for lesion, (k, _, axis) in read.items()
                ),
            )
        )
        studies.append(
            fdg(
                20 + index,
                fdg_day,
                *(obs(lesion, krenning_visual=f) for lesion, (_, f, _) in read.items()),
            )
        )
    return patient(*studies)


def evolve(p: PatientIn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return dual_tracer_evolution(assess_phenotype(p, Thresholds()), p, LesionNames({}))


def codes(alerts: list[dict[str, Any]]) -> list[str]:
    return [alert["code"] for alert in alerts]


def test_grades_at_every_dual_tracer_timepoint_in_date_order() -> None:
    p = timepoints({1: (3, 0, None)}, {1: (3, 3, None)}, {1: (0, 3, None)})
    grades, _ = evolve(p)
    assert [(g["sstr_study"], g["fdg_study"], g["netpet"]) for g in grades] == [
        (10, 20, "P1"),
        (11, 21, "P3a"),
        (12, 22, "P5"),
    ]


def test_a_timepoint_without_fdg_pet_is_left_out() -> None:
    p = patient(
        sstr(10, "2024-01-10", obs(1, krenning_visual=3)),
        fdg(20, "2024-01-12", obs(1, krenning_visual=0)),
        sstr(11, "2024-09-10", obs(1, krenning_visual=3)),  # no FDG PET within 60 days
    )
    grades, alerts = evolve(p)
    assert [g["sstr_study"] for g in grades] == [10]
    assert alerts == []


@pytest.mark.parametrize(
    ("before", "after", "new"),
    [
        ((3, 0), (0, 3), [1]),  # turned P5
        ((3, 0), (2, 3), [1]),  # Zidan 4 only (SSTR not above liver, FDG above liver): counts
        ((3, 0), (2, 2), []),  # FDG at background threshold but SSTR positive: not discordant
        ((0, 3), (0, 3), []),  # already discordant before: not new
    ],
)
def test_new_fdg_positive_sstr_negative(
    before: tuple[int, int], after: tuple[int, int], new: list[int]
) -> None:
    p = timepoints({1: (*before, None), 2: (4, 0, None)}, {1: (*after, None), 2: (4, 0, None)})
    _, alerts = evolve(p)
    found = [a for a in alerts if a["code"] == NEW_FDG_POSITIVE_SSTR_NEGATIVE]
    assert [a["lesions"] for a in found] == ([new] if new else [])
    if new:
        assert found[0]["study"] == 11 and found[0]["fdg_study"] == 21


def test_a_new_lesion_that_is_discordant_raises_the_alert() -> None:
    p = timepoints({1: (3, 0, None)}, {1: (3, 0, None), 5: (0, 3, None)})
    _, alerts = evolve(p)
    # It is also an FDG-positive lesion at Krenning 0-2 that appeared while Krenning 3-4 disease
    # did not grow.
    assert [(a["code"], a["lesions"]) for a in alerts] == [
        (NEW_FDG_POSITIVE_SSTR_NEGATIVE, [5]),
        (FDG_GROWING_LOW_SSTR, [5]),
    ]


@pytest.mark.parametrize(
    ("after", "resolved"),
    [
        ({1: (3, 0, None)}, True),  # FDG gone, SSTR-positive persists
        ({1: (3, 1, None)}, True),  # FDG grade 1 is not positive
        ({1: (3, 2, None)}, False),  # still FDG-positive above background
        ({1: (1, 0, None)}, False),  # no SSTR-positive lesion persists
    ],
)
def test_fdg_resolved(after: dict[int, tuple[int, int, str | None]], resolved: bool) -> None:
    p = timepoints({1: (3, 3, None)}, after)
    _, alerts = evolve(p)
    assert (FDG_RESOLVED in codes(alerts)) is resolved


@pytest.mark.parametrize(
    ("low_axis", "high_axis", "alert"),
    [
        ("12", "30", True),  # exactly +20%, Krenning 3-4 disease unchanged
        ("11.9", "30", False),  # +19%
        ("12", "29", True),  # Krenning 3-4 disease shrank
        ("12", "30.1", False),  # Krenning 3-4 disease grew
    ],
)
def test_fdg_growing_low_sstr(low_axis: str, high_axis: str, alert: bool) -> None:
    p = timepoints(
        {1: (2, 3, "10"), 2: (4, 0, "30")},
        {1: (2, 3, low_axis), 2: (4, 0, high_axis)},
    )
    _, alerts = evolve(p)
    assert (FDG_GROWING_LOW_SSTR in codes(alerts)) is alert


def test_fdg_growing_low_sstr_when_such_lesions_appear() -> None:
    p = timepoints({2: (4, 0, "30")}, {2: (4, 0, "30"), 3: (1, 2, "8")})
    _, alerts = evolve(p)
    growing = [a for a in alerts if a["code"] == FDG_GROWING_LOW_SSTR]
    assert [a["lesions"] for a in growing] == [[3]]
    assert "appeared" in growing[0]["text"]


@given(st.randoms(use_true_random=False))
def test_alerts_do_not_depend_on_input_order(rng: Any) -> None:
    p = timepoints(
        {1: (3, 3, "10"), 2: (2, 3, "10"), 3: (4, 0, "25")},
        {1: (3, 0, "9"), 2: (2, 3, "14"), 3: (4, 0, "25"), 4: (0, 3, "7")},
        {1: (3, 0, "9"), 2: (1, 3, "20"), 3: (4, 0, "24"), 4: (0, 3, "9")},
    )
    expected = evolve(p)
    assert evolve(reordered(p, rng)) == expected
    assert codes(expected[1])  # the history does raise alerts
