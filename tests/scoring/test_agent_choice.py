"""DOMAIN.md §11 (docs/clinical-rules.md §11, §11.1): which radioligand for a PPGL, 131I-MIBG,
177Lu-DOTATATE or both (issue 19).

- the worked examples of tests/data/cases/agent_choice.json, key by key;
- table-driven rules tests, every branch on both sides of its boundary, no database;
- Hypothesis: never raises, monotone in MIBG uptake, independent of input order;
- stored and served: the body matches API.md and the schema, a new ``RULES_VERSION`` recomputes
  every stored result once, and one end-to-end test through the HTTP API with a real worker.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.scoring.rules import (
    LesionIn,
    ObservationIn,
    PatientIn,
    StudyIn,
    Thresholds,
    assess_phenotype,
)
from apps.scoring.rules.agent_choice import agent_choice, agent_pair
from apps.scoring.rules.inputs import JSON
from tests.scoring.rules.builders import dec, obs, patient_from_case, reordered, strings, study

ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = ROOT / "tests" / "data" / "cases" / "agent_choice.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
T = Thresholds()

# API.md: the keys of ``agent_choice``, in its order.
API_KEYS = [
    "sstr_study",
    "mibg_study",
    "provisional",
    "unpaired_lesions",
    "lutathera_covers_all",
    "mibg_covers_all",
    "ungradable_lesions",
    "suggestion",
    "rest_suggestion",
    "covered_by_sstr",
    "covered_by_mibg",
    "uncovered",
    "reason",
]
CLUSTER_NOTE = "PPGL cluster 1A (SDHx): SDHB carriers are often MIBG-negative"
PARTIAL_CAUTION = "sites not targeted by either agent, consider FDG PET and systemic or local"


# --- Building inputs ---------------------------------------------------------------------------


def v(lesion: int, score: int, **fields: Any) -> ObservationIn:
    """A lesion with the reader's visual score."""
    return obs(lesion, krenning_visual=score, **fields)


def sstr_pet(
    *observations: ObservationIn, id: int = 1, day: str = "2024-01-01", **f: Any
) -> StudyIn:
    return study(id, day, "SSTR", observations, **f)


def mibg_scan(
    *observations: ObservationIn,
    id: int = 2,
    day: str = "2024-01-08",
    tracer: str = "i123_mibg",
    modality: str = "planar",
    **f: Any,
) -> StudyIn:
    return study(id, day, "NET", observations, tracer=tracer, modality=modality, **f)


def ppgl(*studies: StudyIn, histology: str | None = "paraganglioma", **fields: Any) -> PatientIn:
    return PatientIn(id=1, histology=histology, studies=tuple(studies), **fields)


def choice(patient: PatientIn, **overrides: object) -> JSON | None:
    """The ``agent_choice`` of the patient's phenotype, as the worker computes it."""
    result = assess_phenotype(patient, Thresholds.from_overrides(overrides))
    assert json.loads(json.dumps(result)) == result
    found: JSON | None = result["agent_choice"]
    return found


def scores(sstr: dict[int, int], mibg: dict[int, int], **fields: Any) -> JSON:
    """Visual scores by lesion on an SSTR PET and a 123I-MIBG planar scan a week later."""
    found = choice(
        ppgl(
            sstr_pet(*(v(lesion, score) for lesion, score in sstr.items())),
            mibg_scan(*(v(lesion, score) for lesion, score in mibg.items())),
            **fields,
        )
    )
    assert found is not None
    return found


# --- The worked examples -----------------------------------------------------------------------


def test_the_case_file_has_cases_with_and_without_a_result() -> None:
    assert len(CASES) >= 8
    assert {case["expected_agent_choice"] is None for case in CASES} == {True, False}


@pytest.mark.parametrize("case", CASES, ids=[case["title"] for case in CASES])
def test_worked_case_is_reproduced(case: dict[str, Any]) -> None:
    patient = dataclasses.replace(
        patient_from_case(case),
        histology=case["patient"]["histology"],
        ppgl_cluster=case["patient"]["ppgl_cluster"],
    )
    found = choice(patient)
    expected = case["expected_agent_choice"]
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert list(found) == API_KEYS
    assert {key: value for key, value in found.items() if key != "reason"} == expected
    assert found["reason"].endswith(".") and found["reason"].count(". ") == 0
    assert ("SDHB" in found["reason"]) is (case["patient"]["ppgl_cluster"] == "1A")


# --- Coverage: uptake 3 covers, 2 does not -----------------------------------------------------


