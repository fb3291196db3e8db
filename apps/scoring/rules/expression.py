"""SSTR expression and heterogeneity of one SSTR study (docs/clinical-rules.md §5)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .inputs import JSON, ObservationIn, Thresholds
from .wording import count, is_are

KRENNING_SCORES = range(5)  # Krenning 0-4


@dataclass(frozen=True, slots=True)
class SstrTally:
    """The SSTR study's evaluable lesions (those with a score), in lesion-id order.

    Gathered by ``phenotype`` in its one pass over a timepoint's lesions; every list is appended
    to in that pass, lesion by lesion.
    """

    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])  # per Krenning score 0-4
    evaluable: list[ObservationIn] = field(default_factory=list)
    low: list[int] = field(default_factory=list)  # lesion ids at Krenning 0-2 (below ABOVE_LIVER)
    marked: list[ObservationIn] = field(default_factory=list)  # marked ``target``


@dataclass(frozen=True, slots=True)
class Expression:
    """The §5 summary (JSON) and the lesions §6 builds its findings on."""

    summary: JSON
    evaluable: int
    low_lesions: list[int]  # Krenning <= 2
    heterogeneous_lesions: list[int]  # heterogeneous target lesions
    targets: int


def is_heterogeneous(obs: ObservationIn) -> bool:
    """Marked heterogeneous, or a minimum and maximum score that differ (DOMAIN.md §5)."""
    low, high = obs.krenning_min, obs.krenning_max
    return obs.heterogeneous or (low is not None and high is not None and low != high)


def sstr_expression(tally: SstrTally, thresholds: Thresholds) -> Expression:
    """Counts per Krenning score, adequate share, majority low and heterogeneity (§5).

    ``tally`` holds the SSTR study's lesions with a score (not evaluable and ungradable ones are
    left out; not seen counts as 0), whether paired with an FDG PET or not. "More than half" is
    strict, "≥ 50%" inclusive, and empty sets give false (DOMAIN.md §2.1).
    """
    counts, evaluable, low, marked = tally.counts, tally.evaluable, tally.low, tally.marked
    n = len(evaluable)
    adequate = n - len(low)
    majority_low = len(low) > thresholds.majority_low_share * n
    targets = marked or evaluable  # no target marked: all evaluable, gradable lesions
    heterogeneous_ids = [obs.lesion for obs in targets if is_heterogeneous(obs)]
    heterogeneous = bool(targets) and (
        len(heterogeneous_ids) >= thresholds.heterogeneous_share * len(targets)
    )
    inter_lesional = adequate > 0 and bool(low)
    if n:
        reason = (
            f"{adequate} of {count(n, 'evaluable lesion')} on the SSTR PET {is_are(adequate)} at "
            f"Krenning 3-4 and {len(low)} at 0-2; expression is "
            f"{'heterogeneous' if heterogeneous else 'homogeneous'} within target lesions"
            f"{' and differs between lesions' if inter_lesional else ''}."
        )
    else:
        reason = "No lesion on the SSTR PET has an uptake score."
    summary = {
        "counts": {"0": counts[0], "1": counts[1], "2": counts[2], "3": counts[3], "4": counts[4]},
        "evaluable_lesions": n,
        "share_adequate": round(adequate / n, 4) if n else None,
        "majority_low": majority_low,
        "heterogeneous": heterogeneous,
        "inter_lesional": inter_lesional,
        "target_lesions": [obs.lesion for obs in targets],
        "targets_marked": bool(marked),
        "heterogeneous_lesions": heterogeneous_ids,
        "reason": reason,
    }
    return Expression(
        summary=summary,
        evaluable=n,
        low_lesions=low,
        heterogeneous_lesions=heterogeneous_ids,
        targets=len(targets),
    )
