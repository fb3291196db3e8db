"""The SSTR/FDG phenotype timeline of one patient, as geometry for an inline SVG (issue 6).

Built from the rules inputs (``patient_rules_input``: one query for the whole record) and the
persisted phenotype and response (never recomputed here: the page shows what the workers
stored, with its status). Lanes: treatments as bands (PRRT cycles as ticks), SSTR PET, FDG PET,
post-therapy SPECT, CT/MRI, and the phenotype badges with alerts; below, one row per lesion and
tracer with its score at every study as a coloured cell with the number printed.

The colour scales read in greyscale: each runs monotonically from dark to light (Krenning 0 dark
navy to 4 yellow, as the wireframe; FDG 0 pale to 3 dark brown), so the order survives without
colour, and the number is printed in every cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from html import escape
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from apps.core.templatetags.codes import words
from apps.imaging.flags import FLAG_SHORT
from apps.scoring.rules.inputs import PatientIn, StudyIn, Thresholds
from apps.scoring.rules.series import date_order, series_kind
from apps.scoring.rules.uptake import score_study

# Krenning 0-4 (SSTR PET and 177Lu SPECT): dark to light. FDG grade 0-3: light to dark.
# The number printed on each colour has a contrast of at least 4.5:1 (WCAG 1.4.3; the cells'
# 11 px text is not "large"), checked in tests/browser/test_accessibility.py.
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


@dataclass
class Mark:
    """A study on its lane: a marker at ``x`` with a tooltip."""

    x: float
    y: float
    kind: str
    study: int
    title: str


@dataclass
class Cell:
    x: float
    y: float
    score: int
    fill: str
    text: str
    title: str
    study: int


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

    @property
    def svg(self) -> SafeString:
        """The timeline as inline SVG markup (``render_svg``)."""
        return render_svg(self)


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


def build_timeline(
    patient: PatientIn, phenotype: dict[str, Any], response: dict[str, Any], thresholds: Thresholds
) -> Timeline:
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

    bands = []
    ends = [s.performed_on for s in studies] or [last]
    for treatment in sorted(patient.treatments, key=lambda t: (t.started_on, t.id)):
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

    # Overlapping treatment lines go on separate rows of the treatment lane, which grows.
    row_ends: list[float] = []
    band_rows = []
    for band in bands:
        row = next((i for i, end in enumerate(row_ends) if end + 4 <= band.x), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = band.x + max(band.width, 7.0 * len(band.label) + 8)
        band_rows.append(row)
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
    badges = []
    badge_x: dict[int, float] = {}  # by SSTR study: the alerts of a timepoint sit left of it
    timepoints = phenotype.get("timepoints", [])
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
                lane_y[5],
                text,
                tone,
                timepoint["netpet"]["reason"],
            )
        )
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

    # One row per lesion and tracer, with the effective score (§2) at every study of that tracer.
    names = {lesion.id: lesion.label or f"Lesion {lesion.id}" for lesion in patient.lesions}
    sites = {lesion.id: lesion.site.replace("_", " ") for lesion in patient.lesions}
    biopsy = timepoints[-1]["biopsy_target"] if timepoints else None
    scores: dict[tuple[int, str], list[Cell]] = {}
    for study in studies:
        kind = lane_of.get(study.id)
        if kind not in ("sstr", "fdg", "spect"):
            continue
        tracer = "FDG" if kind == "fdg" else "SSTR"
        palette, ink = (FDG_COLOURS, FDG_TEXT) if tracer == "FDG" else (SSTR_COLOURS, SSTR_TEXT)
        top = len(palette) - 1
        # The same for every cell of the study: its position and the middle of its tooltip.
        cell_x = x_of(study.performed_on) + (4 if kind == "fdg" else 0)
        scale = "FDG grade" if tracer == "FDG" else "Krenning"
        heading = f" · {_study_name(study)} {study.performed_on.isoformat()} · {scale} "
        graded = score_study(study, thresholds)
        for obs in study.observations:
            uptake = graded[obs.lesion]
            if uptake.score is None:
                continue
            lesion = obs.lesion
            score = min(uptake.score, top)
            suv = f", SUVmax {obs.suv_max}" if obs.suv_max is not None else ""
            shown = [FLAG_SHORT.get(flag, flag) for flag in uptake.flags]
            flags = f" · {', '.join(shown)}" if shown else ""
            title = (
                f"{names.get(lesion, lesion)}{heading}{uptake.score} ({uptake.source}){suv}{flags}"
            )
            key = (lesion, tracer)
            cell = Cell(cell_x, 0, uptake.score, palette[score], ink[score], title, study.id)
            if key in scores:
                scores[key].append(cell)
            else:
                scores[key] = [cell]
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
            for cell in cells:
                cell.y = y
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


# --- Markup -----------------------------------------------------------------------------------
# The SVG is written here rather than in a template: a record of 24 studies x 40 lesions has
# about a thousand cells, and a template would evaluate some 150,000 variable nodes for them.
# Every text is escaped (``html.escape``, as the template's autoescape); numbers are written as
# the template wrote them (``str``). Each focusable part keeps its tabindex, role and aria-label,
# with the same text as its <title> tooltip.

_SHAPES = {
    "sstr": '<rect x="-6" y="-6" width="12" height="12" transform="rotate(45)" fill="#2c6a94"/>',
    "fdg": '<circle r="7" fill="#e35a14"/>',
    "spect": '<rect x="-6" y="-6" width="12" height="12" fill="#1f7a3a"/>',
}
_ANATOMIC_SHAPE = '<rect x="-1.5" y="-7" width="3" height="14" fill="#4a4f57"/>'


def render_svg(timeline: Timeline) -> SafeString:
    """The <svg> element of the timeline (the template adds the figure and the legend)."""
    if timeline.empty:
        return mark_safe("")  # noqa: S308 - a constant
    out: list[str] = []
    add = out.append
    t = timeline
    add(
        f'<svg viewBox="0 0 {t.width} {t.height}" width="100%" role="group" '
        'aria-label="SSTR and FDG phenotype timeline" xmlns="http://www.w3.org/2000/svg" '
        'font-family="system-ui, sans-serif">\n'
        f'<line x1="{t.plot_left}" x2="{t.plot_right}" y1="{t.axis_y}" y2="{t.axis_y}" '
        'stroke="#1b1f24"/>\n'
    )
    for x, label in t.ticks:
        add(
            f'<g transform="translate({x},{t.axis_y})"><line y1="0" y2="-5" stroke="#1b1f24"/>'
            f'<line y1="0" y2="{t.height}" stroke="#eceff3"/>'
            f'<text y="-9" text-anchor="middle" font-size="12">{escape(label)}</text></g>\n'
        )
    for name, y in t.lanes:
        add(
            f'<g transform="translate({t.plot_left},{y})">'
            f'<text x="-8" y="4" text-anchor="end" font-size="13" font-weight="600">'
            f"{escape(name)}</text>"
            f'<line x1="0" x2="{t.plot_width}" y1="12" y2="12" stroke="#e3e7ec"/></g>\n'
        )
    for band in t.bands:
        title = escape(band.title)
        add(
            f'<g class="band" transform="translate({band.x},{band.y})" tabindex="0" role="img" '
            f'aria-label="{title}"><title>{title}</title>'
            f'<rect width="{band.width}" height="16" rx="2" fill="{escape(band.fill)}" '
            'stroke="#8a9099" stroke-width=".5"/>'
            f'<text x="4" y="12" font-size="11">{escape(band.label)}</text>'
        )
        for dx, tick in band.ticks:
            add(
                f'<line x1="{dx}" x2="{dx}" y1="-2" y2="18" stroke="#1f7a3a" stroke-width="2.5">'
                f"<title>{escape(tick)}</title></line>"
            )
        add("</g>\n")
    for mark in t.marks:
        title = escape(mark.title)
        add(
            f'<g class="mark mark-{escape(mark.kind)}" transform="translate({mark.x},{mark.y})" '
            f'tabindex="0" role="img" aria-label="{title}"><title>{title}</title>'
            f"{_SHAPES.get(mark.kind, _ANATOMIC_SHAPE)}</g>\n"
        )
    for alert in t.alerts:
        text = escape(alert.text)
        add(
            f'<g class="alert" transform="translate({alert.x},{alert.y})" tabindex="0" '
            f'role="img" aria-label="Alert: {text}"><title>{text}</title>'
            '<text x="-10" y="4" text-anchor="end" font-size="12" font-weight="700" '
            f'fill="#b3261e">▲ {escape(alert.label)}</text></g>\n'
        )
    for badge in t.badges:
        title, text = escape(badge.title), escape(badge.text)
        add(
            f'<g class="badge badge-{escape(badge.tone)}" transform="translate({badge.x},'
            f'{badge.y})" tabindex="0" role="img" aria-label="{text}: {title}">'
            f'<title>{title}</title><rect x="-6" y="-10" width="{badge.width}" height="20" '
            f'rx="3"/><text x="{badge.middle}" y="4" text-anchor="middle" font-size="12" '
            f'font-weight="700">{text}</text></g>\n'
        )
    for row in t.rows:
        add(f'<g class="lesion-row" transform="translate({t.plot_left},{row.y})">')
        if row.first:
            flagged = " flagged" if row.biopsy_target or row.new else ""
            add(
                '<text x="-40" y="14" text-anchor="end" font-size="12.5" '
                f'class="lesion-label{flagged}"><title>{escape(row.title)}</title>'
                f"{'▲ ' if row.new else ''}{escape(row.label)}"
                f"{' ◎ biopsy target' if row.biopsy_target else ''}</text>"
            )
        add(
            '<text x="-6" y="14" text-anchor="end" font-size="9.5" fill="#5b6470">'
            f"{escape(row.tracer)}</text></g>\n"
        )
        for cell in row.cells:
            title = escape(cell.title)
            add(
                f'<g class="cell" transform="translate({cell.x},{row.y})" tabindex="0" '
                f'role="img" aria-label="{title}"><title>{title}</title>'
                f'<rect x="-9" y="2" width="18" height="18" fill="{cell.fill}" stroke="#ffffff" '
                'stroke-width="1"/><text y="15" text-anchor="middle" font-size="11" '
                f'font-weight="600" fill="{cell.text}">{cell.score}</text></g>\n'
            )
    add("</svg>")
    return mark_safe("".join(out))  # noqa: S308 - every text above is escaped