@pytest.mark.parametrize(
    ("sstr", "mibg", "suggestion", "by_sstr", "by_mibg", "lu_all", "mibg_all"),
    [
        # SSTR uptake exactly 3 covers; 2 does not.
        ({1: 3}, {1: 2}, "lu177_dotatate", [1], [], True, False),
        ({1: 2}, {1: 2}, "partial", [], [], False, False),
        # MIBG uptake exactly 3 covers; 2 does not.
        ({1: 2}, {1: 3}, "i131_mibg", [], [1], False, True),
        ({1: 3}, {1: 3}, "either", [1], [1], True, True),
        # Only one agent covers every lesion.
        ({1: 4, 2: 3}, {1: 4, 2: 2}, "lu177_dotatate", [1, 2], [1], True, False),
        ({1: 4, 2: 2}, {1: 4, 2: 3}, "i131_mibg", [1], [1, 2], False, True),
        # Both cover all: the higher integer sum, by one either way, else either.
        ({1: 4, 2: 4}, {1: 4, 2: 3}, "lu177_dotatate", [1, 2], [1, 2], True, True),
        ({1: 4, 2: 3}, {1: 4, 2: 4}, "i131_mibg", [1, 2], [1, 2], True, True),
        ({1: 4, 2: 3}, {1: 3, 2: 4}, "either", [1, 2], [1, 2], True, True),
        # Neither alone, both together: tandem (the review's Fig. 8).
        ({1: 4, 2: 3, 3: 2}, {1: 4, 2: 1, 3: 4}, "tandem", [1, 2], [1, 3], False, False),
        ({1: 3, 2: 2}, {1: 2, 2: 3}, "tandem", [1], [2], False, False),
        # One lesion covered by neither: partial.
        ({1: 4, 2: 3, 3: 2}, {1: 4, 2: 1, 3: 2}, "partial", [1, 2], [1], False, False),
    ],
)
def test_coverage_and_suggestion(
    sstr: dict[int, int],
    mibg: dict[int, int],
    suggestion: str,
    by_sstr: list[int],
    by_mibg: list[int],
    lu_all: bool,
    mibg_all: bool,
) -> None:
    found = scores(sstr, mibg)
    assert found["suggestion"] == suggestion
    assert (found["covered_by_sstr"], found["covered_by_mibg"]) == (by_sstr, by_mibg)
    assert (found["lutathera_covers_all"], found["mibg_covers_all"]) == (lu_all, mibg_all)
    assert found["provisional"] is False
    if suggestion != "partial":
        assert found["uncovered"] == [] and found["rest_suggestion"] is None


@pytest.mark.parametrize(
    ("sstr", "mibg", "uncovered", "rest"),
    [
        ({1: 4, 2: 1}, {1: 2, 2: 2}, [2], "lu177_dotatate"),
        ({1: 2, 2: 1}, {1: 3, 2: 2}, [2], "i131_mibg"),
        ({1: 3, 2: 0}, {1: 3, 2: 2}, [2], "either"),  # the rest: both cover it, equal sums
        ({1: 4, 2: 4, 3: 0}, {1: 3, 2: 4, 3: 0}, [3], "lu177_dotatate"),  # sums over the rest
        ({1: 4, 2: 1, 3: 2}, {1: 1, 2: 4, 3: 2}, [3], "tandem"),
        ({1: 2, 2: 1}, {1: 2, 2: 0}, [1, 2], None),  # nothing covered at all
    ],
)
def test_partial_lists_the_uncovered_and_suggests_for_the_rest(
    sstr: dict[int, int], mibg: dict[int, int], uncovered: list[int], rest: str | None
) -> None:
    found = scores(sstr, mibg)
    assert found["suggestion"] == "partial"
    assert found["uncovered"] == uncovered
    assert found["rest_suggestion"] == rest
    assert PARTIAL_CAUTION in found["reason"]
    if rest is None:
        assert "no lesion is covered by either agent" in found["reason"]


def test_the_reason_says_which_agent_covers_which_lesions() -> None:
    labels = (LesionIn(1, "T7 vertebra"), LesionIn(2, "Hepatic dome"), LesionIn(3, "LUQ"))
    found = scores({1: 4, 2: 3, 3: 2}, {1: 4, 2: 1, 3: 4}, lesions=labels)
    assert found["reason"] == (
        "Neither agent alone covers every graded lesion, but together they do (177Lu-DOTATATE: "
        "T7 vertebra and Hepatic dome; 131I-MIBG: T7 vertebra and LUQ), suggesting tandem "
        "177Lu-DOTATATE and 131I-MIBG."
    )
    lu = scores({1: 4, 2: 4}, {1: 3, 2: 2}, lesions=labels)
    assert lu["reason"] == (
        "177Lu-DOTATATE covers every graded lesion (uptake 3 or more, above liver, on the SSTR "
        "PET of 2024-01-01) and 131I-MIBG does not (Hepatic dome below 3 on the 123I-MIBG planar "
        "scintigraphy of 2024-01-08), suggesting 177Lu-DOTATATE."
    )
    both = scores({1: 4, 2: 4}, {1: 4, 2: 3}, lesions=labels)
    assert (
        "the summed uptake is higher on the SSTR PET of 2024-01-01 (8 against 7)"
        in (both["reason"])
    )
    either = scores({1: 4, 2: 3}, {1: 3, 2: 4}, lesions=labels)
    assert "with the same summed uptake (7 each), so either agent." in either["reason"]


# --- Lesion sets: unpaired, not evaluable, ungradable, not seen -------------------------------


