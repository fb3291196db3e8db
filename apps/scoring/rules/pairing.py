"""Dual-tracer timepoints: each pre-therapy SSTR PET with its FDG PET (DOMAIN.md §1, §4).

Only PET studies take part ("an SSTR PET and an FDG PET"): modality ``pet_ct`` or ``pet_mri``.
111In-pentetreotide SPECT or planar scintigraphy is an SSTR study but not an SSTR PET, so it
forms no timepoint. Post-therapy studies, and any study of a therapeutic tracer (177Lu-DOTATATE,
131I-MIBG), never form one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from .inputs import StudyIn, Thresholds
from .scale import FDG, SSTR
from .tracers import PET_MODALITIES, THERAPEUTIC_TRACERS


def _is_pre_therapy_pet(study: StudyIn, tracer_class: str) -> bool:
    return (
        study.tracer_class == tracer_class
        and study.modality in PET_MODALITIES
        and not study.post_therapy
        and study.tracer not in THERAPEUTIC_TRACERS
    )


def is_sstr_pet(study: StudyIn) -> bool:
    """A pre-therapy SSTR PET: the study every timepoint is built on (DOMAIN.md §4)."""
    return _is_pre_therapy_pet(study, SSTR)


def is_fdg_pet(study: StudyIn) -> bool:
    """An FDG PET that can pair with an SSTR PET (DOMAIN.md §1)."""
    return _is_pre_therapy_pet(study, FDG)


def _date_order(study: StudyIn) -> tuple[date, int]:
    return (study.performed_on, study.id)


def pair_timepoints(
    studies: Iterable[StudyIn], thresholds: Thresholds
) -> list[tuple[StudyIn, StudyIn | None]]:
    """Pair each pre-therapy SSTR PET with the closest FDG PET at most ``pairing_window_days``
    away, before or after (DOMAIN.md §1).

    Ties in distance go to the earlier FDG PET (then the lower study id, so that the result does
    not depend on input order). One FDG PET may pair with several SSTR PETs. An SSTR PET with no
    FDG PET in the window still forms a timepoint, paired with ``None``. The list is in date order
    of the SSTR study (then study id).
    """
    ordered = sorted(studies, key=_date_order)
    sstr_pets = [study for study in ordered if is_sstr_pet(study)]
    fdg_pets = [study for study in ordered if is_fdg_pet(study)]
    pairs: list[tuple[StudyIn, StudyIn | None]] = []
    for sstr in sstr_pets:
        best: StudyIn | None = None
        best_gap = thresholds.pairing_window_days + 1
        # FDG PETs are in date order, so the first one at a given distance is the earlier.
        for fdg in fdg_pets:
            gap = abs((fdg.performed_on - sstr.performed_on).days)
            if gap < best_gap:
                best, best_gap = fdg, gap
        pairs.append((sstr, best))
    return pairs
