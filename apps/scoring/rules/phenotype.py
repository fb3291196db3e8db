"""Molecular imaging phenotype of one patient, timepoint by timepoint (DOMAIN.md §1-§6).

``assess_phenotype`` returns the body of API.md ``GET patients/{id}/phenotype/`` without
``patient``, ``status`` and ``computed_at`` (the Django side adds those). Every study is scored
once, its observations sorted by lesion once, and every list is in lesion-id or date order, so
the result does not depend on the order of the input tuples.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, localcontext
from itertools import repeat
from operator import attrgetter
from typing import Any

from .dualtracer import grade_timepoint, without_fdg
from .expression import sstr_expression
from .findings import latest_pathology, prrt_support
from .inputs import ObservationIn, PathologyIn, PatientIn, StudyIn, Thresholds
from .netpet import PairedLesion
from .pairing import pair_timepoints
from .scale import ABOVE_BACKGROUND, ABOVE_LIVER, NOT_EVALUABLE, NOT_SEEN
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
_ZERO = Decimal(0)
_LESION_ID = attrgetter("lesion")

# The grade of a lesion with no observation on that study: every cell of its row is empty. (A
# source of None is outside Grade's type; this stand-in never reaches a rule.)
_NoGrade = tuple[None, None, None, tuple[str, ...], bool]
_NO_GRADE: _NoGrade = (None, None, None, (), False)

# One lesion of a timepoint: its id, then the observation and grade on the SSTR PET and on the
# FDG PET; ``None`` and ``_NO_GRADE`` where the lesion has no observation on that study.
_Aligned = tuple[
    int, ObservationIn | None, Grade | _NoGrade, ObservationIn | None, Grade | _NoGrade
]


def assess_phenotype(patient: PatientIn, thresholds: Thresholds) -> JSON:
    """Every dual-tracer timepoint of the patient, in date order of its SSTR PET (§4).

    Decimal arithmetic runs in ``DECIMAL_CONTEXT`` whatever the caller's thread context is, so
    products of entered values are exact and every comparison is exact (DOMAIN.md §2.1).
    """
    with localcontext(DECIMAL_CONTEXT):
        return _assess(patient, thresholds)


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
    observations = sorted(study.observations, key=_LESION_ID)
    grades = grade_observations(observations, study_references(study, thresholds))
    lesions = [obs.lesion for obs in observations]
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
    expression = sstr_expression(sstr_scored, thresholds)
    unpaired: list[int] = []
    not_evaluable: list[int] = []
    ungradable: list[int] = []
    graded: list[PairedLesion] = []
    rows: list[JSON] = []

    # One pass over the lesions observed on either study, in id order: the lesion's status at the
    # timepoint (§4) and its row (lesion_scores). With no FDG PET, the SSTR PET's lesions only.
    for lesion, s_obs, s_grade, f_obs, f_grade in _aligned(sstr_scored, fdg_scored):
        # No observation on a study: every cell of that study in the row is empty.
        s_score, s_source, _, s_flags, s_ungradable = s_grade
        f_score, f_source, _, f_flags, f_ungradable = f_grade
        if s_obs is not None and f_obs is not None and s_score is not None and f_score is not None:
            # A lesion not seen counts as SUVmax 0 for the §4.1 ratio (§2.1).
            graded.append(
                (
                    lesion,
                    s_score,
                    f_score,
                    _ZERO if s_obs.state == NOT_SEEN else s_obs.suv_max,
                    _ZERO if f_obs.state == NOT_SEEN else f_obs.suv_max,
                    f_obs.fdg_vs_sstr,
                )
            )
            status = STATUS_GRADED
        else:
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
                "sstr_flags": [*s_flags],
                "fdg_score": f_score,
                "fdg_source": f_source,
                "fdg_positive_background": None if f_score is None else f_score >= ABOVE_BACKGROUND,
                "fdg_positive_liver": None if f_score is None else f_score >= ABOVE_LIVER,
                "fdg_flags": [*f_flags],
            }
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
        sstr_scored=sstr_scored,
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
