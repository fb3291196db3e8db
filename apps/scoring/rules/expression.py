"""SSTR expression and heterogeneity of one SSTR study (DOMAIN.md §5)."""

from __future__ import annotations

from typing import Any, NamedTuple

from .inputs import ObservationIn, Thresholds
from .scale import ABOVE_LIVER
from .uptake import SCORE, ScoredStudy
from .wording import count, is_are

_SCORES = range(5)  # Krenning 0-4


class Expression(NamedTuple):
    """The §5 summary (JSON) and the lesions §6 builds its findings on."""

    summary: dict[str, Any]
    evaluable: int
    low_lesions: list[int]  # Krenning <= 2
    heterogeneous_lesions: list[int]  # heterogeneous target lesions
    targets: int


def is_heterogeneous(obs: ObservationIn) -> bool:
    """Marked heterogeneous, or a minimum and maximum score that differ (DOMAIN.md §5)."""
    low, high = obs.krenning_min, obs.krenning_max
    return obs.heterogeneous or (low is not None and high is not None and low != high)


def sstr_expression(scored: ScoredStudy, thresholds: Thresholds) -> Expression:
    """Counts per Krenning score, adequate share, majority low and heterogeneity (§5).

    ``scored`` is the SSTR study, every observation in lesion-id order; lesions with no score
    (not evaluable, ungradable) are left out. "More than half" is strict, "≥ 50%" inclusive, and
    empty sets give false (DOMAIN.md §2.1).
    """
    counts = [0, 0, 0, 0, 0]
    low: list[int] = []
    marked: list[ObservationIn] = []
    evaluable: list[ObservationIn] = []
    for obs, grade in zip(scored.observations, scored.grades, strict=True):
        score = grade[SCORE]
        if score is None:
            continue
        if score not in _SCORES:
            raise ValueError(f"lesion {obs.lesion}: Krenning score {score} is outside 0-4")
        counts[score] += 1
        evaluable.append(obs)
        if score < ABOVE_LIVER:
            low.append(obs.lesion)
        if obs.target:
            marked.append(obs)
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
        "counts": {str(score): counts[score] for score in _SCORES},
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
    return Expression(summary, n, low, heterogeneous_ids, len(targets))
