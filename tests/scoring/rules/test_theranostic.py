"""DOMAIN.md §7: post-177Lu-DOTATATE SPECT against the pre-therapy SSTR PET (theranostic
concordance); table-driven with boundaries on both sides, with Hypothesis for independence from
input order."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.scoring.rules.inputs import ObservationIn, PatientIn, StudyIn, Thresholds, TreatmentIn
from apps.scoring.rules.theranostic import theranostic

from .builders import reordered, strings

T = Thresholds()


def obs(
    lesion: int, score: int | None = None, state: str = "scored", **fields: Any
) -> ObservationIn:
    """An observation with the reader's visual score."""
    return ObservationIn(lesion=lesion, state=state, krenning_visual=score, **fields)


def pet(id: int, day: str, *observations: ObservationIn, **fields: Any) -> StudyIn:
    """A pre-therapy 68Ga-DOTATATE PET/CT with the standard references (B 1.5, L 6.0, S 18.0)."""
    return StudyIn(
        id=id,
        performed_on=date.fromisoformat(day),
        tracer="ga68_dotatate",
        tracer_class="SSTR",
        modality="pet_ct",
        blood_pool_suv=Decimal("1.5"),
        liver_suv=Decimal("6.0"),
        spleen_suv=Decimal("18.0"),
        observations=observations,
        **fields,
    )


def spect(
    id: int,
    day: str,
    *observations: ObservationIn,
    treatment: int | None = 10,
    cycle: int | None = 1,
    **fields: Any,
) -> StudyIn:
    """A post-therapy 177Lu-DOTATATE SPECT/CT."""
    return StudyIn(
        id=id,
        performed_on=date.fromisoformat(day),
        tracer="lu177_dotatate",
        tracer_class="SSTR",
        modality="spect_ct",
        post_therapy=True,
        blood_pool_suv=Decimal("1.5"),
        liver_suv=Decimal("6.0"),
        spleen_suv=Decimal("18.0"),
        treatment=treatment,
        cycle_number=cycle,
        observations=observations,
        **fields,
    )


def prrt(id: int, day: str, kind: str = "prrt_lu177_dotatate") -> TreatmentIn:
    return TreatmentIn(id=id, kind=kind, started_on=date.fromisoformat(day))


COURSE = prrt(10, "2024-02-01")


def run(*studies: StudyIn, treatments: tuple[TreatmentIn, ...] = (COURSE,)) -> list[dict[str, Any]]:
    return theranostic(PatientIn(id=1, studies=studies, treatments=treatments), T)


def one_cycle(pairs: list[tuple[int, int]]) -> dict[str, Any]:
    """PET (2024-01-01) and cycle-1 SPECT (2024-02-02) visual scores, lesion ids from 1."""
    (entry,) = run(
        pet(1, "2024-01-01", *(obs(i, p) for i, (p, _) in enumerate(pairs, start=1))),
        spect(2, "2024-02-02", *(obs(i, s) for i, (_, s) in enumerate(pairs, start=1))),
    )
    return entry


# --- per lesion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pet_score", "spect_score", "change", "target_lost"),
    [
        (2, 3, "upgraded", False),  # exactly +1
        (2, 2, "unchanged", False),
        (0, 1, "upgraded", False),
        (1, 4, "upgraded", False),
        (3, 2, "downgraded", False),  # exactly -1; SPECT 2 is not a lost target
        (4, 4, "unchanged", False),
        (4, 3, "downgraded", False),
        (3, 1, "downgraded", True),  # SPECT 1 where PET 3: lost
        (3, 0, "downgraded", True),
        (4, 1, "downgraded", True),
        (2, 1, "downgraded", False),  # PET 2: never an adequate target, so not lost
        (2, 0, "downgraded", False),
        (1, 1, "unchanged", False),
    ],
)
def test_lesion_change_and_target_lost(
    pet_score: int, spect_score: int, change: str, target_lost: bool
) -> None:
    entry = one_cycle([(pet_score, spect_score)])
    assert entry["lesions"] == [
        {
            "lesion": 1,
            "pet_score": pet_score,
            "spect_score": spect_score,
            "change": change,
            "target_lost": target_lost,
        }
    ]
    assert entry["upgraded_lesions"] == ([1] if change == "upgraded" else [])
    assert entry["downgraded_lesions"] == ([1] if change == "downgraded" else [])
    assert entry["target_lost_lesions"] == ([1] if target_lost else [])


