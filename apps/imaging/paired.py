"""The dual-tracer read side by side (issue 15 §2): beside each lesion of an SSTR or FDG PET, the
other study of its dual-tracer timepoint, what it holds for the lesion, and the lesion's
phenotype.

The partner study is the rules' own pairing (``pair_timepoints``, docs/clinical-rules.md §1):
for an SSTR PET, the FDG PET it pairs with; for an FDG PET, the SSTR PET that pairs with it
closest in time (several may; ties: the later one, the one the latest timepoint is built on).
The pattern and the FDG-versus-SSTR comparison are the rules' (``netpet.pattern_of``, §4.1) on
the two observations as they stand, or as typed in the grid (the preview): the reader's entry
wins, else the lesion-to-liver ratios, marked computed. Nothing here is stored: the grades the
board sees are the workers'.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import localcontext
from typing import Any

from apps.core.numbers import suv
from apps.imaging.models import ImagingStudy, Observation
from apps.scoring.phenotypes import phenotype_of
from apps.scoring.rules import ObservationIn, StudyIn, Thresholds, pair_timepoints
from apps.scoring.rules.netpet import PATTERNS, Livers, PairedLesion, pattern_of
from apps.scoring.rules.pairing import is_fdg_pet, is_sstr_pet
from apps.scoring.rules.phenotype import ratio_suv
from apps.scoring.rules.uptake import DECIMAL_CONTEXT, Uptake, score_observation
from apps.scoring.selectors import observation_in, study_in

SSTR, FDG = "SSTR", "FDG"


@dataclass(frozen=True)
class PairedRead:
    """The other study of the timepoint and its read, seen from ``study``."""

    study: StudyIn  # the study on the grid
    own: str  # SSTR or FDG: the grid's side
    partner: ImagingStudy
    partner_in: StudyIn
    reads: dict[int, ObservationIn]  # the partner's observations by lesion id
    thresholds: Thresholds

    @property
    def partner_side(self) -> str:
        return FDG if self.own == SSTR else SSTR

    def lesion(self, lesion: int, own: ObservationIn | None) -> dict[str, Any]:
        """What the grid shows beside one lesion: the partner's read, the pattern, the
        comparison and the phenotype (JSON-ready; ``own`` is the grid's row, saved or typed)."""
        other = self.reads.get(lesion)
        other_uptake = score_observation(other, self.partner_in, self.thresholds) if other else None
        own_uptake = score_observation(own, self.study, self.thresholds) if own else None
        shown: dict[str, Any] = {
            "partner": _partner_cell(other, other_uptake),
            "pattern": None,
            "comparison": None,
            "comparison_source": None,
            "phenotype": None,
        }
        if own is None or other is None or own_uptake is None or other_uptake is None:
            return shown
        if own_uptake.score is None or other_uptake.score is None:
            return shown
        # (observation, uptake, study) on each tracer
        mine = (own, own_uptake, self.study)
        theirs = (other, other_uptake, self.partner_in)
        (sstr_obs, sstr_up, sstr_study), (fdg_obs, fdg_up, fdg_study) = (
            (mine, theirs) if self.own == SSTR else (theirs, mine)
        )
        pair = PairedLesion(
            lesion=lesion,
            sstr_score=sstr_up.score,
            fdg_score=fdg_up.score,
            sstr_suv=ratio_suv(sstr_obs),
            fdg_suv=ratio_suv(fdg_obs),
            reader_comparison=fdg_obs.fdg_vs_sstr,
        )
        livers = None
        s_liver, f_liver = sstr_study.liver_suv, fdg_study.liver_suv
        if s_liver is not None and f_liver is not None and s_liver > 0 and f_liver > 0:
            livers = Livers(s_liver, f_liver)
        with localcontext(DECIMAL_CONTEXT):
            pattern, comparison, source = pattern_of(
                pair, livers, self.thresholds.netpet_equal_tolerance
            )
        phenotype = phenotype_of(PATTERNS[pattern])
        shown.update(
            pattern=PATTERNS[pattern],
            comparison=comparison,
            comparison_source=source,
            phenotype=None
            if phenotype is None
            else {
                "code": phenotype.code,
                "label": phenotype.label,
                "glyph": phenotype.glyph,
                "text": phenotype.text,
            },
        )
        return shown


def _partner_cell(obs: ObservationIn | None, uptake: Uptake | None) -> dict[str, Any] | None:
    if obs is None or uptake is None:
        return None
    return {
        "state": obs.state,
        "score": uptake.score,
        "source": uptake.source,
        "suv_max": suv(obs.suv_max),
        "fdg_visual": obs.fdg_visual,
    }


def _side(study: StudyIn) -> str | None:
    if is_sstr_pet(study):
        return SSTR
    if is_fdg_pet(study):
        return FDG
    return None


def paired_read(study: ImagingStudy, thresholds: Thresholds) -> PairedRead | None:
    """The partner of a pre-therapy SSTR or FDG PET in its dual-tracer timepoint, with its read;
    ``None`` for any other study, or when no partner is in the pairing window."""
    own_in = study_in(study)
    own = _side(own_in)
    if own is None:
        return None
    candidates = [
        study_in(other)
        for other in ImagingStudy.objects.filter(
            patient_id=study.patient_id,
            tracer_class__in=("SSTR", "FDG"),
            post_therapy=False,
        ).order_by("performed_on", "id")
    ]
    pairs = pair_timepoints(candidates, thresholds)
    partner_id: int | None = None
    if own == SSTR:
        partner_id = next((f.id for s, f in pairs if s.id == study.pk and f is not None), None)
    else:
        sstrs = [s for s, f in pairs if f is not None and f.id == study.pk]
        if sstrs:
            # Closest in time; of two as close, the later (the latest timepoint's).
            best = min(
                sstrs,
                key=lambda s: (
                    abs((s.performed_on - study.performed_on).days),
                    -s.performed_on.toordinal(),
                    -s.id,
                ),
            )
            partner_id = best.id
    if partner_id is None:
        return None
    partner = ImagingStudy.objects.get(pk=partner_id)
    reads = {
        obs.lesion_id: observation_in(obs) for obs in Observation.objects.filter(study=partner)
    }
    return PairedRead(own_in, own, partner, study_in(partner), reads, thresholds)
