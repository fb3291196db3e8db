"""Molecular imaging phenotype of one patient, timepoint by timepoint (docs/clinical-rules.md
§1-§6), with the PPGL agent choice of §11 (``agent_choice.py``).

``assess_phenotype`` returns the body of API.md ``GET patients/{id}/phenotype/`` without
``patient``, ``status`` and ``computed_at`` (the Django side adds those). Every study is scored
once, and every list is in lesion-id or date order, so the result does not depend on the order
of the input tuples. Each timepoint makes one pass over its lesions (``_LesionPass``), which
sorts them for §4 and gathers what §4.3, §5 and §6 read off each lesion; the rule modules then
decide on those lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from .agent_choice import agent_choice
from .dualtracer import grade_timepoint, without_fdg
from .expression import KRENNING_SCORES, SstrTally, sstr_expression
from .findings import latest_pathology, prrt_support
from .groups import ZidanClasses
from .inputs import JSON, ObservationIn, PathologyIn, PatientIn, StudyIn, Thresholds
from .netpet import PairedLesion
from .pairing import pair_timepoints
from .scale import ABOVE_LIVER, NOT_EVALUABLE, NOT_SEEN
from .uptake import DECIMAL_CONTEXT, ScoredStudy, Uptake, score_lesions
from .version import RULES_VERSION
from .wording import LesionNames

# Status of a lesion at a timepoint (lesion_scores[].status).
STATUS_GRADED, STATUS_UNPAIRED, STATUS_NOT_EVALUABLE, STATUS_UNGRADABLE, STATUS_NO_FDG_PET = (
    "graded",
    "unpaired",
    "not_evaluable",
    "ungradable",
    "no_fdg_pet",
)
_ZERO = Decimal(0)


def assess_phenotype(
    patient: PatientIn, thresholds: Thresholds, scored: Mapping[int, ScoredStudy] | None = None
) -> JSON:
    """Every dual-tracer timepoint of the patient, in date order of its SSTR PET (§4), and the
    PPGL agent choice beside them (§11, ``agent_choice``: None where it does not apply).

    ``scored``: the patient's studies already scored (``score_lesions``, by study id) when the
    caller has them (the worker stores them too); a study not in it is scored here.

    Decimal arithmetic runs in ``DECIMAL_CONTEXT`` whatever the caller's thread context is, so
    products of entered values are exact and every comparison is exact (§2.1).
    """
    with localcontext(DECIMAL_CONTEXT):
        return _assess(patient, thresholds, dict(scored or {}))


def _assess(patient: PatientIn, thresholds: Thresholds, scored: dict[int, ScoredStudy]) -> JSON:
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions if lesion.label})
    pathology = latest_pathology(patient.pathology)
    zidan_note = None
    if patient.primary_site != "lung":
        zidan_note = (
            "Zidan et al. proposed this grouping for pulmonary NEN; this patient's primary site "
            f"is {patient.primary_site.replace('_', ' ')}."
        )
    # ``scored`` is by study id: an FDG PET may pair with several SSTR PETs.
    timepoints = []
    for sstr, fdg in pair_timepoints(patient.studies, thresholds):
        for study in (sstr, fdg):
            if study is not None and study.id not in scored:
                scored[study.id] = score_lesions(study, thresholds)
        timepoints.append(
            _timepoint(
                sstr,
                fdg,
                scored[sstr.id],
                scored[fdg.id] if fdg is not None else None,
                patient.primary_site,
                pathology,
                zidan_note,
                thresholds,
                names,
            )
        )
    return {
        "rules_version": RULES_VERSION,
        "thresholds": thresholds.as_dict(),
        "timepoints": timepoints,
        "agent_choice": agent_choice(patient, thresholds),  # §11, patient level
    }


def ratio_suv(obs: ObservationIn) -> Decimal | None:
    """The SUVmax the §4.1 ratio uses: 0 when the lesion is not seen (§2.1)."""
    return _ZERO if obs.state == NOT_SEEN else obs.suv_max


def _is_not_evaluable(obs: ObservationIn | None) -> bool:
    return obs is not None and obs.state == NOT_EVALUABLE


def _is_ungradable(uptake: Uptake | None) -> bool:
    return uptake is not None and uptake.ungradable


@dataclass
class _LesionPass:
    """One pass over a timepoint's lesions: each lesion's status (§4) and the lesion sets that
    §4.3, §5 and §6 decide on (``sstr_expression``, ``zidan``, ``prrt_support``)."""

    small_lesion_mm: Decimal
    graded: list[PairedLesion] = field(default_factory=list)
    unpaired: list[int] = field(default_factory=list)
    not_evaluable: list[int] = field(default_factory=list)
    ungradable: list[int] = field(default_factory=list)
    # §5: the SSTR study's evaluable lesions, paired with FDG or not
    tally: SstrTally = field(default_factory=SstrTally)
    small: list[int] = field(default_factory=list)  # §6: SSTR Krenning 3-4 under small_lesion_mm
    # §4.3: the graded lesions at the liver threshold
    sstr_negative_fdg_positive: list[int] = field(default_factory=list)
    negative_on_both: list[int] = field(default_factory=list)
    positive_on_both: list[int] = field(default_factory=list)

    def add(
        self,
        lesion: int,
        s_obs: ObservationIn | None,
        s_uptake: Uptake | None,
        f_obs: ObservationIn | None,
        f_uptake: Uptake | None,
        fdg_pet: bool,
    ) -> str:
        """Take in one lesion, with its observation and grade on the SSTR PET and on the FDG
        PET (None where it has no observation; ``fdg_pet`` says whether the timepoint has an FDG
        PET at all), and return its status at the timepoint."""
        s_score = s_uptake.score if s_uptake is not None else None
        f_score = f_uptake.score if f_uptake is not None else None
        if s_obs is not None and s_score is not None:
            self._sstr_evaluable(lesion, s_obs, s_score)
            if f_obs is not None and f_score is not None:
                self._graded(lesion, s_obs, f_obs, s_score, f_score)
                return STATUS_GRADED
        if _is_ungradable(s_uptake) or _is_ungradable(f_uptake):
            self.ungradable.append(lesion)
        if not fdg_pet:
            return STATUS_UNGRADABLE if _is_ungradable(s_uptake) else STATUS_NO_FDG_PET
        if _is_not_evaluable(s_obs) or _is_not_evaluable(f_obs):
            # Left out without making the result provisional (§4).
            self.not_evaluable.append(lesion)
            return STATUS_NOT_EVALUABLE
        if s_obs is None or f_obs is None:
            # Scored or not seen on one study, no observation on the other (§4).
            self.unpaired.append(lesion)
            return STATUS_UNPAIRED
        return STATUS_UNGRADABLE

    def _sstr_evaluable(self, lesion: int, obs: ObservationIn, score: int) -> None:
        """§5 counts every lesion with a score on the SSTR study; §6 picks out the small ones."""
        if score not in KRENNING_SCORES:
            raise ValueError(f"lesion {lesion}: Krenning score {score} is outside 0-4")
        self.tally.counts[score] += 1
        self.tally.evaluable.append(obs)
        if obs.target:
            self.tally.marked.append(obs)
        # Krenning 3-4 is adequate expression (§5). The SSTR study is a PET (every timepoint's
        # is), so the small-lesion caveat applies (§6).
        if score >= ABOVE_LIVER:
            if obs.long_axis_mm is not None and obs.long_axis_mm < self.small_lesion_mm:
                self.small.append(lesion)
        else:
            self.tally.low.append(lesion)

    def _graded(
        self, lesion: int, s_obs: ObservationIn, f_obs: ObservationIn, s_score: int, f_score: int
    ) -> None:
        """A score on both studies (§4), and its class at the liver threshold (§4.3)."""
        self.graded.append(
            PairedLesion(
                lesion=lesion,
                sstr_score=s_score,
                fdg_score=f_score,
                sstr_suv=ratio_suv(s_obs),
                fdg_suv=ratio_suv(f_obs),
                reader_comparison=f_obs.fdg_vs_sstr,
            )
        )
        if s_score < ABOVE_LIVER:
            if f_score >= ABOVE_LIVER:
                self.sstr_negative_fdg_positive.append(lesion)
            else:
                self.negative_on_both.append(lesion)
        elif f_score >= ABOVE_LIVER:
            self.positive_on_both.append(lesion)


def _lesion_row(lesion: int, status: str, sstr: Uptake | None, fdg: Uptake | None) -> JSON:
    """The effective score on each study and where it came from (the observation's own
    ``krenning_computed`` is on the API); every cell of a study is empty where the lesion has no
    observation on it."""
    return {
        "lesion": lesion,
        "status": status,
        "sstr_score": sstr.score if sstr is not None else None,
        "sstr_source": sstr.source if sstr is not None else None,
        "sstr_flags": list(sstr.flags) if sstr is not None else [],
        "fdg_score": fdg.score if fdg is not None else None,
        "fdg_source": fdg.source if fdg is not None else None,
        "fdg_positive_background": fdg.positive_background if fdg is not None else None,
        "fdg_positive_liver": fdg.positive_liver if fdg is not None else None,
        "fdg_flags": list(fdg.flags) if fdg is not None else [],
    }


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
    # The lesions observed on either study, in id order; with no FDG PET, the SSTR PET's only.
    observed = set(sstr_scored.uptakes)
    if fdg_scored is not None:
        observed |= fdg_scored.uptakes.keys()
    lesions = _LesionPass(thresholds.small_lesion_mm)
    rows = []
    for lesion in sorted(observed):
        s_obs, s_uptake = sstr_scored.observations.get(lesion), sstr_scored.uptakes.get(lesion)
        f_obs = f_uptake = None
        if fdg_scored is not None:
            f_obs, f_uptake = fdg_scored.observations.get(lesion), fdg_scored.uptakes.get(lesion)
        status = lesions.add(
            lesion, s_obs, s_uptake, f_obs, f_uptake, fdg_pet=fdg_scored is not None
        )
        rows.append(_lesion_row(lesion, status, s_uptake, f_uptake))

    expression = sstr_expression(lesions.tally, thresholds)
    liver = ZidanClasses(
        graded=[paired.lesion for paired in lesions.graded],
        sstr_negative_fdg_positive=lesions.sstr_negative_fdg_positive,
        negative_on_both=lesions.negative_on_both,
        positive_on_both=lesions.positive_on_both,
    )
    provisional = bool(lesions.unpaired or lesions.ungradable)
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
            lesions.graded,
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
        small_lesions=lesions.small,
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
        "unpaired_lesions": lesions.unpaired,
        "ungradable_lesions": lesions.ungradable,
        "not_evaluable_lesions": lesions.not_evaluable,
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
