"""Dual-tracer grading of one timepoint: NETPET, Karfis, Zidan (docs/clinical-rules.md §4, seed
Table 1).

Works on the *graded lesions* only: lesions with a score on both the SSTR PET and the FDG PET
(``phenotype`` decides which lesions those are). Every result carries its grade, suitability
wording, the lesions that decided it, the thresholds used, provisional/complete and a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .groups import NOT_CLASSIFIABLE, ZidanClasses, group_result, karfis, zidan
from .inputs import JSON, Thresholds
from .netpet import (
    P2,
    P3,
    P4,
    P5,
    PATTERNS,
    SUITABILITY,
    PairedLesion,
    grade_of,
    netpet_lesions,
)
from .netpet import reason as netpet_reason
from .wording import LesionNames


@dataclass(frozen=True, slots=True)
class DualTracer:
    """The three gradings of a timepoint plus what §6 builds on."""

    netpet: JSON
    karfis: JSON
    zidan: JSON
    pattern: str | None  # the patient's NETPET pattern; None when no lesion was graded
    grade: str | None
    biopsy_target: int | None
    unknown_comparison: list[int]
    by_pattern: list[list[int]]  # graded lesion ids per NETPET pattern index (netpet.P0-P5)
    discordant: list[int]  # SSTR-negative and FDG-positive under either threshold set (§6)


def thresholds_used(thresholds: Thresholds) -> dict[str, JSON]:
    """The positivity thresholds (§3) and settings each grading system applied."""
    background = {"sstr_positive": "Krenning >= 2", "fdg_positive": "FDG grade >= 2 or positive"}
    liver = {"sstr_positive": "Krenning >= 3", "fdg_positive": "FDG grade >= 3 or positive"}
    return {
        "netpet": background | {"netpet_equal_tolerance": float(thresholds.netpet_equal_tolerance)},
        "karfis": background,
        "zidan": liver,
    }


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


def _ungraded(
    grade: str | None, reason: str, provisional: bool, used: dict[str, JSON], note: str | None
) -> tuple[JSON, JSON, JSON]:
    karfis_result = group_result(grade, None, reason, [], provisional, used["karfis"])
    karfis_result["pet_negative_lesions"] = []
    zidan_result = group_result(grade, None, reason, [], provisional, used["zidan"])
    zidan_result["note"] = note
    return _netpet_empty(grade, reason, provisional, used["netpet"]), karfis_result, zidan_result


def without_fdg(thresholds: Thresholds, reason: str) -> tuple[JSON, JSON, JSON]:
    """NETPET, Karfis and Zidan with null grades: no FDG PET paired (API.md)."""
    return _ungraded(None, reason, False, thresholds_used(thresholds), None)


def grade_timepoint(
    graded: Sequence[PairedLesion],
    liver_classes: ZidanClasses,
    sstr_liver: Decimal | None,
    fdg_liver: Decimal | None,
    thresholds: Thresholds,
    names: LesionNames,
    provisional: bool,
    zidan_note: str | None,
) -> DualTracer:
    """Grade one dual-tracer timepoint (DOMAIN.md §4.1-§4.3).

    ``graded`` is in lesion-id order, and ``liver_classes`` sorts the same lesions for Zidan.
    ``provisional`` says whether unpaired or ungradable lesions already make the result
    provisional; NETPET is also provisional when a lesion's FDG-versus-SSTR comparison is
    unknown. With no graded lesion all three grades are ``not_classifiable``, with no
    representative lesion and no biopsy target.
    """
    used = thresholds_used(thresholds)
    if not graded:
        reason = "No lesion was graded on both the SSTR PET and the FDG PET."
        netpet_result, karfis_result, zidan_result = _ungraded(
            NOT_CLASSIFIABLE, reason, provisional, used, zidan_note
        )
        return DualTracer(
            netpet=netpet_result,
            karfis=karfis_result,
            zidan=zidan_result,
            pattern=None,
            grade=NOT_CLASSIFIABLE,
            biopsy_target=None,
            unknown_comparison=[],
            by_pattern=[[] for _ in PATTERNS],
            discordant=[],
        )

    lesions = netpet_lesions(graded, sstr_liver, fdg_liver, thresholds.netpet_equal_tolerance)
    pattern_index, suffix = grade_of(lesions)
    pattern = PATTERNS[pattern_index]
    grade = pattern + (suffix or "")
    deciding = lesions.by_pattern[pattern_index]
    representative = lesions.representative
    netpet = {
        "grade": grade,
        "pattern": pattern,
        "suffix": suffix,
        # Only P4 differs by suffix: P4a probably suitable, P4b maybe (§4.1).
        "suitability": SUITABILITY[grade if pattern_index == P4 else pattern],
        "representative_lesion": representative,
        "lesions": lesions.rows,
        "deciding_lesions": deciding,
        "unknown_comparison_lesions": lesions.unknown,
        "reason": netpet_reason(
            pattern_index, grade, deciding, representative, lesions.unknown, names
        ),
        "provisional": provisional or bool(lesions.unknown),
        "thresholds": used["netpet"],
    }
    zidan_4 = liver_classes.sstr_negative_fdg_positive
    by_pattern = lesions.by_pattern
    p5 = by_pattern[P5]
    # A biopsy target only when some lesion is FDG-positive: P2-P5 are exactly those lesions.
    any_fdg_positive = bool(by_pattern[P2] or by_pattern[P3] or by_pattern[P4] or by_pattern[P5])
    return DualTracer(
        netpet=netpet,
        karfis=karfis(by_pattern, names, provisional, used["karfis"]),
        zidan=zidan(liver_classes, names, provisional, used["zidan"], zidan_note),
        pattern=pattern,
        grade=grade,
        biopsy_target=representative if any_fdg_positive else None,
        unknown_comparison=lesions.unknown,
        by_pattern=by_pattern,
        discordant=sorted(set(p5).union(zidan_4)) if zidan_4 else p5,
    )
