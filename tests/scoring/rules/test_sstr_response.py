"""DOMAIN.md §8 "SSTR PET (descriptive)": per-lesion change in SUVmax, TLR and Krenning score from
baseline, new SSTR-avid and vanished lesions, the ``ssa_started_between`` alert; table-driven,
with Hypothesis for independence from input order."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.scoring.rules.inputs import ObservationIn, PatientIn, StudyIn, Thresholds, TreatmentIn
from apps.scoring.rules.series import build_series, first_scored_on
from apps.scoring.rules.sstr_response import CAUTION, sstr_series

from .builders import reordered

T = Thresholds()


def obs(lesion: int, state: str = "scored", suv: str | None = None, **fields: Any) -> ObservationIn:
    return ObservationIn(
        lesion=lesion, state=state, suv_max=None if suv is None else Decimal(suv), **fields
    )


def pet(
    id: int,
    day: str,
    *observations: ObservationIn,
    liver: str | None = "6.0",
    spleen: str | None = "18.0",
    **fields: Any,
) -> StudyIn:
    """A pre-therapy 68Ga-DOTATATE PET/CT with blood pool 1.5 (bands 1.35 / 1.65)."""
    return StudyIn(
        id=id,
        performed_on=date.fromisoformat(day),
        tracer="ga68_dotatate",
        tracer_class="SSTR",
        modality="pet_ct",
        blood_pool_suv=Decimal("1.5"),
        liver_suv=None if liver is None else Decimal(liver),
        spleen_suv=None if spleen is None else Decimal(spleen),
        observations=observations,
        **fields,
    )


def ssa(id: int, day: str, kind: str = "ssa") -> TreatmentIn:
    return TreatmentIn(id=id, kind=kind, started_on=date.fromisoformat(day))


def run(*studies: StudyIn, treatments: tuple[TreatmentIn, ...] = ()) -> list[dict[str, Any]]:
    patient = PatientIn(id=1, studies=studies, treatments=treatments)
    return sstr_series(patient, build_series(patient, "sstr"), T, first_scored_on(patient))


def lesion_rows(entry: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {row["lesion"]: row for row in entry["lesions"]}


# --- no series, no follow-up -------------------------------------------------------------------


@pytest.mark.parametrize(
    "studies",
    [
        (),  # no study at all
        (pet(1, "2024-01-01", obs(1, suv="10")),),  # a baseline and no follow-up
        (  # only an FDG PET and a CT: no SSTR series
            StudyIn(2, date(2024, 1, 1), "f18_fdg", "FDG", observations=(obs(1, suv="5"),)),
            StudyIn(3, date(2024, 4, 1), "none", "ANATOMIC", modality="ct"),
        ),
        (  # a PET and post-therapy 177Lu SPECTs: SPECT is not part of the SSTR series
            pet(1, "2024-01-01", obs(1, suv="10")),
            StudyIn(
                2,
                date(2024, 3, 1),
                "lu177_dotatate",
                "SSTR",
                modality="spect_ct",
                post_therapy=True,
                observations=(obs(1, suv="10"),),
            ),
        ),
    ],
)
def test_no_baseline_or_no_follow_up_gives_nothing(studies: tuple[StudyIn, ...]) -> None:
    assert run(*studies) == []


def test_one_follow_up_gives_one_entry() -> None:
    """Control for the test above: two SSTR PETs do give an entry."""
    (entry,) = run(pet(1, "2024-01-01", obs(1, suv="10")), pet(2, "2024-04-01", obs(1, suv="12")))
    assert (entry["study"], entry["baseline_study"], entry["performed_on"]) == (2, 1, "2024-04-01")
    assert entry["category"] is None
    assert entry["caution"] == CAUTION
    assert "CT or MRI" in CAUTION


# --- the numbers -------------------------------------------------------------------------------


def numbers_entry() -> dict[str, Any]:
    """Baseline: liver 6.0, spleen 18.0. Follow-up: liver 5.0, spleen 14.0."""
    baseline = pet(
        1,
        "2024-01-01",
        obs(1, suv="12.00"),  # Krenning 3
        obs(2, suv="9.00"),  # 3
        obs(3, "not_seen"),  # 0, SUVmax 0
        obs(4, suv="8.0"),  # 3
        obs(5, suv="10"),
        obs(6, suv="10"),  # no follow-up observation: left out
        obs(7, suv="3.00"),  # 2
    )
    follow_up = pet(
        2,
        "2024-04-01",
        obs(1, suv="15.00"),  # 4 (>= spleen 14)
        obs(2, suv="4.50"),  # 2
        obs(3, suv="7.0"),  # 3, first scored here: new
        obs(4, "not_seen"),  # vanished
        obs(5, "not_evaluable", suv="10"),  # left out
        obs(7, suv="3.35"),  # 2
        obs(8, suv="3.0"),  # no baseline observation: left out of the lesions, but new
        liver="5.0",
        spleen="14.0",
    )
    (entry,) = run(baseline, follow_up)
    return entry


@pytest.mark.parametrize(
    ("lesion", "expected"),
    [
        (
            1,
            {
                "baseline_suv_max": 12.0,
                "follow_up_suv_max": 15.0,
                "suv_max_change": 3.0,
                "suv_max_change_percent": 25.0,
                "baseline_tlr": 2.0,
                "follow_up_tlr": 3.0,
                "tlr_change": 1.0,
                "baseline_krenning": 3,
                "follow_up_krenning": 4,
                "krenning_change": 1,
            },
        ),
        (
            2,
            {
                "baseline_suv_max": 9.0,
                "follow_up_suv_max": 4.5,
                "suv_max_change": -4.5,
                "suv_max_change_percent": -50.0,
                "baseline_tlr": 1.5,
                "follow_up_tlr": 0.9,
                "tlr_change": -0.6,
                "baseline_krenning": 3,
                "follow_up_krenning": 2,
                "krenning_change": -1,
            },
        ),
        (
            3,  # not seen at baseline: SUVmax 0, score 0, no percentage
            {
                "baseline_suv_max": 0.0,
                "follow_up_suv_max": 7.0,
                "suv_max_change": 7.0,
                "suv_max_change_percent": None,
                "baseline_tlr": 0.0,
                "follow_up_tlr": 1.4,
                "tlr_change": 1.4,
                "baseline_krenning": 0,
                "follow_up_krenning": 3,
                "krenning_change": 3,
            },
        ),
        (
            4,  # not seen at follow-up
            {
                "baseline_suv_max": 8.0,
                "follow_up_suv_max": 0.0,
                "suv_max_change": -8.0,
                "suv_max_change_percent": -100.0,
                "baseline_tlr": 1.33,
                "follow_up_tlr": 0.0,
                "tlr_change": -1.33,
                "baseline_krenning": 3,
                "follow_up_krenning": 0,
                "krenning_change": -3,
            },
        ),
        (
            7,  # rounding: 0.35 / 3 = 11.67%; TLR 0.5 -> 0.67
            {
                "baseline_suv_max": 3.0,
                "follow_up_suv_max": 3.35,
                "suv_max_change": 0.35,
                "suv_max_change_percent": 11.7,
                "baseline_tlr": 0.5,
                "follow_up_tlr": 0.67,
                "tlr_change": 0.17,
                "baseline_krenning": 2,
                "follow_up_krenning": 2,
                "krenning_change": 0,
            },
        ),
    ],
)
def test_per_lesion_changes(lesion: int, expected: dict[str, Any]) -> None:
    row = lesion_rows(numbers_entry())[lesion]
    assert {key: row[key] for key in expected} == expected


def test_only_lesions_observed_on_both_and_evaluable_take_part() -> None:
    entry = numbers_entry()
    assert [row["lesion"] for row in entry["lesions"]] == [1, 2, 3, 4, 7]
    assert entry["new_lesions"] == [3, 8]
    assert entry["vanished_lesions"] == [4]
    assert entry["suv_max_rose_lesions"] == [1, 3, 7]
    assert entry["suv_max_fell_lesions"] == [2, 4]
    assert entry["reason"] == (
        "Against the baseline SSTR PET of 2024-01-01: SUVmax rose in 3 and fell in 2 of 5 lesions "
        "measured on both studies; Krenning score rose in 2 and fell in 2; 2 new SSTR-avid "
        "lesions (lesion 3 and lesion 8); 1 lesion no longer seen (lesion 4)."
    )


@pytest.mark.parametrize(
    ("liver", "tlr", "tlr_change"),
    [("5.0", 2.0, 0.0), (None, None, None), ("0", None, None), ("-1", None, None)],
)
def test_tlr_needs_a_positive_liver_value(
    liver: str | None, tlr: float | None, tlr_change: float | None
) -> None:
    (entry,) = run(
        pet(1, "2024-01-01", obs(1, suv="12")),
        pet(2, "2024-04-01", obs(1, suv="10"), liver=liver),
    )
    (row,) = entry["lesions"]
    assert (row["follow_up_tlr"], row["tlr_change"]) == (tlr, tlr_change)
    assert row["baseline_tlr"] == 2.0
    assert row["suv_max_change"] == -2.0  # SUVmax is compared whatever the liver


def test_an_ungradable_lesion_keeps_its_suv_but_has_no_krenning_change() -> None:
    # Follow-up liver 1.0 <= blood pool 1.5: no computed score; no visual score either.
    (entry,) = run(
        pet(1, "2024-01-01", obs(1, suv="12")),
        pet(2, "2024-04-01", obs(1, suv="10"), liver="1.0", spleen="18.0"),
    )
    (row,) = entry["lesions"]
    assert (row["baseline_krenning"], row["follow_up_krenning"], row["krenning_change"]) == (
        3,
        None,
        None,
    )
    assert row["suv_max_change"] == -2.0


def test_the_visual_score_is_the_krenning_score() -> None:
    (entry,) = run(
        pet(1, "2024-01-01", obs(1, suv="12", krenning_visual=4)),  # computed 3
        pet(2, "2024-04-01", obs(1, suv="12", krenning_visual=2)),
    )
    (row,) = entry["lesions"]
    assert (row["baseline_krenning"], row["follow_up_krenning"], row["krenning_change"]) == (
        4,
        2,
        -2,
    )


def test_equal_decimals_are_no_change() -> None:
    (entry,) = run(
        pet(1, "2024-01-01", obs(1, suv="7.10"), obs(2, suv="7.10")),
        pet(2, "2024-04-01", obs(1, suv="7.1"), obs(2, suv="7.11")),
    )
    assert entry["suv_max_rose_lesions"] == [2]
    assert entry["suv_max_fell_lesions"] == []
    assert "SUVmax rose in 1 and fell in 0 of 2 lesions" in entry["reason"]


# --- new and vanished lesions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_obs", "listed"),
    [
        (obs(9, krenning_visual=1), False),
        (obs(9, krenning_visual=2), True),  # above background: SSTR-avid
        (obs(9, suv="1.65"), False),  # exactly 1.5 x 1.1: Krenning 1
        (obs(9, suv="1.66"), True),  # Krenning 2
        (obs(9, suv="0.5"), False),  # Krenning 0
        (obs(9), False),  # ungradable: never counted as avid
        (obs(9, "not_seen"), False),  # not scored: not new
    ],
)
def test_a_new_lesion_is_listed_only_when_sstr_avid(new_obs: ObservationIn, listed: bool) -> None:
    (entry,) = run(pet(1, "2024-01-01", obs(1, suv="10")), pet(2, "2024-04-01", new_obs))
    assert entry["new_lesions"] == ([9] if listed else [])
    assert ("1 new SSTR-avid lesion (lesion 9)" in entry["reason"]) is listed


def test_a_vanished_lesion_that_reappears_is_not_new() -> None:
    entries = run(
        pet(1, "2024-01-01", obs(1, suv="10"), obs(2, suv="10")),
        pet(2, "2024-04-01", obs(1, "not_seen"), obs(2, suv="10")),
        pet(3, "2024-07-01", obs(1, suv="10"), obs(2, suv="10"), obs(3, suv="10")),
    )
    assert [(e["vanished_lesions"], e["new_lesions"]) for e in entries] == [([1], []), ([], [3])]


def test_a_lesion_first_scored_before_baseline_is_not_new_when_it_reappears() -> None:
    # A treatment line starting 2024-01-15 makes study 2 the baseline; lesion 1 was scored on
    # study 1 before it, not seen at baseline, and is seen again at the follow-up.
    entries = run(
        pet(1, "2023-06-01", obs(1, suv="10")),
        pet(2, "2024-01-01", obs(1, "not_seen")),
        pet(3, "2024-04-01", obs(1, suv="10"), obs(2, suv="10")),
        treatments=(ssa(1, "2024-01-15", kind="chemotherapy"),),
    )
    (entry,) = entries
    assert entry["baseline_study"] == 2
    assert entry["new_lesions"] == [2]
    assert entry["vanished_lesions"] == []  # not scored at baseline
    assert lesion_rows(entry)[1]["suv_max_change"] == 10.0


@pytest.mark.parametrize(
    ("baseline_state", "follow_up_state", "vanished"),
    [
        ("scored", "not_seen", True),
        ("not_seen", "not_seen", False),
        ("scored", "scored", False),
        ("scored", "not_evaluable", False),
    ],
)
def test_vanished_is_scored_at_baseline_and_not_seen_now(
    baseline_state: str, follow_up_state: str, vanished: bool
) -> None:
    (entry,) = run(
        pet(1, "2024-01-01", obs(1, baseline_state, suv="10")),
        pet(2, "2024-04-01", obs(1, follow_up_state, suv="10")),
    )
    assert entry["vanished_lesions"] == ([1] if vanished else [])


# --- ssa_started_between -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started", "kind", "alerted"),
    [
        ("2023-12-01", "ssa", []),  # before the baseline
        ("2024-01-01", "ssa", []),  # the day of the baseline (previous of study 2): not after it
        ("2024-01-02", "ssa", [2]),
        ("2024-04-01", "ssa", [2]),  # the day of study 2: on or before it; previous of study 3
        ("2024-04-02", "ssa", [3]),
        ("2024-07-01", "ssa", [3]),
        ("2024-07-02", "ssa", []),
        ("2024-02-01", "chemotherapy", []),  # not a somatostatin analogue
    ],
)
def test_ssa_started_between_the_previous_study_and_this_one(
    started: str, kind: str, alerted: list[int]
) -> None:
    entries = run(
        pet(1, "2024-01-01", obs(1, suv="10"), is_baseline=True),
        pet(2, "2024-04-01", obs(1, suv="10")),
        pet(3, "2024-07-01", obs(1, suv="10")),
        treatments=(ssa(5, started, kind=kind),),
    )
    assert [e["study"] for e in entries] == [2, 3]
    assert [e["study"] for e in entries if e["alerts"]] == alerted
    for entry in entries:
        for alert in entry["alerts"]:
            assert alert["code"] == "ssa_started_between"
            assert alert["treatments"] == [5]
            assert started in alert["text"]
            assert "pseudoprogression" in alert["text"]


def test_ssa_that_set_the_baseline_alerts_the_first_follow_up() -> None:
    entries = run(
        pet(1, "2023-06-01", obs(1, suv="10")),
        pet(2, "2024-01-01", obs(1, suv="10")),
        pet(3, "2024-05-01", obs(1, suv="10")),
        treatments=(ssa(5, "2024-02-01"),),
    )
    (entry,) = entries
    assert (entry["baseline_study"], entry["previous_study"]) == (2, 2)
    assert [a["code"] for a in entry["alerts"]] == ["ssa_started_between"]
    assert "after the previous SSTR PET (2024-01-01)" in entry["alerts"][0]["text"]


# --- order -------------------------------------------------------------------------------------


def test_studies_out_of_date_order() -> None:
    entries = run(
        pet(1, "2024-07-01", obs(1, suv="6.0")),
        pet(3, "2024-01-01", obs(1, suv="12.0")),
        pet(2, "2024-04-01", obs(1, suv="9.0")),
        treatments=(ssa(5, "2024-05-01"),),
    )
    # The SSA starting 2024-05-01 makes study 2 (2024-04-01) the baseline.
    assert [(e["study"], e["baseline_study"]) for e in entries] == [(1, 2)]
    entries = run(
        pet(1, "2024-07-01", obs(1, suv="6.0")),
        pet(3, "2024-01-01", obs(1, suv="12.0")),
        pet(2, "2024-04-01", obs(1, suv="9.0")),
    )
    assert [(e["study"], e["baseline_study"], e["previous_study"]) for e in entries] == [
        (2, 3, 3),
        (1, 3, 2),
    ]
    assert [e["lesions"][0]["suv_max_change"] for e in entries] == [-3.0, -6.0]


# --- independence from input order --------------------------------------------------------------

START = date(2024, 1, 1)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def patients(draw: st.DrawFn) -> PatientIn:
    n_studies = draw(st.integers(1, 4))
    days = draw(st.lists(st.integers(0, 400), min_size=n_studies, max_size=n_studies))
    lesions = range(1, draw(st.integers(1, 6)) + 1)
    studies = []
    for study_id, day in enumerate(days, start=1):
        observations = [
            ObservationIn(
                lesion=lesion,
                state=draw(st.sampled_from(["scored"] * 4 + ["not_seen", "not_evaluable"])),
                suv_max=draw(st.none() | st.decimals(0, 40, places=2)),
                krenning_visual=draw(st.none() | st.none() | st.integers(0, 4)),
            )
            for lesion in lesions
            if draw(st.integers(0, 4))
        ]
        studies.append(
            pet(
                study_id,
                (START + timedelta(days=day)).isoformat(),
                *observations,
                liver=draw(st.sampled_from(["6.0", "5.0", None])),
                is_baseline=draw(st.integers(0, 9)) == 0,
            )
        )
    treatments = [
        ssa(
            i,
            (START + timedelta(days=draw(st.integers(-30, 430)))).isoformat(),
            kind=draw(st.sampled_from(["ssa", "chemotherapy"])),
        )
        for i in range(1, draw(st.integers(0, 3)) + 1)
    ]
    return PatientIn(id=1, studies=tuple(studies), treatments=tuple(treatments))


def result(patient: PatientIn) -> list[dict[str, Any]]:
    return sstr_series(patient, build_series(patient, "sstr"), T, first_scored_on(patient))


@PROPERTY
@given(patients(), st.randoms())
def test_result_does_not_depend_on_input_order(patient, rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = reordered(patient, rng)
    assert result(shuffled) == result(patient)
