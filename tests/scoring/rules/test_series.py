"""DOMAIN.md §8 "Series and baseline": series membership, the baseline rule, a user's pick, and
new lesions; table-driven, with Hypothesis for independence from input order."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.scoring.rules.inputs import PatientIn, StudyIn, TreatmentIn
from apps.scoring.rules.series import (
    ANATOMIC_SERIES,
    BASELINE_FIRST,
    BASELINE_TREATMENT,
    BASELINE_USER,
    FDG_SERIES,
    SSTR_SERIES,
    build_series,
    first_scored_on,
    new_lesions,
    series_kind,
)

from .builders import obs


def ct(id: int, day: str, *observations: object, **fields: object) -> StudyIn:
    return StudyIn(
        id=id,
        performed_on=date.fromisoformat(day),
        tracer="none",
        tracer_class="ANATOMIC",
        modality="ct",
        observations=tuple(observations),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )


def treatment(id: int, kind: str, day: str) -> TreatmentIn:
    return TreatmentIn(id=id, kind=kind, started_on=date.fromisoformat(day))


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"modality": "ct", "tracer": "none", "tracer_class": "ANATOMIC"}, ANATOMIC_SERIES),
        ({"modality": "mri", "tracer": "none", "tracer_class": "ANATOMIC"}, ANATOMIC_SERIES),
        ({"modality": "pet_ct", "tracer": "f18_fdg", "tracer_class": "FDG"}, FDG_SERIES),
        ({"modality": "pet_mri", "tracer": "ga68_dotatate", "tracer_class": "SSTR"}, SSTR_SERIES),
        # Not in a series: SSTR SPECT, post-therapy SPECT, other tracer classes.
        ({"modality": "spect_ct", "tracer": "in111_pentetreotide", "tracer_class": "SSTR"}, None),
        (
            {
                "modality": "spect_ct",
                "tracer": "lu177_dotatate",
                "tracer_class": "SSTR",
                "post_therapy": True,
            },
            None,
        ),
        ({"modality": "pet_ct", "tracer": "f18_dopa", "tracer_class": "LAT"}, None),
    ],
)
def test_series_membership(fields: dict[str, object], kind: str | None) -> None:
    study = StudyIn(id=1, performed_on=date(2024, 1, 1), **fields)  # type: ignore[arg-type]
    assert series_kind(study) == kind


def test_no_treatment_after_the_first_study_makes_the_first_study_the_baseline() -> None:
    patient = PatientIn(
        id=1,
        studies=(ct(3, "2024-09-01"), ct(1, "2024-01-01"), ct(2, "2024-05-01")),
        treatments=(treatment(1, "ssa", "2023-12-01"),),  # began before the first study
    )
    series = build_series(patient, ANATOMIC_SERIES)
    assert [s.id for s in series.studies] == [1, 2, 3]
    assert series.baseline is not None and series.baseline.id == 1
    assert series.baseline_source == BASELINE_FIRST
    assert [s.id for s in series.follow_ups] == [2, 3]


@pytest.mark.parametrize(
    ("start", "baseline"),
    [
        ("2024-05-01", 2),  # a study on the start date is on or before it
        ("2024-04-30", 1),
        ("2024-05-02", 2),
        ("2024-09-01", 3),  # the most recent line started after every study: no follow-up
    ],
)
def test_baseline_is_the_latest_study_on_or_before_the_most_recent_line(
    start: str, baseline: int
) -> None:
    patient = PatientIn(
        id=1,
        studies=(ct(1, "2024-01-01"), ct(2, "2024-05-01"), ct(3, "2024-09-01")),
        treatments=(treatment(1, "ssa", "2024-02-01"), treatment(2, "prrt_lu177_dotatate", start)),
    )
    series = build_series(patient, ANATOMIC_SERIES)
    assert series.baseline is not None and series.baseline.id == baseline
    assert series.baseline_source == BASELINE_TREATMENT
    assert series.treatment is not None and series.treatment.id == 2
    assert [s.id for s in series.follow_ups] == [i for i in (1, 2, 3) if i > baseline]


def test_a_treatment_starting_on_the_first_study_date_does_not_count() -> None:
    """ "Began after the series' first study" is strict."""
    patient = PatientIn(
        id=1,
        studies=(ct(1, "2024-01-01"), ct(2, "2024-05-01")),
        treatments=(treatment(1, "ssa", "2024-01-01"),),
    )
    assert build_series(patient, ANATOMIC_SERIES).baseline_source == BASELINE_FIRST


def test_a_users_pick_wins() -> None:
    patient = PatientIn(
        id=1,
        studies=(ct(1, "2024-01-01"), ct(2, "2024-05-01", is_baseline=True), ct(3, "2024-09-01")),
        treatments=(treatment(1, "ssa", "2024-08-01"),),
    )
    series = build_series(patient, ANATOMIC_SERIES)
    assert series.baseline is not None and series.baseline.id == 2
    assert series.baseline_source == BASELINE_USER
    assert [s.id for s in series.follow_ups] == [3]
    assert "picked by a user" in series.as_json()["reason"]  # type: ignore[operator]


def test_a_patient_with_no_study_of_the_series_has_no_baseline() -> None:
    series = build_series(PatientIn(id=1), FDG_SERIES)
    assert series.baseline is None and series.follow_ups == []
    assert series.as_json()["baseline_study"] is None


def test_new_lesions_are_first_scored_after_the_baseline_on_any_study() -> None:
    baseline = ct(1, "2024-01-01", obs(1), obs(2, "not_seen"))
    # Lesion 2 was only "not seen" at baseline; lesion 3 first appears on a PET in between.
    pet = StudyIn(
        id=9,
        performed_on=date(2024, 3, 1),
        tracer="ga68_dotatate",
        tracer_class="SSTR",
        observations=(obs(3),),
    )
    follow_up = ct(2, "2024-05-01", obs(1), obs(2), obs(3), obs(4, "not_seen"))
    patient = PatientIn(id=1, studies=(baseline, pet, follow_up))
    assert new_lesions(first_scored_on(patient), baseline, follow_up) == [2, 3]


def test_a_lesion_that_vanishes_and_reappears_is_not_new() -> None:
    baseline = ct(1, "2024-01-01", obs(1))
    gone = ct(2, "2024-05-01", obs(1, "not_seen"))
    back = ct(3, "2024-09-01", obs(1))
    patient = PatientIn(id=1, studies=(baseline, gone, back))
    assert new_lesions(first_scored_on(patient), baseline, back) == []


@given(st.permutations([1, 2, 3, 4]), st.permutations([0, 1]))
def test_series_and_baseline_do_not_depend_on_input_order(
    study_order: list[int], treatment_order: list[int]
) -> None:
    studies = {
        1: ct(1, "2024-01-01", obs(1)),
        2: ct(2, "2024-03-01", obs(1), obs(2)),
        3: ct(3, "2024-03-01", obs(1), obs(3)),  # same day as study 2: ids order them
        4: ct(4, "2024-09-01", obs(1)),
    }
    treatments = [treatment(1, "ssa", "2024-02-01"), treatment(2, "chemotherapy", "2024-04-01")]
    patient = PatientIn(
        id=1,
        studies=tuple(studies[i] for i in study_order),
        treatments=tuple(treatments[i] for i in treatment_order),
    )
    result = build_series(patient, ANATOMIC_SERIES).as_json()
    reason = result.pop("reason")
    assert result == {
        "series": ANATOMIC_SERIES,
        "baseline_study": 3,
        "baseline_performed_on": "2024-03-01",
        "source": BASELINE_TREATMENT,
        "treatment": 2,
        "follow_up_studies": [4],
    }
    assert "chemotherapy, 2024-04-01" in reason  # type: ignore[operator]
    assert new_lesions(first_scored_on(patient), studies[3], studies[4]) == []
