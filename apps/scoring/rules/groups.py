"""Karfis et al. (C1-C3) and Zidan et al. (groups 1-4) of one timepoint (docs/clinical-rules.md
§4.2, §4.3).

Both work on the graded lesions only and differ in the positivity threshold (§3): Karfis above
background (score ≥ 2), Zidan above liver (score ≥ 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .inputs import JSON
from .netpet import P0, P1, P2, P3, P4, P5
from .wording import LesionNames, count, every, is_are

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
    if fdg_sstr_negative:
        group, ids, sstr_positive, fdg_positive = "C3", fdg_sstr_negative, False, True
        reason = (
            f"Group C3: {names.many(ids)} {is_are(len(ids))} FDG-positive but SSTR-negative "
            "above background."
        )
    elif by_pattern[P2] or by_pattern[P3] or by_pattern[P4]:
        ids = sorted(by_pattern[P2] + by_pattern[P3] + by_pattern[P4])
        group, sstr_positive, fdg_positive = "C2", True, True
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


@dataclass(frozen=True, slots=True)
class ZidanClasses:
    """The graded lesions of a timepoint at the liver threshold (§3: score ≥ 3 is positive), as
    lesion ids in id order. Gathered by ``phenotype`` in its one pass over the lesions."""

    graded: list[int]  # every graded lesion
    sstr_negative_fdg_positive: list[int]
    negative_on_both: list[int]
    positive_on_both: list[int]


def zidan(
    classes: ZidanClasses,
    names: LesionNames,
    provisional: bool,
    thresholds: JSON,
    note: str | None,
) -> JSON:
    """Zidan et al. groups, liver as the positivity threshold, checked in order (§4.3).

    4: any lesion SSTR-negative and FDG-positive; 1: all negative on both; 3: all SSTR-positive,
    some FDG-positive; 2: all SSTR-positive, all FDG-negative; anything else (negative-on-both
    lesions beside SSTR-positive ones) is not classifiable: never force a group.

    ``classes`` sorts the graded lesions by their positivity at the liver threshold, so the
    deciding lesions of a group share theirs and it is set per group (as in ``karfis``): group 4
    lesions are SSTR-negative and FDG-positive by definition; group 1 takes every lesion, all
    negative on both; groups 3 and 2 are reached only with no SSTR-negative lesion at all, so
    their lesions are SSTR-positive (group 3's FDG-positive ones, group 2's FDG-negative ones);
    not classifiable names those negative on both.
    """
    graded, group_4 = classes.graded, classes.sstr_negative_fdg_positive
    both_negative, both_positive = classes.negative_on_both, classes.positive_on_both
    n = len(graded)
    if group_4:
        group, ids, sstr_positive, fdg_positive = "4", group_4, False, True
        reason = (
            f"Group 4: {names.many(ids)} {is_are(len(ids))} FDG-positive above liver but "
            "SSTR-negative at or below liver."
        )
    elif len(both_negative) == n:
        group, ids, sstr_positive, fdg_positive = "1", graded, False, False
        reason = (
            f"Group 1: {every(n, 'lesion')} {is_are(n)} negative on both tracers at the "
            "liver threshold."
        )
    elif not both_negative and both_positive:
        group, ids, sstr_positive, fdg_positive = "3", both_positive, True, True
        reason = (
            f"Group 3: {every(n, 'lesion')} {is_are(n)} SSTR-positive above liver and "
            f"{names.many(ids)} {is_are(len(ids))} also FDG-positive above liver."
        )
    elif not both_negative:
        group, ids, sstr_positive, fdg_positive = "2", graded, True, False
        reason = (
            f"Group 2: {every(n, 'lesion')} {is_are(n)} SSTR-positive and FDG-negative at "
            "the liver threshold."
        )
    else:
        group, ids, sstr_positive, fdg_positive = NOT_CLASSIFIABLE, both_negative, False, False
        reason = (
            f"Not classifiable: {names.many(ids)} {is_are(len(ids))} negative on both tracers "
            "beside SSTR-positive lesions, a mix for which Zidan et al. define no group."
        )
    deciding = [
        {"lesion": lesion, "sstr_positive": sstr_positive, "fdg_positive": fdg_positive}
        for lesion in ids
    ]
    result = group_result(
        group, ZIDAN_SUITABILITY.get(group), reason, deciding, provisional, thresholds
    )
    result["note"] = note
    return result
