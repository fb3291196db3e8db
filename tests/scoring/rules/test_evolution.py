"""DOMAIN.md §8 "Dual-tracer evolution": the grades at every dual-tracer timepoint and the three
alerts, table-driven with boundaries on both sides, and Hypothesis for input order."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.scoring.rules import PatientIn, StudyIn, Thresholds, assess_phenotype
from apps.scoring.rules.evolution import (
    FDG_GROWING_LOW_SSTR,
    FDG_RESOLVED,
    NEW_FDG_POSITIVE_SSTR_NEGATIVE,
    dual_tracer_evolution,
)
from apps.scoring.rules.wording import LesionNames

from .builders import fdg, obs, patient, reordered, sstr, study

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


# --- Where the long axes come from (issue 15 §4: "did not grow (0 mm to 0 mm)") ---------------


def ct(id: int, day: str, **axes: str) -> StudyIn:
    """A CT with the long axis of each lesion: ``L1="40"`` is lesion 1 at 40 mm."""
    return study(
        id,
        day,
        "ANATOMIC",
        [obs(int(key[1:]), long_axis_mm=mm) for key, mm in axes.items()],
        modality="ct",
    )


# "0 mm" or "0.0 mm" as a size of its own (not the end of "10.0 mm").
ZERO_MM = re.compile(r"(?<![\d.])0(\.0)? mm")


def growing(p: PatientIn) -> list[dict[str, Any]]:
    return [a for a in evolve(p)[1] if a["code"] == FDG_GROWING_LOW_SSTR]


def test_the_sizes_are_the_ct_ones_when_the_pets_record_none() -> None:
    """The PETs carry scores only; the diameters are on the CTs next to them. Krenning 3-4
    disease measured 70 mm and then 60 mm, so it did not grow; the text says so with those
    numbers, never "0 mm to 0 mm"."""
    p = patient(
        ct(30, "2024-01-03", L1="40", L2="30"),
        sstr(10, "2024-01-10", obs(1, krenning_visual=4), obs(2, krenning_visual=3)),
        fdg(20, "2024-01-12", obs(1, krenning_visual=0), obs(2, krenning_visual=0)),
        ct(31, "2024-05-01", L1="35", L2="25", L3="12"),
        sstr(
            11,
            "2024-05-10",
            obs(1, krenning_visual=4),
            obs(2, krenning_visual=3),
            obs(3, krenning_visual=1),
        ),
        fdg(
            21,
            "2024-05-12",
            obs(1, krenning_visual=0),
            obs(2, krenning_visual=0),
            obs(3, krenning_visual=3),
        ),
    )
    (alert,) = growing(p)
    assert alert["lesions"] == [3]
    assert "0 mm to 0 mm" not in alert["text"]
    assert "did not grow (70.0 mm to 60.0 mm)" in alert["text"]


def test_krenning_3_4_disease_that_grew_on_ct_raises_no_alert() -> None:
    """An FDG-positive Krenning 0-2 lesion appears, but measured on CT the Krenning 3-4
    disease grew (40 → 50 mm): no alert. Summing the PETs' missing diameters as 0 mm would
    have said it did not grow."""
    p = patient(
        ct(30, "2024-01-03", L1="40"),
        sstr(10, "2024-01-10", obs(1, krenning_visual=4)),
        fdg(20, "2024-01-12", obs(1, krenning_visual=0)),
        ct(31, "2024-05-01", L1="50", L2="15"),
        sstr(11, "2024-05-10", obs(1, krenning_visual=4), obs(2, krenning_visual=2)),
        fdg(21, "2024-05-12", obs(1, krenning_visual=0), obs(2, krenning_visual=3)),
    )
    assert growing(p) == []


def test_low_sstr_growth_is_measured_on_ct_too() -> None:
    """FDG-positive Krenning 0-2 disease 10 → 12 mm on CT (+20%) while Krenning 3-4 disease
    stayed at 40 mm: the alert, with the CT numbers."""
    p = patient(
        ct(30, "2024-01-03", L1="40", L2="10"),
        sstr(10, "2024-01-10", obs(1, krenning_visual=4), obs(2, krenning_visual=2)),
        fdg(20, "2024-01-12", obs(1, krenning_visual=0), obs(2, krenning_visual=3)),
        ct(31, "2024-05-01", L1="40", L2="12"),
        sstr(11, "2024-05-10", obs(1, krenning_visual=4), obs(2, krenning_visual=2)),
        fdg(21, "2024-05-12", obs(1, krenning_visual=0), obs(2, krenning_visual=3)),
    )
    (alert,) = growing(p)
    assert "grew from 10.0 mm to 12.0 mm" in alert["text"]
    assert "did not grow (40.0 mm to 40.0 mm)" in alert["text"]


def test_the_pet_diameter_comes_before_the_ct_one() -> None:
    """A long axis recorded on the SSTR PET is used; the CT fills in only what the PETs lack."""
    p = patient(
        ct(30, "2024-01-03", L1="99", L2="20"),
        sstr(
            10,
            "2024-01-10",
            obs(1, krenning_visual=4, long_axis_mm="40"),
            obs(2, krenning_visual=3),
        ),
        fdg(20, "2024-01-12", obs(1, krenning_visual=0), obs(2, krenning_visual=0)),
        ct(31, "2024-05-01", L1="99", L2="20"),
        sstr(
            11,
            "2024-05-10",
            obs(1, krenning_visual=4, long_axis_mm="40"),
            obs(2, krenning_visual=3),
            obs(3, krenning_visual=1),
        ),
        fdg(
            21,
            "2024-05-12",
            obs(1, krenning_visual=0),
            obs(2, krenning_visual=0),
            obs(3, krenning_visual=3),
        ),
    )
    (alert,) = growing(p)
    assert "did not grow (60.0 mm to 60.0 mm)" in alert["text"]


@pytest.mark.parametrize(
    ("ct_day", "measured"),
    [
        ("2024-03-11", True),  # 60 days before the SSTR PET of 2024-05-10: in the window
        ("2024-03-10", False),  # 61 days: too far to be this timepoint's size
        ("2024-07-09", True),  # 60 days after
        ("2024-07-10", False),
    ],
)
def test_a_ct_counts_within_the_pairing_window(ct_day: str, measured: bool) -> None:
    p = patient(
        ct(30, "2024-01-03", L1="40"),
        sstr(10, "2024-01-10", obs(1, krenning_visual=4)),
        fdg(20, "2024-01-12", obs(1, krenning_visual=0)),
        ct(31, ct_day, L1="30"),
        sstr(11, "2024-05-10", obs(1, krenning_visual=4), obs(3, krenning_visual=1)),
        fdg(21, "2024-05-12", obs(1, krenning_visual=0), obs(3, krenning_visual=3)),
    )
    (alert,) = growing(p)
    assert ("did not grow (40.0 mm to 30.0 mm)" in alert["text"]) is measured
    assert ("not measured" in alert["text"]) is not measured


def test_the_closest_ct_is_used() -> None:
    p = patient(
        ct(30, "2024-01-03", L1="40"),
        sstr(10, "2024-01-10", obs(1, krenning_visual=4)),
        fdg(20, "2024-01-12", obs(1, krenning_visual=0)),
        ct(31, "2024-04-01", L1="45"),
        ct(32, "2024-05-20", L1="30"),  # 10 days after the SSTR PET: closer
        sstr(11, "2024-05-10", obs(1, krenning_visual=4), obs(3, krenning_visual=1)),
        fdg(21, "2024-05-12", obs(1, krenning_visual=0), obs(3, krenning_visual=3)),
    )
    (alert,) = growing(p)
    assert "did not grow (40.0 mm to 30.0 mm)" in alert["text"]


def test_missing_sizes_are_said_to_be_missing_never_did_not_grow() -> None:
    """No diameter anywhere (PETs without, no CT): the FDG-positive Krenning 0-2 lesion that
    appeared still raises the alert, but the text says the Krenning 3-4 disease's size is not
    measured instead of claiming it did not grow."""
    p = timepoints({1: (3, 0, None)}, {1: (3, 0, None), 5: (0, 3, None)})
    (alert,) = growing(p)
    assert "disease did not grow" not in alert["text"]
    assert not ZERO_MM.search(alert["text"])
    assert "the size of the Krenning 3-4 disease is not measured (lesion 1: " in alert["text"]
    assert alert["text"].endswith("consider a change to chemotherapy if it did not grow.")


def test_low_sstr_growth_is_not_claimed_from_missing_sizes() -> None:
    """Before, the FDG-positive Krenning 0-2 lesion had no diameter; now it has 15 mm. Counting
    the missing size as 0 mm would claim it grew; it is not known, so there is no alert."""
    p = timepoints({1: (2, 3, None), 2: (4, 0, "30")}, {1: (2, 3, "15"), 2: (4, 0, "30")})
    assert growing(p) == []


def test_no_krenning_3_4_disease_at_either_timepoint_is_said_so() -> None:
    p = timepoints({1: (2, 3, "10")}, {1: (2, 3, "12")})
    (alert,) = growing(p)
    assert "grew from 10.0 mm to 12.0 mm" in alert["text"]
    assert not ZERO_MM.search(alert["text"])
    assert "no Krenning 3-4 disease at either timepoint" in alert["text"]
