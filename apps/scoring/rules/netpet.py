"""NETPET grade (P0-P5) of one dual-tracer timepoint (DOMAIN.md §4.1, seed Table 1, Chan et al.).

Works on the graded lesions only. Decimal operators here run in ``uptake.DECIMAL_CONTEXT``,
which ``assess_phenotype`` makes current.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from math import trunc
from operator import itemgetter
from typing import Any, NamedTuple

from .scale import ABOVE_BACKGROUND, SUFFIX_B_MIN_LESIONS
from .wording import LesionNames, count, is_are

JSON = dict[str, Any]

PATTERNS = ("P0", "P1", "P2", "P3", "P4", "P5")  # ranked P0 lowest ... P5 highest
P0, P1, P2, P3, P4, P5 = range(6)
_BY_COMPARISON = {"lower": P2, "equal": P3, "higher": P4}
_COMPARISON_OF = {P2: "lower", P3: "equal", P4: "higher"}
_COMPARISON_WORDS = {P2: "lower than", P3: "equal to", P4: "higher than"}

SUITABILITY = {
    "P0": "not suitable",
    "P1": "probably suitable",
    "P2": "probably suitable",
    "P3": "probably suitable",
    "P4a": "probably suitable",
    "P4b": "maybe suitable, additional therapy required",
    "P5": "not suitable",
}

# Ranking classes of the FDG:SSTR ratio: infinite above every number, every number above a ratio
# that cannot be computed (§4.1).
_RATIO_NONE, _RATIO_NUMBER, _RATIO_INFINITE = 0, 1, 2
_ZERO = Decimal(0)
_DISPLAY_SCALE = 10000.0  # ratios in JSON carry 4 decimals
# Relative margin within which float TLRs do not decide a comparison (see ``netpet_lesions``):
# ten million times their worst rounding error.
_SCREEN = 1e-9


# One graded lesion: ``(lesion, sstr_score, fdg_score, sstr_suv, fdg_suv, reader_comparison)``,
# its scores on both studies and what the ranking needs (§4). The SUVmax is 0 when not seen (§2.1);
# the reader's comparison is ``fdg_vs_sstr`` entered on the FDG observation. A plain tuple, not a
# NamedTuple, for the reason given at ``uptake.Grade``: one is built per graded lesion.
PairedLesion = tuple[
    int, int, int, Decimal | None, Decimal | None, str | None, float | None, float | None
]
_LESION = itemgetter(0)  # the lesion id of a PairedLesion
# The liver SUVmeans of a timepoint (SSTR, FDG), when both are positive.
_Livers = tuple[Decimal, Decimal]


class Netpet(NamedTuple):
    """Per-lesion patterns and the representative lesion of one timepoint."""

    rows: list[JSON]  # API.md netpet.lesions, in lesion-id order
    by_pattern: list[list[int]]  # lesion ids per pattern index, each in id order
    representative: int
    unknown: list[int]  # lesions whose comparison is unknown: counted as P3 (provisional)


def netpet_lesions(
    graded: Sequence[PairedLesion],
    sstr_liver: Decimal | None,
    fdg_liver: Decimal | None,
    tolerance: Decimal,
) -> Netpet:
    """Pattern, TLRs and comparison of every graded lesion, and the representative lesion.

    Pattern (§4.1, §3): SSTR-negative lesions are P5 when FDG-positive, else P0; SSTR-positive,
    FDG-negative ones P1; positive on both, P2, P3 or P4 as FDG avidity is lower than, equal to
    or higher than SSTR avidity. That comparison only decides the pattern of a lesion positive
    on both tracers, so it is worked out only there.

    Comparison: the reader's entry wins; else TLR = SUVmax / liver SUVmean on each study, equal
    when ``|TLR_FDG − TLR_SSTR| ≤ tolerance × TLR_SSTR``, else lower or higher; with neither
    (no SUVs or livers, no entry) the lesion counts as P3 and is listed as unknown. The test
    runs exactly as ``|F·Ls − S·Lf| ≤ tolerance·S·Lf`` (both livers positive, so multiplying
    through by ``Ls·Lf`` keeps the inequality), so no division rounds a boundary. The float
    TLRs (needed for display anyway) screen it first: they decide only where they clear the
    boundary by a margin far above their rounding error, which is nearly every lesion, and any
    lesion inside that margin is decided on the Decimals, so the result is the exact one.

    Ranking: see ``_rank_key``. Only the first in the ranking (the representative lesion) is
    needed, and the pattern ranks first, so only the lesions with the patient's pattern (the
    highest present) are ranked, after the patterns are known.
    """
    livers: _Livers | None = None
    ls = lf = _ZERO  # the livers (Ls, Lf); only used when both are positive
    ls_inverse = lf_inverse = 0.0
    if sstr_liver is not None and fdg_liver is not None and sstr_liver > 0 and fdg_liver > 0:
        livers = ls, lf = (sstr_liver, fdg_liver)
        ls_inverse, lf_inverse = 1.0 / float(sstr_liver), 1.0 / float(fdg_liver)
    # Locals for the loop, which runs for every graded lesion.
    scale = _DISPLAY_SCALE
    positive = ABOVE_BACKGROUND
    by_comparison = _BY_COMPARISON
    tolerance_float = float(tolerance)
    screen = _SCREEN
    rows: list[JSON] = []
    members: list[list[PairedLesion]] = [[], [], [], [], [], []]  # the lesions of each pattern
    unknown: list[int] = []
    tlr_s: float | None
    tlr_f: float | None
    ratio_out: float | None
    for paired in graded:
        lesion, s_score, f_score, s_suv, f_suv, reader, s_float, f_float = paired
        # Both SUVs and both livers: the TLRs can be shown and the comparison computed. (The
        # ``type: ignore`` below are for mypy, which cannot see that this means both SUVs.)
        computable = livers is not None and s_suv is not None and f_suv is not None
        if computable:
            # TLRs in floats, from the SUVs' floats (``ObservationIn.suv_max_float``): for the
            # display values and to screen the comparison below; decisions stay exact.
            tlr_s, tlr_f = s_float * ls_inverse, f_float * lf_inverse  # type: ignore[operator]
        else:
            tlr_s = tlr_f = None

        comparison = source = None
        if s_score < positive:
            pattern = P5 if f_score >= positive else P0
        elif f_score < positive:
            pattern = P1
        elif reader in by_comparison:
            comparison, source = reader, "reader"
            pattern = by_comparison[reader]
        elif computable:
            # Computed from the SUVs: |F·Ls − S·Lf| ≤ tolerance·S·Lf is equal (see the docstring),
            # i.e. |TLR_F − TLR_S| ≤ tolerance·TLR_S. The float TLRs carry a relative error of a
            # few units in 2**-53, so when they clear the boundary by far more than that
            # (``_SCREEN`` of the TLRs' size) they decide, and only a lesion within that margin
            # (or with values too large for a float) is decided on the exact Decimals.
            excess = abs(tlr_f - tlr_s) - tolerance_float * tlr_s  # type: ignore[operator]
            margin = screen * (abs(tlr_f) + abs(tlr_s))  # type: ignore[arg-type]
            if excess > margin:
                pattern = P4 if tlr_f > tlr_s else P2  # type: ignore[operator]
            elif excess < -margin:
                pattern = P3
            else:
                f_ls, s_lf = f_suv * ls, s_suv * lf  # type: ignore[operator]
                if abs(f_ls - s_lf) <= tolerance * s_lf:
                    pattern = P3
                elif f_ls > s_lf:
                    pattern = P4
                else:
                    pattern = P2
            comparison, source = _COMPARISON_OF[pattern], "computed"
        else:
            unknown.append(lesion)
            pattern = P3
        members[pattern].append(paired)
        if computable:
            # Display values (4 decimals, half up): every decision is made by now.
            # math.trunc is int() on a float (same result, same errors), only cheaper to call.
            ratio_out = trunc(tlr_f / tlr_s * scale + 0.5) / scale if s_suv else None  # type: ignore[operator]
            tlr_s = trunc(tlr_s * scale + 0.5) / scale  # type: ignore[operator]
            tlr_f = trunc(tlr_f * scale + 0.5) / scale  # type: ignore[operator]
        else:
            ratio_out = None
        rows.append(
            {
                "lesion": lesion,
                "pattern": PATTERNS[pattern],
                "sstr_score": s_score,
                "fdg_score": f_score,
                "tlr_sstr": tlr_s,
                "tlr_fdg": tlr_f,
                "ratio": ratio_out,
                "comparison": comparison,
                "comparison_source": source,
            }
        )
    if not rows:
        raise ValueError("NETPET needs at least one graded lesion")
    top = P5  # the highest pattern present
    while top and not members[top]:
        top -= 1
    first = max(members[top], key=lambda paired: _rank_key(paired, livers))
    by_pattern = [list(map(_LESION, lesions)) for lesions in members]
    return Netpet(rows, by_pattern, first[0], unknown)


def _rank_key(
    paired: PairedLesion, livers: _Livers | None
) -> tuple[int, Decimal, bool, Decimal, int]:
    """Sort key (highest first) of a lesion among those with the same pattern (§4.1).

    The FDG:SSTR TLR ratio (also when the reader entered the comparison; an SSTR SUVmax of 0
    ranks as infinite, a ratio that cannot be computed below every number), then FDG SUVmax
    (missing lowest), then the lower lesion id. The livers are the same for every lesion of the
    timepoint, so the ratio ranks as ``F·Ls / S·Lf``.
    """
    lesion, _, _, s_suv, f_suv, _, _, _ = paired
    ratio_class, ratio = _RATIO_NONE, _ZERO
    if s_suv is not None and f_suv is not None:
        if not s_suv:
            ratio_class = _RATIO_INFINITE
        elif livers is not None:
            ratio_class, ratio = _RATIO_NUMBER, (f_suv * livers[0]) / (s_suv * livers[1])
    return (ratio_class, ratio, f_suv is not None, f_suv or _ZERO, -lesion)


def grade_of(netpet: Netpet) -> tuple[int, str | None]:
    """The patient's pattern (the representative's, the highest present) and its a/b suffix."""
    by_pattern = netpet.by_pattern
    pattern = P5
    while pattern and not by_pattern[pattern]:
        pattern -= 1
    if pattern not in (P2, P3, P4):
        return pattern, None
    many = len(by_pattern[pattern]) >= SUFFIX_B_MIN_LESIONS
    return pattern, "b" if many else "a"


def reason(
    pattern: int,
    grade: str,
    deciding: list[int],
    representative: int,
    unknown: list[int],
    names: LesionNames,
) -> str:
    """One sentence: the grade, the lesions showing the pattern, the representative lesion."""
    n = len(deciding)
    # Each name list is formatted only in the sentence that uses it.
    if pattern == P0:
        text = "Grade P0: no graded lesion is avid above background on either SSTR or FDG PET"
    elif pattern == P1:
        text = (
            f"Grade P1: {names.many(deciding)} {is_are(n)} SSTR-positive and FDG-negative, and "
            "no lesion is FDG-positive"
        )
    elif pattern == P5:
        text = (
            f"Grade P5: {names.many(deciding)} {is_are(n)} FDG-positive but SSTR-negative"
            f"{_top(representative, n, names)}"
        )
    else:
        text = (
            f"Grade {grade}: {count(n, 'lesion')} ({names.many(deciding)}) {is_are(n)} "
            "SSTR-positive and FDG-positive with FDG avidity "
            f"{_COMPARISON_WORDS[pattern]} SSTR avidity{_top(representative, n, names)}"
        )
    if unknown:
        they = "it counts" if len(unknown) == 1 else "they count"
        text += (
            "; provisional, because FDG and SSTR avidity could not be compared for "
            f"{names.many(unknown)} ({they} as P3)"
        )
    return text + "."


def _top(representative: int, n: int, names: LesionNames) -> str:
    """Naming the representative lesion adds nothing when it is the only one with the pattern."""
    return f"; {names.one(representative)} has the highest FDG to SSTR ratio" if n > 1 else ""
