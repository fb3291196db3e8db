"""The SSTR/FDG phenotype timeline of one patient, as geometry for the inline SVG that
templates/jinja2/patients/timeline.svg draws (issue 6).

Built from the patient's record (``TimelineRecord``: the studies, treatments and lesions, and
the SUVmax of each observation, as shown) and what the worker stored: the phenotype, the
response and the per-lesion uptake scores (``PhenotypeAssessment.uptake``). Nothing is scored
here: the page shows what the worker computed, with its status (a study with no stored scores
yet has no cells). Lanes: treatments as bands (PRRT cycles as ticks), SSTR PET, FDG PET,
post-therapy SPECT, CT/MRI, and the phenotype badges with alerts; below, one row per lesion and
tracer with its score at every study as a coloured cell with the number printed.

The colour scales read in greyscale: each runs monotonically from dark to light (Krenning 0 dark
navy to 4 yellow, as the wireframe; FDG 0 pale to 3 dark brown), so the order survives without
colour, and the number is printed in every cell. The colours are CSS classes (``k0``-``k4``
Krenning, ``f0``-``f3`` FDG, in static/css/netboard.css, with the same values as below).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from apps.core.templatetags.codes import words
from apps.imaging.flags import FLAG_SHORT
from apps.scoring.models import latest_timepoint
from apps.scoring.rules.inputs import LesionIn, StudyIn, TreatmentIn
from apps.scoring.rules.series import date_order, series_kind

# Krenning 0-4 (SSTR PET and 177Lu SPECT): dark to light. FDG grade 0-3: light to dark.
# The number printed on each colour has a contrast of at least 4.5:1 (WCAG 1.4.3; the cells'
# 11 px text is not "large"), checked in tests/browser/test_accessibility.py. The page draws
# them with the CSS classes ``k<n>`` and ``f<n>`` (static/css/netboard.css), which
# tests/patients/test_page_size.py checks against these values.
SSTR_COLOURS = ["#00224e", "#414d6b", "#777673", "#bcaf6f", "#fee838"]
SSTR_TEXT = ["#ffffff", "#ffffff", "#ffffff", "#111111", "#111111"]
FDG_COLOURS = ["#fde0c5", "#f9a05b", "#e35a14", "#8c2d04"]
FDG_TEXT = ["#111111", "#111111", "#111111", "#ffffff"]

LABEL_WIDTH = 300
PLOT_WIDTH = 840
WIDTH = LABEL_WIDTH + PLOT_WIDTH + 20
AXIS_Y = 34
LANE_HEIGHT = 26
ROW_HEIGHT = 22
LABEL_CHARS = 30  # longer lesion names are shortened; the full name is in the tooltip
CELL = 18
BAND_ROW = 20  # height of one row of treatment bands

LANES = ["Treatment", "SSTR PET", "FDG PET", "Post-therapy SPECT", "CT / MRI", "Phenotype"]
KIND_LANE = {"sstr": 1, "fdg": 2, "spect": 3, "anatomic": 4}
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


@dataclass(frozen=True)
class TimelineRecord:
    """What the timeline shows of the patient's record (the rules' input types, without the
    reads: apps/patients/page.py, ``timeline_record``)."""

    studies: Sequence[StudyIn]  # without their observations
    treatments: Sequence[TreatmentIn]  # with their cycles
    lesions: Sequence[LesionIn]
    suv_max: Mapping[tuple[int, int], Decimal]  # by (study id, lesion id), where recorded
    read_count: Mapping[int, int] = field(default_factory=dict)  # observations by study id


@dataclass
class Mark:
    """A study on its lane: a marker at ``x`` with a tooltip."""

    x: float
    y: float
    kind: str
    study: int
    title: str


class Cell(NamedTuple):
    """A lesion's stored score at one study, at ``x`` from the plot's left edge in its row (a
    tuple: the template unpacks it, ``{% for x, tone, score, title in row.cells %}``)."""

    x: float
    tone: str  # the CSS class of its colour: "k0"-"k4" (Krenning), "f0"-"f3" (FDG grade)
    score: int
    title: str  # tooltip and aria-label: lesion, study, scale, score, source, SUVmax, flags


@dataclass
class Row:
    lesion: int
    label: str
    tracer: str  # "SSTR" or "FDG"
    y: float
    cells: list[Cell] = field(default_factory=list)
    title: str = ""  # the full name, site and flags (the label may be shortened)
    first: bool = False  # first row of its lesion: carries the label
    biopsy_target: bool = False
    new: bool = False


@dataclass
class Band:
    x: float
    width: float
    y: float
    label: str
    fill: str
    ticks: list[tuple[float, str]]
    title: str


@dataclass
class Badge:
    x: float
    y: float
    text: str
    tone: str  # "p5" (an SSTR-negative FDG-positive lesion), "mixed", "indolent", "none"
    title: str

    @property
    def width(self) -> int:
        return 12 + 7 * len(self.text)

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

    @property
    def label(self) -> str:
        label = ALERT_LABELS.get(self.code, self.code.replace("_", " "))
        return f"{label} (+{self.more})" if self.more else label


@dataclass
class Timeline:
    width: int
    height: int
    axis_y: float
    plot_left: float
    plot_right: float
    plot_width: float
    ticks: list[tuple[float, str]]
    lanes: list[tuple[str, float]]
    bands: list[Band]
    marks: list[Mark]
    badges: list[Badge]
    alerts: list[Alert]
    rows: list[Row]
    row_top: float
    empty: bool


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
                f"{name} {period}",
            )
        )

    return bands


def _pack(bands: list[Band]) -> tuple[list[int], list[float]]:
    """Overlapping treatment lines go on separate rows of the treatment lane, which grows: each
    band's row, and where each row ends."""
    row_ends: list[float] = []
    band_rows = []
    for band in bands:
        row = next((i for i, end in enumerate(row_ends) if end + 4 <= band.x), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = band.x + max(band.width, 7.0 * len(band.label) + 8)
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
    badge_x: dict[int, float] = {}  # by SSTR study: the alerts of a timepoint sit left of it
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
        badge_x[study.id] = min(x_of(study.performed_on), right + 14 - (12 + 7 * len(text)))
        badges.append(
            Badge(
                badge_x[study.id],
                y,
                text,
                tone,
                timepoint["netpet"]["reason"],
            )
        )
    return badges, badge_x


def build_timeline(
    patient: TimelineRecord,
    phenotype: dict[str, Any],
    response: dict[str, Any],
    uptake: dict[str, Any],
) -> Timeline:
    """The geometry of the timeline. ``uptake`` is the stored ``PhenotypeAssessment.uptake``:
    by study id, then lesion id (strings), ``{"score", "source", "computed", "flags"}``."""
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

    ticks = [(x_of(d), d.strftime("%b %Y")) for d in _months(first, last)]

    bands = _treatment_bands(patient.treatments, [s.performed_on for s in studies], last, x_of)
    band_rows, row_ends = _pack(bands)
    extra = max(len(row_ends) - 1, 0) * BAND_ROW
    lane_y = [AXIS_Y + 14 + (extra / 2 if i == 0 else extra) + i * LANE_HEIGHT for i in range(6)]
    lanes = list(zip(LANES, lane_y, strict=True))
    for band, row in zip(bands, band_rows, strict=True):
        band.y = lane_y[0] - extra / 2 - 8 + row * BAND_ROW

    marks = []
    lane_of: dict[int, str] = {}
    for study in studies:
        kind = series_kind(study) or ("spect" if study.post_therapy else None)
        if kind is None:
            continue
        lane_of[study.id] = kind
        marks.append(
            Mark(
                x_of(study.performed_on),
                lane_y[KIND_LANE[kind]],
                kind,
                study.id,
                f"{_study_name(study)} {study.performed_on.isoformat()}"
                + (f", cycle {study.cycle_number}" if study.cycle_number else ""),
            )
        )

    at = {s.id: s for s in studies}
    timepoints = phenotype.get("timepoints", [])
    badges, badge_x = _badges(timepoints, at, x_of, lane_y[5], right)
    alerts: list[Alert] = []
    by_study: dict[int, Alert] = {}
    for alert in response.get("dual_tracer_alerts", []):
        study = at.get(alert["study"])
        if study is None or alert["code"] == "ssa_started_between":
            continue
        if study.id in by_study:  # one marker per study; every alert's text in its tooltip
            shown = by_study[study.id]
            shown.more += 1
            shown.text += " " + alert["text"]
            continue
        x = badge_x.get(study.id, x_of(study.performed_on))
        by_study[study.id] = Alert(x, lane_y[5], alert["code"], alert["text"])
        alerts.append(by_study[study.id])

    # One row per lesion and tracer, with the stored effective score (§2) at every study.
    names = {lesion.id: lesion.label or f"Lesion {lesion.id}" for lesion in patient.lesions}
    sites = {lesion.id: lesion.site.replace("_", " ") for lesion in patient.lesions}
    latest = latest_timepoint(phenotype)
    biopsy = latest["biopsy_target"] if latest else None
    scores: dict[tuple[int, str], list[Cell]] = {}
    for study in studies:
        kind = lane_of.get(study.id)
        stored = uptake.get(str(study.id))
        if kind not in ("sstr", "fdg", "spect") or not stored:
            continue
        tracer = "FDG" if kind == "fdg" else "SSTR"
        tone, top = ("f", len(FDG_COLOURS) - 1) if tracer == "FDG" else ("k", len(SSTR_COLOURS) - 1)
        # The same for every cell of the study: its position and the middle of its tooltip.
        cell_x = round(x_of(study.performed_on) + (4 if kind == "fdg" else 0) - left, 1)
        scale = "FDG grade" if tracer == "FDG" else "Krenning"
        heading = f" · {_study_name(study)} {study.performed_on.isoformat()} · {scale} "
        for lesion_key, graded in stored.items():
            score = graded["score"]
            if score is None:
                continue
            lesion = int(lesion_key)
            suv_max = patient.suv_max.get((study.id, lesion))
            suv = f", SUVmax {suv_max}" if suv_max is not None else ""
            named = [FLAG_SHORT.get(flag, flag) for flag in graded["flags"]]
            flags = f" · {', '.join(named)}" if named else ""
            title = f"{names.get(lesion, lesion)}{heading}{score} ({graded['source']}){suv}{flags}"
            cell = Cell(cell_x, f"{tone}{min(score, top)}", score, title)
            scores.setdefault((lesion, tracer), []).append(cell)
    rows: list[Row] = []
    row_top = lane_y[-1] + 30
    y = row_top
    new_lesions = {
        lesion
        for part in ("recist", "percist", "sstr")
        for entry in response.get(part, [])
        for lesion in entry.get("new_lesions", [])
    }
    for lesion in sorted({lesion for lesion, _ in scores}):
        for index, tracer in enumerate(("SSTR", "FDG")):
            cells = scores.get((lesion, tracer), [])
            name = str(names.get(lesion, lesion))
            rows.append(
                Row(
                    lesion,
                    name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…",
                    tracer,
                    y,
                    cells,
                    f"{name}, {sites.get(lesion, 'site not recorded')}",
                    first=index == 0,
                    biopsy_target=lesion == biopsy,
                    new=lesion in new_lesions,
                )
            )
            y += ROW_HEIGHT
        y += 6
    return Timeline(
        WIDTH,
        int(y + 10),
        AXIS_Y,
        left,
        right,
        right - left,
        ticks,
        lanes,
        bands,
        marks,
        badges,
        alerts,
        rows,
        row_top,
        False,
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
        return "177Lu SPECT" if study.tracer == "lu177_dotatate" else "Post-therapy scan"
    return f"{study.tracer_class} {study.modality.replace('_', '/').upper()}"
