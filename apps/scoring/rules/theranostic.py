"""Theranostic concordance of post-177Lu-DOTATATE SPECT with the pre-therapy SSTR PET (DOMAIN.md
§7).

Each post-therapy 177Lu-DOTATATE study (``post_therapy`` and tracer ``lu177_dotatate``, any
modality) is compared, lesion by lesion, with the latest pre-therapy SSTR PET
(``pairing.is_sstr_pet``) dated strictly before the start of its PRRT course. The course is, in
this order: the treatment the study names (``StudyIn.treatment``); else the latest treatment of
kind ``prrt_lu177_dotatate`` started on or before the SPECT; else there is none, and the PET is
the latest SSTR PET dated strictly before the SPECT. The entry's ``note`` says which was used.

A lesion takes part when it has an observation on both studies and a score on both (§2: visual,
else computed; *not seen* is 0); *not evaluable* and ungradable lesions are left out.

- upgraded: SPECT ≥ PET + 1; downgraded: SPECT ≤ PET − 1; else unchanged.
- target lost: SPECT ≤ 1 where PET ≥ 3.
- ``high_retention_all``: at least one lesion takes part and every one is at SPECT ≥ 3.
- ``low_retention_majority``: more than half (strict) of the taking-part lesions at SPECT ≤ 2.
- ``target_lost_majority``: more than half (strict) of the taking-part lesions lost as targets
  (the denominator is every taking-part lesion, as for the other majority signal).

Decision support only: the texts suggest what to consider and never use the words "eligible" or
"approved".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .inputs import JSON, PatientIn, StudyIn, Thresholds, TreatmentIn
from .pairing import is_sstr_pet
from .scale import ABOVE_LIVER
from .series import date_order
from .uptake import score_study
from .wording import LesionNames, count, every, study_name, treatment_name

LU177_DOTATATE: Final = "lu177_dotatate"
PRRT_LU177_DOTATATE: Final = "prrt_lu177_dotatate"

UPGRADED: Final = "upgraded"
DOWNGRADED: Final = "downgraded"
UNCHANGED: Final = "unchanged"

HIGH_RETENTION_ALL: Final = "high_retention_all"
LOW_RETENTION_MAJORITY: Final = "low_retention_majority"
TARGET_LOST_MAJORITY: Final = "target_lost_majority"

# Where the PET's cut-off date came from.
COURSE_LINKED: Final = "study_treatment"  # the treatment the SPECT names
COURSE_LATEST: Final = "latest_prrt_course"  # latest 177Lu-DOTATATE course on or before it
COURSE_NONE: Final = "before_spect"  # no course: the latest SSTR PET before the SPECT

# A lesion is a lost target at SPECT Krenning ≤ 1 (no more than blood pool) where the PET showed
# adequate expression (ABOVE_LIVER, §3 "PRRT target adequacy").
TARGET_LOST_MAX: Final = 1

AFFINITY_NOTE: Final = (
    "68Ga-DOTATATE binds SSTR2 with higher affinity (IC50 0.2 nM) than 177Lu-DOTATATE "
    "(IC50 2.0 nM), which may account for some difference between the two scores."
)

_SHORT: Final = {
    HIGH_RETENTION_ALL: "high retention in every lesion",
    LOW_RETENTION_MAJORITY: "low retention in most lesions",
    TARGET_LOST_MAJORITY: "target lost in most lesions",
}


def is_post_therapy_lu177(study: StudyIn) -> bool:
    """A post-therapy 177Lu-DOTATATE scan (SPECT/CT, or planar)."""
    return study.post_therapy and study.tracer == LU177_DOTATATE


def _more_than_half(part: int, whole: int) -> bool:
    """Strict "more than half"; an empty set gives false (DOMAIN.md §2.1)."""
    return 2 * part > whole


def _course(study: StudyIn, treatments: Iterable[TreatmentIn]) -> tuple[TreatmentIn | None, str]:
    courses = list(treatments)
    if study.treatment is not None:
        linked = [t for t in courses if t.id == study.treatment]
        if linked:
            return linked[0], COURSE_LINKED
    day = study.performed_on
    prrt = [t for t in courses if t.kind == PRRT_LU177_DOTATATE and t.started_on <= day]
    if prrt:
        return max(prrt, key=lambda t: (t.started_on, t.id)), COURSE_LATEST
    return None, COURSE_NONE


def _course_note(study: StudyIn, course: TreatmentIn | None, source: str) -> str:
    if course is not None and source == COURSE_LINKED:
        return (
            f"The SSTR PET compared is the latest before the start of the PRRT course this scan "
            f"belongs to ({treatment_name(course)})."
        )
    missing = ""
    if study.treatment is not None:
        missing = "The treatment line this scan names is not in the record. "
    if course is not None:
        return (
            f"{missing}The SSTR PET compared is the latest before the start of the latest "
            f"177Lu-DOTATATE course started on or before this scan ({treatment_name(course)})."
        )
    return (
        f"{missing}No 177Lu-DOTATATE course is recorded on or before this scan, so the SSTR PET "
        "compared is the latest before the scan date."
    )


def _signal_text(code: str, n: int, hits: int) -> str:
    if code == HIGH_RETENTION_ALL:
        return (
            f"High tracer retention (Krenning 3-4) in {every(n, 'lesion')} compared supports "
            "completing the course."
        )
    if code == LOW_RETENTION_MAJORITY:
        return (
            f"Low retention (Krenning 0-2) in {hits} of {count(n, 'lesion')} is a futility "
            "signal: consider stopping the course."
        )
    return (
        f"Target lost (Krenning 0-1 on the scan where the PET showed 3-4) in {hits} of "
        f"{count(n, 'lesion')} suggests a marked response: consider abbreviating the course and "
        "deferring the remaining cycles."
    )


def theranostic(patient: PatientIn, thresholds: Thresholds) -> list[JSON]:
    """One entry per post-therapy 177Lu-DOTATATE scan, in date order (§7).

    Lists are in lesion-id order and studies and treatments are ordered by date (then id), so the
    result does not depend on the order of the studies, observations or treatments in the input.
    """
    studies = sorted(patient.studies, key=date_order)
    pets = [s for s in studies if is_sstr_pet(s)]
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions if lesion.label})
    return [
        _entry(study, pets, patient.treatments, thresholds, names)
        for study in studies
        if is_post_therapy_lu177(study)
    ]


def _entry(
    spect: StudyIn,
    pets: list[StudyIn],
    treatments: Iterable[TreatmentIn],
    thresholds: Thresholds,
    names: LesionNames,
) -> JSON:
    course, source = _course(spect, treatments)
    cutoff = course.started_on if course is not None else spect.performed_on
    before = [s for s in pets if s.performed_on < cutoff]
    pet = before[-1] if before else None
    lesions: list[JSON] = []
    if pet is not None:
        pet_scores = score_study(pet, thresholds)
        spect_scores = score_study(spect, thresholds)
        for lesion in sorted(pet_scores.keys() & spect_scores.keys()):
            pet_score, spect_score = pet_scores[lesion].score, spect_scores[lesion].score
            if pet_score is None or spect_score is None:
                continue  # not evaluable or ungradable on either
            if spect_score >= pet_score + 1:
                change = UPGRADED
            elif spect_score <= pet_score - 1:
                change = DOWNGRADED
            else:
                change = UNCHANGED
            lesions.append(
                {
                    "lesion": lesion,
                    "pet_score": pet_score,
                    "spect_score": spect_score,
                    "change": change,
                    "target_lost": spect_score <= TARGET_LOST_MAX and pet_score >= ABOVE_LIVER,
                }
            )
    n = len(lesions)
    high = sum(1 for x in lesions if x["spect_score"] >= ABOVE_LIVER)
    low = n - high
    lost = [x["lesion"] for x in lesions if x["target_lost"]]
    hits = {HIGH_RETENTION_ALL: high, LOW_RETENTION_MAJORITY: low, TARGET_LOST_MAJORITY: len(lost)}
    signals = [
        code
        for code, holds in (
            (HIGH_RETENTION_ALL, n > 0 and high == n),
            (LOW_RETENTION_MAJORITY, _more_than_half(low, n)),
            (TARGET_LOST_MAJORITY, _more_than_half(len(lost), n)),
        )
        if holds
    ]
    upgraded = [x["lesion"] for x in lesions if x["change"] == UPGRADED]
    downgraded = [x["lesion"] for x in lesions if x["change"] == DOWNGRADED]
    return {
        "study": spect.id,
        "performed_on": spect.performed_on.isoformat(),
        "cycle_number": spect.cycle_number,
        "treatment": course.id if course is not None else None,
        "pet_study": pet.id if pet is not None else None,
        "pet_performed_on": pet.performed_on.isoformat() if pet is not None else None,
        "pet_source": source,
        "signals": signals,
        "signal_texts": [_signal_text(code, n, hits[code]) for code in signals],
        "lesions": lesions,
        "upgraded_lesions": upgraded,
        "downgraded_lesions": downgraded,
        "target_lost_lesions": lost,
        "note": f"{_course_note(spect, course, source)} {AFFINITY_NOTE}",
        "reason": _reason(
            spect, pet, course, lesions, (upgraded, downgraded, lost), signals, names
        ),
    }


def _reason(
    spect: StudyIn,
    pet: StudyIn | None,
    course: TreatmentIn | None,
    lesions: list[JSON],
    changed: tuple[list[int], list[int], list[int]],
    signals: list[str],
    names: LesionNames,
) -> str:
    scan = study_name(spect)
    scan = f"Cycle {spect.cycle_number} {scan}" if spect.cycle_number is not None else f"The {scan}"
    if pet is None:
        when = (
            f"the start of its course ({course.started_on.isoformat()})"
            if course is not None
            else "it"
        )
        return f"{scan}: no pre-therapy SSTR PET before {when}, so no lesion can be compared."
    against = f"{scan} against the {study_name(pet)}"
    if not lesions:
        return f"{against}: no lesion has a score on both studies, so there is no signal."
    upgraded, downgraded, lost = changed
    parts = [
        f"{count(len(lesions), 'lesion')} compared",
        _listed(upgraded, "upgraded", names),
        _listed(downgraded, "downgraded", names),
        _listed(lost, "lost as targets" if len(lost) != 1 else "lost as a target", names),
    ]
    signal = "; ".join(_SHORT[code] for code in signals) if signals else "no signal"
    return f"{against}: {', '.join(parts)}; {signal}."


def _listed(lesions: list[int], what: str, names: LesionNames) -> str:
    if not lesions:
        return f"none {what}"
    return f"{len(lesions)} {what} ({names.many(lesions)})"
