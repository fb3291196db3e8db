"""The phenotype timeline of one patient, as geometry for the inline SVG that
templates/jinja2/patients/timeline.svg draws (issue 6), and the lesion table under it (issue 15).

Built from the patient's record (``TimelineRecord``: the studies, treatments and lesions, and
the SUVmax and long axis of each observation, as shown) and what the worker stored: the
phenotype, the response and the per-lesion uptake scores (``PhenotypeAssessment.uptake``).
Nothing is scored here: the page shows what the worker computed, with its status (a study with
no stored scores yet has no cells). Lanes: treatments as bands (PRRT cycles as ticks), SSTR PET,
FDG PET, a lane for each other tracer class the patient has studies of (MIBG, DOPA PET,
GLP-1R…), post-therapy SPECT, CT/MRI, and the phenotype badges with alerts; below, one row per
lesion and tracer with its score at every study as a cell with the number printed, and beside
each lesion's name its dual-tracer phenotype (apps/scoring/phenotypes.py) as glyph and label.

The colour scales read in greyscale: each runs monotonically from dark to light (Krenning 0 dark
navy to 4 yellow, as the wireframe; FDG 0 pale to 3 dark brown), so the order survives without
colour, and the number is printed in every cell. As the two scales run in opposite directions,
FDG cells are round and SSTR cells square: an SSTR 0 beside an FDG 3 (a discordant lesion) are
two dark marks of different shapes, and the phenotype's glyph and label say it in words. The
colours are CSS classes (``k0``-``k4`` Krenning, ``f0``-``f3`` FDG, in static/css/netboard.css,
with the same values as below).

Text in the SVG is measured here (``text_width``: DejaVu Sans, the widest of the usual sans
fonts, so a label that fits here fits in Segoe UI, Roboto or Helvetica too): lesion names are
shortened to their column (the full name is in the tooltip and the lesion table), tick labels
stay inside the plot, and a treatment's name sits between its cycle ticks, beside the band or
shortened, never under a tick.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from apps.core import numbers
from apps.core.templatetags.codes import words
from apps.imaging.flags import FLAG_SHORT
from apps.imaging.models import Modality, Tracer
from apps.scoring.models import latest_timepoint
from apps.scoring.phenotypes import Phenotype, phenotype_of
from apps.scoring.rules.inputs import LesionIn, StudyIn, TreatmentIn
from apps.scoring.rules.series import date_order, series_kind

# Krenning 0-4 (SSTR PET and 177Lu SPECT): dark to light. FDG grade 0-3: light to dark.
# The number printed on each colour has a contrast of at least 4.5:1 (WCAG 1.4.3; the cells'
# 11 px text is not "large"), checked in tests/browser/test_accessibility.py. The page draws
# them with the CSS classes ``k<n>`` and ``f<n>`` (static/css/netboard.css), which
# tests/patients/test_page_content.py checks against these values.
SSTR_COLOURS = ["#00224e", "#414d6b", "#777673", "#bcaf6f", "#fee838"]
SSTR_TEXT = ["#ffffff", "#ffffff", "#ffffff", "#111111", "#111111"]
FDG_COLOURS = ["#fde0c5", "#f9a05b", "#e35a14", "#8c2d04"]
FDG_TEXT = ["#111111", "#111111", "#111111", "#ffffff"]

LABEL_WIDTH = 340  # the label column, left of the plot
PLOT_WIDTH = 840
RIGHT_MARGIN = 20
WIDTH = LABEL_WIDTH + PLOT_WIDTH + RIGHT_MARGIN
AXIS_Y = 34
LANE_HEIGHT = 26
ROW_HEIGHT = 22
LESION_GAP = 6
CELL = 18
BAND_ROW = 20  # height of one row of treatment bands

# The label column, from the plot's left edge (x = 0) leftwards: the tracer of each row ends at
# -6, the phenotype glyph is centred at -54, the lesion's name and its phenotype's label end at
# -66; nothing starts left of -LABEL_WIDTH + 4.
TRACER_END = -6
GLYPH_X = -54
NAME_END = -66
NAME_ROOM = LABEL_WIDTH - 4 + NAME_END  # 270 px for the name (and "◎ biopsy target")
NAME_SIZE, PHENOTYPE_SIZE, TAG_SIZE, TICK_SIZE, BAND_SIZE = 12.5, 11.0, 10.0, 12.0, 11.0
BADGE_SIZE = ALERT_SIZE = 12.0
BIOPSY = " ◎ biopsy target"
NEW_TAG = "new"
TAG_GAP = 5

TREATMENT_NAMES = {
    "ssa": "Somatostatin analogue",
    "prrt_lu177_dotatate": "177Lu-DOTATATE",
    "mibg_i131": "131I-MIBG",
    "chemotherapy": "Chemotherapy",
    "targeted": "Targeted therapy",
    "immunotherapy": "Immunotherapy",
    "surgery": "Surgery",
    "liver_directed": "Liver-directed therapy",
    "radiotherapy": "Radiotherapy",
    "other": "Other treatment",
}
TREATMENT_FILL = {
    "ssa": "#dbe9f6",
    "prrt_lu177_dotatate": "#cdeacc",
    "chemotherapy": "#f6dccf",
}

# --- Lanes ----------------------------------------------------------------------------------
# Every study has a lane. The fixed lanes are always drawn; a lane of another tracer class only
# when the patient has a study of it. Kinds "sstr", "fdg", "anatomic" are the rules' series
# (apps/scoring/rules/series.py: pre-therapy SSTR and FDG PET, CT/MRI); "spect" is any
# post-therapy scan (177Lu-DOTATATE, 131I-MIBG); the rest go by tracer class
# (apps/scoring/rules/tracers.py, TRACER_CLASS).
TOP_LANES = [("treatment", "Treatment"), ("sstr", "SSTR PET"), ("fdg", "FDG PET")]
OTHER_LANES = {  # kind: lane name, in the order drawn (between FDG PET and post-therapy SPECT)
    "sstr-scint": "SSTR scintigraphy",  # pre-therapy SSTR imaging that is not PET (111In)
    "net": "MIBG",  # noradrenaline transporter: 123I/124I-MIBG, 18F-MFBG
    "lat": "DOPA PET",
    "glp1r": "GLP-1R (exendin)",
    "cck2r": "CCK2R (CP04)",
    "gipr": "GIPR",
    "integrin": "Integrin (RGD)",
    "fdg-other": "FDG (not PET)",
    "other": "Other imaging",
}
BOTTOM_LANES = [
    ("spect", "Post-therapy SPECT"),
    ("anatomic", "CT / MRI"),
    ("phenotype", "Phenotype"),
]
CLASS_KIND = {
    "SSTR": "sstr-scint",
    "FDG": "fdg-other",
    "NET": "net",
    "LAT": "lat",
    "GLP1R": "glp1r",
    "CCK2R": "cck2r",
    "GIPR": "gipr",
    "INTEGRIN": "integrin",
}
# The lesion row a study's scores go on, by tracer class, in the order of a lesion's rows.
ROW_OF_CLASS = {
    "SSTR": "SSTR",
    "FDG": "FDG",
    "NET": "MIBG",
    "LAT": "DOPA",
    "GLP1R": "GLP-1R",
    "CCK2R": "CCK2R",
    "GIPR": "GIPR",
    "INTEGRIN": "RGD",
}
ROW_ORDER = list(dict.fromkeys(ROW_OF_CLASS.values()))
SCALE_OF_ROW = {"SSTR": "Krenning", "FDG": "FDG grade"}  # others: "uptake score" (0-4)

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
TRACER_NAMES = {code: label.removesuffix(" (post-therapy)") for code, label in Tracer.choices}
MODALITY_NAMES: dict[str, str] = dict(Modality.choices)

# --- Text widths ----------------------------------------------------------------------------
# Advance widths of DejaVu Sans (Debian's system-ui and sans-serif) in thousandths of an em, for
# the characters 32-126, regular and bold, as Chromium measures them; the few others the
# timeline prints are below, anything else counts as wide.
_ASCII_REGULAR = (
    "318 401 460 838 636 950 780 275 390 390 500 838 318 361 318 337 636 636 636 636 636 636 636 "
    "636 636 636 337 337 838 838 838 531 1000 684 686 698 770 632 575 775 752 295 295 656 557 863 "
    "748 787 603 787 695 635 611 732 684 989 685 611 685 390 337 390 838 500 500 613 635 532 635 "
    "567 352 635 634 278 278 579 278 974 634 550 635 635 384 521 392 634 592 818 592 592 525 636 "
    "337 636 838"
)
_ASCII_BOLD = (
    "348 456 521 838 696 1002 872 306 457 457 523 838 380 415 380 365 696 696 696 696 696 696 696 "
    "696 696 696 400 400 838 838 838 580 1000 774 762 734 830 683 683 821 837 372 372 775 637 995 "
    "837 850 733 850 770 720 682 812 774 1103 771 724 725 457 365 457 838 500 500 675 716 593 716 "
    "678 435 716 712 343 343 665 343 1042 712 687 716 716 493 595 478 712 652 924 645 652 582 712 "
    "365 712 838"
)
_OTHER_WIDTHS = {"–": 500, "—": 1000, "·": 380, "…": 1000, "−": 838, "×": 838, "µ": 636}
_GLYPH_WIDTH = 873  # ◎ ● ◐ ◆ ○ ▲ and other geometric shapes
_WIDE = 780  # letters outside ASCII (é, ö…): as wide as most capitals


def _widths(table: str) -> dict[str, int]:
    return {chr(32 + i): int(w) for i, w in enumerate(table.split())}


_REGULAR, _BOLD = _widths(_ASCII_REGULAR), _widths(_ASCII_BOLD)


@lru_cache(maxsize=4096)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """The width in px of ``text`` at font size ``size`` (DejaVu Sans; see above)."""
    table = _BOLD if bold else _REGULAR
    total = 0
    for char in text:
        width = table.get(char) or _OTHER_WIDTHS.get(char)
        if width is None:
            width = _GLYPH_WIDTH if "\u2190" <= char <= "\u2bff" else _WIDE
        total += width
    return total * size / 1000


def shorten(text: str, room: float, size: float, bold: bool = False, after: str = "") -> str:
    """``text`` cut with "…" so that it and ``after`` fit in ``room`` px; whole if it fits."""
    if text_width(text + after, size, bold) <= room:
        return text
    for end in range(len(text) - 1, 0, -1):
        cut = text[:end].rstrip() + "…"
        if text_width(cut + after, size, bold) <= room:
            return cut
    return "…"


TAG_WIDTH = round(text_width(NEW_TAG, TAG_SIZE, bold=True) + 8, 1)  # the "new" tag's pill


# --- The geometry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRecord:
    """What the timeline shows of the patient's record (the rules' input types, without the
    reads: apps/patients/page.py, ``timeline_record``)."""

    studies: Sequence[StudyIn]  # without their observations
    treatments: Sequence[TreatmentIn]  # with their cycles
    lesions: Sequence[LesionIn]
    suv_max: Mapping[tuple[int, int], Decimal]  # by (study id, lesion id), where recorded
    read_count: Mapping[int, int] = field(default_factory=dict)  # observations by study id
    long_axis: Mapping[tuple[int, int], Decimal] = field(default_factory=dict)  # mm, as suv_max


@dataclass
class Mark:
    """A study on its lane: a marker at ``x`` with a tooltip."""

    x: float
    y: float
    kind: str  # its lane: "sstr", "fdg", "spect", "anatomic" or another lane's (OTHER_LANES)
    study: int
    title: str

    @property
    def other(self) -> bool:
        """On a lane of another tracer class (drawn as a hexagon)."""
        return self.kind in OTHER_LANES


class Cell(NamedTuple):
    """A lesion's stored score at one study, at ``x`` from the plot's left edge in its row (a
    tuple: the template unpacks it, ``{% for x, tone, score, title in row.cells %}``)."""

    x: float
    tone: str  # the CSS class of its colour: "k0"-"k4" (0-4 scales), "f0"-"f3" (FDG grade)
    score: int
    title: str  # tooltip and aria-label: lesion, study, scale, score, source, SUVmax, flags


@dataclass
class Row:
    lesion: int
    label: str  # the name as shown: shortened to its column when long
    tracer: str  # "SSTR", "FDG", or another tracer class's row ("MIBG", "DOPA"…)
    y: float
    cells: list[Cell] = field(default_factory=list)
    title: str = ""  # the full name, site, phenotype and flags
    first: bool = False  # first row of its lesion: carries the name and the glyph
    biopsy_target: bool = False
    new: bool = False
    second: bool = False  # second row of its lesion: carries the phenotype's label, "new"
    phenotype: Phenotype | None = None
    pattern: str | None = None  # the lesion's NETPET pattern at the latest timepoint
    phenotype_end: float = NAME_END  # where the phenotype's label ends (second row)
    biopsy_inline: bool = False  # "◎ biopsy target" follows the name (first row)
    biopsy_line: bool = False  # "◎ biopsy target" alone (third row): too long after the name

    @property
    def round(self) -> bool:
        """FDG cells are round, the 0-4 scales' square (they read apart in greyscale)."""
        return self.tracer == "FDG"


