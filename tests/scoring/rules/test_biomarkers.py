"""DOMAIN.md §8 "Biomarkers": change from the first value and doubling time, table-driven, with
Hypothesis for independence from input order."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.scoring.rules.biomarkers import biomarker_series
from apps.scoring.rules.inputs import BiomarkerIn

START = date(2024, 1, 1)


def series(*points: tuple[int, str], analyte: str = "chromogranin_a", unit: str = "ng/mL"):  # type: ignore[no-untyped-def]
    return [
        BiomarkerIn(analyte, Decimal(value), START + timedelta(days=day), unit)
        for day, value in points
    ]


@pytest.mark.parametrize(
    ("points", "doubling", "change"),
    [
        ([(0, "100"), (30, "200"), (60, "400")], 30.0, 300.0),  # exact doubling every 30 days
        ([(0, "100"), (90, "200"), (180, "400")], 90.0, 300.0),
        ([(0, "400"), (30, "200"), (60, "100")], None, -75.0),  # falling: no doubling time
        ([(0, "100"), (30, "100"), (60, "100")], None, 0.0),  # flat: slope 0, none
        ([(0, "100"), (30, "200")], None, 100.0),  # two values: not enough
        ([(0, "0"), (30, "100"), (60, "200")], None, None),  # a zero first value: no change %
        ([(0, "0"), (10, "100"), (20, "200"), (30, "400")], 10.0, None),  # zero left out of ln
        ([(0, "100"), (0, "200"), (0, "400")], None, 300.0),  # one day: no slope
    ],
)
def test_change_and_doubling_time(
    points: list[tuple[int, str]], doubling: float | None, change: float | None
) -> None:
    (result,) = biomarker_series(series(*points))
    assert result["doubling_time_days"] == doubling
    assert result["change_from_baseline"] == change


def test_the_doubling_time_is_the_least_squares_fit_of_ln_value() -> None:
    (result,) = biomarker_series(series((0, "100"), (30, "180"), (60, "420"), (90, "790")))
    days = [0, 30, 60, 90]
    logs = [math.log(v) for v in (100, 180, 420, 790)]
    mx, my = sum(days) / 4, sum(logs) / 4
    slope = sum((x - mx) * (y - my) for x, y in zip(days, logs, strict=True)) / sum(
        (x - mx) ** 2 for x in days
    )
    assert result["doubling_time_days"] == round(math.log(2) / slope, 1)


@pytest.mark.parametrize(
    ("latest", "rising"), [("125", True), ("124.99", False), ("300", True), ("90", False)]
)
def test_rising_is_at_least_25_percent_above_the_first(latest: str, rising: bool) -> None:
    (result,) = biomarker_series(series((0, "100"), (30, latest)))
    assert result["rising"] is rising


def test_one_series_per_analyte_and_unit() -> None:
    results = biomarker_series(
        series((0, "100"), (30, "200"))
        + series((0, "5"), (30, "6"), analyte="calcitonin", unit="pg/mL")
        + series((60, "1"), analyte="calcitonin", unit="ng/mL")
    )
    assert [(r["analyte"], r["unit"]) for r in results] == [
        ("calcitonin", "ng/mL"),
        ("calcitonin", "pg/mL"),
        ("chromogranin_a", "ng/mL"),
    ]
    assert all(r["reason"].endswith(".") for r in results)


@given(
    st.lists(
        st.tuples(st.integers(0, 400), st.decimals("0.1", "10000", places=2)),
        min_size=1,
        max_size=8,
    ),
    st.randoms(),
)
def test_results_do_not_depend_on_the_order_of_entry(points, rng) -> None:  # type: ignore[no-untyped-def]
    values = series(*[(day, str(value)) for day, value in points])
    shuffled = list(values)
    rng.shuffle(shuffled)
    assert biomarker_series(shuffled) == biomarker_series(values)
