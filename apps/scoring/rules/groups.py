"""Karfis et al. (C1-C3) and Zidan et al. (groups 1-4) of one timepoint (DOMAIN.md §4.2, §4.3).

Both work on the graded lesions only and differ in the positivity threshold (§3): Karfis above
background (score ≥ 2), Zidan above liver (score ≥ 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from .netpet import P0, P1, P2, P3, P4, P5, PairedLesion
from .scale import ABOVE_LIVER
from .wording import LesionNames, count, every, is_are

JSON = dict[str, Any]

NOT_CLASSIFIABLE = "not_classifiable"
KARFIS_SUITABILITY = {"C1": "probably suitable", "C2": "probably suitable", "C3": "not suitable"}
ZIDAN_SUITABILITY = {"1": "not suitable", "2": "suitable", "3": "suitable", "4": "not suitable"}
# Fields of a PairedLesion tuple (netpet.PairedLesion).
_LESION: Final = 0
_SSTR_SCORE: Final = 1
_FDG_SCORE: Final = 2


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
            "lesion": lesion,
            "sstr_positive": sstr_score >= threshold,
            "fdg_positive": fdg_score >= threshold,
        }
        for lesion, sstr_score, fdg_score, _, _, _ in lesions
    ]


def karfis(
    by_pattern: Sequence[list[int]], names: LesionNames, provisional: bool, thresholds: JSON
) -> JSON:
    """Karfis et al. C1-C3, positivity above background (DOMAIN.md §4.2).

    Lesions negative on both tracers are left out (listed as PET-negative). C3 when any
    FDG-positive lesion is SSTR-negative, else C2 when any lesion is FDG-positive, else C1;
    not classifiable with no PET-positive lesion at all.

    Karfis et al. use NETPET's positivity threshold (above background, §3), and the NETPET
    patterns are exactly the four combinations of it, so each graded lesion's class is read off
    its pattern (``by_pattern``: lesion ids per NETPET pattern index, each in id order) rather
    than worked out again: P0 negative on both, P1 SSTR-positive only, P2-P4 positive on both,
    P5 FDG-positive only.
    """
    fdg_sstr_negative = by_pattern[P5]
    fdg_sstr_positive = sorted(by_pattern[P2] + by_pattern[P3] + by_pattern[P4])
    if fdg_sstr_negative:
        group, ids, sstr_positive, fdg_positive = "C3", fdg_sstr_negative, False, True
        reason = (
            f"Group C3: {names.many(ids)} {is_are(len(ids))} FDG-positive but SSTR-negative "
            "above background."
        )
    elif fdg_sstr_positive:
        group, ids, sstr_positive, fdg_positive = "C2", fdg_sstr_positive, True, True
        reason = (
            f"Group C2: {count(len(ids), 'FDG-positive lesion')} ({names.many(ids)}), "
            f"{'SSTR-positive' if len(ids) == 1 else 'all of them SSTR-positive'} above "
            "background."
        )
    elif by_pattern[P1]:  # no FDG-positive lesion: the PET-positive ones are all P1
        group, ids, sstr_positive, fdg_positive = "C1", by_pattern[P1], True, False
        n = len(ids)
        reason = (
            f"Group C1: {every(n, 'PET-positive lesion')} {is_are(n)} SSTR-positive and "
            "FDG-negative above background."
        )
    else:
        group, ids, sstr_positive, fdg_positive = NOT_CLASSIFIABLE, [], False, False
        reason = (
            "Not classifiable: no graded lesion is PET-positive above background on either tracer."
        )
    deciding = [
        {"lesion": lesion, "sstr_positive": sstr_positive, "fdg_positive": fdg_positive}
        for lesion in ids
    ]
    result = group_result(
        group, KARFIS_SUITABILITY.get(group), reason, deciding, provisional, thresholds
    )
    result["pet_negative_lesions"] = list(by_pattern[P0])
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
    # The SSTR-negative lesions split by FDG: group 4 (FDG-positive) and negative on both.
    sstr_negative = [g for g in graded if g[_SSTR_SCORE] < t]
    group_4 = [g for g in sstr_negative if g[_FDG_SCORE] >= t]
    both_negative = [g for g in sstr_negative if g[_FDG_SCORE] < t]
    n = len(graded)
    if group_4:
        group, deciding = "4", group_4
        ids = [g[_LESION] for g in group_4]
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
    elif not both_negative and (fdg_positive := [g for g in graded if g[_FDG_SCORE] >= t]):
        group, deciding = "3", fdg_positive
        ids = [g[_LESION] for g in fdg_positive]
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
        ids = [g[_LESION] for g in both_negative]
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
    return result, [g[_LESION] for g in group_4]
