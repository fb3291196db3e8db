"""Dual-tracer grading of one timepoint: NETPET, Karfis, Zidan (DOMAIN.md §4, seed Table 1).

Works on the *graded lesions* only: lesions with a score on both the SSTR PET and the FDG PET
(``phenotype`` decides which lesions those are). Every result carries its grade, suitability
wording, the lesions that decided it, the thresholds used, provisional/complete and a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from . import scale
from .inputs import Thresholds
from .wording import LesionNames, count, is_are

JSON = dict[str, Any]

PATTERNS = ("P0", "P1", "P2", "P3", "P4", "P5")  # ranked P0 lowest ... P5 highest (§4.1)
_P0, _P1, _P2, _P3, _P4, _P5 = range(6)
_SUFFIXED = frozenset({_P2, _P3, _P4})
_COMPARISONS = {"lower": _P2, "equal": _P3, "higher": _P4}
_COMPARISON_WORDS = {"lower": "lower than", "equal": "equal to", "higher": "higher than"}

NETPET_SUITABILITY = {
    "P0": "not suitable",
    "P1": "probably suitable",
    "P2": "probably suitable",
    "P3": "probably suitable",
    "P4a": "probably suitable",
    "P4b": "maybe suitable, additional therapy required",
    "P5": "not suitable",
}
KARFIS_SUITABILITY = {"C1": "probably suitable", "C2": "probably suitable", "C3": "not suitable"}
ZIDAN_SUITABILITY = {"1": "not suitable", "2": "suitable", "3": "suitable", "4": "not suitable"}
NOT_CLASSIFIABLE = "not_classifiable"

# Ranking classes of the FDG:SSTR ratio (§4.1): infinite above every number, above "cannot be
# computed"; and of the FDG SUVmax: a value above "missing".
_RATIO_NONE, _RATIO_NUMBER, _RATIO_INFINITE = 0, 1, 2
_ZERO = Decimal(0)


class PairedLesion(NamedTuple):
    """One graded lesion: its scores on both studies and what the ranking needs (§4)."""

    lesion: int
    sstr_score: int
    fdg_score: int
    sstr_suv: Decimal | None  # SUVmax, 0 when not seen (§2.1)
    fdg_suv: Decimal | None
    reader_comparison: str | None  # fdg_vs_sstr entered on the FDG observation


class DualTracer(NamedTuple):
    """The three gradings of a timepoint plus what §6 builds on."""

    netpet: JSON
    karfis: JSON
    zidan: JSON
    pattern: str | None  # the patient's NETPET pattern; None when no lesion was graded
    grade: str | None
    biopsy_target: int | None
    unknown_comparison: list[int]
    lesions_by_pattern: dict[str, list[int]]
    discordant: list[int]  # SSTR-negative and FDG-positive under either threshold set (§6)


def thresholds_used(thresholds: Thresholds) -> dict[str, JSON]:
    """The positivity thresholds (§3) and settings each grading system applied."""
    background = {"sstr_positive": "Krenning >= 2", "fdg_positive": "FDG grade >= 2 or positive"}
    liver = {"sstr_positive": "Krenning >= 3", "fdg_positive": "FDG grade >= 3 or positive"}
    return {
        "netpet": {
            **background,
            "netpet_equal_tolerance": float(thresholds.netpet_equal_tolerance),
        },
        "karfis": background,
        "zidan": liver,
    }


def without_fdg(thresholds: Thresholds, reason: str) -> tuple[JSON, JSON, JSON]:
    """NETPET, Karfis and Zidan with null grades: no FDG PET paired (API.md)."""
    used = thresholds_used(thresholds)
    return (
        _netpet_empty(None, reason, False, used["netpet"]),
        _group_result("karfis", None, None, reason, [], False, used) | {"pet_negative_lesions": []},
        _group_result("zidan", None, None, reason, [], False, used) | {"note": None},
    )


def grade_timepoint(
    graded: Sequence[PairedLesion],
    sstr_liver: Decimal | None,
    fdg_liver: Decimal | None,
    thresholds: Thresholds,
    names: LesionNames,
    provisional: bool,
    zidan_note: str | None,
) -> DualTracer:
    """Grade one dual-tracer timepoint (DOMAIN.md §4.1-§4.3).

    ``provisional`` says whether unpaired or ungradable lesions already make it provisional;
    NETPET is also provisional when a lesion's FDG-versus-SSTR comparison is unknown.
    """
    used = thresholds_used(thresholds)
    if not graded:
        reason = "No lesion was graded on both the SSTR PET and the FDG PET."
        return DualTracer(
            _netpet_empty(NOT_CLASSIFIABLE, reason, provisional, used["netpet"]),
            _group_result("karfis", NOT_CLASSIFIABLE, None, reason, [], provisional, used)
            | {"pet_negative_lesions": []},
            _group_result("zidan", NOT_CLASSIFIABLE, None, reason, [], provisional, used)
            | {"note": zidan_note},
            None,
            NOT_CLASSIFIABLE,
            None,
            [],
            {},
            [],
        )
    ranked, rows, unknown = _netpet_lesions(graded, sstr_liver, fdg_liver, thresholds)
    by_pattern: dict[str, list[int]] = {}
    for lesion in graded:  # graded is in lesion-id order, so each list is too
        by_pattern.setdefault(rows[lesion.lesion]["pattern"], []).append(lesion.lesion)
    representative = ranked[0]
    pattern = rows[representative]["pattern"]
    deciding = by_pattern[pattern]
    suffix = None
    if PATTERNS.index(pattern) in _SUFFIXED:
        suffix = "b" if len(deciding) >= scale.SUFFIX_B_MIN_LESIONS else "a"
    grade = pattern + (suffix or "")
    any_fdg_positive = any(g.fdg_score >= scale.ABOVE_BACKGROUND for g in graded)
    netpet = {
        "grade": grade,
        "pattern": pattern,
        "suffix": suffix,
        # Only P4 differs by suffix: P4a probably suitable, P4b maybe (§4.1).
        "suitability": NETPET_SUITABILITY[grade if pattern == "P4" else pattern],
        "representative_lesion": representative,
        "lesions": [rows[lesion] for lesion in ranked],
        "deciding_lesions": deciding,
        "unknown_comparison_lesions": unknown,
        "reason": _netpet_reason(grade, pattern, deciding, representative, unknown, names),
        "provisional": provisional or bool(unknown),
        "thresholds": used["netpet"],
    }
    karfis = _karfis(graded, names, provisional, used)
    zidan = _zidan(graded, names, provisional, used) | {"note": zidan_note}
    discordant = sorted(
        g.lesion
        for g in graded
        if (g.sstr_score < scale.ABOVE_BACKGROUND and g.fdg_score >= scale.ABOVE_BACKGROUND)
        or (g.sstr_score < scale.ABOVE_LIVER and g.fdg_score >= scale.ABOVE_LIVER)
    )
    return DualTracer(
        netpet,
        karfis,
        zidan,
        pattern,
        grade,
        representative if any_fdg_positive else None,
        unknown,
        by_pattern,
        discordant,
    )


def _netpet_lesions(
    graded: Sequence[PairedLesion],
    sstr_liver: Decimal | None,
    fdg_liver: Decimal | None,
    thresholds: Thresholds,
) -> tuple[list[int], dict[int, JSON], list[int]]:
    """Pattern, TLRs, comparison and rank of every graded lesion (§4.1).

    TLR comparisons are exact: ``|F/Lf − S/Ls| ≤ tol·S/Ls`` is tested as
    ``|F·Ls − S·Lf| ≤ tol·S·Lf`` (both livers positive), so no division rounds a boundary.
    Within a timepoint the livers are fixed, so ranking by the TLR ratio is ranking by
    ``F·Ls / S·Lf``. Decimal operators here run in ``uptake.DECIMAL_CONTEXT``, which
    ``assess_phenotype`` makes current.
    """
    tolerance = thresholds.netpet_equal_tolerance
    livers = None
    if sstr_liver is not None and fdg_liver is not None and sstr_liver > 0 and fdg_liver > 0:
        livers = (sstr_liver, fdg_liver, 1.0 / float(sstr_liver), 1.0 / float(fdg_liver))
    keys: list[tuple[int, int, Decimal, bool, Decimal, int]] = []
    rows: dict[int, JSON] = {}
    unknown: list[int] = []
    for g in graded:
        s_suv, f_suv = g.sstr_suv, g.fdg_suv
        s_pos = g.sstr_score >= scale.ABOVE_BACKGROUND
        f_pos = g.fdg_score >= scale.ABOVE_BACKGROUND
        ratio_class, ratio = _RATIO_NONE, _ZERO
        computed: str | None = None
        tlr_s = tlr_f = ratio_out = None
        if s_suv is not None and f_suv is not None:
            if not s_suv:  # an SSTR SUVmax of 0 ranks as infinite (§4.1)
                ratio_class = _RATIO_INFINITE
            if livers is not None:
                ls, lf, ls_inverse, lf_inverse = livers
                f_ls, s_lf = f_suv * ls, s_suv * lf
                if abs(f_ls - s_lf) <= tolerance * s_lf:
                    computed = "equal"
                else:
                    computed = "higher" if f_ls > s_lf else "lower"
                # Display values only: every decision above is on exact Decimals.
                tlr_s, tlr_f = float(s_suv) * ls_inverse, float(f_suv) * lf_inverse
                if s_suv:
                    ratio_class, ratio = _RATIO_NUMBER, f_ls / s_lf
                    ratio_out = _display(tlr_f / tlr_s)
                tlr_s, tlr_f = _display(tlr_s), _display(tlr_f)
        comparison = source = None
        if s_pos and f_pos:
            reader = g.reader_comparison
            if reader in _COMPARISONS:
                comparison, source = reader, "reader"
            elif computed is not None:
                comparison, source = computed, "computed"
            else:
                unknown.append(g.lesion)
            pattern = _COMPARISONS[comparison] if comparison else _P3
        elif s_pos:
            pattern = _P1
        else:
            pattern = _P5 if f_pos else _P0
        keys.append((pattern, ratio_class, ratio, f_suv is not None, f_suv or _ZERO, -g.lesion))
        rows[g.lesion] = {
            "lesion": g.lesion,
            "pattern": PATTERNS[pattern],
            "sstr_score": g.sstr_score,
            "fdg_score": g.fdg_score,
            "tlr_sstr": tlr_s,
            "tlr_fdg": tlr_f,
            "ratio": ratio_out,
            "comparison": comparison,
            "comparison_source": source,
        }
    keys.sort(reverse=True)
    return [-key[5] for key in keys], rows, unknown


def _display(value: float) -> float:
    """A non-negative ratio rounded to 4 decimals for JSON (display only, never compared)."""
    return int(value * 10000.0 + 0.5) / 10000.0


def _netpet_empty(grade: str | None, reason: str, provisional: bool, used: JSON) -> JSON:
    return {
        "grade": grade,
        "pattern": None,
        "suffix": None,
        "suitability": None,
        "representative_lesion": None,
        "lesions": [],
        "deciding_lesions": [],
        "unknown_comparison_lesions": [],
        "reason": reason,
        "provisional": provisional,
        "thresholds": used,
    }


def _netpet_reason(
    grade: str,
    pattern: str,
    deciding: list[int],
    representative: int,
    unknown: list[int],
    names: LesionNames,
) -> str:
    n = len(deciding)
    who = f"{names.many(deciding)} {is_are(n)}"
    if pattern == "P0":
        text = "Grade P0: no graded lesion is avid above background on either SSTR or FDG PET"
    elif pattern == "P1":
        text = f"Grade P1: {who} SSTR-positive and FDG-negative, and no lesion is FDG-positive"
    elif pattern == "P5":
        text = (
            f"Grade P5: {who} FDG-positive but SSTR-negative; {names.one(representative)} "
            "has the highest FDG to SSTR ratio"
        )
    else:
        words = _COMPARISON_WORDS[{"P2": "lower", "P3": "equal", "P4": "higher"}[pattern]]
        text = (
            f"Grade {grade}: {count(n, 'lesion')} ({names.many(deciding)}) {is_are(n)} "
            f"SSTR-positive and FDG-positive with FDG avidity {words} SSTR avidity; "
            f"{names.one(representative)} has the highest FDG to SSTR ratio"
        )
    if unknown:
        text += (
            f"; provisional, because FDG and SSTR avidity of {names.many(unknown)} could not be "
            "compared and counted as P3"
        )
    return text + "."


def _group_result(
    system: str,
    group: str | None,
    suitability: str | None,
    reason: str,
    lesions: list[JSON],
    provisional: bool,
    used: dict[str, JSON],
) -> JSON:
    return {
        "group": group,
        "suitability": suitability,
        "reason": reason,
        "lesions": lesions,
        "provisional": provisional,
        "thresholds": used[system],
    }


def _positivity(lesions: Sequence[PairedLesion], threshold: int) -> list[JSON]:
    return [
        {
            "lesion": g.lesion,
            "sstr_positive": g.sstr_score >= threshold,
            "fdg_positive": g.fdg_score >= threshold,
        }
        for g in lesions
    ]


def _karfis(
    graded: Sequence[PairedLesion], names: LesionNames, provisional: bool, used: dict[str, JSON]
) -> JSON:
    """Karfis et al. C1-C3, positivity above background (DOMAIN.md §4.2)."""
    t = scale.ABOVE_BACKGROUND
    negative = [g.lesion for g in graded if g.sstr_score < t and g.fdg_score < t]
    positive = [g for g in graded if g.sstr_score >= t or g.fdg_score >= t]
    fdg_positive = [g for g in positive if g.fdg_score >= t]
    discordant = [g for g in fdg_positive if g.sstr_score < t]
    if not positive:
        group, deciding = NOT_CLASSIFIABLE, []
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
        reason = (
            f"Group C1: all {count(len(positive), 'PET-positive lesion')} "
            f"{is_are(len(positive))} SSTR-positive and FDG-negative above background."
        )
    result = _group_result(
        "karfis",
        group,
        KARFIS_SUITABILITY.get(group),
        reason,
        _positivity(deciding, t),
        provisional,
        used,
    )
    return result | {"pet_negative_lesions": negative}


def _zidan(
    graded: Sequence[PairedLesion], names: LesionNames, provisional: bool, used: dict[str, JSON]
) -> JSON:
    """Zidan et al. groups 1-4, the liver as positivity threshold, checked in order (§4.3)."""
    t = scale.ABOVE_LIVER
    group_4 = [g for g in graded if g.sstr_score < t and g.fdg_score >= t]
    both_negative = [g for g in graded if g.sstr_score < t and g.fdg_score < t]
    fdg_positive = [g for g in graded if g.fdg_score >= t]
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
            f"Group 1: all {count(n, 'lesion')} {is_are(n)} negative on both tracers at the "
            "liver threshold."
        )
    elif not both_negative and fdg_positive:
        group, deciding = "3", fdg_positive
        ids = [g.lesion for g in fdg_positive]
        reason = (
            f"Group 3: all {count(n, 'lesion')} {is_are(n)} SSTR-positive above liver and "
            f"{names.many(ids)} {is_are(len(ids))} also FDG-positive above liver."
        )
    elif not both_negative:
        group, deciding = "2", list(graded)
        reason = (
            f"Group 2: all {count(n, 'lesion')} {is_are(n)} SSTR-positive and FDG-negative at "
            "the liver threshold."
        )
    else:
        # Negative-on-both lesions beside SSTR-positive ones: never force a group (§4.3).
        group, deciding = NOT_CLASSIFIABLE, both_negative
        ids = [g.lesion for g in both_negative]
        reason = (
            f"Not classifiable: {names.many(ids)} {is_are(len(ids))} negative on both tracers "
            "beside SSTR-positive lesions, a mix for which Zidan et al. define no group."
        )
    return _group_result(
        "zidan",
        group,
        ZIDAN_SUITABILITY.get(group),
        reason,
        _positivity(deciding, t),
        provisional,
        used,
    )
