"""SSTR expression and heterogeneity of one SSTR study: DOMAIN.md §5 (and §2.1 "more than half")."""

from __future__ import annotations

from typing import Any

import pytest

from .builders import dual_patient, obs, timepoint

# Visual Krenning scores keep these tables short; the grading of §2 is tested elsewhere.


def sstr_summary(*observations: Any, **overrides: object) -> dict[str, Any]:
    result: dict[str, Any] = timepoint(dual_patient(list(observations), None), **overrides)["sstr"]
    return result


def scores(*values: int, **fields: Any) -> list[Any]:
    return [obs(i, krenning_visual=v, **fields) for i, v in enumerate(values, start=1)]


def test_counts_per_score_and_the_adequate_share() -> None:
    summary = sstr_summary(
        *scores(0, 2, 3, 4, 4), obs(6, "not_seen"), obs(7, "not_evaluable"), obs(8)
    )
    assert summary["counts"] == {"0": 2, "1": 0, "2": 1, "3": 1, "4": 2}
    assert summary["evaluable_lesions"] == 6  # not seen counts as 0; the rest left out
    assert summary["share_adequate"] == 0.5


def test_unpaired_sstr_lesions_count_too() -> None:
    tp = timepoint(dual_patient(scores(4, 4, 1), [obs(1, suv_max="1.0")]))
    assert tp["unpaired_lesions"] == [2, 3]
    assert tp["sstr"]["counts"] == {"0": 0, "1": 1, "2": 0, "3": 0, "4": 2}


@pytest.mark.parametrize(
    ("values", "majority_low"),
    [
        ((2, 2, 3, 3), False),  # exactly half: "more than half" is strict
        ((0, 1, 2, 3, 4), True),  # 3 of 5
        ((2, 3, 4), False),
        ((2,), True),
        ((), False),  # empty sets give false
    ],
    ids=["exactly-half", "three-of-five", "one-of-three", "single-low", "no-lesion"],
)
def test_majority_low_is_strictly_more_than_half(
    values: tuple[int, ...], majority_low: bool
) -> None:
    assert sstr_summary(*scores(*values))["majority_low"] is majority_low


def test_majority_low_share_follows_the_setting() -> None:
    values = scores(2, 3, 3, 3)
    assert sstr_summary(*values)["majority_low"] is False
    assert sstr_summary(*values, majority_low_share="0.2")["majority_low"] is True


@pytest.mark.parametrize(
    ("observations", "heterogeneous", "lesions"),
    [
        # Marked targets: 1 of 2 heterogeneous = 50%, inclusive.
        (
            [
                obs(1, krenning_visual=4, target=True, heterogeneous=True),
                obs(2, krenning_visual=4, target=True),
                obs(3, krenning_visual=4),
            ],
            True,
            [1],
        ),
        # 1 of 3 targets: below 50%.
        (
            [
                obs(1, krenning_visual=4, target=True, heterogeneous=True),
                obs(2, krenning_visual=4, target=True),
                obs(3, krenning_visual=4, target=True),
            ],
            False,
            [1],
        ),
        # Heterogeneity outside the targets does not count.
        (
            [obs(1, krenning_visual=4, target=True), obs(2, krenning_visual=4, heterogeneous=True)],
            False,
            [],
        ),
        # No target marked: all evaluable lesions are the targets.
        ([obs(1, krenning_visual=4, heterogeneous=True), obs(2, krenning_visual=4)], True, [1]),
        # A minimum and maximum that differ count as heterogeneous, equal ones do not.
        (
            [
                obs(1, krenning_visual=3, krenning_min=2, krenning_max=4),
                obs(2, krenning_visual=3, krenning_min=3, krenning_max=3),
                obs(3, krenning_visual=3),
            ],
            False,
            [1],
        ),
        (
            [obs(1, krenning_visual=3, krenning_min=2, krenning_max=4), obs(2, krenning_visual=3)],
            True,
            [1],
        ),
        # An ungradable target is no target.
        (
            [obs(1, target=True, heterogeneous=True), obs(2, krenning_visual=4, target=True)],
            False,
            [],
        ),
        ([], False, []),
    ],
    ids=[
        "half-of-targets",
        "third-of-targets",
        "outside-targets",
        "fallback-to-all",
        "min-max-third",
        "min-max-half",
        "ungradable-target",
        "no-lesion",
    ],
)
def test_intra_lesional_heterogeneity_at_50_percent_of_targets(
    observations: list[Any], heterogeneous: bool, lesions: list[int]
) -> None:
    summary = sstr_summary(*observations)
    assert summary["heterogeneous"] is heterogeneous
    assert summary["heterogeneous_lesions"] == lesions


def test_target_lesions_are_reported() -> None:
    summary = sstr_summary(obs(1, krenning_visual=4, target=True), obs(2, krenning_visual=3))
    assert (summary["target_lesions"], summary["targets_marked"]) == ([1], True)
    summary = sstr_summary(obs(1, krenning_visual=4), obs(2, krenning_visual=3))
    assert (summary["target_lesions"], summary["targets_marked"]) == ([1, 2], False)


@pytest.mark.parametrize(
    ("values", "inter"),
    [((3, 2), True), ((4, 0), True), ((3, 4), False), ((1, 2), False), ((), False)],
)
def test_inter_lesional_heterogeneity(values: tuple[int, ...], inter: bool) -> None:
    assert sstr_summary(*scores(*values))["inter_lesional"] is inter


def test_summary_reason_reads_aloud() -> None:
    reason = sstr_summary(*scores(2, 3, 4))["reason"]
    assert reason.startswith("2 of 3 evaluable lesions")
    assert reason.endswith(".")
