"""Molecular imaging phenotype of one patient, timepoint by timepoint (DOMAIN.md §1-§6).

``assess_phenotype`` returns the body of API.md ``GET patients/{id}/phenotype/`` without
``patient``, ``status`` and ``computed_at`` (the Django side adds those). Every study is scored
once, observations are indexed by lesion once, and every list is in lesion-id or date order, so
the result does not depend on the order of the input tuples.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from operator import attrgetter
from typing import Any

from .dualtracer import grade_timepoint, without_fdg
from .expression import sstr_expression
from .findings import latest_pathology, prrt_support
from .inputs import PathologyIn, PatientIn, StudyIn, Thresholds
from .netpet import PairedLesion
from .pairing import pair_timepoints
from .scale import ABOVE_BACKGROUND, ABOVE_LIVER, NOT_EVALUABLE, NOT_SEEN
from .uptake import DECIMAL_CONTEXT, Entry, Grade, grade, study_references
from .version import RULES_VERSION
from .wording import LesionNames

JSON = dict[str, Any]
ScoredStudy = dict[int, Entry]

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
_new_tuple = tuple.__new__


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
    """Each observation with its §2 grade and its SUVmax for the §4.1 ratio, in lesion-id order.

    A lesion not seen counts as SUVmax 0 for the ratio (§2.1).
    """
    refs = study_references(study, thresholds)
    observations = sorted(study.observations, key=_LESION_ID)
    result = {
        obs.lesion: (obs, grade(obs, refs), _ZERO if obs.state == NOT_SEEN else obs.suv_max)
        for obs in observations
    }
    if len(result) != len(observations):
        raise ValueError(f"study {study.id}: more than one observation of the same lesion")
    return result


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
    rows: list[JSON] = []

    if fdg_scored is None:
        for lesion, entry in sstr_scored.items():
            if entry[1].ungradable:
                ungradable.append(lesion)
            status = STATUS_UNGRADABLE if entry[1].ungradable else STATUS_NO_FDG_PET
            rows.append(_lesion_row(lesion, status, entry, None))
    else:
        for lesion in sorted(sstr_scored.keys() | fdg_scored.keys()):
            s = sstr_scored.get(lesion)
            f = fdg_scored.get(lesion)
            if s is not None and f is not None:
                s_grade, f_grade = s[1], f[1]
                s_score, f_score = s_grade.score, f_grade.score
                if s_score is not None and f_score is not None:
                    # tuple.__new__: the NamedTuple constructor is slow and this runs per lesion.
                    graded.append(
                        _new_tuple(
                            PairedLesion, (lesion, s_score, f_score, s[2], f[2], f[0].fdg_vs_sstr)
                        )
                    )
                    status = STATUS_GRADED
                else:
                    if s_grade.ungradable or f_grade.ungradable:
                        ungradable.append(lesion)
                    if s[0].state == NOT_EVALUABLE or f[0].state == NOT_EVALUABLE:
                        # Left out without making the result provisional (§4).
                        not_evaluable.append(lesion)
                        status = STATUS_NOT_EVALUABLE
                    else:
                        status = STATUS_UNGRADABLE
            else:
                only = s if s is not None else f
                if only is None:  # never: the ids are those observed on either study
                    continue
                obs, only_grade, _ = only
                if only_grade.ungradable:
                    ungradable.append(lesion)
                if obs.state == NOT_EVALUABLE:
                    not_evaluable.append(lesion)
                    status = STATUS_NOT_EVALUABLE
                else:
                    # Scored or not seen on one study, no observation on the other (§4).
                    unpaired.append(lesion)
                    status = STATUS_UNPAIRED
            rows.append(_lesion_row(lesion, status, s, f))

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
        "lesion_scores": rows,
    }


def _lesion_row(lesion: int, status: str, sstr: Entry | None, fdg: Entry | None) -> JSON:
    """One lesion at the timepoint, for the timeline's lesion rows: the effective score on each
    study and where it came from (the observation's own ``krenning_computed`` is on the API)."""
    s = sstr[1] if sstr is not None else _NO_GRADE
    f = fdg[1] if fdg is not None else _NO_GRADE
    f_score = f.score
    return {
        "lesion": lesion,
        "status": status,
        "sstr_score": s.score,
        "sstr_source": s.source,
        "sstr_flags": list(s.flags),
        "fdg_score": f_score,
        "fdg_source": f.source,
        "fdg_positive_background": None if f_score is None else f_score >= ABOVE_BACKGROUND,
        "fdg_positive_liver": None if f_score is None else f_score >= ABOVE_LIVER,
        "fdg_flags": list(f.flags),
    }


# No observation of the lesion on that study: every cell of its row is empty. (A source of None
# is outside Grade's type, hence the ignore; this Grade never reaches a rule.)
_NO_GRADE = Grade(None, None, None, (), False)  # type: ignore[arg-type]