def sets_of(sstr: list[ObservationIn], mibg: list[ObservationIn]) -> JSON:
    found = choice(ppgl(sstr_pet(*sstr), mibg_scan(*mibg)))
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("sstr", "mibg", "graded", "unpaired", "ungradable", "provisional"),
    [
        # On one study only (scored or not seen), no observation on the other: unpaired.
        ([v(1, 4), v(2, 4)], [v(1, 4)], [1], [2], [], True),
        ([v(1, 4)], [v(1, 4), obs(2, "not_seen")], [1], [2], [], True),
        # Not evaluable on one study and no observation on the other: left out silently.
        ([v(1, 4), obs(2, "not_evaluable")], [v(1, 4)], [1], [], [], False),
        # Not evaluable on either: left out, not listed, not provisional.
        ([v(1, 4), obs(2, "not_evaluable")], [v(1, 4), v(2, 4)], [1], [], [], False),
        ([v(1, 4), v(2, 1)], [v(1, 4), obs(2, "not_evaluable")], [1], [], [], False),
        # Not evaluable wins over a missing score on the other study.
        ([v(1, 4), obs(2, "not_evaluable")], [v(1, 4), obs(2)], [1], [], [], False),
        # No score on one study (planar: a visual score only): ungradable, out of both agents.
        ([v(1, 4), v(2, 4)], [v(1, 4), obs(2, suv_max="9")], [1], [], [2], True),
        ([v(1, 4), obs(2)], [v(1, 4), v(2, 4)], [1], [], [2], True),
        # Both kinds at once.
        ([v(1, 4), v(2, 4), v(3, 4)], [v(1, 4), obs(3)], [1], [2], [3], True),
        # Not seen is uptake 0 (and wins over typed values); on both studies: graded 0/0.
        (
            [v(1, 4), obs(2, "not_seen", krenning_visual=4)],
            [v(1, 4), v(2, 4)],
            [1, 2],
            [],
            [],
            False,
        ),
        ([v(1, 4), obs(2, "not_seen")], [v(1, 4), obs(2, "not_seen")], [1, 2], [], [], False),
    ],
)
def test_lesion_sets_in_the_order_of_11_1(
    sstr: list[ObservationIn],
    mibg: list[ObservationIn],
    graded: list[int],
    unpaired: list[int],
    ungradable: list[int],
    provisional: bool,
) -> None:
    found = sets_of(sstr, mibg)
    assert found["unpaired_lesions"] == unpaired
    assert found["ungradable_lesions"] == ungradable
    assert found["provisional"] is provisional
    listed = found["covered_by_sstr"] + found["covered_by_mibg"] + found["uncovered"]
    assert sorted(set(listed)) == graded
    for lesion in unpaired + ungradable:
        assert lesion not in listed


def test_a_lesion_not_seen_on_both_studies_is_a_known_site_neither_agent_covers() -> None:
    found = sets_of([v(1, 4), obs(2, "not_seen")], [v(1, 4), obs(2, "not_seen")])
    assert (found["suggestion"], found["uncovered"], found["rest_suggestion"]) == (
        "partial",
        [2],
        "either",
    )


def test_unpaired_and_ungradable_lesions_are_named_in_the_reason() -> None:
    labels = (LesionIn(1, "Primary"), LesionIn(2, "Rib"), LesionIn(3, "Node"))
    found = choice(
        ppgl(
            sstr_pet(v(1, 4), v(2, 4), v(3, 4)),
            mibg_scan(v(1, 4), obs(3, suv_max="7")),
            lesions=labels,
        )
    )
    assert found is not None
    assert "provisional: Rib is observed on one of the two studies only" in found["reason"]
    assert "provisional: Node cannot be graded on one of the two studies" in found["reason"]


def test_no_graded_lesion_still_gives_a_result_with_no_suggestion() -> None:
    found = sets_of([v(1, 4), obs(2, "not_evaluable")], [obs(1), v(2, 4)])
    assert found["suggestion"] is None and found["rest_suggestion"] is None
    assert (found["lutathera_covers_all"], found["mibg_covers_all"]) == (False, False)
    assert found["covered_by_sstr"] == found["covered_by_mibg"] == found["uncovered"] == []
    assert found["ungradable_lesions"] == [1] and found["provisional"] is True
    assert found["reason"].startswith("No lesion graded on both studies")
    # Only lesions that are unpaired: nothing graded either.
    alone = sets_of([v(1, 4)], [v(2, 4)])
    assert alone["suggestion"] is None and alone["unpaired_lesions"] == [1, 2]


# --- Scores: visual, computed on PET only, the MIBG spleen exception ---------------------------

MIBG_PET = {"tracer": "i124_mibg", "modality": "pet_ct"}
# Physiological MIBG uptake: liver above spleen (S <= L).
MIBG_REFS = {"blood_pool_suv": dec("1.0"), "liver_suv": dec("3.5"), "spleen_suv": dec("2.5")}


def mibg_uptake(o: ObservationIn, **study_fields: Any) -> tuple[bool, bool]:
    """(graded, covered by MIBG) for one lesion (SSTR visual 4) with ``o`` on the MIBG study."""
    found = choice(ppgl(sstr_pet(v(1, 4)), mibg_scan(o, **study_fields)))
    assert found is not None
    return (found["ungradable_lesions"] == [], found["covered_by_mibg"] == [1])


@pytest.mark.parametrize(
    ("suv", "covered"),
    [
        ("3.5", False),  # at liver: 2
        ("3.51", True),  # above liver, and S <= L: at or above spleen, 4
        ("12", True),
    ],
)
def test_a_computed_score_on_an_mibg_pet_is_kept_when_the_spleen_is_at_or_below_liver(
    suv: str, covered: bool
) -> None:
    assert mibg_uptake(obs(1, suv_max=suv), **MIBG_PET, **MIBG_REFS) == (True, covered)