def test_scores_are_visual_else_computed_and_not_seen_is_zero() -> None:
    (entry,) = run(
        pet(
            1,
            "2024-01-01",
            obs(1, suv_max=Decimal("7.0")),  # computed 3
            obs(2, 4, suv_max=Decimal("7.0")),  # visual 4 wins over computed 3
            obs(3, 3),
            obs(4, 2),
        ),
        spect(
            2,
            "2024-02-02",
            obs(1, suv_max=Decimal("1.65")),  # computed 1 (exactly 1.5 x 1.1)
            obs(2, 1, suv_max=Decimal("20")),  # visual 1 wins over computed 4
            obs(3, state="not_seen"),  # 0
            obs(4, suv_max=Decimal("1.66")),  # computed 2
        ),
    )
    scores = [(x["lesion"], x["pet_score"], x["spect_score"]) for x in entry["lesions"]]
    assert scores == [(1, 3, 1), (2, 4, 1), (3, 3, 0), (4, 2, 2)]
    assert entry["target_lost_lesions"] == [1, 2, 3]


def test_only_lesions_scored_on_both_take_part() -> None:
    (entry,) = run(
        pet(
            1,
            "2024-01-01",
            obs(1, 3),
            obs(2, 3),
            obs(3, 3, state="not_evaluable"),
            obs(4, 3),
            obs(5),  # ungradable on the PET: no visual score, no SUV
            obs(7, state="not_seen"),
        ),
        spect(
            2,
            "2024-02-02",
            obs(1, 4),
            obs(2, 4, state="not_evaluable"),
            obs(3, 4),
            obs(5, 4),
            obs(6, 4),  # no PET observation
            obs(7, 2),
        ),
    )
    assert [x["lesion"] for x in entry["lesions"]] == [1, 7]
    assert entry["upgraded_lesions"] == [1, 7]


# --- signals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "signals"),
    [
        ([(3, 3), (3, 4)], ["high_retention_all"]),
        ([(2, 3)], ["high_retention_all"]),  # one lesion, upgraded to 3
        ([(3, 4), (3, 4), (3, 2)], []),  # one lesion at 2: not all high; 1 of 3 low
        ([(3, 3), (3, 2)], []),  # exactly half low
        ([(3, 4), (3, 4), (3, 2), (3, 2)], []),  # exactly half low
        ([(3, 3), (3, 2), (3, 2)], ["low_retention_majority"]),  # 2 of 3 low
        ([(3, 1), (3, 4)], []),  # exactly half lost (and low)
        ([(3, 1), (2, 1), (3, 4)], ["low_retention_majority"]),  # 2 of 3 low, 1 of 3 lost
        ([(3, 1), (3, 1), (2, 2), (4, 4)], ["low_retention_majority"]),  # 2 of 4 lost: half
        ([(3, 1), (3, 1), (3, 4)], ["low_retention_majority", "target_lost_majority"]),
        ([(3, 1), (4, 0), (3, 0), (2, 4)], ["low_retention_majority", "target_lost_majority"]),
        ([(2, 1), (2, 1), (1, 0)], ["low_retention_majority"]),  # low PET: nothing lost
        ([], []),  # no lesion: no signal, not even high retention in "all"
    ],
)
def test_signals(pairs: list[tuple[int, int]], signals: list[str]) -> None:
    entry = one_cycle(pairs)
    assert entry["signals"] == signals
    assert len(entry["signal_texts"]) == len(signals)


def test_signal_texts() -> None:
    texts = one_cycle([(3, 1), (3, 1), (3, 4)])["signal_texts"]
    assert texts[0].startswith("Low retention (Krenning 0-2) in 2 of 3 lesions")
    assert "futility" in texts[0] and "consider stopping" in texts[0]
    assert "2 of 3 lesions" in texts[1] and "abbreviating the course" in texts[1]
    (text,) = one_cycle([(3, 3), (2, 4)])["signal_texts"]
    assert "all 2 lesions" in text and "supports completing the course" in text


def test_no_text_says_eligible_or_approved() -> None:
    cases = [
        one_cycle(pairs)
        for pairs in ([(3, 3)], [(3, 1), (3, 1)], [(3, 2), (2, 2)], [(3, 2), (3, 4)], [])
    ]
    cases += run(spect(2, "2024-02-02", obs(1, 3)))  # no PET
    texts = " ".join(strings(cases)).lower()
    assert "retention" in texts  # the texts are there to be checked
    assert "eligible" not in texts
    assert "approved" not in texts


# --- which PET -----------------------------------------------------------------------------------


