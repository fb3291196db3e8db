"""Which lesions are graded (DOMAIN.md §4), Karfis C1-C3 (§4.2) and Zidan groups 1-4 (§4.3).

SSTR: B 1.5, L 6.0, S 18.0 (SUVmax 5 → Krenning 2, 12 → 3, 20 → 4).
FDG: B 1.8, L 2.5 (SUVmax 1.0 → grade 0, 2.0 → 2, 4.0 → 3).
"""

from __future__ import annotations

from typing import Any

import pytest

from .builders import dual_from_pairs, dual_patient, obs, pair, timepoint


def groups(*pairs: Any, **fields: Any) -> tuple[str, str, str]:
    tp = timepoint(dual_from_pairs(*pairs, **fields))
    return tp["netpet"]["grade"], tp["karfis"]["group"], tp["zidan"]["group"]


# --- §4: the graded lesions -------------------------------------------------------------


def test_a_lesion_missing_on_the_other_study_is_unpaired_and_makes_it_provisional() -> None:
    patient = dual_patient(
        [obs(1, suv_max="20"), obs(2, suv_max="22"), obs(3, "not_seen")],
        [obs(1, suv_max="1.0"), obs(4, suv_max="6.0")],
    )
    tp = timepoint(patient)
    assert tp["unpaired_lesions"] == [2, 3, 4]
    assert tp["provisional"] is True
    assert (
        tp["netpet"]["provisional"] and tp["karfis"]["provisional"] and tp["zidan"]["provisional"]
    )
    # Graded on lesion 1 alone: an unpaired FDG-avid lesion never silently counts.
    assert (tp["netpet"]["grade"], tp["karfis"]["group"], tp["zidan"]["group"]) == ("P1", "C1", "2")
    assert [row["lesion"] for row in tp["netpet"]["lesions"]] == [1]


@pytest.mark.parametrize(
    ("sstr_obs", "fdg_obs"),
    [
        (
            [obs(1, suv_max="20"), obs(2, "not_evaluable")],
            [obs(1, suv_max="1.0"), obs(2, suv_max="9")],
        ),
        (
            [obs(1, suv_max="20"), obs(2, suv_max="1.0")],
            [obs(1, suv_max="1.0"), obs(2, "not_evaluable")],
        ),
        ([obs(1, suv_max="20"), obs(2, "not_evaluable")], [obs(1, suv_max="1.0")]),
    ],
    ids=["not-evaluable-on-sstr", "not-evaluable-on-fdg", "not-evaluable-and-missing"],
)
def test_not_evaluable_on_either_study_is_left_out_without_provisional(
    sstr_obs: list[Any], fdg_obs: list[Any]
) -> None:
    tp = timepoint(dual_patient(sstr_obs, fdg_obs))
    assert (tp["provisional"], tp["unpaired_lesions"], tp["not_evaluable_lesions"]) == (
        False,
        [],
        [2],
    )
    assert tp["netpet"]["grade"] == "P1"


def test_an_ungradable_lesion_is_listed_left_out_and_makes_it_provisional() -> None:
    patient = dual_patient(
        [obs(1, suv_max="20"), obs(2)],  # lesion 2: scored, nothing to score it with
        [obs(1, suv_max="1.0"), obs(2, suv_max="9")],
    )
    tp = timepoint(patient)
    assert (tp["ungradable_lesions"], tp["provisional"]) == ([2], True)
    assert (tp["netpet"]["grade"], tp["karfis"]["group"]) == ("P1", "C1")
    assert tp["sstr"]["counts"] == {"0": 0, "1": 0, "2": 0, "3": 0, "4": 1}


def test_with_no_graded_lesion_all_three_grades_are_not_classifiable() -> None:
    tp = timepoint(dual_patient([obs(1, "not_evaluable")], [obs(1, suv_max="9")]))
    for system, key in (("netpet", "grade"), ("karfis", "group"), ("zidan", "group")):
        assert tp[system][key] == "not_classifiable"
        assert "No lesion was graded" in tp[system]["reason"]
    assert (tp["netpet"]["representative_lesion"], tp["biopsy_target"]) == (None, None)


def test_without_fdg_pet_the_grades_are_null_with_a_reason() -> None:
    tp = timepoint(dual_patient([obs(1, suv_max="20")], None))
    assert tp["fdg_study"] is None
    assert (tp["netpet"]["grade"], tp["karfis"]["group"], tp["zidan"]["group"]) == (
        None,
        None,
        None,
    )
    assert "No FDG PET" in tp["netpet"]["reason"]
    assert tp["sstr"]["counts"]["4"] == 1  # §5 still applies


def test_an_ungradable_sstr_lesion_makes_an_sstr_only_timepoint_provisional() -> None:
    tp = timepoint(dual_patient([obs(1, suv_max="20"), obs(2)], None))
    assert (tp["provisional"], tp["ungradable_lesions"]) == (True, [2])
    assert tp["sstr"]["evaluable_lesions"] == 1