@dataclass
class Band:
    x: float
    width: float
    y: float
    label: str  # the name as shown (shortened only when no place holds it whole)
    fill: str
    ticks: list[tuple[float, str]]
    title: str
    label_x: float = 4.0  # where the name starts, from the band's left edge (may be outside)
    label_width: float = 0.0


@dataclass
class Badge:
    x: float
    y: float
    text: str
    tone: str  # "p5" (an SSTR-negative FDG-positive lesion), "mixed", "indolent", "none"
    title: str
    grade: str = ""  # the NETPET grade alone: what a badge too crowded to show ``text`` shows
    short: bool = False
    study: int = 0  # its timepoint's SSTR PET
    at: float = field(init=False)  # its study's x (``x`` is moved left at the plot's end)

    def __post_init__(self) -> None:
        self.at = self.x

    @property
    def label(self) -> str:
        return self.grade if self.short and self.grade else self.text

    @property
    def width(self) -> float:
        return round(12 + text_width(self.label, BADGE_SIZE, bold=True), 1)

    @property
    def middle(self) -> float:
        return self.width / 2 - 6


ALERT_LABELS = {
    "new_fdg_positive_sstr_negative": "new FDG+/SSTR− lesion",
    "fdg_resolved": "FDG resolved",
    "fdg_growing_low_sstr": "FDG+ growing at low SSTR",
}


