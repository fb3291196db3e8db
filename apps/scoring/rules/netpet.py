"""NETPET grade (P0-P5) of one dual-tracer timepoint (docs/clinical-rules.md §4.1, seed Table 1,
Chan et al.).

Works on the graded lesions only. Decimal operators here run in ``uptake.DECIMAL_CONTEXT``,
which ``assess_phenotype`` makes current.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .inputs import JSON
from .scale import ABOVE_BACKGROUND, SUFFIX_B_MIN_LESIONS
from .wording import LesionNames, count, is_are

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
_DISPLAY_SCALE = 10000.0  # TLRs and ratios in JSON carry 4 decimals


@dataclass(frozen=True, slots=True)
class PairedLesion:
    """One graded lesion: its scores on both studies and what the comparison and the ranking
    need (§4)."""

    lesion: int
    sstr_score: int
    fdg_score: int
    sstr_suv: Decimal | None  # SUVmax, 0 when not seen (§2.1)
    fdg_suv: Decimal | None
    reader_comparison: str | None  # ``fdg_vs_sstr``, entered on the FDG observation


@dataclass(frozen=True, slots=True)
class Livers:
    """The liver SUVmeans of a timepoint, when both are positive: TLR = SUVmax / liver."""

    sstr: Decimal
    fdg: Decimal


@dataclass(frozen=True, slots=True)
class Netpet:
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

    Pattern: see ``pattern_of``. Ranking: see ``_rank_key``. Only the first in the ranking (the
    representative lesion) is needed, and the pattern ranks first, so only the lesions with the
    patient's pattern (the highest present) are ranked.
    """
    if not graded:
        raise ValueError("NETPET needs at least one graded lesion")
    livers = None
    if sstr_liver is not None and fdg_liver is not None and sstr_liver > 0 and fdg_liver > 0:
        livers = Livers(sstr_liver, fdg_liver)
    rows: list[JSON] = []
    members: list[list[PairedLesion]] = [[], [], [], [], [], []]  # the lesions of each pattern
    unknown: list[int] = []
    for paired in graded:
        pattern, comparison, source = pattern_of(paired, livers, tolerance)
        if pattern in (P2, P3, P4) and comparison is None:
            unknown.append(paired.lesion)  # positive on both, not compared: counted as P3
        members[pattern].append(paired)
        tlr_sstr, tlr_fdg, ratio = _shown_tlrs(paired, livers)
        rows.append(
            {
                "lesion": paired.lesion,
                "pattern": PATTERNS[pattern],
                "sstr_score": paired.sstr_score,
                "fdg_score": paired.fdg_score,
                "tlr_sstr": tlr_sstr,
                "tlr_fdg": tlr_fdg,
                "ratio": ratio,
                "comparison": comparison,
                "comparison_source": source,
            }
        )
    top = max(pattern for pattern in range(len(PATTERNS)) if members[pattern])
    first = max(members[top], key=lambda paired: _rank_key(paired, livers))
    by_pattern = [[paired.lesion for paired in lesions] for lesions in members]
    return Netpet(rows, by_pattern, first.lesion, unknown)


def pattern_of(
    paired: PairedLesion, livers: Livers | None, tolerance: Decimal
) -> tuple[int, str | None, str | None]:
    """The lesion's pattern, and its FDG-versus-SSTR comparison and where that came from.

    Pattern (§4.1, §3): SSTR-negative lesions are P5 when FDG-positive, else P0; SSTR-positive,
    FDG-negative ones P1; positive on both, P2, P3 or P4 as FDG avidity is lower than, equal to
    or higher than SSTR avidity. That comparison only decides the pattern of a lesion positive
    on both tracers, so it is worked out only there.

    Comparison: the reader's entry wins; else TLR = SUVmax / liver SUVmean on each study, equal
    when ``|TLR_FDG − TLR_SSTR| ≤ tolerance × TLR_SSTR``, else lower or higher; with neither
    (no SUVs or livers, no entry) the lesion counts as P3 and its comparison is unknown. The
    test runs exactly as ``|F·Ls − S·Lf| ≤ tolerance·S·Lf`` (both livers positive, so
    multiplying through by ``Ls·Lf`` keeps the inequality), so no division rounds a boundary.
    """
    if paired.sstr_score < ABOVE_BACKGROUND:
        return (P5 if paired.fdg_score >= ABOVE_BACKGROUND else P0), None, None
    if paired.fdg_score < ABOVE_BACKGROUND:
        return P1, None, None
    reader = paired.reader_comparison
    if reader is not None and reader in _BY_COMPARISON:
        return _BY_COMPARISON[reader], reader, "reader"
    s_suv, f_suv = paired.sstr_suv, paired.fdg_suv
    if livers is None or s_suv is None or f_suv is None:
        return P3, None, None  # unknown: counts as P3
    f_ls, s_lf = f_suv * livers.sstr, s_suv * livers.fdg
    if abs(f_ls - s_lf) <= tolerance * s_lf:
        pattern = P3
    elif f_ls > s_lf:
        pattern = P4
    else:
        pattern = P2
    return pattern, _COMPARISON_OF[pattern], "computed"


def _shown_tlrs(
    paired: PairedLesion, livers: Livers | None
) -> tuple[float | None, float | None, float | None]:
    """The TLRs on each study and their FDG:SSTR ratio as shown (4 decimals, half up), when
    both SUVs and both livers are there; the ratio also needs an SSTR SUVmax above 0.

    Display values only, in floats (every decision is made on the Decimals): each TLR is the
    SUVmax's float times the float inverse of its liver, the ratio that of the unrounded TLRs.
    """
    s_suv, f_suv = paired.sstr_suv, paired.fdg_suv
    if livers is None or s_suv is None or f_suv is None:
        return None, None, None
    tlr_sstr = float(s_suv) * (1.0 / float(livers.sstr))
    tlr_fdg = float(f_suv) * (1.0 / float(livers.fdg))
    ratio = _shown(tlr_fdg / tlr_sstr) if s_suv else None
    return _shown(tlr_sstr), _shown(tlr_fdg), ratio


def _shown(value: float) -> float:
    """A non-negative display value rounded half up to 4 decimals."""
    return int(value * _DISPLAY_SCALE + 0.5) / _DISPLAY_SCALE


def _rank_key(
    paired: PairedLesion, livers: Livers | None
) -> tuple[int, Decimal, bool, Decimal, int]:
    """Sort key (highest first) of a lesion among those with the same pattern (§4.1).

    The FDG:SSTR TLR ratio (also when the reader entered the comparison; an SSTR SUVmax of 0
    ranks as infinite, a ratio that cannot be computed below every number), then FDG SUVmax
    (missing lowest), then the lower lesion id. The livers are the same for every lesion of the
    timepoint, so the ratio ranks as ``F·Ls / S·Lf``.
    """
    s_suv, f_suv = paired.sstr_suv, paired.fdg_suv
    ratio_class, ratio = _RATIO_NONE, _ZERO
    if s_suv is not None and f_suv is not None:
        if not s_suv:
            ratio_class = _RATIO_INFINITE
        elif livers is not None:
            ratio_class, ratio = _RATIO_NUMBER, (f_suv * livers.sstr) / (s_suv * livers.fdg)
    return (ratio_class, ratio, f_suv is not None, f_suv or _ZERO, -paired.lesion)


def grade_of(netpet: Netpet) -> tuple[int, str | None]:
    """The patient's pattern (the representative's, the highest present) and its a/b suffix."""
    by_pattern = netpet.by_pattern
    pattern = max((p for p in range(len(PATTERNS)) if by_pattern[p]), default=P0)
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
