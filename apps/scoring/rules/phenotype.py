"""Molecular imaging phenotype of one patient, timepoint by timepoint (DOMAIN.md §1-§6).

``assess_phenotype`` returns the body of API.md ``GET patients/{id}/phenotype/`` without
``patient``, ``status`` and ``computed_at`` (the Django side adds those). Every study is scored
once, observations are indexed by lesion once, and every list is in lesion-id or date order, so
the result does not depend on the order of the input tuples.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import scale
from .dualtracer import PairedLesion, grade_timepoint, without_fdg
from .expression import sstr_expression
from .findings import latest_pathology, prrt_support
from .inputs import ObservationIn, PathologyIn, PatientIn, StudyIn, Thresholds
from .pairing import pair_timepoints
from .uptake import Grade, grade, study_references
from .version import RULES_VERSION
from .wording import LesionNames

JSON = dict[str, Any]
ScoredStudy = dict[int, tuple[ObservationIn, Grade]]

# Status of a lesion at a timepoint (lesion_scores[].status).
GRADED, UNPAIRED, NOT_EVALUABLE, UNGRADABLE, NO_FDG_PET = (
    "graded",
    "unpaired",
    "not_evaluable",
    "ungradable",
    "no_fdg_pet",
)
_ZERO = Decimal(0)
_ABSENT: tuple[None, None] = (None, None)  # no observation of the lesion on that study


def assess_phenotype(patient: PatientIn, thresholds: Thresholds) -> JSON:
    """Every dual-tracer timepoint of the patient, in date order of its SSTR PET (§4)."""
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
    """Each observation with its §2 grade, by lesion id in id order."""
    refs = study_references(study, thresholds)
    observations = sorted(study.observations, key=_lesion_id)
    result = {obs.lesion: (obs, grade(obs, refs)) for obs in observations}
    if len(result) != len(observations):
        raise ValueError(f"study {study.id}: more than one observation of the same lesion")
    return result


def _lesion_id(obs: ObservationIn) -> int:
    return obs.lesion


def _suv(obs: ObservationIn) -> Decimal | None:
    """SUVmax for the §4.1 ratio: a lesion not seen counts as SUVmax 0 (§2.1)."""
    return _ZERO if obs.state == scale.NOT_SEEN else obs.suv_max


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
    sstr_list = list(sstr_scored.values())
    expression = sstr_expression(sstr_list, thresholds)
    unpaired: list[int] = []
    not_evaluable: list[int] = []
    ungradable: list[int] = []
    graded: list[PairedLesion] = []
    status: dict[int, str] = {}

    if fdg_scored is None:
        lesion_ids: list[int] = list(sstr_scored)
        for lesion, (_, g) in sstr_scored.items():
            if g.ungradable:
                ungradable.append(lesion)
                status[lesion] = UNGRADABLE
            else:
                status[lesion] = NO_FDG_PET
    else:
        lesion_ids = sorted(sstr_scored.keys() | fdg_scored.keys())
        for lesion in lesion_ids:
            s_obs, s_grade = sstr_scored.get(lesion, _ABSENT)
            f_obs, f_grade = fdg_scored.get(lesion, _ABSENT)
            if _ungradable(s_grade) or _ungradable(f_grade):
                ungradable.append(lesion)
            if _not_evaluable(s_obs) or _not_evaluable(f_obs):
                # Left out without making the result provisional (§4).
                not_evaluable.append(lesion)
                status[lesion] = NOT_EVALUABLE
            elif s_obs is None or f_obs is None:
                unpaired.append(lesion)
                status[lesion] = UNPAIRED
            elif (
                s_grade is None or f_grade is None or s_grade.score is None or f_grade.score is None
            ):
                status[lesion] = UNGRADABLE
            else:
                status[lesion] = GRADED
                graded.append(
                    PairedLesion(
                        lesion,
                        s_grade.score,
                        f_grade.score,
                        _suv(s_obs),
                        _suv(f_obs),
                        f_obs.fdg_vs_sstr,
                    )
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
        sstr_scored=sstr_list,
        fdg_scored=list(fdg_scored.values()) if fdg_scored is not None else None,
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
        "lesion_scores": [
            _lesion_score(lesion, status[lesion], sstr_scored, fdg_scored) for lesion in lesion_ids
        ],
    }


def _lesion_score(
    lesion: int,
    status: str,
    sstr_scored: ScoredStudy,
    fdg_scored: ScoredStudy | None,
) -> JSON:
    """One lesion's scores at the timepoint, for the timeline's lesion rows."""
    s_obs, s = sstr_scored.get(lesion, _ABSENT)
    f_obs, f = fdg_scored.get(lesion, _ABSENT) if fdg_scored is not None else _ABSENT
    f_score = f.score if f is not None else None
    return {
        "lesion": lesion,
        "status": status,
        "sstr_state": s_obs.state if s_obs is not None else None,
        "sstr_score": s.score if s is not None else None,
        "sstr_source": s.source if s is not None else None,
        "sstr_computed": s.computed if s is not None else None,
        "sstr_flags": list(s.flags) if s is not None else [],
        "fdg_state": f_obs.state if f_obs is not None else None,
        "fdg_score": f_score,
        "fdg_source": f.source if f is not None else None,
        "fdg_computed": f.computed if f is not None else None,
        "fdg_positive_background": None if f_score is None else f_score >= scale.ABOVE_BACKGROUND,
        "fdg_positive_liver": None if f_score is None else f_score >= scale.ABOVE_LIVER,
        "fdg_flags": list(f.flags) if f is not None else [],
    }


def _ungradable(grade: Grade | None) -> bool:
    return grade is not None and grade.ungradable


def _not_evaluable(obs: ObservationIn | None) -> bool:
    return obs is not None and obs.state == scale.NOT_EVALUABLE