@dataclass
class Alert:
    x: float
    y: float
    code: str
    text: str
    more: int = 0  # further alerts on the same study
    short: bool = False  # no room for its label: the ▲ alone (the text is in its tooltip)

    @property
    def label(self) -> str:
        label = ALERT_LABELS.get(self.code, self.code.replace("_", " "))
        return f"{label} (+{self.more})" if self.more else label

    @property
    def shown(self) -> str:
        return "▲" if self.short else f"▲ {self.label}"


class Tick(NamedTuple):
    """A month on the axis at ``x``; its label is drawn ``dx`` from it to stay in the SVG."""

    x: float
    label: str
    dx: float


@dataclass(frozen=True)
class TableStudy:
    """A study shown in the lesion table, with its columns."""

    study: int
    name: str  # "SSTR PET", "CT", "123I-MIBG SPECT/CT"
    day: str
    columns: tuple[str, ...]  # ("Krenning", "SUVmax"), ("FDG grade", "SUVmax"), ("Long axis (mm)",)


@dataclass(frozen=True)
class TableRow:
    lesion: int
    name: str  # the full name
    site: str
    phenotype: Phenotype | None
    pattern: str | None
    new: bool
    biopsy_target: bool
    values: tuple[tuple[str, str], ...]  # per column of the table's studies: (value, note)