def test_spleen_equal_to_liver_on_an_mibg_pet_still_gives_a_score() -> None:
    refs = {**MIBG_REFS, "spleen_suv": dec("3.5")}
    assert mibg_uptake(obs(1, suv_max="3.6"), **MIBG_PET, **refs) == (True, True)


def test_liver_at_or_below_blood_pool_invalidates_the_computed_score_on_an_mibg_pet() -> None:
    refs = {"blood_pool_suv": dec("2.0"), "liver_suv": dec("2.0"), "spleen_suv": dec("3.0")}
    assert mibg_uptake(obs(1, suv_max="9"), **MIBG_PET, **refs) == (False, False)
    # A visual score still grades it.
    assert mibg_uptake(v(1, 3, suv_max="9"), **MIBG_PET, **refs) == (True, True)


def test_an_mfbg_pet_is_an_mibg_study_with_computed_scores() -> None:
    assert mibg_uptake(obs(1, suv_max="9"), tracer="f18_mfbg", modality="pet_mri", **MIBG_REFS) == (
        True,
        True,
    )


@pytest.mark.parametrize("modality", ["planar", "spect_ct"])
def test_planar_and_spect_studies_are_graded_by_the_visual_score_only(modality: str) -> None:
    assert mibg_uptake(obs(1, suv_max="9"), modality=modality, **MIBG_REFS) == (False, False)
    assert mibg_uptake(v(1, 3, suv_max="0.1"), modality=modality, **MIBG_REFS) == (True, True)


def test_on_the_sstr_side_too_a_spect_has_no_computed_score_but_counts() -> None:
    """An 111In-pentetreotide SPECT is an SSTR study for §11 (any modality), though no §4
    timepoint; SUVs entered on it do not grade a lesion."""
    spect = {"tracer": "in111_pentetreotide", "modality": "spect_ct"}
    found = choice(
        ppgl(sstr_pet(obs(1, suv_max="25"), v(2, 4), **spect), mibg_scan(v(1, 4), v(2, 2)))
    )
    assert found is not None
    assert (found["ungradable_lesions"], found["covered_by_sstr"]) == ([1], [2])
    pet = choice(ppgl(sstr_pet(obs(1, suv_max="25"), v(2, 4)), mibg_scan(v(1, 4), v(2, 2))))
    assert pet is not None and pet["covered_by_sstr"] == [1, 2]


def test_the_visual_score_wins_over_the_computed_one() -> None:
    assert mibg_uptake(v(1, 2, suv_max="12"), **MIBG_PET, **MIBG_REFS) == (True, False)
    found = choice(ppgl(sstr_pet(v(1, 2, suv_max="25")), mibg_scan(v(1, 4))))
    assert found is not None and found["covered_by_sstr"] == []


# --- Which studies take part, and the pair ---------------------------------------------------


@pytest.mark.parametrize(
    ("mibg_day", "window", "paired"),
    [
        ("2024-03-01", None, True),  # 60 days after: paired (inclusive)
        ("2024-03-02", None, False),  # 61 days: no pair, no result
        ("2023-11-02", None, True),  # 60 days before
        ("2023-11-01", None, False),  # 61 days before
        ("2024-03-02", 61, True),  # the window is the pairing_window_days setting
        ("2024-01-02", 0, False),
        ("2024-01-01", 0, True),
    ],
)
def test_the_pairing_window_on_both_sides_of_60_days(
    mibg_day: str, window: int | None, paired: bool
) -> None:
    patient = ppgl(sstr_pet(v(1, 4)), mibg_scan(v(1, 4), day=mibg_day))
    overrides = {} if window is None else {"pairing_window_days": window}
    found = choice(patient, **overrides)
    assert (found is not None) is paired
    if found is not None:
        assert (found["sstr_study"], found["mibg_study"]) == (1, 2)


@pytest.mark.parametrize(
    ("histology", "cluster", "applies"),
    [
        ("paraganglioma", None, True),
        ("pheochromocytoma", None, True),
        ("net", None, False),
        ("mtc", None, False),
        ("nec", "1A", False),  # a cluster without PPGL histology
        (None, "1A", False),
        (None, None, False),
    ],
)
def test_only_ppgl_histology_gets_an_agent_choice(
    histology: str | None, cluster: str | None, applies: bool
) -> None:
    patient = ppgl(sstr_pet(v(1, 4)), mibg_scan(v(1, 4)), histology=histology, ppgl_cluster=cluster)
    assert (choice(patient) is not None) is applies


@pytest.mark.parametrize(
    ("cluster", "noted"), [("1A", True), ("1B", False), ("2", False), (None, False)]
)
def test_the_cluster_1a_note_is_in_the_reason(cluster: str | None, noted: bool) -> None:
    found = scores({1: 4}, {1: 0}, ppgl_cluster=cluster)
    assert found["suggestion"] == "lu177_dotatate"
    assert (CLUSTER_NOTE in found["reason"]) is noted


