"""Tumour-marker series (DOMAIN.md §8, "Biomarkers").

One series per analyte and unit (a change of unit starts another series rather than mixing
numbers that do not compare), in date order. For each: the change from the first value, and the
doubling time from the least-squares slope of ln(value) on days over at least three positive
values: ``ln 2 / slope`` days, none when the slope is not positive. ``rising`` marks a latest
value at least 25% above the first; the §8 flag "rising while the latest RECIST is SD" combines
it with the RECIST series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from .inputs import JSON, BiomarkerIn

RISING_SHARE = Decimal("0.25")
MIN_VALUES_FOR_DOUBLING = 3


def _doubling_time_days(points: list[tuple[int, Decimal]]) -> float | None:
    """``ln 2 / slope`` of the least-squares line of ln(value) on day; None when there are
    fewer than three positive values, all on one day, or the slope is not positive."""
    usable = [(day, math.log(value)) for day, value in points if value > 0]
    if len(usable) < MIN_VALUES_FOR_DOUBLING:
        return None
    n = len(usable)
    mean_x = sum(x for x, _ in usable) / n
    mean_y = sum(y for _, y in usable) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in usable)
    if sxx == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in usable) / sxx
    if slope <= 0:
        return None
    return round(math.log(2) / slope, 1)


def biomarker_series(measurements: Iterable[BiomarkerIn]) -> list[JSON]:
    """Every series, ordered by analyte then unit; independent of the input order."""
    series: dict[tuple[str, str], list[BiomarkerIn]] = {}
    for m in measurements:
        series.setdefault((m.analyte, m.unit), []).append(m)
    results = []
    for (analyte, unit), values in sorted(series.items()):
        values.sort(key=lambda m: (m.measured_on, m.value))
        first, latest = values[0], values[-1]
        start = first.measured_on
        change = None
        if first.value > 0:
            change = float(round((latest.value - first.value) / first.value * 100, 1))
        doubling = _doubling_time_days([((m.measured_on - start).days, m.value) for m in values])
        results.append(
            {
                "analyte": analyte,
                "unit": unit,
                "values": [
                    {"measured_on": m.measured_on.isoformat(), "value": float(m.value)}
                    for m in values
                ],
                "change_from_baseline": change,
                "doubling_time_days": doubling,
                "rising": first.value > 0 and latest.value >= first.value * (1 + RISING_SHARE),
                "reason": _reason(analyte, len(values), change, doubling),
            }
        )
    return results


def _reason(analyte: str, count: int, change: float | None, doubling: float | None) -> str:
    name = analyte.replace("_", " ")
    parts = [f"{count} value{'s' if count != 1 else ''} of {name}"]
    if change is not None:
        parts.append(f"{change:+.1f}% from the first")
    if doubling is not None:
        parts.append(f"doubling time {doubling:.1f} days")
    elif count >= MIN_VALUES_FOR_DOUBLING:
        parts.append("not rising, so no doubling time")
    else:
        parts.append(f"a doubling time needs at least {MIN_VALUES_FOR_DOUBLING} values")
    return "; ".join(parts) + "."