@dataclass(frozen=True)
class LesionTable:
    """The timeline's values without hovering: one row per lesion at a few studies (the latest
    dual-tracer timepoint, the timepoint before it, the latest CT/MRI and the latest study of
    each other tracer), so that it stays small at 40 lesions x 24 studies."""

    caption: str
    studies: list[TableStudy]
    rows: list[TableRow]

    @property
    def width(self) -> int:
        return 3 + sum(len(study.columns) for study in self.studies)

    @property
    def caption_parts(self) -> list[tuple[str, bool]]:
        """The caption in pieces, each with whether it is a date (kept on one line)."""
        return [(part, bool(_DATE.fullmatch(part))) for part in _DATE.split(self.caption) if part]


@dataclass
class Timeline:
    width: int
    height: int
    axis_y: float
    plot_left: float
    plot_right: float
    plot_width: float
    ticks: list[Tick]
    lanes: list[tuple[str, float]]
    bands: list[Band]
    marks: list[Mark]
    badges: list[Badge]
    alerts: list[Alert]
    rows: list[Row]
    row_top: float
    empty: bool
    table: LesionTable | None = None
    other_lanes: list[str] = field(default_factory=list)  # names of the drawn lanes of OTHER_LANES
    phenotypes: list[Phenotype] = field(default_factory=list)  # those shown, for the legend

    # The label column's layout, for the template (see NAME_END).
    name_end = NAME_END
    glyph_x = GLYPH_X
    tracer_end = TRACER_END
    tag_width = TAG_WIDTH
    tag_x = round(NAME_END - TAG_WIDTH, 1)
    label_left = -LABEL_WIDTH + 4


