"""Molecular imaging phenotype of one patient, timepoint by timepoint (DOMAIN.md §1-§6).

``assess_phenotype`` returns the body of API.md ``GET patients/{id}/phenotype/`` without
``patient``, ``status`` and ``computed_at`` (the Django side adds those). Every study is scored
once, its observations sorted by lesion once, and every list is in lesion-id or date order, so
the result does not depend on the order of the input tuples. Each timepoint makes one pass over
its lesions, which also gathers what §4.3, §5 and §6 read off each lesion; the rule modules then
decide on those lists (NETPET makes its own pass over the graded lesions).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from decimal import localcontext
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Any

from .dualtracer import grade_timepoint, without_fdg
from .expression import KRENNING_SCORES, SstrTally, sstr_expression
from .findings import latest_pathology, prrt_support
from .groups import ZidanClasses
from .inputs import ObservationIn, PathologyIn, PatientIn, StudyIn, Thresholds
from .netpet import PairedLesion
from .pairing import pair_timepoints
from .scale import ABOVE_BACKGROUND, ABOVE_LIVER, NOT_EVALUABLE
from .uptake import DECIMAL_CONTEXT, Grade, ScoredStudy, grade_observations, study_references
from .version import RULES_VERSION
from .wording import LesionNames

JSON = dict[str, Any]

# Status of a lesion at a timepoint (lesion_scores[].status).
STATUS_GRADED, STATUS_UNPAIRED, STATUS_NOT_EVALUABLE, STATUS_UNGRADABLE, STATUS_NO_FDG_PET = (
    "graded",
    "unpaired",
    "not_evaluable",
    "ungradable",
    "no_fdg_pet",
)
_LESION_ID = attrgetter("lesion")
_LESION = itemgetter(0)  # of a PairedLesion

# The grade of a lesion with no observation on that study: every cell of its row is empty. (A
# source of None is outside Grade's type; this stand-in never reaches a rule.)
_NoGrade = tuple[None, None, None, tuple[str, ...], bool, None, None]
_NO_GRADE: _NoGrade = (None, None, None, (), False, None, None)

# One lesion of a timepoint: its id, then the observation and grade on the SSTR PET and on the
# FDG PET; ``None`` and ``_NO_GRADE`` where the lesion has no observation on that study.
_Aligned = tuple[
    int, ObservationIn | None, Grade | _NoGrade, ObservationIn | None, Grade | _NoGrade
]


def assess_phenotype(patient: PatientIn, thresholds: Thresholds) -> JSON:
    """Every dual-tracer timepoint of the patient, in date order of its SSTR PET (§4).

    Decimal arithmetic runs in ``DECIMAL_CONTEXT`` whatever the caller's thread context is, so
    products of entered values are exact and every comparison is exact (DOMAIN.md §2.1).

    Python's cyclic garbage collector is paused for the call. A result holds several hundred
    dicts and lists (800 for 4 timepoints of 40 lesions), more than the collector's first
    threshold (700 new containers), so a collection would otherwise start during nearly every
    call and walk every young container, the half-built result included, only to find nothing:
    the rules build trees and never a reference cycle, so everything they allocate is freed by
    reference counting. The collector is switched back on only if it was on, so a caller that
    disabled it keeps it disabled. (Calls overlapping in threads may switch it back on while
    another call runs: that only lets a collection happen, which changes no result.)
    """
    collecting = gc.isenabled()
    if collecting:
        gc.disable()
    try:
        with localcontext(DECIMAL_CONTEXT):
            return _assess(patient, thresholds)
    finally:
        if collecting:
            gc.enable()


def _assess(patient: PatientIn, thresholds: Thresholds) -> JSON:
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions if lesion.label})
    pathology = latest_pathology(patient.pathology)
    zidan_note = None
    if patient.primary_site != "lung":
        zidan_note = (
            "Zidan et al. proposed this grouping for pulmonary NEN; this patient's primary site "
            f"is {patient.primary_site.replace('_', ' ')}."
        )
    scored: dict[int, ScoredStudy] = {}

    def scored_study(study: StudyIn) -> ScoredStudy:
        result = scored.get(study.id)
        if result is None:
            result = scored[study.id] = _score_study(study, thresholds)
        return result

    timepoints = [
        _timepoint(
            sstr,
            fdg,
            scored_study(sstr),
            scored_study(fdg) if fdg is not None else None,
            patient.primary_site,
            pathology,
            zidan_note,
            thresholds,
            names,
        )
        for sstr, fdg in pair_timepoints(patient.studies, thresholds)
    ]
    return {
        "rules_version": RULES_VERSION,
        "thresholds": thresholds.as_dict(),
        "timepoints": timepoints,
    }


def _score_study(study: StudyIn, thresholds: Thresholds) -> ScoredStudy:
    """Each observation with its §2 grade, in lesion-id order."""
    observations: Sequence[ObservationIn] = study.observations
    lesions = [obs.lesion for obs in observations]
    if lesions != sorted(lesions):  # (sorting ints is cheaper than sorting observations by key)
        observations = sorted(observations, key=_LESION_ID)
        lesions = [obs.lesion for obs in observations]
    grades = grade_observations(observations, study_references(study, thresholds))
    if len(set(lesions)) != len(lesions):
        raise ValueError(f"study {study.id}: more than one observation of the same lesion")
    return ScoredStudy(lesions, observations, grades)


def _aligned(sstr: ScoredStudy, fdg: ScoredStudy | None) -> Iterable[_Aligned]:
    """The lesions observed on either study, in id order, with their observations side by side.

    Usually both studies observe the same lesions, and the two sorted lists are zipped as they
    are; otherwise (a lesion on one study only) they are aligned by lesion id.
    """
    if fdg is None:
        return zip(sstr.lesions, sstr.observations, sstr.grades, repeat(None), repeat(_NO_GRADE))
    if sstr.lesions == fdg.lesions:
        return zip(
            sstr.lesions, sstr.observations, sstr.grades, fdg.observations, fdg.grades, strict=True
        )
    s_at = {lesion: i for i, lesion in enumerate(sstr.lesions)}
    f_at = {lesion: i for i, lesion in enumerate(fdg.lesions)}
    aligned: list[_Aligned] = []
    for lesion in sorted(s_at.keys() | f_at.keys()):
        i, j = s_at.get(lesion), f_at.get(lesion)
        aligned.append(
            (
                lesion,
                None if i is None else sstr.observations[i],
                _NO_GRADE if i is None else sstr.grades[i],
                None if j is None else fdg.observations[j],
                _NO_GRADE if j is None else fdg.grades[j],
            )
        )
    return aligned


def _timepoint(
    sstr: StudyIn,
    fdg: StudyIn | None,
    sstr_scored: ScoredStudy,
    fdg_scored: ScoredStudy | None,
    primary_site: str,
    pathology: PathologyIn | None,
    zidan_note: str | None,
    thresholds: Thresholds,
    names: LesionNames,
) -> JSON:
    """One timepoint: which lesions are graded (§4), the gradings, §5 and §6."""
    unpaired: list[int] = []
    not_evaluable: list[int] = []
    ungradable: list[int] = []
    graded: list[PairedLesion] = []
    rows: list[JSON] = []
    # What the rules of §4.3, §5 and §6 read off each lesion, gathered in the same pass; the rules
    # themselves decide on these lists (``sstr_expression``, ``zidan``, ``prrt_support``).
    tally = SstrTally([0, 0, 0, 0, 0], [], [], [])  # §5: the SSTR study's evaluable lesions
    counts, evaluable, low, marked = tally
    small: list[int] = []  # §6 small lesions: SSTR Krenning 3-4 under small_lesion_mm
    small_mm = thresholds.small_lesion_mm
    # §4.3: the graded lesions at the liver threshold
    sstr_negative_fdg_positive: list[int] = []
    negative_on_both: list[int] = []
    positive_on_both: list[int] = []

    # One pass over the lesions observed on either study, in id order: the lesion's status at the
    # timepoint (§4), its row (lesion_scores) and the facts above. With no FDG PET, the SSTR PET's
    # lesions only.
    for lesion, s_obs, s_grade, f_obs, f_grade in _aligned(sstr_scored, fdg_scored):
        # No observation on a study: every cell of that study in the row is empty.
        s_score, s_source, _, s_flags, s_ungradable, s_suv, s_float = s_grade
        f_score, f_source, _, f_flags, f_ungradable, f_suv, f_float = f_grade
        status = None
        if s_score is not None and s_obs is not None:  # (a score implies an observation)
            # §5 counts every evaluable lesion of the SSTR study, paired with FDG or not. (This
            # check is the first thing after scoring that can fail: nothing in this pass before
            # it can, and the small-lesion test below repeats a comparison scoring has made.)
            if s_score not in KRENNING_SCORES:
                raise ValueError(f"lesion {lesion}: Krenning score {s_score} is outside 0-4")
            counts[s_score] += 1
            evaluable.append(s_obs)
            if s_obs.target:
                marked.append(s_obs)
            # Krenning 3-4 is adequate expression (§5) and SSTR-positive above liver (Zidan).
            adequate = s_score >= ABOVE_LIVER
            if adequate:
                # The SSTR study is a PET (every timepoint's is), so this caveat applies (§6).
                axis = s_obs.long_axis_mm
                if axis is not None and axis < small_mm:
                    small.append(lesion)
            else:
                low.append(lesion)
            if f_score is not None and f_obs is not None:
                # Graded: a score on both studies (§4). The grades carry the SUVmax of the §4.1
                # ratio (0 when not seen).
                graded.append(
                    (lesion, s_score, f_score, s_suv, f_suv, f_obs.fdg_vs_sstr, s_float, f_float)
                )
                if not adequate:
                    if f_score >= ABOVE_LIVER:
                        sstr_negative_fdg_positive.append(lesion)
                    else:
                        negative_on_both.append(lesion)
                elif f_score >= ABOVE_LIVER:
                    positive_on_both.append(lesion)
                status = STATUS_GRADED
        if status is None:
            if s_ungradable or f_ungradable:
                ungradable.append(lesion)
            if fdg_scored is None:
                status = STATUS_UNGRADABLE if s_ungradable else STATUS_NO_FDG_PET
            elif (s_obs is not None and s_obs.state == NOT_EVALUABLE) or (
                f_obs is not None and f_obs.state == NOT_EVALUABLE
            ):
                # Left out without making the result provisional (§4).
                not_evaluable.append(lesion)
                status = STATUS_NOT_EVALUABLE
            elif s_obs is None or f_obs is None:
                # Scored or not seen on one study, no observation on the other (§4).
                unpaired.append(lesion)
                status = STATUS_UNPAIRED
            else:
                status = STATUS_UNGRADABLE
        # The effective score on each study and where it came from (the observation's own
        # ``krenning_computed`` is on the API).
        rows.append(
            {
                "lesion": lesion,
                "status": status,
                "sstr_score": s_score,
                "sstr_source": s_source,
                "sstr_flags": [*s_flags] if s_flags else [],
                "fdg_score": f_score,
                "fdg_source": f_source,
                "fdg_positive_background": None if f_score is None else f_score >= ABOVE_BACKGROUND,
                "fdg_positive_liver": None if f_score is None else f_score >= ABOVE_LIVER,
                "fdg_flags": [*f_flags] if f_flags else [],
            }
        )

    expression = sstr_expression(tally, thresholds)
    liver = ZidanClasses(
        list(map(_LESION, graded)), sstr_negative_fdg_positive, negative_on_both, positive_on_both
    )
    provisional = bool(unpaired or ungradable)
    if fdg is None:
        window = thresholds.pairing_window_days
        netpet, karfis, zidan = without_fdg(
            thresholds,
            f"No FDG PET lies within {window} days of this SSTR PET, so there is no "
            "dual-tracer grade.",
        )
        dual = None
    else:
        dual = grade_timepoint(
            graded,
            liver,
            sstr.liver_suv,
            fdg.liver_suv,
            thresholds,
            names,
            provisional,
            zidan_note,
        )
        netpet, karfis, zidan = dual.netpet, dual.karfis, dual.zidan
        provisional = provisional or bool(dual.unknown_comparison)

    support = prrt_support(
        expression=expression,
        small_lesions=small,
        fdg_scored=fdg_scored,
        dual=dual,
        pathology=pathology,
        primary_site=primary_site,
        thresholds=thresholds,
        names=names,
    )
    return {
        "sstr_study": sstr.id,
        "fdg_study": fdg.id if fdg is not None else None,
        "sstr_performed_on": sstr.performed_on.isoformat(),
        "fdg_performed_on": fdg.performed_on.isoformat() if fdg is not None else None,
        "provisional": provisional,
        "unpaired_lesions": unpaired,
        "ungradable_lesions": ungradable,
        "not_evaluable_lesions": not_evaluable,
        "unknown_comparison_lesions": dual.unknown_comparison if dual is not None else [],
        "grading_order": (
            ["zidan", "netpet", "karfis"]
            if primary_site == "lung"
            else ["netpet", "karfis", "zidan"]
        ),
        "netpet": netpet,
        "karfis": karfis,
        "zidan": zidan,
        "sstr": expression.summary,
        "biopsy_target": dual.biopsy_target if dual is not None else None,
        "prrt_support": support,
        "lesion_scores": rows,
    }