def test_post_therapy_and_therapeutic_tracer_studies_never_take_part() -> None:
    post_mibg = study(
        3, "2024-01-05", "NET", (v(1, 4),), tracer="i131_mibg", modality="planar", post_therapy=True
    )
    post_lu = study(
        4, "2024-01-06", "SSTR", (v(1, 4),), tracer="lu177_dotatate", modality="spect_ct",
        post_therapy=True,
    )  # fmt: skip
    # Only the therapeutic scans: no pair.
    assert choice(ppgl(post_lu, post_mibg)) is None
    assert choice(ppgl(sstr_pet(v(1, 4)), post_mibg)) is None
    assert choice(ppgl(post_lu, mibg_scan(v(1, 4)))) is None
    found = choice(
        ppgl(sstr_pet(v(1, 2)), mibg_scan(v(1, 4), day="2024-01-20"), post_mibg, post_lu)
    )
    assert found is not None and (found["sstr_study"], found["mibg_study"]) == (1, 2)


def test_the_pair_is_the_latest_sstr_study_with_an_mibg_study_and_the_closest_one() -> None:
    studies = [
        sstr_pet(v(1, 4), id=1, day="2024-01-01"),
        sstr_pet(v(1, 4), id=5, day="2024-09-01"),  # latest, but no MIBG study within 60 days
        mibg_scan(v(1, 4), id=2, day="2024-02-20"),  # 50 days after study 1
        mibg_scan(v(1, 4), id=3, day="2023-12-22"),  # 10 days before study 1: the closest
        mibg_scan(v(1, 4), id=4, day="2024-01-11"),  # 10 days after: the tie goes to the earlier
    ]
    found = agent_pair(studies, T)
    assert found is not None and (found[0].id, found[1].id) == (1, 3)
    # Same distance and same date: the lower id.
    same_day = [studies[0], mibg_scan(id=9, day="2024-01-11"), mibg_scan(id=7, day="2024-01-11")]
    found = agent_pair(same_day, T)
    assert found is not None and found[1].id == 7
    # Two SSTR studies on one date: the higher id.
    twins = [sstr_pet(id=8), sstr_pet(id=6), mibg_scan(id=2)]
    found = agent_pair(twins, T)
    assert found is not None and found[0].id == 8
    # The later SSTR study wins once it has an MIBG study in its window.
    later = [*studies, mibg_scan(v(1, 4), id=6, day="2024-10-30")]
    found = agent_pair(later, T)
    assert found is not None and (found[0].id, found[1].id) == (5, 6)


def test_every_lesion_list_is_in_id_order_whatever_the_order_of_entry() -> None:
    found = scores({105: 4, 7: 2, 40: 1, 9: 4}, {40: 0, 105: 4, 9: 2, 7: 4})
    assert found["covered_by_sstr"] == [9, 105]
    assert found["covered_by_mibg"] == [7, 105]
    assert found["uncovered"] == [40]
    unpaired = choice(ppgl(sstr_pet(v(105, 4), v(40, 4), v(7, 4)), mibg_scan(v(3, 4))))
    assert unpaired is not None and unpaired["unpaired_lesions"] == [3, 7, 40, 105]


def test_the_result_is_null_beside_no_timepoint_and_carries_no_grade_word() -> None:
    assert choice(ppgl(sstr_pet(v(1, 4)))) is None
    assert choice(ppgl(mibg_scan(v(1, 4)))) is None
    found = scores({1: 4, 2: 3, 3: 1}, {1: 4, 2: 1, 3: 0})
    assert not [s for s in strings(found) if "eligible" in s.lower() or "approved" in s.lower()]


# --- Hypothesis --------------------------------------------------------------------------------

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

suvs = st.one_of(
    st.decimals(min_value=0, max_value=30, places=2),
    st.sampled_from(["0.9", "1.1", "1.35", "1.65", "2.5", "3.5", "6.0", "18.0"]).map(Decimal),
)
STUDY_KINDS = {
    "SSTR": [("ga68_dotatate", "pet_ct"), ("cu64_dotatate", "pet_mri"),
             ("in111_pentetreotide", "spect_ct"), ("in111_pentetreotide", "planar")],
    "NET": [("i123_mibg", "planar"), ("i123_mibg", "spect_ct"), ("i124_mibg", "pet_ct"),
            ("f18_mfbg", "pet_ct")],
}  # fmt: skip


@st.composite
def observations(draw: st.DrawFn, lesion: int) -> ObservationIn:
    return ObservationIn(
        lesion=lesion,
        state=draw(st.sampled_from(["scored"] * 6 + ["not_seen", "not_evaluable"])),
        suv_max=draw(st.none() | suvs),
        krenning_visual=draw(st.none() | st.integers(0, 4)),
    )


@st.composite
def references(draw: st.DrawFn) -> dict[str, Decimal | None]:
    value = st.none() | st.decimals(min_value=0, max_value=20, places=1)
    return draw(
        st.sampled_from(
            [
                {"blood_pool_suv": Decimal("1.5"), "liver_suv": Decimal("6.0"),
                 "spleen_suv": Decimal("18.0")},
                {"blood_pool_suv": Decimal("1.0"), "liver_suv": Decimal("3.5"),
                 "spleen_suv": Decimal("2.5")},
                {"blood_pool_suv": None, "liver_suv": None, "spleen_suv": None},
            ]
        )
        | st.fixed_dictionaries(
            {"blood_pool_suv": value, "liver_suv": value, "spleen_suv": value}
        )
    )  # fmt: skip