def _months(start: date, end: date) -> list[date]:
    """First days of months between start and end, thinned to at most about 10 labels."""
    firsts = []
    day = date(start.year, start.month, 1)
    while day <= end:
        if day >= start:
            firsts.append(day)
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    step = max(1, -(-len(firsts) // 10))
    quarter = [d for d in firsts if (d.month - 1) % step == 0] if step in (2, 3, 4, 6) else None
    return quarter if quarter else firsts[::step]


def _ticks(first: date, last: date, x_of: Callable[[date], float]) -> list[Tick]:
    """The axis' month labels, each centred on its tick unless that would cross the SVG's
    right (or left) edge: then moved in, its tick staying where it is."""
    ticks = []
    for day in _months(first, last):
        x, label = x_of(day), day.strftime("%b %Y")
        half = text_width(label, TICK_SIZE) / 2
        dx = min(0.0, WIDTH - 2 - half - x) + max(0.0, 2 + half - x)
        ticks.append(Tick(x, label, round(dx, 1)))
    return ticks


def _place_label(band: Band, left: float, right: float) -> None:
    """Where a band's name goes, never under one of its cycle ticks: inside the band at its start
    when it has no ticks; else in the first gap between ticks that holds it, else beside the
    band (right, then left, within the plot), else shortened into the widest gap."""
    width = text_width(band.label, BAND_SIZE)
    band.label_width = width
    if not band.ticks:
        if band.x + 4 + width > right and band.x - 4 - width >= left:
            band.label_x = -4 - width  # a short line near the right edge: its name before it
        return
    edges = sorted({0.0, band.width, *(dx for dx, _ in band.ticks)})
    gaps = [(a, b) for a, b in zip(edges, edges[1:], strict=False) if 0 <= a < b <= band.width]
    for start, end in gaps:
        if end - start >= width + 10:
            band.label_x = start + 5
            return
    if band.x + band.width + 5 + width <= right:
        band.label_x = band.width + 5
        return
    if band.x - 5 - width >= left:
        band.label_x = -5 - width
        return
    start, end = max(gaps, key=lambda gap: gap[1] - gap[0], default=(0.0, band.width))
    band.label = shorten(band.label, end - start - 10, BAND_SIZE)
    band.label_x, band.label_width = start + 5, text_width(band.label, BAND_SIZE)


def _treatment_bands(
    treatments: Sequence[TreatmentIn],
    study_days: list[date],
    last: date,
    x_of: Callable[[date], float],
) -> list[Band]:
    """One band per treatment line, with a tick per cycle (its ``y`` is set once packed)."""
    bands = []
    ends = study_days or [last]
    for treatment in sorted(treatments, key=lambda t: (t.started_on, t.id)):
        end = treatment.ended_on or (
            max(c.given_on for c in treatment.cycles) if treatment.cycles else max(ends + [last])
        )
        x0, x1 = x_of(treatment.started_on), x_of(max(end, treatment.started_on))
        name = TREATMENT_NAMES.get(treatment.kind, treatment.kind)
        cycles = sorted(treatment.cycles, key=lambda c: c.number)
        label = name + (f" ×{len(cycles)}" if cycles else "")
        ticks_ = [
            (
                round(x_of(c.given_on) - x0, 1),
                f"Cycle {c.number}, {c.given_on.isoformat()}"
                + (f", {c.activity_gbq} GBq" if c.activity_gbq is not None else ""),
            )
            for c in cycles
        ]
        period = f"from {treatment.started_on.isoformat()}" + (
            f" to {treatment.ended_on.isoformat()}" if treatment.ended_on else ""
        )
        bands.append(
            Band(
                x0,
                max(x1 - x0, 4.0),
                0,  # placed below, once the bands are packed into rows
                label,
                TREATMENT_FILL.get(treatment.kind, "#e7e7e7"),
                ticks_,
                f"{label} {period}",
            )
        )

    return bands


def _pack(bands: list[Band]) -> tuple[list[int], list[float]]:
    """Overlapping treatment lines go on separate rows of the treatment lane, which grows: each
    band's row, and where each row ends (a band's name beside it counts as part of it)."""
    row_ends: list[float] = []
    band_rows = []
    for band in bands:
        start = band.x + min(0.0, band.label_x)
        end = band.x + max(band.width, band.label_x + band.label_width)
        row = next((i for i, ends in enumerate(row_ends) if ends + 4 <= start), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = end
        band_rows.append(row)
    return band_rows, row_ends


def _badges(
    timepoints: list[dict[str, Any]],
    at: Mapping[int, StudyIn],
    x_of: Callable[[date], float],
    y: float,
    right: float,
) -> tuple[list[Badge], dict[int, float]]:
    """A grade badge (NETPET · Karfis · Zidan) at each graded timepoint's SSTR study, and where
    each sits by SSTR study (the alerts of a timepoint sit left of it)."""
    badges = []
    for timepoint in timepoints:
        netpet = timepoint["netpet"]["grade"]
        if netpet is None:
            continue
        karfis = timepoint["karfis"]["group"] or "—"
        zidan = timepoint["zidan"]["group"] or "—"
        pattern = timepoint["netpet"]["pattern"]
        tone = {"P5": "p5", "P0": "none", "P1": "indolent"}.get(pattern or "", "mixed")
        study = at.get(timepoint["sstr_study"])
        if study is None:
            continue
        text = f"{netpet} · {_short(karfis)} · {_short(zidan)}"
        badge = Badge(x_of(study.performed_on), y, text, tone, timepoint["netpet"]["reason"])
        badge.grade, badge.study = netpet, study.id
        badges.append(badge)
    _fit_badges(badges, right + 14)
    return badges, {badge.study: badge.x for badge in badges}


def _fit_badges(badges: list[Badge], end: float) -> None:
    """Each badge at its study, the last moved left to end by ``end``; a badge that would run
    into the next shows its NETPET grade alone (its tooltip and aria-label keep the whole)."""
    badges.sort(key=lambda badge: badge.at)
    for _ in range(3):
        for badge in badges:
            badge.x = min(badge.at, end - badge.width)
        crowded = [
            (badge, after)
            for badge, after in zip(badges, badges[1:], strict=False)
            if badge.x + badge.width + 4 > after.x and not (badge.short and after.short)
        ]
        if not crowded:
            return
        for badge, after in crowded:
            if badge.short:
                after.short = True
            badge.short = True


def _fit_alerts(badges: list[Badge], alerts: list[Alert], left: float) -> None:
    """An alert with no room for its label between the badge before it (or the lane's name)
    and its own place shows its ▲ alone (its tooltip and aria-label keep the text)."""
    for alert in alerts:
        before = [b.x - 6 + b.width for b in badges if b.x < alert.x - 1]
        room_from = max([*before, left]) + 4
        if alert.x - 10 - text_width(alert.shown, ALERT_SIZE, bold=True) < room_from:
            alert.short = True


def _alerts(
    response: dict[str, Any],
    at: Mapping[int, StudyIn],
    badge_x: Mapping[int, float],
    x_of: Callable[[date], float],
    y: float,
) -> list[Alert]:
    """One alert marker per study (every alert's text in its tooltip), left of its badge."""
    alerts: list[Alert] = []
    by_study: dict[int, Alert] = {}
    for alert in response.get("dual_tracer_alerts", []):
        study = at.get(alert["study"])
        if study is None or alert["code"] == "ssa_started_between":
            continue
        if study.id in by_study:
            shown = by_study[study.id]
            shown.more += 1
            shown.text += " " + alert["text"]
            continue
        x = badge_x.get(study.id, x_of(study.performed_on))
        by_study[study.id] = Alert(x, y, alert["code"], alert["text"])
        alerts.append(by_study[study.id])
    return alerts


def lane_kind(study: StudyIn) -> str:
    """The lane of a study (see TOP_LANES, OTHER_LANES, BOTTOM_LANES): every study has one."""
    kind = series_kind(study)
    if kind is not None:
        return kind
    if study.post_therapy:
        return "spect"
    return CLASS_KIND.get(study.tracer_class, "other")


def _lanes(
    studies: Sequence[StudyIn], extra: float
) -> tuple[list[tuple[str, float]], dict[str, float], list[str]]:
    """The lanes drawn, each with its ``y``: the fixed ones and one per other kind present; and
    the ``y`` of each kind, and the names of the other lanes drawn. The treatment lane grows by
    ``extra`` for its rows of bands."""
    kinds = {lane_kind(study) for study in studies}
    other = [(kind, _other_lane_name(kind, studies)) for kind in OTHER_LANES if kind in kinds]
    named = [*TOP_LANES, *other, *BOTTOM_LANES]
    y_of: dict[str, float] = {}
    lanes = []
    for i, (kind, name) in enumerate(named):
        y_of[kind] = AXIS_Y + 14 + (extra / 2 if i == 0 else extra) + i * LANE_HEIGHT
        lanes.append((name, y_of[kind]))
    return lanes, y_of, [name for _kind, name in other]


def _other_lane_name(kind: str, studies: Sequence[StudyIn]) -> str:
    if kind == "net":  # 18F-MFBG images the same transporter as MIBG
        tracers = {s.tracer for s in studies if lane_kind(s) == "net"}
        if "f18_mfbg" in tracers:
            return "MIBG / MFBG" if tracers - {"f18_mfbg"} else "MFBG PET"
    return OTHER_LANES[kind]


def _row_of(study: StudyIn) -> str | None:
    """The lesion row a study's scores go on (None: CT/MRI, no scores)."""
    return ROW_OF_CLASS.get(study.tracer_class)


def _cells(
    patient: TimelineRecord,
    studies: Sequence[StudyIn],
    uptake: Mapping[str, Any],
    names: Mapping[int, str],
    x_of: Callable[[date], float],
    left: float,
) -> dict[tuple[int, str], list[Cell]]:
    """Every stored score as a cell, by lesion and row."""
    scores: dict[tuple[int, str], list[Cell]] = {}
    for study in studies:
        tracer = _row_of(study)
        stored = uptake.get(str(study.id))
        if tracer is None or not stored:
            continue
        fdg = tracer == "FDG"
        tone, top = ("f", len(FDG_COLOURS) - 1) if fdg else ("k", len(SSTR_COLOURS) - 1)
        # The same for every cell of the study: its position and the middle of its tooltip.
        cell_x = round(x_of(study.performed_on) + (4 if fdg else 0) - left, 1)
        scale = SCALE_OF_ROW.get(tracer, "uptake score")
        heading = f" · {_study_name(study)} {study.performed_on.isoformat()} · {scale} "
        for lesion_key, graded in stored.items():
            score = graded["score"]
            if score is None:
                continue
            lesion = int(lesion_key)
            suv_max = patient.suv_max.get((study.id, lesion))
            suv = f", SUVmax {numbers.suv(suv_max)}" if suv_max is not None else ""
            named = [FLAG_SHORT.get(flag, flag) for flag in graded["flags"]]
            flags = f" · {', '.join(named)}" if named else ""
            title = f"{names.get(lesion, lesion)}{heading}{score} ({graded['source']}){suv}{flags}"
            cell = Cell(cell_x, f"{tone}{min(score, top)}", score, title)
            scores.setdefault((lesion, tracer), []).append(cell)
    return scores


@dataclass(frozen=True)
class _Lesions:
    """What the rows and the table say of each lesion besides its scores."""

    names: dict[int, str]
    sites: dict[int, str]
    patterns: dict[int, str | None]  # NETPET pattern at the latest timepoint, where graded
    new: set[int]
    biopsy: int | None


def _lesions(
    patient: TimelineRecord, latest: Mapping[str, Any] | None, response: Mapping[str, Any]
) -> _Lesions:
    netpet = (latest or {}).get("netpet") or {}
    return _Lesions(
        names={lesion.id: lesion.label or f"Lesion {lesion.id}" for lesion in patient.lesions},
        sites={lesion.id: lesion.site.replace("_", " ") for lesion in patient.lesions},
        patterns={row["lesion"]: row.get("pattern") for row in netpet.get("lesions") or []},
        new={
            lesion
            for part in ("recist", "percist", "sstr")
            for entry in response.get(part, [])
            for lesion in entry.get("new_lesions", [])
        },
        biopsy=latest["biopsy_target"] if latest else None,
    )


def _rows(
    scores: Mapping[tuple[int, str], list[Cell]], known: _Lesions, row_top: float
) -> tuple[list[Row], float]:
    """One row per lesion and tracer (SSTR and FDG always, another tracer's where it has
    scores), the first with the name and the phenotype's glyph, the second with its label and
    "new"; and where the rows end."""
    rows: list[Row] = []
    y = row_top
    for lesion in sorted({lesion for lesion, _ in scores}):
        name = str(known.names.get(lesion, lesion))
        pattern = known.patterns.get(lesion)
        phenotype = phenotype_of(pattern)
        biopsy, new = lesion == known.biopsy, lesion in known.new
        # The biopsy target's mark follows its name, or has a line of its own under the
        # phenotype when both do not fit.
        inline = biopsy and text_width(name + BIOPSY, NAME_SIZE, bold=True) <= NAME_ROOM
        label = shorten(name, NAME_ROOM, NAME_SIZE, bold=biopsy)
        title = f"{name}, {known.sites.get(lesion, 'site not recorded')}"
        if phenotype is not None:
            title += f" · {phenotype.text} (NETPET {pattern})"
        if new:
            title += " · new lesion"
        if biopsy:
            title += " · biopsy target"
        tracers = ["SSTR", "FDG"] + [t for t in ROW_ORDER[2:] if (lesion, t) in scores]
        if biopsy and not inline and len(tracers) < 3:
            tracers.append("")  # a row for the mark alone
        for index, tracer in enumerate(tracers):
            rows.append(
                Row(
                    lesion,
                    label,
                    tracer,
                    y,
                    scores.get((lesion, tracer), []),
                    title,
                    first=index == 0,
                    biopsy_target=biopsy,
                    new=new,
                    second=index == 1,
                    phenotype=phenotype,
                    pattern=pattern,
                    phenotype_end=NAME_END - (TAG_WIDTH + TAG_GAP if new else 0),
                    biopsy_inline=inline and index == 0,
                    biopsy_line=biopsy and not inline and index == 2,
                )
            )
            y += ROW_HEIGHT
        y += LESION_GAP
    return rows, y


def build_timeline(
    patient: TimelineRecord,
    phenotype: dict[str, Any],
    response: dict[str, Any],
    uptake: dict[str, Any],
) -> Timeline:
    """The geometry of the timeline and its lesion table. ``uptake`` is the stored
    ``PhenotypeAssessment.uptake``: by study id, then lesion id (strings), ``{"score",
    "source", "computed", "flags"}``. The lesions' phenotypes are the NETPET patterns of the
    latest timepoint's ``netpet.lesions`` rows (``lesion``, ``pattern``), where present."""
    studies = sorted(patient.studies, key=date_order)
    days = [s.performed_on for s in studies] + [t.started_on for t in patient.treatments]
    days += [c.given_on for t in patient.treatments for c in t.cycles]
    if not days:
        return Timeline(WIDTH, 80, AXIS_Y, LABEL_WIDTH, LABEL_WIDTH + PLOT_WIDTH, PLOT_WIDTH, [],
                        [], [], [], [], [], [], 0, True)  # fmt: skip
    first, last = min(days) - timedelta(days=20), max(days) + timedelta(days=30)
    span = max((last - first).days, 1)
    left, right = float(LABEL_WIDTH), float(LABEL_WIDTH + PLOT_WIDTH)

    def x_of(day: date) -> float:
        return round(left + (day - first).days / span * (right - left), 1)

    bands = _treatment_bands(patient.treatments, [s.performed_on for s in studies], last, x_of)
    for band in bands:
        _place_label(band, left + 2, WIDTH - 2.0)
    band_rows, row_ends = _pack(bands)
    extra = max(len(row_ends) - 1, 0) * BAND_ROW
    lanes, lane_y, other_lanes = _lanes(studies, extra)
    for band, row in zip(bands, band_rows, strict=True):
        band.y = lane_y["treatment"] - extra / 2 - 8 + row * BAND_ROW

    marks = []
    for study in studies:
        kind = lane_kind(study)
        marks.append(
            Mark(
                x_of(study.performed_on),
                lane_y[kind],
                kind,
                study.id,
                f"{_study_name(study)} {study.performed_on.isoformat()}"
                + (f", cycle {study.cycle_number}" if study.cycle_number else ""),
            )
        )

    at = {s.id: s for s in studies}
    badges, badge_x = _badges(phenotype.get("timepoints", []), at, x_of, lane_y["phenotype"], right)
    alerts = _alerts(response, at, badge_x, x_of, lane_y["phenotype"])
    _fit_alerts(badges, alerts, left)

    latest = latest_timepoint(phenotype)
    known = _lesions(patient, latest, response)
    scores = _cells(patient, studies, uptake, known.names, x_of, left)
    row_top = lane_y["phenotype"] + 30
    rows, y = _rows(scores, known, row_top)
    shown = {row.phenotype.code: row.phenotype for row in rows if row.phenotype is not None}
    return Timeline(
        WIDTH,
        int(y + 10),
        AXIS_Y,
        left,
        right,
        right - left,
        _ticks(first, last, x_of),
        lanes,
        bands,
        marks,
        badges,
        alerts,
        rows,
        row_top,
        False,
        table=lesion_table(patient, studies, phenotype, uptake, known),
        other_lanes=other_lanes,
        phenotypes=list(shown.values()),
    )


# --- The lesion table -----------------------------------------------------------------------


def _table_studies(
    studies: Sequence[StudyIn], phenotype: Mapping[str, Any]
) -> list[tuple[str, list[StudyIn]]]:
    """The studies the lesion table shows, grouped by why, for the caption: the latest
    timepoint's SSTR and FDG PET, the timepoint's before it, then the latest study of every
    other lane (CT/MRI, another tracer; SSTR or FDG PET when no timepoint has one) but the
    post-therapy scans."""
    at = {study.id: study for study in studies}
    timepoints = phenotype.get("timepoints") or []
    latest = latest_timepoint(phenotype)
    groups: list[tuple[str, list[StudyIn]]] = []
    if latest is not None:
        index = next(
            (i for i, tp in enumerate(timepoints) if tp.get("sstr_study") == latest["sstr_study"]),
            len(timepoints) - 1,
        )
        for why, timepoint in (
            ("the timepoint before it", timepoints[index - 1] if index > 0 else None),
            (
                "the latest dual-tracer timepoint"
                if latest.get("fdg_study") is not None
                else "the latest timepoint",
                latest,
            ),
        ):
            if timepoint is None:
                continue
            picked = [
                at[key]
                for key in (timepoint.get("sstr_study"), timepoint.get("fdg_study"))
                if key in at
            ]
            if picked:
                groups.append((why, picked))
    shown = {study.id for _why, group in groups for study in group}
    kind_of = {study.id: lane_kind(study) for study in studies}
    kinds = {kind_of[study] for study in shown}
    latest_of: dict[str, StudyIn] = {}  # the latest study of each kind (studies: date order)
    for study in studies:
        latest_of[kind_of[study.id]] = study
    others = [
        latest_of[kind]
        for kind in ["sstr", "fdg", *OTHER_LANES, "anatomic"]
        if kind in latest_of and kind not in kinds
    ]
    for study in sorted(others, key=date_order):
        groups.append((f"the latest {_study_name(study)}", [study]))
    if len(groups) > 1 and groups[0][0] == "the timepoint before it":
        groups.insert(0, groups.pop(1))  # the caption names the latest timepoint first
    return groups


def _value(
    study: StudyIn,
    lesion: int,
    patient: TimelineRecord,
    uptake: Mapping[str, Any],
) -> tuple[tuple[str, str], ...]:
    """The table's cells of one lesion at one study: score and SUVmax, or the long axis."""
    if _row_of(study) is None:  # CT/MRI
        return ((numbers.mm(patient.long_axis.get((study.id, lesion))) or "—", ""),)
    graded = (uptake.get(str(study.id)) or {}).get(str(lesion))
    suv_max = patient.suv_max.get((study.id, lesion))
    suv = "—" if suv_max is None else numbers.suv(suv_max)
    if graded is None:
        return (("—", ""), (suv, ""))
    score = graded["score"]
    flags = ", ".join(FLAG_SHORT.get(flag, flag) for flag in graded["flags"])
    if score is None:
        shown = "not evaluable" if graded["source"] == "state" else "no score"
        return ((shown, flags), (suv, ""))
    return ((str(score), flags), (suv, ""))


def lesion_table(
    patient: TimelineRecord,
    studies: Sequence[StudyIn],
    phenotype: Mapping[str, Any],
    uptake: Mapping[str, Any],
    known: _Lesions,
) -> LesionTable | None:
    """Every lesion at the studies ``_table_studies`` picks, in date order (None: no lesion)."""
    if not patient.lesions:
        return None
    groups = _table_studies(studies, phenotype)
    picked = sorted((s for _why, group in groups for s in group), key=date_order)
    columns = []
    for study in picked:
        tracer = _row_of(study)
        if tracer is None:
            heads: tuple[str, ...] = ("Long axis (mm)",)
        else:
            heads = (SCALE_OF_ROW.get(tracer, "Score (0–4)"), "SUVmax")
        columns.append(
            TableStudy(study.id, _study_name(study), study.performed_on.isoformat(), heads)
        )
    rows = []
    for lesion in sorted(patient.lesions, key=lambda lesion: lesion.id):
        pattern = known.patterns.get(lesion.id)
        rows.append(
            TableRow(
                lesion.id,
                known.names[lesion.id],
                known.sites[lesion.id],
                phenotype_of(pattern),
                pattern,
                lesion.id in known.new,
                lesion.id == known.biopsy,
                tuple(cell for s in picked for cell in _value(s, lesion.id, patient, uptake)),
            )
        )
    return LesionTable(_caption(groups, len(studies)), columns, rows)


def _caption(groups: list[tuple[str, list[StudyIn]]], total: int) -> str:
    if not groups:
        return "Lesions recorded (no study yet)."
    parts = [why + " (" + ", ".join(_named(s, why) for s in group) + ")" for why, group in groups]
    said = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    shown = sum(len(group) for _why, group in groups)
    rest = (
        f"{shown} of {total} studies; every study is on the timeline above"
        if shown < total
        else f"all {total} {'study' if total == 1 else 'studies'}"
    )
    return f"Each lesion at {said}: {rest}. Phenotype: the NETPET pattern at the latest timepoint."


def _named(study: StudyIn, why: str) -> str:
    day = study.performed_on.isoformat()
    return (
        day
        if why.startswith("the latest ") and "timepoint" not in why
        else (f"{_study_name(study)} {day}")
    )


def _short(group: str) -> str:
    """C2 / Z3 as the wireframe shows them; codes in words (``not_classifiable``)."""
    if group.startswith("C") and group[1:].isdigit():
        return group
    if group.isdigit():
        return f"Z{group}"
    return words(group)


def _study_name(study: StudyIn) -> str:
    kind = series_kind(study)
    if kind == "sstr":
        return "SSTR PET"
    if kind == "fdg":
        return "FDG PET"
    if kind == "anatomic":
        return study.modality.upper()
    if study.post_therapy:
        if study.tracer == "lu177_dotatate":
            return "177Lu SPECT"
        return f"{TRACER_NAMES.get(study.tracer, study.tracer)} post-therapy scan"
    tracer = TRACER_NAMES.get(study.tracer, study.tracer_class)
    return f"{tracer} {MODALITY_NAMES.get(study.modality, study.modality)}"
