"""DOMAIN.md §8 "RECIST 1.1": target selection and the category of each follow-up, table-driven
with boundary values on both sides, and Hypothesis for independence from input order."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.scoring.rules.inputs import (
    LesionIn,
    ObservationIn,
    PatientIn,
    StudyIn,
    Thresholds,
    TreatmentIn,
)
from apps.scoring.rules.recist import (
    MAX_TARGETS,
    MAX_TARGETS_PER_SITE,
    TARGET_NOT_MEASURABLE,
    TARGETS_MARKED,
    TARGETS_PICKED,
    TOO_MANY_PER_SITE,
    TOO_MANY_TARGETS,
    TargetSelection,
    recist_series,
    select_targets,
)
from apps.scoring.rules.series import ANATOMIC_SERIES, build_series, first_scored_on

from .builders import reordered, strings

START = date(2024, 1, 1)

# --- builders ---------------------------------------------------------------------------------


def o(
    lesion: int,
    long: str | None = None,
    short: str | None = None,
    state: str = "scored",
    target: bool = False,
) -> ObservationIn:
    """One observation; diameters as strings so that they are exact Decimals."""
    return ObservationIn(
        lesion=lesion,
        state=state,
        long_axis_mm=None if long is None else Decimal(long),
        short_axis_mm=None if short is None else Decimal(short),
        target=target,
    )


def ct(id: int, day: int, *observations: ObservationIn, modality: str = "ct") -> StudyIn:
    """A CT (or MRI) ``day`` days after START."""
    return StudyIn(
        id=id,
        performed_on=START + timedelta(days=day),
        tracer="none",
        tracer_class="ANATOMIC",
        modality=modality,
        observations=observations,
    )


def pet(id: int, day: int, *observations: ObservationIn) -> StudyIn:
    """An SSTR PET/CT ``day`` days after START: not part of the anatomic series."""
    return StudyIn(
        id=id,
        performed_on=START + timedelta(days=day),
        tracer="ga68_dotatate",
        tracer_class="SSTR",
        modality="pet_ct",
        observations=observations,
    )


def lesion(id: int, site: str = "liver", nodal: bool = False, label: str = "") -> LesionIn:
    return LesionIn(id=id, label=label, site=site, nodal=nodal)


# Two non-nodal lesions on different sites: the usual pair of targets of the tables below.
PAIR = (lesion(1, "liver"), lesion(2, "lung"))


def make_patient(
    *studies: StudyIn,
    lesions: tuple[LesionIn, ...] = PAIR,
    treatments: tuple[TreatmentIn, ...] = (),
) -> PatientIn:
    return PatientIn(id=1, lesions=lesions, studies=studies, treatments=treatments)


def run(patient: PatientIn, **overrides: object) -> list[dict[str, Any]]:
    thresholds = Thresholds.from_overrides(overrides)
    series = build_series(patient, ANATOMIC_SERIES)
    return recist_series(patient, series, thresholds, first_scored_on(patient))


def categories(results: list[dict[str, Any]]) -> list[str | None]:
    return [r["category"] for r in results]


def pair_series(*sums: tuple[str | None, str | None], **overrides: object) -> list[dict[str, Any]]:
    """A baseline and follow-ups 90 days apart with the long axes of lesions 1 and 2 (None: no
    observation; "not_seen": not seen)."""
    studies = []
    for i, axes in enumerate(sums):
        observations = [
            o(lesion_id, state="not_seen") if mm == "not_seen" else o(lesion_id, mm)
            for lesion_id, mm in zip((1, 2), axes, strict=True)
            if mm is not None
        ]
        studies.append(ct(i + 1, 90 * i, *observations))
    return run(make_patient(*studies), **overrides)


def select(*observations: ObservationIn, lesions: tuple[LesionIn, ...] = PAIR) -> TargetSelection:
    return select_targets(ct(1, 0, *observations), {x.id: x for x in lesions}, Thresholds())


# --- categories: boundaries on both sides -----------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "follow_up", "category", "sum_mm", "from_baseline", "from_nadir_mm"),
    [
        # PR: the sum at least 30% below baseline (inclusive).
        (("60", "40"), ("42", "28"), "PR", 70.0, -30.0, -30.0),
        (("60", "40"), ("42", "28.1"), "SD", 70.1, -29.9, -29.9),
        # PD: at least 20% AND at least 5 mm above the nadir (both inclusive).
        (("15", "10"), ("20", "10"), "PD", 30.0, 20.0, 5.0),
        (("15", "10"), ("19.9", "10"), "SD", 29.9, 19.6, 4.9),
        # +20% exactly but only +4.9 mm: not PD.
        (("14.5", "10"), ("19.4", "10"), "SD", 29.4, 20.0, 4.9),
        # +5.97 mm but only +19.9%: not PD; +6 mm at +20%: PD.
        (("20", "10"), ("25.97", "10"), "SD", 36.0, 19.9, 6.0),
        (("20", "10"), ("26", "10"), "PD", 36.0, 20.0, 6.0),
        # A target not seen counts 0 mm.
        (("60", "40"), ("not_seen", "40"), "PR", 40.0, -60.0, -60.0),
        (("60", "40"), ("not_seen", "not_seen"), "CR", 0.0, -100.0, -100.0),
        (("60", "40"), ("0", "0"), "CR", 0.0, -100.0, -100.0),
        (("60", "40"), ("0.1", "not_seen"), "PR", 0.1, -99.9, -99.9),
        # A target with no observation makes the follow-up NE.
        (("60", "40"), ("60", None), "NE", None, None, None),
        (("60", "40"), ("60", "40"), "SD", 100.0, 0.0, 0.0),
    ],
)
def test_category_of_one_follow_up(
    baseline: tuple[str, str],
    follow_up: tuple[str | None, str | None],
    category: str,
    sum_mm: float | None,
    from_baseline: float | None,
    from_nadir_mm: float | None,
) -> None:
    (result,) = pair_series(baseline, follow_up)
    assert result["category"] == category
    assert result["sum_mm"] == sum_mm
    assert result["change_from_baseline_percent"] == from_baseline
    assert result["change_from_nadir_mm"] == from_nadir_mm
    assert result["baseline_sum_mm"] == float(Decimal(baseline[0]) + Decimal(baseline[1]))
    assert result["reason"].startswith(f"{category}: ")


def test_the_nadir_below_baseline_decides_progression() -> None:
    # 100 -> 50 (PR) -> 60: -40% from baseline, but +20% and +10 mm above the nadir of 50.
    results = pair_series(("60", "40"), ("30", "20"), ("36", "24"))
    assert categories(results) == ["PR", "PD"]
    assert results[1]["nadir_sum_mm"] == 50.0
    assert results[1]["nadir_study"] == 2
    assert results[1]["change_from_nadir_percent"] == 20.0
    assert results[1]["change_from_baseline_percent"] == -40.0
    assert "50.0 mm (CT of 2024-03-31)" in results[1]["reason"]
    # 59.9 mm is +19.8% above the nadir: not PD, and still 40.1% below baseline: PR.
    assert categories(pair_series(("60", "40"), ("30", "20"), ("35.9", "24"))) == ["PR", "PR"]


def test_the_nadir_is_taken_over_earlier_follow_ups_only_and_skips_ne() -> None:
    results = pair_series(
        ("60", "40"),  # baseline 100
        ("60", None),  # NE: no sum, no nadir
        ("30", "20"),  # 50: its own nadir is still the baseline
        ("40", "30"),  # 70 against the nadir 50: +40%, +20 mm
    )
    assert categories(results) == ["NE", "PR", "PD"]
    assert [r["nadir_sum_mm"] for r in results] == [100.0, 100.0, 50.0]
    assert [r["nadir_study"] for r in results] == [1, 1, 3]
    assert results[0]["sum_mm"] is None and results[0]["missing_targets"] == [2]


def test_an_equal_later_sum_keeps_the_earlier_nadir() -> None:
    results = pair_series(("30", "20"), ("30", "20"), ("30", "20"))
    assert [r["nadir_study"] for r in results] == [1, 1]


@pytest.mark.parametrize(
    ("node_mm", "category"),
    [("9.9", "CR"), ("10", "PR"), ("0", "CR")],
)
def test_complete_response_needs_every_node_under_10_mm(node_mm: str, category: str) -> None:
    lesions = (lesion(1, "liver"), lesion(2, "lymph_node", nodal=True))
    patient = make_patient(
        ct(1, 0, o(1, "30"), o(2, "30", "20")),  # the node counts by its short axis: 20 mm
        ct(2, 90, o(1, state="not_seen"), o(2, "25", node_mm)),
        lesions=lesions,
    )
    (result,) = run(patient)
    assert result["category"] == category
    assert result["baseline_sum_mm"] == 50.0
    assert result["targets"] == [
        {
            "lesion": 1,
            "site": "liver",
            "nodal": False,
            "measure": "long_axis",
            "baseline_mm": 30.0,
            "mm": 0.0,
            "state": "not_seen",
        },
        {
            "lesion": 2,
            "site": "lymph_node",
            "nodal": True,
            "measure": "short_axis",
            "baseline_mm": 20.0,
            "mm": float(node_mm),
            "state": "scored",
        },
    ]


def test_a_non_nodal_target_still_measured_prevents_complete_response() -> None:
    lesions = (lesion(1, "liver"), lesion(2, "lymph_node", nodal=True))
    patient = make_patient(
        ct(1, 0, o(1, "30"), o(2, short="20")),
        ct(2, 90, o(1, "1"), o(2, short="5")),
        lesions=lesions,
    )
    assert categories(run(patient)) == ["PR"]


@pytest.mark.parametrize(
    "missing",
    [
        None,  # no observation
        o(2, "40", state="not_evaluable"),
        o(2),  # scored but no long axis
        o(2, short="40"),  # only the axis that does not count for a non-nodal lesion
    ],
)
def test_a_target_without_a_usable_diameter_makes_the_follow_up_ne(
    missing: ObservationIn | None,
) -> None:
    follow_up = ct(2, 90, o(1, "20"), *([missing] if missing is not None else []))
    (result,) = run(make_patient(ct(1, 0, o(1, "60"), o(2, "40")), follow_up))
    assert result["category"] == "NE"
    assert result["sum_mm"] is None
    assert result["change_from_baseline_percent"] is None
    assert result["missing_targets"] == [2]
    assert "lesion 2" in result["reason"]


def test_a_nodal_target_needs_its_short_axis() -> None:
    lesions = (lesion(1, "liver"), lesion(2, "lymph_node", nodal=True))
    patient = make_patient(
        ct(1, 0, o(1, "30"), o(2, short="20")),
        ct(2, 90, o(1, "30"), o(2, long="20")),
        lesions=lesions,
    )
    assert categories(run(patient)) == ["NE"]


# --- new lesions --------------------------------------------------------------------------------


def test_a_new_lesion_is_progression_whatever_the_sum() -> None:
    patient = make_patient(
        ct(1, 0, o(1, "60"), o(2, "40")),
        ct(2, 90, o(1, "30"), o(2, "20"), o(3, "4")),  # -50%, but lesion 3 is new
        ct(3, 180, o(1, "30"), o(3, "4")),  # target 2 missing: NE but for the new lesion
        ct(4, 270, o(1, "30"), o(2, "20")),  # lesion 3 no longer seen: not new here
    )
    results = run(patient)
    assert categories(results) == ["PD", "PD", "PR"]
    assert [r["new_lesions"] for r in results] == [[3], [3], []]
    assert results[0]["sum_mm"] == 50.0
    assert results[1]["sum_mm"] is None
    assert "lesion 3" in results[0]["reason"]


def test_a_lesion_that_vanishes_and_reappears_is_not_new() -> None:
    lesions = (*PAIR, lesion(3, "bone"))
    patient = make_patient(
        ct(1, 0, o(1, "60"), o(2, "40"), o(3, "5")),  # 5 mm: scored, not measurable
        ct(2, 90, o(1, "60"), o(2, "40"), o(3, state="not_seen")),
        ct(3, 180, o(1, "60"), o(2, "40"), o(3, "5")),
        lesions=lesions,
    )
    results = run(patient)
    assert categories(results) == ["SD", "SD"]
    assert results[1]["new_lesions"] == []


def test_a_lesion_first_scored_on_a_pet_after_baseline_is_new_on_ct() -> None:
    patient = make_patient(
        ct(1, 0, o(1, "60"), o(2, "40")),
        pet(5, 30, o(3)),
        ct(2, 90, o(1, "60"), o(2, "40"), o(3, "3")),
    )
    (result,) = run(patient)
    assert result["category"] == "PD"
    assert result["new_lesions"] == [3]


# --- series ------------------------------------------------------------------------------------


def test_studies_given_out_of_date_order() -> None:
    patient = make_patient(
        ct(3, 180, o(1, "36"), o(2, "24")),
        ct(1, 0, o(1, "60"), o(2, "40")),
        ct(2, 90, o(1, "30"), o(2, "20")),
    )
    results = run(patient)
    assert [r["study"] for r in results] == [2, 3]
    assert [r["performed_on"] for r in results] == ["2024-03-31", "2024-06-29"]
    assert categories(results) == ["PR", "PD"]
    assert {r["baseline_study"] for r in results} == {1}


@pytest.mark.parametrize(
    "studies",
    [
        (),
        # Diameters on PET/CT are not used: no CT/MRI, no baseline.
        (pet(1, 0, o(1, "60")), pet(2, 90, o(1, "90"))),
        (ct(1, 0, o(1, "60")),),  # a baseline but no follow-up
        (ct(1, 0, o(1, "60")), pet(2, 90, o(1, "90"))),
    ],
)
def test_no_baseline_or_no_follow_up_gives_no_result(studies: tuple[StudyIn, ...]) -> None:
    assert run(make_patient(*studies)) == []


def test_pet_ct_diameters_are_left_out_of_the_series() -> None:
    patient = make_patient(
        ct(1, 0, o(1, "60"), o(2, "40")),
        pet(2, 45, o(1, "10"), o(2, "10")),  # would be a nadir of 20 mm
        ct(3, 90, o(1, "60"), o(2, "50")),
    )
    (result,) = run(patient)
    assert result["study"] == 3
    assert result["nadir_sum_mm"] == 100.0
    assert result["category"] == "SD"


def test_mri_is_part_of_the_anatomic_series() -> None:
    patient = make_patient(
        ct(1, 0, o(1, "60"), o(2, "40")), ct(2, 90, o(1, "30"), o(2, "20"), modality="mri")
    )
    assert categories(run(patient)) == ["PR"]


def test_a_treatment_line_sets_the_baseline() -> None:
    studies = (
        ct(1, 0, o(1, "30"), o(2, "20")),  # 50
        ct(2, 60, o(1, "60"), o(2, "40")),  # 100: the latest CT before the treatment
        ct(3, 150, o(1, "42"), o(2, "28")),  # 70
    )
    treatment = TreatmentIn(id=1, kind="prrt_lu177_dotatate", started_on=START + timedelta(70))
    results = run(make_patient(*studies, treatments=(treatment,)))
    assert [r["baseline_study"] for r in results] == [2]
    assert categories(results) == ["PR"]  # -30% from study 2
    # Without the treatment, study 1 is the baseline and 70 mm is +40% and +20 mm above it.
    assert categories(run(make_patient(*studies))) == ["PD", "PD"]


def test_the_thresholds_are_read_from_the_settings() -> None:
    sums = (("15", "10"), ("20", "10"))  # +20%, +5 mm
    assert categories(pair_series(*sums)) == ["PD"]
    assert categories(pair_series(*sums, recist_pd_mm=6)) == ["SD"]
    assert categories(pair_series(*sums, recist_pd_percent=21)) == ["SD"]
    assert categories(pair_series(("60", "40"), ("42", "28"), recist_pr_percent=31)) == ["SD"]


# --- target selection ---------------------------------------------------------------------------


def test_marked_targets_are_used_as_marked() -> None:
    selection = select(o(1, "60", target=True), o(2, "90"), o(3, "20", target=True))
    assert selection == TargetSelection([1, 3], TARGETS_MARKED, None)


def test_auto_pick_takes_the_largest_two_per_site_five_in_all_ties_by_id() -> None:
    lesions = (
        lesion(1, "liver"),
        lesion(2, "liver"),
        lesion(3, "liver"),
        lesion(4, "lung"),
        lesion(5, "lung"),
        lesion(6, "bone"),
        lesion(7, "lymph_node", nodal=True),
        lesion(8, "peritoneum"),
    )
    selection = select(
        o(3, "30"),  # ties with lesion 2: the lower id wins, and the liver is then full
        o(2, "30"),
        o(1, "50"),
        o(4, "20"),
        o(5, "25"),
        o(7, "40", "16"),  # a node: 16 mm short axis, though 40 mm long
        o(6, "12"),  # sixth largest: over the limit of five
        o(8, "10"),
        lesions=lesions,
    )
    assert selection == TargetSelection([1, 2, 4, 5, 7], TARGETS_PICKED, None)
    assert MAX_TARGETS == 5 and MAX_TARGETS_PER_SITE == 2


@pytest.mark.parametrize(
    ("observation", "node", "picked"),
    [
        (o(1, "10"), False, [1]),
        (o(1, "9.9"), False, []),
        (o(1, short="12"), False, []),  # a non-nodal lesion counts by its long axis
        (o(1, "40", "15"), True, [1]),
        (o(1, "40", "14.9"), True, []),
        (o(1, "40"), True, []),  # a node with no short axis
        (o(1, "40", state="not_seen"), False, []),
        (o(1, "40", state="not_evaluable"), False, []),
    ],
)
def test_auto_pick_takes_measurable_scored_lesions_only(
    observation: ObservationIn, node: bool, picked: list[int]
) -> None:
    selection = select(observation, lesions=(lesion(1, "lymph_node" if node else "liver", node),))
    assert selection.targets == picked
    assert selection.error is None


def test_a_lesion_missing_from_the_record_is_non_nodal_on_site_other() -> None:
    # Three unknown lesions share the site "other": only the two largest are picked.
    selection = select(o(7, "30", "30"), o(8, "20"), o(9, "25"), lesions=())
    assert selection == TargetSelection([7, 9], TARGETS_PICKED, None)
    (result,) = run(make_patient(ct(1, 0, o(7, "30")), ct(2, 90, o(7, "21")), lesions=()))
    assert result["targets"][0]["site"] == "other"
    assert result["targets"][0]["measure"] == "long_axis"
    assert result["category"] == "PR"


LIVER4 = tuple(lesion(i, "liver", label=f"L{i}") for i in (1, 2, 3, 4))
SPREAD = tuple(lesion(i, site, label=f"L{i}") for i, site in enumerate("abcdef", start=1))


@pytest.mark.parametrize(
    ("observations", "lesions", "rule", "named"),
    [
        # Six marked on six sites.
        ([o(i, "20", target=True) for i in range(1, 7)], SPREAD, TOO_MANY_TARGETS, [1, 6]),
        # Six marked, also three on one site and one not measurable: the first rule wins.
        (
            [o(i, "20", target=True) for i in range(1, 6)] + [o(6, "5", target=True)],
            LIVER4 + SPREAD[4:],
            TOO_MANY_TARGETS,
            [1, 6],
        ),
        ([o(i, "20", target=True) for i in (1, 2, 3)], LIVER4, TOO_MANY_PER_SITE, [1, 2, 3]),
        (
            [o(1, "20", target=True), o(2, "20", target=True), o(3, "5", target=True)],
            LIVER4,
            TOO_MANY_PER_SITE,
            [1, 2, 3],
        ),
        ([o(1, "20", target=True), o(5, "9.9", target=True)], SPREAD, TARGET_NOT_MEASURABLE, [5]),
        ([o(1, target=True)], SPREAD, TARGET_NOT_MEASURABLE, [1]),
        ([o(1, "20", state="not_seen", target=True)], SPREAD, TARGET_NOT_MEASURABLE, [1]),
        (
            [o(1, "40", "14.9", target=True)],
            (lesion(1, "lymph_node", nodal=True, label="L1"),),
            TARGET_NOT_MEASURABLE,
            [1],
        ),
    ],
)
def test_a_marked_selection_that_breaks_a_rule_gives_an_error(
    observations: list[ObservationIn], lesions: tuple[LesionIn, ...], rule: str, named: list[int]
) -> None:
    selection = select(*observations, lesions=lesions)
    assert selection.source == TARGETS_MARKED
    assert selection.targets == sorted(x.lesion for x in observations)
    assert selection.error is not None
    assert selection.error["rule"] == rule
    assert set(selection.error) == {"rule", "message"}
    message = selection.error["message"]
    for lesion_id in named:
        assert f"L{lesion_id}" in message
    assert message.endswith(".") and message.count(". ") == 0


def test_every_lesion_is_named_in_a_too_many_targets_error() -> None:
    selection = select(*[o(i, "20", target=True) for i in range(1, 8)], lesions=())
    assert selection.error is not None
    assert all(f"lesion {i}" in selection.error["message"] for i in range(1, 8))


def test_a_refused_selection_gives_no_category_on_any_follow_up() -> None:
    patient = make_patient(
        ct(1, 0, *[o(i, "20", target=True) for i in (1, 2, 3)]),
        ct(2, 90, o(1, "20"), o(2, "20"), o(3, "20")),
        ct(3, 180, o(1, "20"), o(2, "20"), o(3, "20"), o(4, "30")),  # even with a new lesion
        lesions=LIVER4,
    )
    results = run(patient)
    assert categories(results) == [None, None]
    error = select_targets(patient.studies[0], {x.id: x for x in LIVER4}, Thresholds()).error
    assert error is not None
    assert all(r["error"] == error for r in results)
    assert all(r["sum_mm"] is None and r["nadir_sum_mm"] is None for r in results)
    assert results[1]["new_lesions"] == [4]
    assert all(error["message"] in r["reason"] for r in results)


def test_a_valid_selection_has_no_error_on_its_follow_ups() -> None:
    results = pair_series(("60", "40"), ("60", "40"))
    assert [r["error"] for r in results] == [None]
    assert [r["target_source"] for r in results] == [TARGETS_PICKED]


def test_no_measurable_lesion_at_baseline_is_ne_unless_a_lesion_is_new() -> None:
    patient = make_patient(
        ct(1, 0, o(1, "5"), o(2, "9.9")),
        ct(2, 90, o(1, "5"), o(2, "9.9")),
        ct(3, 180, o(1, "5"), o(2, "9.9"), o(3, "12")),
    )
    results = run(patient)
    assert categories(results) == ["NE", "PD"]
    assert all(r["targets"] == [] and r["sum_mm"] is None for r in results)
    assert "no measurable target lesion at baseline" in results[0]["reason"]
    assert "no measurable target lesion at baseline" in results[1]["reason"]


# --- output -------------------------------------------------------------------------------------


def test_results_are_json_with_float_numbers_and_plain_reasons() -> None:
    results = pair_series(("60.04", "40"), ("42", "28"), ("60", None), ("50", "30"))
    assert json.loads(json.dumps(results)) == results
    first = results[0]
    assert first["baseline_sum_mm"] == 100.0  # 100.04 rounded to 1 decimal for display
    assert first["category"] == "PR"  # the exact sum 70 is 30.03% below 100.04
    numbers = [
        v
        for r in results
        for k, v in r.items()
        if k.endswith(("_mm", "_percent")) and v is not None
    ]
    assert numbers and all(type(v) is float for v in numbers)
    for text in strings(results):
        assert "eligible" not in text.lower() and "approved" not in text.lower()
    for r in results:
        reason = r["reason"]
        assert reason.endswith(".") and ". " not in reason
    assert "70.0 mm" in first["reason"] and "-30.0%" in first["reason"]


def test_the_entry_has_every_documented_key() -> None:
    (result,) = pair_series(("60", "40"), ("60", "40"))
    assert {
        "study",
        "baseline_study",
        "performed_on",
        "category",
        "error",
        "target_source",
        "targets",
        "sum_mm",
        "baseline_sum_mm",
        "nadir_sum_mm",
        "nadir_study",
        "change_from_baseline_percent",
        "change_from_nadir_percent",
        "change_from_nadir_mm",
        "new_lesions",
        "reason",
    } <= set(result)


# --- independence from input order ---------------------------------------------------------------

_SITES = ("liver", "lung", "bone")
_STATES = ("scored", "scored", "scored", "not_seen", "not_evaluable")
_MM = st.one_of(st.none(), st.decimals("0", "60", places=1).map(str))


@st.composite
def patients(draw: st.DrawFn) -> PatientIn:
    n_lesions = draw(st.integers(1, 7))
    lesions = tuple(
        lesion(i, draw(st.sampled_from(_SITES)), draw(st.booleans()))
        for i in range(1, n_lesions + 1)
    )
    mark = draw(st.booleans())
    studies = []
    for study_id in range(1, draw(st.integers(2, 5)) + 1):
        observations = []
        for lesion_id in range(1, n_lesions + 1):
            if draw(st.integers(0, 4)) == 0:
                continue  # no observation of this lesion on this study
            observations.append(
                o(
                    lesion_id,
                    draw(_MM),
                    draw(_MM),
                    draw(st.sampled_from(_STATES)),
                    target=mark and draw(st.booleans()),
                )
            )
        day = draw(st.integers(0, 400))
        studies.append(ct(study_id, day, *observations))
    treatments = tuple(
        TreatmentIn(id=i, kind="ssa", started_on=START + timedelta(days=day))
        for i, day in enumerate(draw(st.lists(st.integers(0, 400), max_size=2)), start=1)
    )
    return make_patient(*studies, lesions=lesions, treatments=treatments)


@given(patients(), st.randoms())
def test_results_do_not_depend_on_the_order_of_input(
    patient: PatientIn, rng: random.Random
) -> None:
    results = run(patient)
    again = run(reordered(patient, rng))
    assert categories(again) == categories(results)
    assert again == results
    assert set(categories(results)) <= {"CR", "PR", "SD", "PD", "NE", None}