@st.composite
def ppgl_patients(draw: st.DrawFn) -> PatientIn:
    """1-3 SSTR and 1-3 MIBG studies of any modality within about 70 days, sometimes a
    post-therapy scan, 1-10 lesions observed or not on each study."""
    lesion_ids = range(1, draw(st.integers(1, 10)) + 1)
    studies = []
    start = date(2024, 1, 1)
    next_id = 1
    for tracer_class in ("SSTR", "NET"):
        for _ in range(draw(st.integers(1, 3))):
            tracer, modality = draw(st.sampled_from(STUDY_KINDS[tracer_class]))
            studies.append(
                StudyIn(
                    id=next_id,
                    performed_on=start + timedelta(days=draw(st.integers(0, 70))),
                    tracer=tracer,
                    tracer_class=tracer_class,
                    modality=modality,
                    observations=tuple(
                        draw(observations(lesion))
                        for lesion in lesion_ids
                        if draw(st.integers(0, 6))  # sometimes no observation: unpaired
                    ),
                    **draw(references()),
                )
            )
            next_id += 1
    if draw(st.booleans()):
        tracer, tracer_class = draw(
            st.sampled_from([("i131_mibg", "NET"), ("lu177_dotatate", "SSTR")])
        )
        studies.append(
            StudyIn(
                id=next_id,
                performed_on=start + timedelta(days=draw(st.integers(0, 70))),
                tracer=tracer,
                tracer_class=tracer_class,
                modality="spect_ct",
                post_therapy=True,
                observations=tuple(
                    ObservationIn(lesion, "scored", krenning_visual=4) for lesion in lesion_ids
                ),
            )
        )
    return PatientIn(
        id=1,
        histology=draw(st.sampled_from(["paraganglioma", "pheochromocytoma"])),
        ppgl_cluster=draw(st.sampled_from([None, "1A", "2"])),
        lesions=tuple(
            LesionIn(id=i, label=draw(st.sampled_from(["", f"L{i}"]))) for i in lesion_ids
        ),
        studies=tuple(studies),
    )


@PROPERTY
@given(ppgl_patients())
def test_never_raises_and_the_lesion_lists_agree(patient: PatientIn) -> None:
    result = assess_phenotype(patient, T)
    assert json.loads(json.dumps(result)) == result
    found = result["agent_choice"]
    if found is None:
        assert agent_pair(patient.studies, T) is None
        return
    assert list(found) == API_KEYS
    by_sstr, by_mibg, uncovered = (
        set(found["covered_by_sstr"]), set(found["covered_by_mibg"]), set(found["uncovered"])
    )  # fmt: skip
    for key in ("unpaired_lesions", "ungradable_lesions", "covered_by_sstr", "covered_by_mibg",
                "uncovered"):  # fmt: skip
        assert found[key] == sorted(set(found[key])), key
    graded = by_sstr | by_mibg | uncovered
    assert not uncovered & (by_sstr | by_mibg)
    assert not graded & set(found["unpaired_lesions"] + found["ungradable_lesions"])
    assert found["provisional"] is bool(found["unpaired_lesions"] or found["ungradable_lesions"])
    assert (found["suggestion"] is None) is (not graded)
    assert found["lutathera_covers_all"] is (bool(graded) and by_sstr == graded)
    assert found["mibg_covers_all"] is (bool(graded) and by_mibg == graded)
    assert (found["suggestion"] == "partial") is bool(uncovered)
    assert (found["rest_suggestion"] is not None) is (bool(uncovered) and bool(by_sstr | by_mibg))
    assert found["reason"].endswith(".")
    assert "eligible" not in found["reason"].lower()


def _raise_uptake(o: ObservationIn, data: st.DataObject) -> ObservationIn:
    """The same observation with higher (or equal) uptake: a higher visual score, a higher
    SUVmax, or a lesion not seen now scored."""
    if o.state == "not_seen":
        return dataclasses.replace(o, state="scored", krenning_visual=data.draw(st.integers(0, 4)))
    if o.krenning_visual is not None:
        return dataclasses.replace(o, krenning_visual=data.draw(st.integers(o.krenning_visual, 4)))
    if o.suv_max is not None:
        rise = data.draw(st.decimals(min_value=0, max_value=30, places=2))
        return dataclasses.replace(o, suv_max=o.suv_max + rise)
    return dataclasses.replace(o, krenning_visual=data.draw(st.integers(0, 4)))


@PROPERTY
@given(ppgl_patients(), st.data())
def test_raising_one_lesions_mibg_uptake_never_removes_it_from_covered_by_mibg(
    patient: PatientIn, data: st.DataObject
) -> None:
    before = agent_choice(patient, T)
    if before is None:
        return
    index = next(i for i, s in enumerate(patient.studies) if s.id == before["mibg_study"])
    mibg = patient.studies[index]
    candidates = [i for i, o in enumerate(mibg.observations) if o.state != "not_evaluable"]
    if not candidates:
        return
    position = data.draw(st.sampled_from(candidates))
    raised_obs = list(mibg.observations)
    raised_obs[position] = _raise_uptake(raised_obs[position], data)
    studies = list(patient.studies)
    studies[index] = dataclasses.replace(mibg, observations=tuple(raised_obs))
    after = agent_choice(dataclasses.replace(patient, studies=tuple(studies)), T)
    assert after is not None
    lesion = mibg.observations[position].lesion
    if lesion in before["covered_by_mibg"]:
        assert lesion in after["covered_by_mibg"]
    # Nor any other lesion (an ungradable one given a score joins the graded lesions).
    assert set(before["covered_by_mibg"]) <= set(after["covered_by_mibg"])