def test_the_pet_before_the_course_start_is_chosen_over_a_later_pet() -> None:
    # Course 10 starts 2024-02-01. Study 3 (restaging PET during the course) and study 4 (the
    # day the course starts: not before it) are later; study 1 is the latest before the start.
    (entry,) = run(
        pet(5, "2023-06-01", obs(1, 1)),
        pet(1, "2024-01-01", obs(1, 3)),
        pet(4, "2024-02-01", obs(1, 2)),
        pet(3, "2024-03-01", obs(1, 4)),
        spect(2, "2024-04-02", obs(1, 1), cycle=2),
    )
    assert (entry["pet_study"], entry["pet_performed_on"]) == (1, "2024-01-01")
    assert entry["target_lost_lesions"] == [1]
    assert entry["pet_source"] == "study_treatment"
    assert entry["treatment"] == 10


def test_only_a_pre_therapy_sstr_pet_counts_as_the_pet() -> None:
    (entry,) = run(
        pet(1, "2023-12-01", obs(1, 3)),
        StudyIn(6, date(2024, 1, 10), "f18_fdg", "FDG", observations=(obs(1, 3),)),
        StudyIn(
            7,
            date(2024, 1, 12),
            "in111_pentetreotide",
            "SSTR",
            modality="planar",
            observations=(obs(1, 4),),
        ),
        spect(2, "2024-02-02", obs(1, 3), cycle=1, treatment=None),  # an earlier post-therapy scan
        spect(3, "2024-04-02", obs(1, 1), cycle=2, treatment=None),
        treatments=(),
    )[1:]
    # No course: the latest SSTR PET before the scan, which is neither the FDG PET, the planar
    # 111In scintigraphy nor the cycle-1 post-therapy scan.
    assert (entry["study"], entry["pet_study"], entry["pet_source"]) == (3, 1, "before_spect")


def course_studies() -> tuple[StudyIn, ...]:
    return (
        pet(1, "2024-01-01", obs(1, 3)),
        pet(2, "2024-03-01", obs(1, 2)),
        pet(3, "2024-06-01", obs(1, 4)),  # the SPECT's day: never before it
    )


# Course 7 started 2024-02-01; course 8 (also 177Lu-DOTATATE) 2024-05-01; course 9 after the
# SPECT; an SSA line in between.
COURSES = (
    prrt(7, "2024-02-01"),
    prrt(8, "2024-05-01"),
    prrt(9, "2024-07-01"),
    prrt(11, "2024-05-15", kind="ssa"),
)


@pytest.mark.parametrize(
    ("treatment", "treatments", "course", "pet_study", "source", "note"),
    [
        (
            7,
            COURSES,
            7,
            1,
            "study_treatment",
            "this scan belongs to (177Lu-DOTATATE PRRT started 2024-02-01)",
        ),
        (
            None,
            COURSES,
            8,
            2,
            "latest_prrt_course",
            "started on or before this scan (177Lu-DOTATATE PRRT started 2024-05-01)",
        ),
        (99, COURSES, 8, 2, "latest_prrt_course", "The treatment line this scan names is not in"),
        (  # a course started the day of the scan: on or before it
            None,
            (prrt(7, "2024-02-01"), prrt(12, "2024-06-01")),
            12,
            2,
            "latest_prrt_course",
            "(177Lu-DOTATATE PRRT started 2024-06-01)",
        ),
        (
            11,
            COURSES,
            11,
            2,
            "study_treatment",
            "this scan belongs to (long-acting somatostatin analogue started 2024-05-15)",
        ),
        (None, COURSES[2:], None, 2, "before_spect", "No 177Lu-DOTATATE course is recorded"),
        (None, (), None, 2, "before_spect", "latest before the scan date"),
        (99, (), None, 2, "before_spect", "The treatment line this scan names is not in"),
    ],
)
def test_course_fallbacks(
    treatment: int | None,
    treatments: tuple[TreatmentIn, ...],
    course: int | None,
    pet_study: int,
    source: str,
    note: str,
) -> None:
    (entry,) = run(
        *course_studies(),
        spect(4, "2024-06-01", obs(1, 4), treatment=treatment),
        treatments=treatments,
    )
    assert (entry["treatment"], entry["pet_study"], entry["pet_source"]) == (
        course,
        pet_study,
        source,
    )
    assert note in entry["note"]
    assert "IC50 0.2 nM" in entry["note"] and "IC50 2.0 nM" in entry["note"]