def test_lesion_scores_show_every_lesion_observed_at_the_timepoint() -> None:
    patient = dual_patient(
        [obs(1, suv_max="20", long_axis_mm="12"), obs(3, "not_evaluable")],
        [obs(1, fdg_visual="positive"), obs(2, suv_max="9")],
    )
    rows = {row["lesion"]: row for row in timepoint(patient)["lesion_scores"]}
    assert sorted(rows) == [1, 2, 3]
    assert rows[1]["status"] == "graded"
    assert (rows[1]["sstr_score"], rows[1]["sstr_flags"]) == (4, ["pet_may_overestimate"])
    assert (rows[1]["fdg_score"], rows[1]["fdg_source"]) == (3, "fdg_visual")
    assert (rows[1]["fdg_positive_background"], rows[1]["fdg_positive_liver"]) == (True, True)
    assert (rows[2]["status"], rows[2]["sstr_score"], rows[2]["sstr_source"]) == (
        "unpaired",
        None,
        None,
    )
    assert (rows[3]["status"], rows[3]["sstr_source"], rows[3]["fdg_score"]) == (
        "not_evaluable",
        "state",
        None,
    )


# --- §4.2 Karfis ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "group", "deciding", "suitability"),
    [
        ([("20", "1.0"), ("12", "1.0"), ("1.0", "1.0")], "C1", [1, 2], "probably suitable"),
        ([("20", "4.0"), ("12", "1.0")], "C2", [1], "probably suitable"),
        ([("5.0", "2.0"), ("12", "1.0")], "C2", [1], "probably suitable"),  # above background
        ([("20", "4.0"), ("1.0", "2.0")], "C3", [2], "not suitable"),
        ([("1.0", "1.0"), ("1.2", "1.1")], "not_classifiable", [], None),
    ],
    ids=["C1", "C2", "C2-krenning-2", "C3", "no-pet-positive-lesion"],
)
def test_karfis_groups(
    pairs: list[tuple[str, str]], group: str, deciding: list[int], suitability: str | None
) -> None:
    tp = timepoint(dual_from_pairs(*(pair(i, s, f) for i, (s, f) in enumerate(pairs, start=1))))
    karfis = tp["karfis"]
    assert (karfis["group"], karfis["suitability"]) == (group, suitability)
    assert [row["lesion"] for row in karfis["lesions"]] == deciding
    assert karfis["reason"]


def test_karfis_lists_lesions_negative_on_both_as_pet_negative() -> None:
    tp = timepoint(dual_from_pairs(pair(1, "20", "1.0"), pair(2, "1.0", "1.0")))
    assert (tp["karfis"]["group"], tp["karfis"]["pet_negative_lesions"]) == ("C1", [2])


# --- §4.3 Zidan -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "group", "suitability"),
    [
        ([("20", "4.0"), ("5.0", "4.0")], "4", "not suitable"),  # Krenning 2 is negative here
        ([("5.0", "2.0"), ("1.0", "1.0")], "1", "not suitable"),  # grade 2 negative here too
        ([("20", "4.0"), ("12", "1.0")], "3", "suitable"),
        ([("20", "2.0"), ("12", "1.0")], "2", "suitable"),
        ([("20", "1.0"), ("5.0", "1.0")], "not_classifiable", None),
    ],
    ids=["group-4", "group-1", "group-3", "group-2", "mixed-not-classifiable"],
)
def test_zidan_groups_with_the_liver_as_threshold(
    pairs: list[tuple[str, str]], group: str, suitability: str | None
) -> None:
    tp = timepoint(dual_from_pairs(*(pair(i, s, f) for i, (s, f) in enumerate(pairs, start=1))))
    assert (tp["zidan"]["group"], tp["zidan"]["suitability"]) == (group, suitability)
    assert tp["zidan"]["reason"]


def test_zidan_group_4_is_checked_before_the_others() -> None:
    assert groups(pair(1, "20", "4.0"), pair(2, "1.0", "4.0"))[2] == "4"


def test_zidan_not_classifiable_names_the_lesions_negative_on_both() -> None:
    tp = timepoint(dual_from_pairs(pair(1, "20", "1.0"), pair(2, "5.0", "1.0")))
    assert [row["lesion"] for row in tp["zidan"]["lesions"]] == [2]
    assert "lesion 2" in tp["zidan"]["reason"]


def test_zidan_note_for_a_primary_site_other_than_lung() -> None:
    elsewhere = timepoint(dual_from_pairs(pair(1, "20", "1.0"), primary_site="small_intestine"))
    assert "pulmonary NEN" in elsewhere["zidan"]["note"]
    assert "small intestine" in elsewhere["zidan"]["note"]
    lung = timepoint(dual_from_pairs(pair(1, "20", "1.0"), primary_site="lung"))
    assert lung["zidan"]["note"] is None
    assert lung["grading_order"][0] == "zidan"


def test_netpet_and_zidan_thresholds_can_disagree_on_the_same_lesion() -> None:
    # The worked case: a Krenning-2 FDG-avid lesion is P4 for NETPET, group 4 for Zidan.
    assert groups(pair(1, "20", "1.2"), pair(2, "5.0", "4.0")) == ("P4a", "C2", "4")