@PROPERTY
@given(ppgl_patients(), st.randoms(use_true_random=False))
def test_the_result_does_not_depend_on_the_order_of_lesions_studies_or_observations(
    patient: PatientIn, rng: Any
) -> None:
    assert agent_choice(reordered(patient, rng), T) == agent_choice(patient, T)


# --- API.md, the schema and the served body ------------------------------------------------------


def test_api_md_lists_exactly_the_fields_the_rules_and_the_schema_give() -> None:
    from apps.scoring.serializers import PhenotypeSerializer

    api_md = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    bullet = api_md.split("- `agent_choice` (patient level", 1)[1].split("\n- ", 1)[0]
    listed = re.findall(r'"([a-z_]+)"', bullet.split("`{", 1)[1].split("}`", 1)[0])
    assert listed == API_KEYS
    assert list(PhenotypeSerializer().fields["agent_choice"].fields) == API_KEYS
    assert list(scores({1: 4}, {1: 4})) == API_KEYS


# --- Stored by the worker, served as stored ------------------------------------------------------


def _ppgl_record() -> Any:
    """Through the write services (as every write path): a pheochromocytoma with the review's
    Fig. 8 pattern on a 68Ga-DOTATATE PET and a 124I-MIBG PET (liver above spleen): tandem."""
    from django.test import TestCase

    from tests.factories import LesionFactory, ObservationFactory, PatientFactory, StudyFactory

    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = PatientFactory(histology="pheochromocytoma", primary_site="adrenal")
        sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
        mibg = StudyFactory(
            patient=patient,
            performed_on=date(2024, 3, 8),
            tracer="i124_mibg",
            blood_pool_suv=Decimal("1.0"),
            liver_suv=Decimal("3.5"),
            spleen_suv=Decimal("2.5"),
        )
        lesions = [LesionFactory(patient=patient, label=label) for label in ("Bone", "LUQ", "Dome")]
        for lesion, sstr_suv, mibg_suv in zip(
            lesions, ("24", "5.0", "10"), ("12", "11", "2.0"), strict=True
        ):
            ObservationFactory(study=sstr, lesion=lesion, suv_max=Decimal(sstr_suv))
            ObservationFactory(study=mibg, lesion=lesion, suv_max=Decimal(mibg_suv))
    return patient, sstr, mibg, [lesion.pk for lesion in lesions]


