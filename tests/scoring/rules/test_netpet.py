"""NETPET P0-P5: DOMAIN.md §4.1 and seed Table 1 (Chan et al.).

SSTR liver 6.0 and FDG liver 2.5, so TLR_SSTR = SUVmax / 6 and TLR_FDG = SUVmax / 2.5.
"""

from __future__ import annotations

from typing import Any

import pytest

from .builders import dual_from_pairs, dual_patient, obs, pair, timepoint


def netpet(*pairs: Any, **overrides: object) -> dict[str, Any]:
    result: dict[str, Any] = timepoint(dual_from_pairs(*pairs), **overrides)["netpet"]
    return result


def pattern_of(lesion: int, result: dict[str, Any]) -> str:
    return str(next(row["pattern"] for row in result["lesions"] if row["lesion"] == lesion))


@pytest.mark.parametrize(
    ("sstr_suv", "fdg_suv", "pattern"),
    [
        ("1.0", "1.0", "P0"),  # negative on both
        ("12", "1.0", "P1"),  # SSTR 3, FDG 0
        ("24", "3.0", "P2"),  # TLR 4.0 vs 1.2: FDG lower
        ("12", "5.0", "P3"),  # TLR 2.0 vs 2.0: equal
        ("7.0", "5.0", "P4"),  # TLR 1.17 vs 2.0: FDG higher
        ("1.0", "5.0", "P5"),  # SSTR 0, FDG 3
        ("5.0", "2.0", "P3"),  # Krenning 2 and FDG grade 2: both positive above background
    ],
)
def test_each_seed_table_pattern(sstr_suv: str, fdg_suv: str, pattern: str) -> None:
    result = netpet(pair(1, sstr_suv, fdg_suv))
    assert result["pattern"] == pattern
    assert pattern_of(1, result) == pattern


@pytest.mark.parametrize(
    ("pairs", "grade", "suitability"),
    [
        ([("1.0", "1.0")], "P0", "not suitable"),
        ([("12", "1.0")], "P1", "probably suitable"),
        ([("24", "3.0")], "P2a", "probably suitable"),
        ([("24", "3.0")] * 3, "P2b", "probably suitable"),
        ([("12", "5.0")], "P3a", "probably suitable"),
        ([("12", "5.0")] * 3, "P3b", "probably suitable"),
        ([("7.0", "5.0")] * 2, "P4a", "probably suitable"),
        ([("7.0", "5.0")] * 3, "P4b", "maybe suitable, additional therapy required"),
        ([("1.0", "5.0")] * 3, "P5", "not suitable"),
    ],
    ids=["P0", "P1", "P2a", "P2b", "P3a", "P3b", "P4a-2-lesions", "P4b-3-lesions", "P5"],
)
def test_grade_suffix_and_suitability(
    pairs: list[tuple[str, str]], grade: str, suitability: str
) -> None:
    result = netpet(*(pair(i, s, f) for i, (s, f) in enumerate(pairs, start=1)))
    assert (result["grade"], result["suitability"]) == (grade, suitability)
    assert result["suffix"] == (grade[2:] or None)


def test_patient_grade_is_the_highest_pattern_and_the_suffix_counts_only_it() -> None:
    result = netpet(
        pair(1, "24", "3.0"),  # P2
        pair(2, "24", "3.0"),  # P2
        pair(3, "24", "3.0"),  # P2
        pair(4, "7.0", "5.0"),  # P4
        pair(5, "12", "1.0"),  # P1
    )
    assert (result["grade"], result["representative_lesion"]) == ("P4a", 4)
    assert result["deciding_lesions"] == [4]


@pytest.mark.parametrize(
    ("fdg_suv", "pattern"),
    [
        ("6.0", "P3"),  # TLR_FDG 2.4: exactly 20% above TLR_SSTR 2.0
        ("6.01", "P4"),
        ("4.0", "P3"),  # TLR_FDG 1.6: exactly 20% below
        ("3.99", "P2"),
    ],
)
def test_tlr_equal_tolerance_boundary(fdg_suv: str, pattern: str) -> None:
    result = netpet(pair(1, "12", fdg_suv))
    assert pattern_of(1, result) == pattern
    assert result["lesions"][0]["comparison_source"] == "computed"


def test_tlr_tolerance_follows_the_setting() -> None:
    assert pattern_of(1, netpet(pair(1, "12", "5.5"))) == "P3"  # 10% above
    assert pattern_of(1, netpet(pair(1, "12", "5.5"), netpet_equal_tolerance="0.05")) == "P4"


@pytest.mark.parametrize(
    ("entry", "pattern"),
    [("lower", "P2"), ("equal", "P3"), ("higher", "P4")],
)
def test_reader_comparison_wins_over_tlr(entry: str, pattern: str) -> None:
    result = netpet(pair(1, "12", "5.0", fdg_vs_sstr=entry))  # TLRs equal
    row = result["lesions"][0]
    assert (row["pattern"], row["comparison"], row["comparison_source"]) == (
        pattern,
        entry,
        "reader",
    )
    assert (row["tlr_sstr"], row["tlr_fdg"], row["ratio"]) == (2.0, 2.0, 1.0)