@pytest.mark.parametrize(
    ("treatments", "reason"),
    [
        ((COURSE,), "no pre-therapy SSTR PET before the start of its course (2024-02-01)"),
        ((), "no pre-therapy SSTR PET before it"),
    ],
)
def test_no_pet_found(treatments: tuple[TreatmentIn, ...], reason: str) -> None:
    # The only PET is on the day the course starts, which is not before it.
    (entry,) = run(
        pet(1, "2024-02-01", obs(1, 3)),
        spect(2, "2024-02-01" if not treatments else "2024-02-02", obs(1, 1)),
        treatments=treatments,
    )
    assert entry["pet_study"] is None
    assert entry["lesions"] == []
    assert entry["signals"] == []
    assert entry["signal_texts"] == []
    assert reason in entry["reason"]


# --- the entry -----------------------------------------------------------------------------------


def test_one_entry_per_post_therapy_lu177_scan_in_date_order() -> None:
    entries = run(
        spect(6, "2024-06-02", obs(1, 2), cycle=3),
        pet(1, "2024-01-01", obs(1, 3), obs(2, 4)),
        spect(2, "2024-02-02", obs(1, 4), obs(2, 4), cycle=1),
        spect(4, "2024-04-02", obs(1, 1), obs(2, 4), cycle=2),
        # a 177Lu study not marked post-therapy, and a post-therapy 131I-MIBG scan: not entries
        dataclasses.replace(spect(8, "2024-05-02", obs(1, 4)), post_therapy=False),
        dataclasses.replace(spect(9, "2024-05-03"), tracer="i131_mibg", tracer_class="NET"),
    )
    assert [(e["study"], e["cycle_number"], e["performed_on"]) for e in entries] == [
        (2, 1, "2024-02-02"),
        (4, 2, "2024-04-02"),
        (6, 3, "2024-06-02"),
    ]
    assert [e["signals"] for e in entries] == [
        ["high_retention_all"],
        [],
        ["low_retention_majority"],
    ]
    assert entries[1]["reason"] == (
        "Cycle 2 post-therapy 177Lu-DOTATATE SPECT/CT of 2024-04-02 against the SSTR PET of "
        "2024-01-01: "
        "2 lesions compared, none upgraded, 1 downgraded (lesion 1), 1 lost as a target "
        "(lesion 1); no signal."
    )
    assert entries[0]["reason"].endswith(
        "2 lesions compared, 1 upgraded (lesion 1), none downgraded, none lost as targets; "
        "high retention in every lesion."
    )


def test_no_lesion_on_both() -> None:
    (entry,) = run(pet(1, "2024-01-01", obs(1, 3)), spect(2, "2024-02-02", obs(2, 3)))
    assert entry["pet_study"] == 1
    assert (entry["lesions"], entry["signals"]) == ([], [])
    assert "no lesion has a score on both studies" in entry["reason"]


def test_no_post_therapy_scan_gives_nothing() -> None:
    assert run(pet(1, "2024-01-01", obs(1, 3)), pet(2, "2024-06-01", obs(1, 3))) == []


# --- independence from input order ---------------------------------------------------------------

START = date(2024, 1, 1)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def patients(draw: st.DrawFn) -> PatientIn:
    lesions = range(1, draw(st.integers(1, 6)) + 1)

    def observations() -> list[ObservationIn]:
        return [
            ObservationIn(
                lesion=lesion,
                state=draw(st.sampled_from(["scored"] * 4 + ["not_seen", "not_evaluable"])),
                suv_max=draw(st.none() | st.decimals(0, 40, places=2)),
                krenning_visual=draw(st.none() | st.integers(0, 4)),
            )
            for lesion in lesions
            if draw(st.integers(0, 4))
        ]

    def day() -> str:
        return (START + timedelta(days=draw(st.integers(0, 300)))).isoformat()

    studies = [pet(i, day(), *observations()) for i in range(1, draw(st.integers(0, 3)) + 1)]
    studies += [
        spect(
            i,
            day(),
            *observations(),
            treatment=draw(st.sampled_from([None, 20, 21, 99])),
            cycle=draw(st.none() | st.integers(1, 4)),
        )
        for i in range(10, 10 + draw(st.integers(1, 3)))
    ]
    treatments = [
        prrt(i, day(), kind=draw(st.sampled_from(["prrt_lu177_dotatate", "ssa"])))
        for i in range(20, 20 + draw(st.integers(0, 3)))
    ]
    return PatientIn(id=1, studies=tuple(studies), treatments=tuple(treatments))


@PROPERTY
@given(patients(), st.randoms())
def test_result_does_not_depend_on_input_order(patient, rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = reordered(patient, rng)
    expected = theranostic(patient, T)
    assert theranostic(shuffled, T) == expected
    assert [e["performed_on"] for e in expected] == sorted(e["performed_on"] for e in expected)