@pytest.mark.django_db
def test_the_worker_stores_it_with_the_phenotype_and_the_api_serves_what_it_stored(
    token_client: Any,
) -> None:
    from apps.core.models import AccessEvent
    from apps.scoring.models import PhenotypeAssessment
    from tests.scoring.test_assessments import assert_matches_schema

    patient, sstr, mibg, (bone, luq, dome) = _ppgl_record()
    stored = PhenotypeAssessment.objects.get(patient=patient)
    assert stored.rules_version == "4"
    assert stored.phenotype["agent_choice"]["suggestion"] == "tandem"
    assert stored.summary["agent_choice"] == stored.phenotype["agent_choice"]

    client = token_client("reader")
    response = client.get(f"/api/v1/patients/{patient.pk}/phenotype/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "fresh"
    assert_matches_schema(body)
    expected = {
        "sstr_study": sstr.pk,
        "mibg_study": mibg.pk,
        "provisional": False,
        "unpaired_lesions": [],
        "lutathera_covers_all": False,
        "mibg_covers_all": False,
        "ungradable_lesions": [],
        "suggestion": "tandem",
        "rest_suggestion": None,
        "covered_by_sstr": sorted([bone, dome]),
        "covered_by_mibg": sorted([bone, luq]),
        "uncovered": [],
    }
    assert {k: v for k, v in body["agent_choice"].items() if k != "reason"} == expected
    assert body["agent_choice"]["reason"] == stored.phenotype["agent_choice"]["reason"]
    assert AccessEvent.objects.filter(patient_id=patient.pk, action__contains="phenotype").exists()

    # Served from what the worker stored, never recomputed while serving: a stored body that
    # says otherwise is what the API returns.
    PhenotypeAssessment.objects.filter(patient=patient).update(
        phenotype={
            **stored.phenotype,
            "agent_choice": {**expected, "suggestion": "either", "reason": "x."},
        }
    )
    served = client.get(f"/api/v1/patients/{patient.pk}/phenotype/").json()
    assert served["agent_choice"]["suggestion"] == "either"


@pytest.mark.django_db
def test_a_new_rules_version_recomputes_every_stored_result_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A result stored under rules version 3 (no agent choice) is stale under version 4, served
    with ``agent_choice`` null until then; the sweeper recomputes it once, then leaves it."""
    from apps.scoring import queue, services
    from apps.scoring.models import PhenotypeAssessment
    from apps.scoring.selectors import patient_rules_input

    patient, *_ = _ppgl_record()
    current = services.rules_fingerprint()
    with monkeypatch.context() as old_rules:
        old_rules.setattr(services, "RULES_VERSION", "3")
        old_fingerprint = services.rules_fingerprint()
    assert old_fingerprint != current
    stored = PhenotypeAssessment.objects.get(patient=patient)
    old_phenotype = {k: v for k, v in stored.phenotype.items() if k != "agent_choice"}
    PhenotypeAssessment.objects.filter(patient=patient).update(
        phenotype={**old_phenotype, "rules_version": "3"},
        summary={k: v for k, v in stored.summary.items() if k != "agent_choice"},
        rules_version="3",
        rules_fingerprint=old_fingerprint,
        inputs_digest=services.inputs_digest(patient_rules_input(patient.pk), old_fingerprint),
    )
    body = services.phenotype_body(patient.pk)
    assert (body["status"], body["rules_version"], body["agent_choice"]) == ("stale", "3", None)
    assert services.assessment_bodies(patient.pk, ("summary",))["summary"]["agent_choice"] is None

    assert queue.sweep_stale() == 1  # no broker here: the recompute runs in-process
    body = services.phenotype_body(patient.pk)
    assert (body["status"], body["rules_version"]) == ("fresh", "4")
    assert body["agent_choice"]["suggestion"] == "tandem"
    computed_at = body["computed_at"]
    assert queue.sweep_stale() == 0
    assert services.recompute_phenotype(patient.pk) == "unchanged"
    assert services.phenotype_body(patient.pk)["computed_at"] == computed_at


# --- End to end: the HTTP API and a real worker ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_through_the_api_and_a_real_worker(stack: Any) -> None:
    """A hospital system writes a PPGL patient through the HTTP API; a Celery worker on Redis
    computes and stores the agent choice (tandem), and a changed MIBG read turns it partial."""
    from tests.processes import fresh, wait_for

    api = stack.web()
    stack.worker()
    patient = api.post(
        "/api/v1/patients/",
        {
            "mrn": "AGENT-0001",
            "family_name": "Agent",
            "given_name": "Test",
            "birth_date": "1969-05-19",
            "sex": "female",
            "primary_site": "adrenal",
            "histology": "pheochromocytoma",
            "ppgl_cluster": "2",
        },
    )["id"]
    sstr = api.post(
        "/api/v1/studies/",
        {"patient": patient, "performed_on": "2024-11-04", "modality": "pet_ct",
         "tracer": "ga68_dotatate", "blood_pool_suv": "1.5", "liver_suv": "6.0",
         "spleen_suv": "18.0"},
    )["id"]  # fmt: skip
    mibg = api.post(
        "/api/v1/studies/",
        {"patient": patient, "performed_on": "2024-12-30", "modality": "pet_ct",
         "tracer": "i124_mibg", "blood_pool_suv": "1.0", "liver_suv": "3.5",
         "spleen_suv": "2.5"},
    )["id"]  # 56 days later; on MIBG the spleen below liver is allowed  # fmt: skip
    lesions, mibg_obs = {}, {}
    for label, site, sstr_read, mibg_read in [
        ("T7 vertebra", "bone", {"krenning_visual": 4}, {"suv_max": "12"}),
        ("Left upper quadrant", "soft_tissue", {"suv_max": "5.0"}, {"suv_max": "11"}),
        ("Hepatic dome", "liver", {"suv_max": "10"}, {"suv_max": "2.0"}),
    ]:
        lesion = api.post("/api/v1/lesions/", {"patient": patient, "label": label, "site": site})
        lesions[label] = lesion["id"]
        api.post("/api/v1/observations/", {"study": sstr, "lesion": lesion["id"], **sstr_read})
        mibg_obs[label] = api.post(
            "/api/v1/observations/", {"study": mibg, "lesion": lesion["id"], **mibg_read}
        )["id"]

    body = wait_for(lambda: fresh(api, patient), what="fresh agent choice")
    choice = body["agent_choice"]
    assert (choice["sstr_study"], choice["mibg_study"]) == (sstr, mibg)
    assert choice["suggestion"] == "tandem" and choice["rest_suggestion"] is None
    assert choice["covered_by_sstr"] == sorted([lesions["T7 vertebra"], lesions["Hepatic dome"]])
    assert choice["covered_by_mibg"] == sorted(
        [lesions["T7 vertebra"], lesions["Left upper quadrant"]]
    )
    assert choice["uncovered"] == [] and choice["provisional"] is False
    assert "tandem 177Lu-DOTATATE and 131I-MIBG" in choice["reason"]

    # The reader scores the left upper quadrant 1 on the MIBG PET: covered by neither agent.
    status, _ = api.call(
        "PATCH", f"/api/v1/observations/{mibg_obs['Left upper quadrant']}/", {"krenning_visual": 1}
    )
    assert status == 200
    first = body["computed_at"]
    body = wait_for(
        lambda: (b := fresh(api, patient)) and b["computed_at"] != first and b,
        what="fresh partial agent choice",
    )
    choice = body["agent_choice"]
    assert (choice["suggestion"], choice["rest_suggestion"]) == ("partial", "lu177_dotatate")
    assert choice["uncovered"] == [lesions["Left upper quadrant"]]
    assert "Left upper quadrant is covered by neither agent" in choice["reason"]