def test_unknown_comparison_counts_as_p3_and_makes_the_result_provisional() -> None:
    patient = dual_patient(
        [obs(1, krenning_visual=3), obs(2, suv_max="12")],
        [obs(1, krenning_visual=3), obs(2, suv_max="1.0")],
        lesions=(),
    )
    tp = timepoint(patient)
    result = tp["netpet"]
    assert (result["grade"], result["provisional"]) == ("P3a", True)
    assert result["unknown_comparison_lesions"] == [1]
    assert tp["unknown_comparison_lesions"] == [1]
    assert tp["provisional"] is True
    assert "lesion 1" in result["reason"]
    assert result["lesions"][0]["comparison"] is None
    # Karfis and Zidan do not depend on the comparison.
    assert tp["karfis"]["provisional"] is False


def test_the_representative_lesion_has_the_highest_ratio_within_the_top_pattern() -> None:
    result = netpet(pair(1, "12", "8.0"), pair(2, "12", "9.0"), pair(3, "6.5", "5.0"))
    # ratios 1.6, 1.8, 3.69: all P4
    assert (result["grade"], result["representative_lesion"]) == ("P4b", 3)


def test_ratio_ties_go_to_the_higher_fdg_suvmax_then_the_lower_id() -> None:
    # Lesions 2 and 3 have the same ratio (F/S = 0.5) as lesion 1, with higher FDG SUVmax.
    result = netpet(pair(1, "10", "5.0"), pair(2, "20", "10"), pair(3, "20", "10"))
    assert result["representative_lesion"] == 2


def test_ratio_ranks_also_when_the_reader_entered_the_comparison() -> None:
    result = netpet(
        pair(1, "12", "5.0", fdg_vs_sstr="higher"),  # ratio 1.0
        pair(2, "12", "5.5", fdg_vs_sstr="higher"),  # ratio 1.1
    )
    assert result["representative_lesion"] == 2


def test_sstr_suvmax_0_ranks_as_infinite() -> None:
    patient = dual_patient(
        [obs(1, "not_seen"), obs(2, suv_max="1.0")],
        [obs(1, suv_max="3.0"), obs(2, suv_max="9.0")],
    )
    result = timepoint(patient)["netpet"]
    assert result["grade"] == "P5"
    assert result["representative_lesion"] == 1
    assert result["lesions"][0]["ratio"] is None  # infinite: no JSON number


def test_a_ratio_that_cannot_be_computed_ranks_below_every_number() -> None:
    patient = dual_patient(
        [obs(1, krenning_visual=4), obs(2, suv_max="12")],
        [obs(1, krenning_visual=3, fdg_vs_sstr="higher", suv_max="9"), obs(2, suv_max="6.5")],
    )
    result = timepoint(patient)["netpet"]
    assert [row["pattern"] for row in result["lesions"]] == ["P4", "P4"]
    assert result["representative_lesion"] == 2


def test_missing_fdg_suvmax_ranks_lowest() -> None:
    patient = dual_patient(
        [obs(1, krenning_visual=4), obs(2, krenning_visual=4)],
        [
            obs(1, fdg_visual="positive", fdg_vs_sstr="higher"),
            obs(2, krenning_visual=3, fdg_vs_sstr="higher", suv_max="4"),
        ],
    )
    assert timepoint(patient)["netpet"]["representative_lesion"] == 2


def test_not_seen_on_fdg_counts_as_suvmax_0_in_the_ratio() -> None:
    patient = dual_patient([obs(1, suv_max="12")], [obs(1, "not_seen")])
    row = timepoint(patient)["netpet"]["lesions"][0]
    assert (row["pattern"], row["tlr_fdg"], row["ratio"]) == ("P1", 0.0, 0.0)


@pytest.mark.parametrize(
    ("pairs", "target"),
    [
        ([("1.0", "1.0")], None),  # P0
        ([("12", "1.0")], None),  # P1
        ([("12", "1.0"), ("7.0", "5.0")], 2),  # P4
        ([("12", "5.0"), ("1.0", "5.0")], 2),  # P5
    ],
    ids=["P0", "P1", "P4", "P5"],
)
def test_biopsy_target_only_when_a_lesion_is_fdg_positive(
    pairs: list[tuple[str, str]], target: int | None
) -> None:
    tp = timepoint(dual_from_pairs(*(pair(i, s, f) for i, (s, f) in enumerate(pairs, start=1))))
    assert tp["biopsy_target"] == target
    assert tp["netpet"]["representative_lesion"] == (target or 1)


def test_reason_names_the_grade_and_the_representative_lesion() -> None:
    tp = timepoint(dual_from_pairs(pair(1, "7.0", "5.0")))
    assert tp["netpet"]["reason"].startswith("Grade P4a:")
    assert "lesion 1" in tp["netpet"]["reason"]
    assert tp["netpet"]["thresholds"]["netpet_equal_tolerance"] == 0.2
