"""The Kaplan-Meier plot of the analytics page as numbers for its SVG template
(templates/outcomes/_survival_plot.svg.html): the coordinates of each group's step curve, its
censoring marks and the axes. No markup here (the template writes the SVG), no estimate (the
curves are the figures lifelines gave, apps/outcomes/survival.py).

Readable in greyscale and without colour: every group has its own line style (solid, dashed,
dotted, dash-dot…) in the plot and in the legend, beside its colour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DAYS_PER_MONTH = 365.25 / 12
# Line styles (stroke-dasharray), one per group in the order the groups are listed.
DASHES = ("", "10 5", "2 4", "12 4 2 4", "18 6", "6 3", "2 8", "12 4 2 4 2 4", "4 4", "24 4")

WIDTH, HEIGHT = 760, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 16, 48
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along its axis
    label: str


@dataclass(frozen=True)
class Line:
    group: str
    series: int  # 1-based, for the CSS class of its colour
    dash: str
    path: str  # SVG path data of the step curve
    censored: str  # SVG path data of its censoring marks (a + at each)
    legend_y: float


@dataclass(frozen=True)
class Plot:
    """Pixel positions for the template; it adds nothing up itself."""

    width: int
    height: int
    left: int
    right: int  # the plot area's right edge
    top: int
    bottom: int  # the plot area's bottom edge (the x axis)
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    lines: tuple[Line, ...]
    legend_x: int
    x_unit: str  # "weeks" or "months": the x axis and the numbers at risk are labelled in it

    @property
    def tick_end(self) -> int:
        return self.bottom + 5

    @property
    def tick_label_y(self) -> int:
        return self.bottom + 18

    @property
    def y_label_x(self) -> int:
        return self.left - 6

    @property
    def axis_title_y(self) -> int:
        return self.height - 6

    @property
    def legend_line_end(self) -> int:
        return self.legend_x + 34

    @property
    def legend_text_x(self) -> int:
        return self.legend_x + 40


def months(days: float) -> float:
    return days / DAYS_PER_MONTH


def _x(day: float, longest: float) -> float:
    return round(LEFT + PLOT_W * (day / longest if longest else 0), 1)


def _y(survival: float) -> float:
    return round(TOP + PLOT_H * (1 - survival), 1)


def _survival_at(curve: Sequence[Sequence[float]], day: float) -> float:
    """The step function's value at a day: that of the last step on or before it."""
    value = 1.0
    for step_day, survival in curve:
        if step_day > day:
            break
        value = survival
    return value


def _step_path(curve: Sequence[Sequence[float]], longest: float) -> str:
    """A step curve: horizontal to each drop, then down (Kaplan-Meier is right-continuous)."""
    parts = [f"M{_x(0, longest)},{_y(1.0)}"]
    for day, survival in curve:
        parts.append(f"H{_x(day, longest)}")
        parts.append(f"V{_y(survival)}")
    return "".join(parts)


def survival_plot(figures: dict[str, Any]) -> Plot:
    groups = figures["groups"]
    ticks = [tick for tick, _ in groups[0]["at_risk"]] if groups else [0]
    longest = float(max([ticks[-1], *(g["curve"][-1][0] for g in groups if g["curve"])]) or 1)
    lines = []
    for position, group in enumerate(groups):
        curve = group["curve"]
        marks = "".join(
            f"M{_x(day, longest)},{_y(_survival_at(curve, day)) - 4}v8"
            f"M{_x(day, longest) - 4},{_y(_survival_at(curve, day))}h8"
            for day, _count in group["censored"]
        )
        lines.append(
            Line(
                group=group["group"],
                series=position % len(DASHES) + 1,
                dash=DASHES[position % len(DASHES)],
                path=_step_path(curve, longest),
                censored=marks,
                legend_y=TOP + 14 + 22 * position,
            )
        )
    unit = x_unit(ticks)
    x_ticks = tuple(Tick(_x(day, longest), time_label(day, unit)) for day in ticks)
    y_ticks = tuple(Tick(_y(value / 100), f"{value}%") for value in range(0, 101, 25))
    return Plot(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=LEFT + PLOT_W,
        top=TOP,
        bottom=TOP + PLOT_H,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        lines=tuple(lines),
        legend_x=LEFT + PLOT_W + 16,
        x_unit=unit,
    )


def x_unit(ticks: Sequence[int]) -> str:
    """Weeks when the ticks are less than three months apart (a short follow-up: whole weeks
    label them exactly), else months."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 365
    return "weeks" if step < 91 else "months"


def time_label(day: int, unit: str) -> str:
    return f"{day / 7:.0f}" if unit == "weeks" else f"{months(day):.0f}"
