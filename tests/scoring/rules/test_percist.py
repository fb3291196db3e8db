"""DOMAIN.md §8 "PERCIST 1.0": SULpeak, measurability, the hottest lesion and the categories,
table-driven with boundary values on both sides, and Hypothesis for independence from input
order. Boundary values are chosen so that binary floating point would put them on the wrong side
(e.g. 2.7 × 1.3 > 3.51 and 3 × 0.7 < 2.1 in floats)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.scoring.rules.inputs import ObservationIn, PatientIn, StudyIn, Thresholds
from apps.scoring.rules.percist import lean_body_mass_kg, percist_series
from apps.scoring.rules.series import build_series, first_scored_on

from .builders import reordered

START = date(2024, 1, 1)
# Blood pool 0.8, liver 1.0 ± 0.1: measurable above 1.5 × 1.0 + 2 × 0.1 = 1.7; an SUVmax above
# 1.0 is FDG grade 3, at most 0.88 (= 0.8 × 1.1) grade 1.
REFS: dict[str, str | None] = {"blood_pool_suv": "0.8", "liver_suv": "1.0", "liver_suv_sd": "0.1"}
MALE_180_80 = {"sex": "male", "height_cm": Decimal(180), "weight_kg": Decimal(80)}
# By hand: BMI = 80 / 1.8² = 2000/81; 216 × 2000/81 = 16000/3; 6680 + 16000/3 = 36040/3;
# LBM = 9270 × 80 × 3 / 36040 = 55620/901 kg (61.7314...).
MALE_LBM = Fraction(55620, 901)
# By hand: BMI = 60 / 1.65² = 8000/363; 244 × 8000/363 = 1952000/363; 8780 + 1952000/363 =
# 5139140/363; LBM = 9270 × 60 × 363 / 5139140 kg (39.2868...).
FEMALE_LBM = Fraction(9270 * 60 * 363, 5139140)
SUL_PER_SUV = MALE_LBM / 80  # LBM / weight for MALE_180_80
# By hand: BMI = 90 / 1.5² = 40; LBM = 9270 × 90 / (8780 + 244 × 40) = 834300 / 18540 = 45 kg,
# so SUL = SUV × 45 / 90 = SUV / 2 exactly: SUL boundaries can be hit exactly.
FEMALE_150_90 = {"sex": "female", "height_cm": Decimal(150), "weight_kg": Decimal(90)}


def les(
    lesion: int, peak: str | None = None, *, suv_max: str | None = None, **fields: Any
) -> ObservationIn:
    """A scored lesion; SUVmax defaults to the SUVpeak."""
    top = suv_max if suv_max is not None else peak
    return ObservationIn(
        lesion=lesion,
        state=fields.pop("state", "scored"),
        suv_peak=None if peak is None else Decimal(peak),
        suv_max=None if top is None else Decimal(top),
        **fields,
    )


def pet(study_id: int, day: int, *observations: ObservationIn, **refs: str | None) -> StudyIn:
    """An FDG PET/CT ``day`` days after START with the reference uptake of REFS (overridable)."""
    values = {**REFS, **refs}
    return StudyIn(
        id=study_id,
        performed_on=START + timedelta(days=day),
        tracer="f18_fdg",
        tracer_class="FDG",
        modality="pet_ct",
        blood_pool_suv=_dec(values["blood_pool_suv"]),
        liver_suv=_dec(values["liver_suv"]),
        liver_suv_sd=_dec(values["liver_suv_sd"]),
        observations=observations,
    )


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def run(
    *studies: StudyIn, thresholds: Thresholds | None = None, **patient: Any
) -> list[dict[str, Any]]:
    p = PatientIn(id=1, studies=studies, **patient)
    return percist_series(p, build_series(p, "fdg"), thresholds or Thresholds(), first_scored_on(p))


def one(*studies: StudyIn, thresholds: Thresholds | None = None, **patient: Any) -> dict[str, Any]:
    (entry,) = run(*studies, thresholds=thresholds, **patient)
    return entry


def pair(base: str, follow: str, thresholds: Thresholds | None = None, **patient: Any) -> str:
    """The category of one lesion going from ``base`` to ``follow`` (SUVpeak = SUVmax)."""
    entry = one(
        pet(1, 0, les(1, base)), pet(2, 90, les(1, follow)), thresholds=thresholds, **patient
    )
    category = entry["category"]
    assert isinstance(category, str)
    return category


# --- lean body mass ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "height", "weight", "expected"),
    [
        ("male", "180", "80", MALE_LBM),
        ("female", "165", "60", FEMALE_LBM),
        ("male", "180", None, None),
        ("female", None, "60", None),
        ("male", "0", "80", None),
        ("male", "180", "-1", None),
        ("other", "180", "80", None),
        ("unknown", "180", "80", None),
    ],
)
def test_lean_body_mass_by_janmahasatian(
    sex: str, height: str | None, weight: str | None, expected: Fraction | None
) -> None:
    lbm = lean_body_mass_kg(sex, _dec(height), _dec(weight))
    if expected is None:
        assert lbm is None
    else:
        assert isinstance(lbm, Decimal)
        assert abs(Fraction(lbm) - expected) < Fraction(1, 10**30)


def test_the_hand_computed_values_are_the_published_formula() -> None:
    # A check of the test's own numbers against the formula in floats.
    assert float(MALE_LBM) == pytest.approx(9270 * 80 / (6680 + 216 * 80 / 1.8**2))
    assert float(FEMALE_LBM) == pytest.approx(9270 * 60 / (8780 + 244 * 60 / 1.65**2))
    assert round(float(MALE_LBM), 2) == 61.73
    assert round(float(FEMALE_LBM), 2) == 39.29


# --- categories at their boundaries (SUVpeak, no lean body mass) -------------------------------


@pytest.mark.parametrize(
    ("base", "follow", "category"),
    [
        ("10", "13", "PMD"),  # exactly +30%, +3
        ("10", "12.99", "SMD"),  # +29.9%
        ("2.7", "3.51", "PMD"),  # exactly +30% (2.7 × 1.3 > 3.51 in floats), +0.81
        ("2.7", "3.50", "SMD"),  # +29.6%
        ("2", "2.8", "PMD"),  # +40%, exactly +0.8 (2.8 - 2.0 < 0.8 in floats)
        ("2", "2.79", "SMD"),  # +39.5%, +0.79
        ("1.8", "2.34", "SMD"),  # exactly +30% but only +0.54
        ("10", "7", "PMR"),  # exactly -30%, -3
        ("10", "7.01", "SMD"),  # -29.9%
        ("3", "2.1", "PMR"),  # exactly -30% (3 × 0.7 < 2.1 in floats), -0.9
        ("3", "2.11", "SMD"),  # -29.7%
        ("2", "1.2", "PMR"),  # -40%, exactly -0.8
        ("2", "1.21", "SMD"),  # -39.5%, -0.79
        ("2.4", "1.68", "SMD"),  # exactly -30% but only -0.72
        ("5", "5", "SMD"),
    ],
)
def test_rise_and_fall_need_both_the_percent_and_the_units(
    base: str, follow: str, category: str
) -> None:
    assert pair(base, follow) == category


@pytest.mark.parametrize(
    ("base", "follow", "category"),
    [
        ("2.5", "3.25", "PMD"),  # exactly +30% and exactly +0.75
        ("2.5", "3.24", "SMD"),
        ("2.5", "1.75", "PMR"),  # exactly -30% and exactly -0.75
        ("2.5", "1.76", "SMD"),
    ],
)
def test_exactly_both_limits_at_once(base: str, follow: str, category: str) -> None:
    # 30% of a decimal is never exactly 0.8 (base 8/3), so the units are set to 0.75 here.
    thresholds = Thresholds.from_overrides({"percist_sul_units": "0.75"})
    assert pair(base, follow, thresholds) == category


def test_the_limits_are_settings() -> None:
    assert pair("10", "13") == "PMD"
    assert pair("10", "13", Thresholds.from_overrides({"percist_percent": 31})) == "SMD"
    assert pair("10", "13", Thresholds.from_overrides({"percist_sul_units": "3.01"})) == "SMD"


def test_the_entry_shows_the_numbers() -> None:
    entry = one(pet(1, 0, les(1, "10"), les(2, "4")), pet(2, 90, les(1, "13"), les(2, "3")))
    assert entry["study"] == 2
    assert entry["baseline_study"] == 1
    assert entry["performed_on"] == "2024-03-31"
    assert entry["category"] == "PMD"
    assert entry["measurable"] is True
    assert entry["quantity"] == "SUVpeak"
    assert entry["lean_body_mass_kg"] is None
    assert (entry["liver_mean"], entry["liver_sd"]) == (1.0, 0.1)
    assert entry["measurability_threshold"] == 1.7
    assert (entry["baseline_hottest_lesion"], entry["baseline_hottest"]) == (1, 10.0)
    assert (entry["hottest_lesion"], entry["hottest"]) == (1, 13.0)
    assert (entry["change_percent"], entry["change_units"]) == (30.0, 3.0)
    assert entry["new_fdg_positive_lesions"] == []
    reason = entry["reason"]
    assert reason.startswith("PMD: ") and reason.endswith(".")
    for number in ("10.00", "13.00", "+30.0%", "+3.00", "30%", "0.8"):
        assert number in reason
    json.dumps(entry)  # JSON-ready


# --- measurability --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hottest", "measurable"),
    [
        ("3.15", False),  # exactly 1.5 × 1.9 + 2 × 0.15 (3.1499999999999995 in floats)
        ("3.16", True),
        ("3.14", False),
    ],
)
@pytest.mark.parametrize("patient", [{}, MALE_180_80], ids=["SUVpeak", "SULpeak"])
def test_measurable_strictly_above_1_5_liver_mean_plus_2_sd(
    hottest: str, measurable: bool, patient: dict[str, Any]
) -> None:
    refs = {"blood_pool_suv": "1.5", "liver_suv": "1.9", "liver_suv_sd": "0.15"}
    entry = one(pet(1, 0, les(1, hottest), **refs), pet(2, 90, les(1, "9"), **refs), **patient)
    assert entry["measurable"] is measurable
    assert entry["category"] == ("PMD" if measurable else "not_measurable")
    if not measurable:
        assert "is not above" in entry["reason"]


@pytest.mark.parametrize(
    ("refs", "baseline_obs", "words"),
    [
        ({"liver_suv_sd": None}, [les(1, "10")], "no liver SD"),
        ({"liver_suv": None}, [les(1, "10")], "no liver SUVmean"),
        ({"liver_suv": None, "liver_suv_sd": None}, [les(1, "10")], "no liver SUVmean and no"),
        ({}, [les(1, None)], "no lesion on the baseline"),
    ],
)
def test_a_baseline_without_liver_or_lesion_values_is_not_measurable(
    refs: dict[str, str | None], baseline_obs: list[ObservationIn], words: str
) -> None:
    entry = one(pet(1, 0, *baseline_obs, **refs), pet(2, 90, les(1, "20")))
    assert entry["category"] == "not_measurable"
    assert entry["measurable"] is False
    assert words in entry["reason"]


@pytest.mark.parametrize("baseline_obs", [[les(1, "10", state="not_seen")], []])
def test_a_lesion_absent_at_baseline_that_is_fdg_positive_later_is_pmd(
    baseline_obs: list[ObservationIn],
) -> None:
    """Not measurable (no lesion value at baseline), but the lesion is new and FDG-positive."""
    entry = one(pet(1, 0, *baseline_obs), pet(2, 90, les(1, "20")))
    assert entry["measurable"] is False
    assert (entry["category"], entry["new_fdg_positive_lesions"]) == ("PMD", [1])


def test_a_new_fdg_positive_lesion_is_pmd_even_with_a_not_measurable_baseline() -> None:
    entries = run(
        pet(1, 0, les(1, "1.5")),  # not above 1.7
        pet(2, 90, les(1, "9")),
        pet(3, 180, les(1, "9"), les(2, "3")),  # lesion 2 new, grade 3
        pet(4, 270, les(1, "9"), les(2, "0.5"), les(3, "0.5")),  # new lesions, now grade 0
    )
    assert [e["category"] for e in entries] == ["not_measurable", "PMD", "not_measurable"]
    assert entries[1]["new_fdg_positive_lesions"] == [2]
    assert "new FDG-positive lesion 2" in entries[1]["reason"]
    assert entries[2]["new_fdg_positive_lesions"] == []


# --- SUL and the fallbacks ------------------------------------------------------------------


def test_sulpeak_with_lean_body_mass() -> None:
    entry = one(pet(1, 0, les(1, "10")), pet(2, 90, les(1, "13")), **MALE_180_80)
    assert entry["quantity"] == "SULpeak"
    assert entry["notes"] == []
    assert entry["lean_body_mass_kg"] == 61.73
    assert entry["baseline_hottest"] == round(float(10 * SUL_PER_SUV), 2)  # 7.72
    assert entry["hottest"] == round(float(13 * SUL_PER_SUV), 2)  # 10.03
    assert entry["liver_mean"] == round(float(1 * SUL_PER_SUV), 2)  # 0.77
    assert entry["liver_sd"] == round(float(Fraction(1, 10) * SUL_PER_SUV), 2)  # 0.08
    assert entry["measurability_threshold"] == round(float(Fraction(17, 10) * SUL_PER_SUV), 2)
    assert entry["change_units"] == round(float(3 * SUL_PER_SUV), 2)
    assert entry["change_percent"] == 30.0
    assert entry["category"] == "PMD"


@pytest.mark.parametrize(
    ("follow", "category"),
    [
        # 1.04 × LBM / W = 0.8025 ≥ 0.8; 1.03 × LBM / W = 0.7948 < 0.8 (as SUVpeak: ≥ 0.8)
        ("3.04", "PMD"),
        ("3.03", "SMD"),
        ("3.9", "PMD"),
    ],
)
def test_the_units_limit_is_in_sul(follow: str, category: str) -> None:
    rose_sul = (Fraction(follow) - 2) * SUL_PER_SUV
    assert (rose_sul >= Fraction(8, 10)) is (category == "PMD")  # the test's own arithmetic
    assert pair("2", follow, **MALE_180_80) == category
    assert pair("2", follow) == "PMD"  # unconverted, every one rose by more than 0.8


@pytest.mark.parametrize(
    ("base", "follow", "category"),
    [
        ("4", "5.6", "PMD"),  # SUL 2 → 2.8: +40%, exactly +0.8
        ("4", "5.59", "SMD"),  # SUL +0.795
        ("4", "2.4", "PMR"),  # SUL 2 → 1.2: -40%, exactly -0.8
        ("4", "2.41", "SMD"),
        ("2.7", "3.51", "SMD"),  # +30% but SUL only +0.405 (as SUVpeak: +0.81, PMD)
    ],
)
def test_exact_sul_units_when_lean_body_mass_is_half_the_weight(
    base: str, follow: str, category: str
) -> None:
    assert lean_body_mass_kg("female", Decimal(150), Decimal(90)) == 45
    assert pair(base, follow, **FEMALE_150_90) == category


@pytest.mark.parametrize(("follow", "category"), [("13", "PMD"), ("12.99", "SMD"), ("7", "PMR")])
def test_the_percent_limit_is_exact_in_sul(follow: str, category: str) -> None:
    assert pair("10", follow, **MALE_180_80) == category


@pytest.mark.parametrize(
    "patient",
    [
        {"sex": "male", "weight_kg": Decimal(80)},
        {"sex": "male", "height_cm": Decimal(180)},
        {"sex": "unknown", "height_cm": Decimal(180), "weight_kg": Decimal(80)},
    ],
)
def test_suvpeak_when_lean_body_mass_is_unknown(patient: dict[str, Any]) -> None:
    entry = one(pet(1, 0, les(1, "10")), pet(2, 90, les(1, "13")), **patient)
    assert entry["quantity"] == "SUVpeak"
    assert entry["lean_body_mass_kg"] is None
    assert (entry["baseline_hottest"], entry["hottest"], entry["liver_mean"]) == (10.0, 13.0, 1.0)
    (note,) = entry["notes"]
    assert note.startswith("SUVpeak was used instead of SUL")
    missing = "height" if "height_cm" not in patient else "weight"
    assert (missing if patient["sex"] != "unknown" else "sex") in note


@pytest.mark.parametrize(
    ("patient", "quantity", "hottest"),
    [
        ({}, "SUVmax", 12.0),
        (MALE_180_80, "SULmax", round(float(12 * SUL_PER_SUV), 2)),
    ],
)
@pytest.mark.parametrize("on_study", [1, 2])
def test_suvmax_when_a_lesion_has_no_suvpeak(
    patient: dict[str, Any], quantity: str, hottest: float, on_study: int
) -> None:
    no_peak = les(2, None, suv_max="2")
    with_peak = les(2, "2", suv_max="3")
    entry = one(
        pet(1, 0, les(1, "8", suv_max="9"), no_peak if on_study == 1 else with_peak),
        pet(2, 90, les(1, "10", suv_max="12"), no_peak if on_study == 2 else with_peak),
        **patient,
    )
    assert entry["quantity"] == quantity
    assert entry["hottest"] == hottest  # SUVmax 12, not SUVpeak 10
    assert entry["change_percent"] == 33.3  # 9 → 12: SUVmax at baseline too
    assert entry["notes"][0].startswith(f"{quantity} was used instead of")
    on_day = "2024-01-01" if on_study == 1 else "2024-03-31"
    assert f"no SUVpeak for lesion 2 on the FDG PET of {on_day}" in entry["notes"][0]
    assert len(entry["notes"]) == (2 if not patient else 1)  # + no lean body mass


def test_with_every_suvpeak_the_peak_is_used() -> None:
    entry = one(
        pet(1, 0, les(1, "8", suv_max="9")),
        pet(2, 90, les(1, "10", suv_max="12")),
        **MALE_180_80,
    )
    assert entry["quantity"] == "SULpeak"
    assert entry["change_percent"] == 25.0  # 8 → 10


# --- CMR, new lesions and NE ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("follow_up", "category"),
    [
        ([les(1, "0.85"), les(2, "0.5")], "CMR"),  # grades 1 and 0
        ([les(1, "0.88")], "CMR"),  # 0.8 × 1.1: grade 1
        ([les(1, "0.89")], "PMR"),  # grade 2: not CMR; 10 → 0.89
        ([les(1, "9", krenning_visual=1)], "CMR"),  # the reader's grade wins
        ([les(1, "0.5", fdg_visual="positive")], "PMR"),  # a positive call is grade 3
        ([les(1, state="not_seen"), les(2, "0.5")], "CMR"),
        ([les(1, state="not_seen")], "CMR"),
        ([les(1, "0.5"), les(2, "3", state="not_evaluable")], "CMR"),  # left out
        ([], "NE"),  # no lesion observed at all: CMR unproven
        ([les(1, "3", state="not_evaluable")], "NE"),  # every lesion not evaluable
        ([les(1, None, krenning_visual=3)], "NE"),  # grade 3 but no value to compare
        ([les(1, None)], "NE"),  # scored, no grade, no value
    ],
)
def test_cmr_when_every_lesion_is_at_grade_1_or_less(
    follow_up: list[ObservationIn], category: str
) -> None:
    entry = one(pet(1, 0, les(1, "10"), les(2, "4")), pet(2, 90, *follow_up))
    assert entry["category"] == category
    if category == "NE":
        assert entry["hottest"] is None
        assert entry["reason"].startswith("NE: no lesion on the FDG PET of 2024-03-31")


def test_an_ungradable_lesion_leaves_cmr_unproven() -> None:
    # No references on the follow-up: the lesion has no grade (ungradable), never negative.
    entry = one(
        pet(1, 0, les(1, "10")),
        pet(2, 90, les(1, "9.5"), blood_pool_suv=None, liver_suv=None),
    )
    assert entry["category"] == "SMD"
    assert entry["provisional"] is True
    assert entry["ungradable_lesions"] == [1]
    assert any("ungradable" in note for note in entry["notes"])


@pytest.mark.parametrize(
    ("new", "category", "positive"),
    [
        (les(3, "1.5"), "PMD", [3]),  # grade 3
        (les(3, "0.95"), "PMD", [3]),  # grade 2: above background is enough
        (les(3, "0.88"), "SMD", []),  # grade 1: a new lesion that is FDG-negative
        (les(3, "0.5", fdg_visual="negative"), "SMD", []),
        (les(3, "0.5", fdg_visual="positive"), "PMD", [3]),
        (les(3, "5", state="not_seen"), "SMD", []),  # not seen: not a lesion
    ],
)
def test_a_new_fdg_positive_lesion_is_pmd(
    new: ObservationIn, category: str, positive: list[int]
) -> None:
    entry = one(pet(1, 0, les(1, "10")), pet(2, 90, les(1, "9"), new))
    assert entry["category"] == category
    assert entry["new_fdg_positive_lesions"] == positive
    if category == "PMD":
        assert "new FDG-positive lesion 3" in entry["reason"]


def test_a_new_positive_lesion_wins_over_cmr_and_pmr() -> None:
    entry = one(pet(1, 0, les(1, "10")), pet(2, 90, les(1, "0.5"), les(2, "0.95")))
    assert entry["category"] == "PMD"


def test_a_lesion_that_vanishes_and_reappears_is_not_new() -> None:
    entries = run(
        pet(1, 0, les(1, "10"), les(2, "4")),
        pet(2, 90, les(1, "10"), les(2, state="not_seen")),
        pet(3, 180, les(1, "10"), les(2, "4"), les(3, "4")),  # 2 reappears, 3 is new
        pet(4, 270, les(1, "10"), les(3, "4")),  # 3 was first scored after the baseline
    )
    assert [e["new_fdg_positive_lesions"] for e in entries] == [[], [3], [3]]
    assert [e["category"] for e in entries] == ["SMD", "PMD", "PMD"]


def test_a_lesion_scored_on_another_study_before_the_baseline_is_not_new() -> None:
    ct = StudyIn(
        id=9,
        performed_on=START - timedelta(days=10),
        tracer="none",
        tracer_class="ANATOMIC",
        modality="ct",
        observations=(les(3),),
    )
    entry = one(ct, pet(1, 0, les(1, "10")), pet(2, 90, les(1, "9"), les(3, "4")))
    assert entry["new_fdg_positive_lesions"] == []
    assert entry["category"] == "SMD"


# --- the hottest lesion ---------------------------------------------------------------------


def test_the_hottest_lesion_of_each_study_is_compared() -> None:
    entry = one(
        pet(1, 0, les(1, "10"), les(2, "3")),
        pet(2, 90, les(1, "2"), les(2, "13")),
    )
    assert (entry["baseline_hottest_lesion"], entry["hottest_lesion"]) == (1, 2)
    assert entry["category"] == "PMD"  # 10 → 13
    assert any("not the baseline's hottest" in note for note in entry["notes"])


def test_ties_go_to_the_lower_lesion_id() -> None:
    entry = one(
        pet(1, 0, les(5, "10"), les(2, "10"), les(7, "10")),
        pet(2, 90, les(7, "6"), les(4, "6", state="not_evaluable"), les(3, "6")),
    )
    assert (entry["baseline_hottest_lesion"], entry["hottest_lesion"]) == (2, 3)


def test_only_scored_observations_count_for_the_hottest() -> None:
    entry = one(
        pet(1, 0, les(1, "10"), les(2, "50", state="not_evaluable")),
        pet(2, 90, les(1, "10"), les(2, "50", state="not_seen")),
    )
    assert (entry["baseline_hottest"], entry["hottest"]) == (10.0, 10.0)


# --- the series -----------------------------------------------------------------------------


def test_studies_out_of_date_order() -> None:
    entries = run(
        pet(30, 180, les(1, "14")),
        pet(10, 0, les(1, "10")),
        pet(20, 90, les(1, "7")),
    )
    assert [(e["study"], e["baseline_study"]) for e in entries] == [(20, 10), (30, 10)]
    assert [e["performed_on"] for e in entries] == ["2024-03-31", "2024-06-29"]
    assert [e["category"] for e in entries] == ["PMR", "PMD"]


def test_the_picked_baseline_is_used() -> None:
    first = pet(1, 0, les(1, "10"))
    picked = StudyIn(**{**_fields(pet(2, 90, les(1, "5"))), "is_baseline": True})
    entries = run(first, picked, pet(3, 180, les(1, "7")))
    assert [(e["study"], e["baseline_study"], e["category"]) for e in entries] == [(3, 2, "PMD")]


def _fields(study: StudyIn) -> dict[str, Any]:
    return {name: getattr(study, name) for name in StudyIn.__dataclass_fields__}


@pytest.mark.parametrize(
    "studies",
    [
        [],
        [pet(1, 0, les(1, "10"))],  # a baseline, no follow-up
        [
            StudyIn(id=1, performed_on=START, tracer="ga68_dotatate", tracer_class="SSTR"),
            StudyIn(
                id=2,
                performed_on=START + timedelta(days=90),
                tracer="ga68_dotatate",
                tracer_class="SSTR",
            ),
        ],
    ],
)
def test_no_fdg_series_or_no_follow_up_gives_nothing(studies: list[StudyIn]) -> None:
    assert run(*studies) == []


# --- order independence and wording ---------------------------------------------------------

# A few round values make ties between lesions (and between studies) common.
_SUV = st.one_of(
    st.none(),
    st.sampled_from([Decimal(v) for v in ("0.5", "1", "2", "2.6", "4", "5.2", "8")]),
    st.decimals("0", "20", places=2),
)


@st.composite
def _observation(draw: st.DrawFn, lesion: int) -> ObservationIn:
    state = draw(st.sampled_from(["scored", "scored", "scored", "not_seen", "not_evaluable"]))
    return ObservationIn(
        lesion=lesion,
        state=state,
        suv_peak=draw(_SUV),
        suv_max=draw(_SUV),
        krenning_visual=draw(st.one_of(st.none(), st.integers(0, 3))),
        fdg_visual=draw(st.sampled_from([None, None, "positive", "negative"])),
    )


@st.composite
def _study(draw: st.DrawFn, study_id: int) -> StudyIn:
    lesions = draw(st.lists(st.integers(1, 6), unique=True, max_size=5))
    ref = st.one_of(st.none(), st.decimals("0.1", "4", places=2))
    return StudyIn(
        id=study_id,
        performed_on=START + timedelta(days=draw(st.integers(0, 400))),
        tracer="f18_fdg",
        tracer_class="FDG",
        modality="pet_ct",
        blood_pool_suv=draw(ref),
        liver_suv=draw(ref),
        liver_suv_sd=draw(st.one_of(st.none(), st.decimals("0", "1", places=2))),
        observations=tuple([draw(_observation(lesion)) for lesion in lesions]),
    )


@st.composite
def _patient(draw: st.DrawFn) -> PatientIn:
    n = draw(st.integers(1, 4))
    return PatientIn(
        id=1,
        sex=draw(st.sampled_from(["male", "female", "other"])),
        height_cm=draw(st.one_of(st.none(), st.decimals("140", "200", places=1))),
        weight_kg=draw(st.one_of(st.none(), st.decimals("40", "120", places=1))),
        studies=tuple(draw(_study(study_id)) for study_id in range(1, n + 1)),
    )


def _assess(patient: PatientIn) -> list[dict[str, Any]]:
    return percist_series(
        patient, build_series(patient, "fdg"), Thresholds(), first_scored_on(patient)
    )


@settings(max_examples=150, deadline=None)
@given(_patient(), st.randoms())
def test_results_do_not_depend_on_the_order_of_studies_or_observations(patient, rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = reordered(patient, rng)
    expected = _assess(patient)
    result = _assess(shuffled)
    assert [e["category"] for e in result] == [e["category"] for e in expected]
    assert result == expected
    json.dumps(result)
    for entry in result:
        assert entry["category"] in {"PMD", "CMR", "PMR", "SMD", "NE", "not_measurable"}
        for text in [entry["reason"], *entry["notes"]]:
            assert text.endswith(".")
            assert "eligible" not in text.lower() and "approved" not in text.lower()
