"""Dual-tracer timepoints: DOMAIN.md §1 ("dual-tracer timepoint") and §4 (timepoint list)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from apps.scoring.rules import Thresholds, pair_timepoints

from .builders import fdg, sstr, study

T = Thresholds()
DAY0 = date(2024, 3, 1)


def on(days: int) -> str:
    return (DAY0 + timedelta(days=days)).isoformat()


def pairs(*studies: object, thresholds: Thresholds = T) -> list[tuple[int, int | None]]:
    return [
        (s.id, f.id if f is not None else None)
        for s, f in pair_timepoints(studies, thresholds)  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize(
    ("offset", "paired"),
    [(60, True), (61, False), (-60, True), (-61, False), (0, True)],
    ids=["60-days-after", "61-days-after", "60-days-before", "61-days-before", "same-day"],
)
def test_window_is_at_most_pairing_window_days(offset: int, paired: bool) -> None:
    assert pairs(sstr(1, on(0)), fdg(2, on(offset))) == [(1, 2 if paired else None)]


def test_window_follows_the_setting() -> None:
    narrow = Thresholds(pairing_window_days=30)
    assert pairs(sstr(1, on(0)), fdg(2, on(31)), thresholds=narrow) == [(1, None)]
    assert pairs(sstr(1, on(0)), fdg(2, on(30)), thresholds=narrow) == [(1, 2)]


def test_closest_fdg_pet_wins() -> None:
    assert pairs(sstr(1, on(0)), fdg(2, on(-20)), fdg(3, on(5)), fdg(4, on(40))) == [(1, 3)]


def test_a_tie_goes_to_the_earlier_fdg_pet() -> None:
    assert pairs(sstr(1, on(0)), fdg(3, on(10)), fdg(2, on(-10))) == [(1, 2)]
    assert pairs(sstr(1, on(0)), fdg(2, on(10)), fdg(3, on(-10))) == [(1, 3)]


def test_one_fdg_pet_may_pair_with_several_sstr_pets() -> None:
    assert pairs(sstr(1, on(0)), sstr(3, on(20)), fdg(2, on(10))) == [(1, 2), (3, 2)]


def test_an_sstr_pet_without_fdg_still_forms_a_timepoint() -> None:
    assert pairs(sstr(1, on(0))) == [(1, None)]


def test_timepoints_are_in_date_order_of_the_sstr_pet() -> None:
    studies = [sstr(9, on(200)), fdg(2, on(1)), sstr(4, on(0)), sstr(5, on(100))]
    assert pairs(*studies) == [(4, 2), (5, None), (9, None)]


@pytest.mark.parametrize(
    "excluded",
    [
        study(1, on(0), "SSTR", (), post_therapy=True),
        study(
            1, on(0), "SSTR", (), tracer="lu177_dotatate", modality="spect_ct", post_therapy=True
        ),
        study(1, on(0), "SSTR", (), tracer="lu177_dotatate"),  # therapeutic tracer, never
        study(1, on(0), "SSTR", (), tracer="in111_pentetreotide", modality="spect_ct"),
        study(1, on(0), "SSTR", (), tracer="in111_pentetreotide", modality="planar"),
        study(1, on(0), "NET", (), tracer="i123_mibg"),
    ],
    ids=["post-therapy", "lu177-spect", "lu177-any", "in111-spect", "in111-planar", "mibg"],
)
def test_only_pre_therapy_sstr_pet_forms_a_timepoint(excluded: object) -> None:
    assert pairs(excluded, fdg(2, on(1))) == []


def test_fdg_must_be_a_pet_too() -> None:
    assert pairs(sstr(1, on(0)), fdg(2, on(1), modality="ct")) == [(1, None)]
    assert pairs(sstr(1, on(0)), fdg(2, on(1), modality="pet_mri")) == [(1, 2)]
    assert pairs(study(1, on(0), "SSTR", (), modality="pet_mri"), fdg(2, on(1))) == [(1, 2)]
