"""Karfis et al. (C1-C3) and Zidan et al. (groups 1-4) of one timepoint (DOMAIN.md §4.2, §4.3).

Both work on the graded lesions only and differ in the positivity threshold (§3): Karfis above
background (score ≥ 2), Zidan above liver (score ≥ 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .netpet import PairedLesion
from .scale import ABOVE_BACKGROUND, ABOVE_LIVER
from .wording import LesionNames, count, every, is_are

JSON = dict[str, Any]

NOT_CLASSIFIABLE = "not_classifiable"
KARFIS_SUITABILITY = {"C1": "probably suitable", "C2": "probably suitable", "C3": "not suitable"}
ZIDAN_SUITABILITY = {"1": "not suitable", "2": "suitable", "3": "suitable", "4": "not suitable"}


def group_result(
    group: str | None,
    suitability: str | None,
    reason: str,
    lesions: list[JSON],
    provisional: bool,
    thresholds: JSON,
) -> JSON:
    """The common shape of a group result: grade, wording, deciding lesions, reason."""
    return {
        "group": group,
        "suitability": suitability,
        "reason": reason,
        "lesions": lesions,
        "provisional": provisional,
        "thresholds": thresholds,
    }


def _deciding(lesions: Sequence[PairedLesion], threshold: int) -> list[JSON]:
    """The deciding lesions with their positivity on each tracer under the system's threshold."""
    return [
        {
            "lesion": g.lesion,
            "sstr_positive": g.sstr_score >= threshold,
            "fdg_positive": g.fdg_score >= threshold,
        }
        for g in lesions
    ]


def karfis(
    graded: Sequence[PairedLesion], names: LesionNames, provisional: bool, thresholds: JSON
) -> JSON:
    """Karfis et al. C1-C3, positivity above background (DOMAIN.md §4.2).

    Lesions negative on both tracers are left out (listed as PET-negative). C3 when any
    FDG-positive lesion is SSTR-negative, else C2 when any lesion is FDG-positive, else C1;
    not classifiable with no PET-positive lesion at all.
    """
    t = ABOVE_BACKGROUND
    negative: list[int] = []
    positive: list[PairedLesion] = []
    fdg_positive: list[PairedLesion] = []
    discordant: list[PairedLesion] = []
    for g in graded:
        if g.fdg_score >= t:
            positive.append(g)
            fdg_positive.append(g)
            if g.sstr_score < t:
                discordant.append(g)
        elif g.sstr_score >= t:
            positive.append(g)
        else:
            negative.append(g.lesion)
    if not positive:
        group, deciding = NOT_CLASSIFIABLE, positive
        reason = (
            "Not classifiable: no graded lesion is PET-positive above background on either tracer."
        )
    elif discordant:
        group, deciding = "C3", discordant
        ids = [g.lesion for g in discordant]
        reason = (
            f"Group C3: {names.many(ids)} {is_are(len(ids))} FDG-positive but SSTR-negative "
            "above background."
        )
    elif fdg_positive:
        group, deciding = "C2", fdg_positive
        ids = [g.lesion for g in fdg_positive]
        reason = (
            f"Group C2: {count(len(ids), 'FDG-positive lesion')} ({names.many(ids)}), "
            f"{'SSTR-positive' if len(ids) == 1 else 'all of them SSTR-positive'} above "
            "background."
        )
    else:
        group, deciding = "C1", positive
        n = len(positive)
        reason = (
            f"Group C1: {every(n, 'PET-positive lesion')} {is_are(n)} SSTR-positive and "
            "FDG-negative above background."
        )
    result = group_result(
        group,
        KARFIS_SUITABILITY.get(group),
        reason,
        _deciding(deciding, t),
        provisional,
        thresholds,
    )
    result["pet_negative_lesions"] = negative
    return result


def zidan(
    graded: Sequence[PairedLesion],
    names: LesionNames,
    provisional: bool,
    thresholds: JSON,
    note: str | None,
) -> tuple[JSON, list[int]]:
    """Zidan et al. groups, liver as the positivity threshold, checked in order (§4.3).

    4: any lesion SSTR-negative and FDG-positive; 1: all negative on both; 3: all SSTR-positive,
    some FDG-positive; 2: all SSTR-positive, all FDG-negative; anything else (negative-on-both
    lesions beside SSTR-positive ones) is not classifiable: never force a group. Also returns
    the group-4 lesion ids, which §6 needs.
    """
    t = ABOVE_LIVER
    group_4: list[PairedLesion] = []
    both_negative: list[PairedLesion] = []
    fdg_positive: list[PairedLesion] = []
    for g in graded:
        if g.fdg_score >= t:
            fdg_positive.append(g)
            if g.sstr_score < t:
                group_4.append(g)
        elif g.sstr_score < t:
            both_negative.append(g)
    n = len(graded)
    if group_4:
        group, deciding = "4", group_4
        ids = [g.lesion for g in group_4]
        reason = (
            f"Group 4: {names.many(ids)} {is_are(len(ids))} FDG-positive above liver but "
            "SSTR-negative at or below liver."
        )
    elif len(both_negative) == n:
        group, deciding = "1", list(graded)
        reason = (
            f"Group 1: {every(n, 'lesion')} {is_are(n)} negative on both tracers at the "
            "liver threshold."
        )
    elif not both_negative and fdg_positive:
        group, deciding = "3", fdg_positive
        ids = [g.lesion for g in fdg_positive]
        reason = (
            f"Group 3: {every(n, 'lesion')} {is_are(n)} SSTR-positive above liver and "
            f"{names.many(ids)} {is_are(len(ids))} also FDG-positive above liver."
        )
    elif not both_negative:
        group, deciding = "2", list(graded)
        reason = (
            f"Group 2: {every(n, 'lesion')} {is_are(n)} SSTR-positive and FDG-negative at "
            "the liver threshold."
        )
    else:
        group, deciding = NOT_CLASSIFIABLE, both_negative
        ids = [g.lesion for g in both_negative]
        reason = (
            f"Not classifiable: {names.many(ids)} {is_are(len(ids))} negative on both tracers "
            "beside SSTR-positive lesions, a mix for which Zidan et al. define no group."
        )
    result = group_result(
        group,
        ZIDAN_SUITABILITY.get(group),
        reason,
        _deciding(deciding, t),
        provisional,
        thresholds,
    )
    result["note"] = note
    return result, [g.lesion for g in group_4]
