"""The timeline's geometry and lesion table (apps/patients/timeline.py, issue 15 §2 and §4), from
hand-made records: no database. Every study has a marker on a lane of its tracer class; no text
leaves the SVG or runs under a cycle tick; each lesion carries its phenotype by glyph and label;
FDG cells are round, the 0-4 scales' square; the lesion table shows the latest studies at
clinical precision and stays small for a large record."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.template.loader import get_template

from apps.patients.timeline import (
    LABEL_WIDTH,
    NAME_END,
    NAME_ROOM,
    NAME_SIZE,
    WIDTH,
    Row,
    Timeline,
    TimelineRecord,
    build_timeline,
    text_width,
)
from apps.scoring.rules.inputs import CycleIn, LesionIn, StudyIn, TreatmentIn
from apps.scoring.rules.tracers import TRACER_CLASS


def study(pk: int, day: str, tracer: str, modality: str = "pet_ct", **more: Any) -> StudyIn:
    return StudyIn(pk, date.fromisoformat(day), tracer, TRACER_CLASS[tracer], modality, **more)


def graded(score: int | None, source: str = "visual", flags: list[str] | None = None) -> dict:
    return {"score": score, "source": source, "computed": None, "flags": flags or []}


def timepoint(
    sstr: int, fdg: int | None, grade: str = "P1", lesions: list[tuple[int, str]] = (), **more: Any
) -> dict[str, Any]:
    """A stored timepoint as the worker writes it, with the keys the timeline reads."""
    return {
        "sstr_study": sstr,
        "fdg_study": fdg,
        "netpet": {
            "grade": grade if fdg else None,
            "pattern": grade[:2] if fdg else None,
            "reason": f"NETPET {grade}.",
            "lesions": [{"lesion": lesion, "pattern": pattern} for lesion, pattern in lesions],
        },
        "karfis": {"group": "C2" if fdg else None},
        "zidan": {"group": "3" if fdg else None},
        "biopsy_target": more.get("biopsy"),
    }


def timeline(
    studies: list[StudyIn],
    lesions: list[LesionIn],
    uptake: dict[int, dict[int, dict]] | None = None,
    timepoints: list[dict[str, Any]] | None = None,
    treatments: list[TreatmentIn] | None = None,
    suv: dict[tuple[int, int], str] | None = None,
    axis: dict[tuple[int, int], str] | None = None,
    response: dict[str, Any] | None = None,
) -> Timeline:
    record = TimelineRecord(
        studies=studies,
        treatments=treatments or [],
        lesions=lesions,
        suv_max={key: Decimal(value) for key, value in (suv or {}).items()},
        long_axis={key: Decimal(value) for key, value in (axis or {}).items()},
    )
    stored = {
        str(s): {str(lesion): entry for lesion, entry in by_lesion.items()}
        for s, by_lesion in (uptake or {}).items()
    }
    phenotype = {"timepoints": timepoints or []}
    return build_timeline(record, phenotype, response or {"dual_tracer_alerts": []}, stored)


def svg(t: Timeline) -> str:
    return get_template("patients/timeline.svg", using="jinja2").render({"t": t})


EVERY_CLASS = [
    study(1, "2024-01-10", "ga68_dotatate"),
    study(2, "2024-01-12", "f18_fdg"),
    study(3, "2024-01-20", "i123_mibg", "spect_ct"),
    study(4, "2024-01-25", "f18_mfbg"),
    study(5, "2024-02-01", "f18_dopa"),
    study(6, "2024-02-05", "ga68_exendin4"),
    study(7, "2024-02-10", "ga68_cp04"),
    study(8, "2024-02-15", "ga68_rgd"),
    study(9, "2024-02-20", "in111_pentetreotide", "planar"),
    study(10, "2024-03-01", "lu177_dotatate", "spect_ct", post_therapy=True, cycle_number=1),
    study(11, "2024-03-10", "i131_mibg", "spect_ct", post_therapy=True),
    study(12, "2024-03-20", "none", "ct"),
    study(13, "2024-03-25", "none", "mri"),
]


def test_every_study_has_a_marker_on_the_lane_of_its_tracer_class() -> None:
    t = timeline(EVERY_CLASS, [LesionIn(1, "Liver 1")])
    assert sorted(mark.study for mark in t.marks) == [s.id for s in EVERY_CLASS]
    lane_of = {mark.study: name for mark in t.marks for name, y in t.lanes if y == mark.y}
    assert lane_of == {
        1: "SSTR PET",
        2: "FDG PET",
        3: "MIBG / MFBG",  # 123I-MIBG and 18F-MFBG image the same transporter
        4: "MIBG / MFBG",
        5: "DOPA PET",
        6: "GLP-1R (exendin)",
        7: "CCK2R (CP04)",
        8: "Integrin (RGD)",
        9: "SSTR scintigraphy",  # 111In-pentetreotide, pre-therapy but not PET
        10: "Post-therapy SPECT",
        11: "Post-therapy SPECT",
        12: "CT / MRI",
        13: "CT / MRI",
    }
    # The other tracers' lanes sit between FDG PET and post-therapy SPECT, in a fixed order.
    assert [name for name, _y in t.lanes] == [
        "Treatment",
        "SSTR PET",
        "FDG PET",
        "SSTR scintigraphy",
        "MIBG / MFBG",
        "DOPA PET",
        "GLP-1R (exendin)",
        "CCK2R (CP04)",
        "Integrin (RGD)",
        "Post-therapy SPECT",
        "CT / MRI",
        "Phenotype",
    ]
    titles = {mark.study: mark.title for mark in t.marks}
    assert titles[3] == "123I-MIBG SPECT/CT 2024-01-20"
    assert titles[5] == "18F-DOPA PET/CT 2024-02-01"
    assert titles[6] == "68Ga-exendin-4 PET/CT 2024-02-05"
    assert titles[11] == "131I-MIBG post-therapy scan 2024-03-10"
    assert t.other_lanes == [name for name, _y in t.lanes[3:9]]
    # Drawn: a hexagon for the other tracers, each mark focusable and named.
    drawn = svg(t)
    assert drawn.count("<polygon") == 7
    assert 'aria-label="123I-MIBG SPECT/CT 2024-01-20"' in drawn


def test_only_the_lanes_with_studies_besides_the_fixed_ones() -> None:
    fixed = ["Treatment", "SSTR PET", "FDG PET", "Post-therapy SPECT", "CT / MRI", "Phenotype"]
    pair = [study(1, "2024-01-10", "ga68_dotatate"), study(2, "2024-01-12", "f18_fdg")]
    assert [name for name, _y in timeline(pair, []).lanes] == fixed
    only_mibg = [*pair, study(3, "2024-01-20", "i123_mibg", "spect_ct")]
    t = timeline(only_mibg, [])
    assert [name for name, _y in t.lanes] == [*fixed[:3], "MIBG", *fixed[3:]]
    assert t.other_lanes == ["MIBG"]


def test_other_tracers_scores_have_rows_of_their_own() -> None:
    """An MIBG score is not an SSTR one: a lesion's 123I-MIBG and post-therapy 131I-MIBG scores
    go on its MIBG row, on the 0-4 scale's colours, named as an uptake score."""
    studies = [
        study(1, "2024-01-10", "ga68_dotatate"),
        study(2, "2024-01-12", "f18_fdg"),
        study(3, "2024-01-20", "i123_mibg", "spect_ct"),
        study(4, "2024-06-01", "i131_mibg", "spect_ct", post_therapy=True),
        study(5, "2024-06-10", "lu177_dotatate", "spect_ct", post_therapy=True),
    ]
    uptake = {1: {7: graded(4)}, 2: {7: graded(3)}, 3: {7: graded(1)}, 4: {7: graded(2)}}
    uptake[5] = {7: graded(3, "computed")}
    t = timeline(studies, [LesionIn(7, "Organ of Zuckerkandl")], uptake)
    assert [(row.tracer, [c.score for c in row.cells]) for row in t.rows] == [
        ("SSTR", [4, 3]),  # the SSTR PET and the 177Lu SPECT
        ("FDG", [3]),
        ("MIBG", [1, 2]),
    ]
    mibg = t.rows[2].cells
    assert [c.tone for c in mibg] == ["k1", "k2"]
    assert (
        mibg[0].title
        == "Organ of Zuckerkandl · 123I-MIBG SPECT/CT 2024-01-20 · uptake score 1 (visual)"
    )
    assert "131I-MIBG post-therapy scan 2024-06-01 · uptake score 2" in mibg[1].title


def test_fdg_cells_are_round_and_the_0_to_4_scales_square() -> None:
    """In greyscale an SSTR 0 and an FDG 3 are both dark: their shapes tell them apart."""
    studies = [study(1, "2024-01-10", "ga68_dotatate"), study(2, "2024-01-12", "f18_fdg")]
    t = timeline(studies, [LesionIn(5, "Liver dome")], {1: {5: graded(0)}, 2: {5: graded(3)}})
    assert [(row.tracer, row.round) for row in t.rows] == [("SSTR", False), ("FDG", True)]
    drawn = svg(t)
    assert '<rect class="k0" x="-9" y="2" width="18" height="18"/><text y="15">0</text>' in drawn
    assert '<circle class="f3" cy="11" r="9.5"/><text y="15">3</text>' in drawn


def test_each_lesion_carries_its_phenotype_by_glyph_and_label_and_new_is_a_small_tag() -> None:
    studies = [study(1, "2024-01-10", "ga68_dotatate"), study(2, "2024-01-12", "f18_fdg")]
    lesions = [LesionIn(n, f"Lesion {n}") for n in (1, 2, 3, 4)]
    uptake = {1: {n: graded(2) for n in (1, 2, 3, 4)}, 2: {n: graded(2) for n in (1, 2, 3, 4)}}
    patterns = [(1, "P5"), (2, "P1"), (3, "P3")]  # lesion 4 is not graded on both
    t = timeline(
        studies,
        lesions,
        uptake,
        [timepoint(1, 2, "P5", patterns, biopsy=1)],
        response={"dual_tracer_alerts": [], "recist": [{"new_lesions": [1, 2, 3, 4]}]},
    )
    first = {row.lesion: row for row in t.rows if row.first}
    assert {n: row.phenotype.code if row.phenotype else None for n, row in first.items()} == {
        1: "discordant",
        2: "sstr-only",
        3: "both",
        4: None,
    }
    assert all(row.new for row in t.rows)
    assert [p.code for p in t.phenotypes] == ["discordant", "sstr-only", "both"]  # the legend
    drawn = svg(t)
    # The glyph beside the name, the label on the lesion's second row, "new" a small tag of its
    # own: the names are the names (no ▲ before them).
    assert drawn.count('<text class="glyph pheno-discordant"') == 1
    assert 'aria-hidden="true">◆</text>' in drawn
    assert ">SSTR−/FDG+ discordant</text>" in drawn
    assert drawn.count('<g class="new-tag"') == 4
    assert "▲" not in drawn  # no alert here, and no lesion marked by one
    assert 'class="lesion-label flagged"><title>Lesion 1, liver · SSTR-negative' not in drawn
    assert ">Lesion 1 ◎ biopsy target</text>" in drawn
    title = first[1].title
    assert "SSTR-negative, FDG-positive: discordant (NETPET P5)" in title
    assert "new lesion" in title and "biopsy target" in title


def _label_left(row: Row) -> float:
    """The left edge of a lesion's name, from the plot's left edge (right-aligned at NAME_END)."""
    shown = row.label + (" ◎ biopsy target" if row.biopsy_inline else "")
    return NAME_END - text_width(shown, NAME_SIZE, bold=row.biopsy_target)


def test_long_names_are_shortened_to_their_column_and_kept_whole_in_the_tooltip() -> None:
    long = "Segment VII liver metastasis, posterior, abutting the right hepatic vein"
    studies = [study(1, "2024-01-10", "ga68_dotatate"), study(2, "2024-01-12", "f18_fdg")]
    lesions = [
        LesionIn(1, long),
        LesionIn(2, "Organ of Zuckerkandl (primary)"),
        LesionIn(3, "Liver dome (new)"),
    ]
    uptake = {1: {n: graded(3) for n in (1, 2, 3)}, 2: {n: graded(2) for n in (1, 2, 3)}}
    for biopsy in (2, 3):
        t = timeline(studies, lesions, uptake, [timepoint(1, 2, "P3", biopsy=biopsy)])
        first = {row.lesion: row for row in t.rows if row.first}
        assert first[1].label.endswith("…") and long.startswith(first[1].label[:-1])
        assert first[1].title.startswith(long + ", ")
        for row in first.values():  # nothing starts left of the SVG
            assert _label_left(row) >= -LABEL_WIDTH + 4 - 0.01, row.label
        assert first[2].label == "Organ of Zuckerkandl (primary)"  # fits whole
        lines = [row for row in t.rows if row.biopsy_line]
        if biopsy == 2:  # name and mark do not fit on one line: the mark has a line of its own
            assert not first[2].biopsy_inline and [row.lesion for row in lines] == [2]
            assert [row.tracer for row in t.rows if row.lesion == 2] == ["SSTR", "FDG", ""]
            assert ">◎ biopsy target</text>" in svg(t)
        else:  # "Liver dome (new) ◎ biopsy target", as before
            assert first[3].biopsy_inline and not lines
            assert ">Liver dome (new) ◎ biopsy target</text>" in svg(t)
    assert text_width("Organ of Zuckerkandl (primary) ◎ biopsy target", NAME_SIZE, True) > NAME_ROOM


@pytest.mark.parametrize("last", ["2024-11-20", "2024-12-01", "2024-12-31", "2025-01-02"])
def test_axis_labels_stay_inside_the_svg(last: str) -> None:
    """The bug: "Dec 202" at the right edge. A label centred on its tick that would cross an
    edge is moved in; the tick stays where it is."""
    studies = [study(1, "2024-01-02", "ga68_dotatate"), study(2, last, "f18_fdg")]
    t = timeline(studies, [])
    assert t.ticks
    for x, label, dx in t.ticks:
        half = text_width(label, 12.0) / 2
        assert x + dx - half >= 0 and x + dx + half <= WIDTH, (label, x, dx)
    assert any(dx < 0 for _x, _label, dx in t.ticks) or t.ticks[-1].x + 30 < WIDTH


@pytest.mark.parametrize(
    ("start", "every", "count"),
    [("2021-04-05", 63, 4), ("2021-04-05", 21, 6), ("2023-09-01", 28, 4), ("2021-01-10", 90, 8)],
)
def test_cycle_ticks_never_run_through_the_treatment_name(
    start: str, every: int, count: int
) -> None:
    first = date.fromisoformat(start)
    cycles = tuple(CycleIn(n + 1, first + timedelta(days=every * n)) for n in range(count))
    prrt = TreatmentIn(1, "prrt_lu177_dotatate", first, None, cycles)
    ssa = TreatmentIn(2, "ssa", date(2021, 1, 5))
    studies = [study(1, "2021-03-01", "ga68_dotatate"), study(2, "2023-12-20", "f18_fdg")]
    t = timeline(studies, [], treatments=[ssa, prrt])
    band = next(b for b in t.bands if b.ticks)
    assert band.label.startswith("177Lu-DOTATATE")
    for dx, _tick in band.ticks:  # a tick is 2.5 px wide
        assert not band.label_x - 1.5 < dx < band.label_x + band.label_width + 1.5, (dx, band)
    assert band.x + band.label_x >= 0 and band.x + band.label_x + band.label_width <= WIDTH
    # Bands (with a name beside them) never overlap on one row.
    rows: dict[float, list[tuple[float, float]]] = {}
    for b in t.bands:
        start_x = b.x + min(0.0, b.label_x)
        rows.setdefault(b.y, []).append((start_x, b.x + max(b.width, b.label_x + b.label_width)))
    for spans in rows.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), spans


def test_crowded_grades_and_alerts_do_not_overlap() -> None:
    """Twelve timepoints 90 days apart: the badges show their NETPET grade alone where the whole
    text would run into the next, alerts their ▲; tooltips and aria-labels keep everything."""
    studies, timepoints, alerts = [], [], []
    for n in range(12):
        day = date(2021, 1, 11) + timedelta(days=90 * n)
        studies += [study(2 * n + 1, day.isoformat(), "ga68_dotatate")]
        studies += [study(2 * n + 2, (day + timedelta(days=2)).isoformat(), "f18_fdg")]
        timepoints.append(timepoint(2 * n + 1, 2 * n + 2, "P5" if n % 2 else "P4b"))
        alerts.append({"study": 2 * n + 1, "code": "new_fdg_positive_sstr_negative", "text": "x"})
    t = timeline(studies, [], timepoints=timepoints, response={"dual_tracer_alerts": alerts})
    assert len(t.badges) == 12 and any(b.short for b in t.badges)
    for badge, after in zip(t.badges, t.badges[1:], strict=False):
        assert badge.x - 6 + badge.width <= after.x - 6, (badge.label, after.label)
    assert t.badges[-1].x - 6 + t.badges[-1].width <= WIDTH
    ends = [b.x - 6 + b.width for b in t.badges]
    for alert in t.alerts:
        start = alert.x - 10 - text_width(alert.shown, 12.0, bold=True)
        assert start >= max(
            [e for e, b in zip(ends, t.badges, strict=True) if b.x < alert.x] or [0]
        )
        assert start >= t.plot_left - 6  # never over the lane's name (it ends at -8)
    drawn = svg(t)
    assert 'aria-label="P5 · C2 · Z3: NETPET P5."' in drawn  # the whole grade, said


def test_the_lesion_table_shows_the_latest_studies_at_clinical_precision() -> None:
    studies = [
        study(1, "2023-01-10", "ga68_dotatate"),
        study(2, "2023-01-12", "f18_fdg"),
        study(3, "2023-06-10", "ga68_dotatate"),
        study(4, "2023-06-12", "f18_fdg"),
        study(5, "2023-12-01", "none", "ct"),
        study(6, "2024-01-10", "ga68_dotatate"),
        study(7, "2024-01-12", "f18_fdg"),
        study(8, "2024-01-20", "i123_mibg", "spect_ct"),
        study(9, "2024-02-01", "lu177_dotatate", "spect_ct", post_therapy=True),
    ]
    lesions = [LesionIn(1, "Pancreas tail (primary)", "pancreas"), LesionIn(2, "Liver dome")]
    uptake = {
        s.id: {1: graded(3), 2: graded(1, "computed", ["score_disagreement"])} for s in studies
    }
    uptake[7][2] = graded(None, "state")
    uptake[5] = {1: graded(None, "none")}
    suv = {(6, 1): "24.000", (6, 2): "24.125", (7, 1): "7.500", (3, 1): "10.000"}
    axis = {(5, 1): "25.0", (5, 2): "25.5"}
    tps = [timepoint(1, 2), timepoint(3, 4), timepoint(6, 7, "P5", [(1, "P2"), (2, "P5")])]
    table = timeline(studies, lesions, uptake, tps, suv=suv, axis=axis).table
    assert table is not None
    assert [(s.study, s.name, s.columns) for s in table.studies] == [
        (3, "SSTR PET", ("Krenning", "SUVmax")),
        (4, "FDG PET", ("FDG grade", "SUVmax")),
        (5, "CT", ("Long axis (mm)",)),
        (6, "SSTR PET", ("Krenning", "SUVmax")),
        (7, "FDG PET", ("FDG grade", "SUVmax")),
        (8, "123I-MIBG SPECT/CT", ("Score (0–4)", "SUVmax")),
    ]
    assert table.width == 3 + 11
    assert table.caption == (
        "Each lesion at the latest dual-tracer timepoint (SSTR PET 2024-01-10, FDG PET "
        "2024-01-12), the timepoint before it (SSTR PET 2023-06-10, FDG PET 2023-06-12), the "
        "latest CT (2023-12-01) and the latest 123I-MIBG SPECT/CT (2024-01-20): 6 of 9 studies; "
        "every study is on the timeline above. Phenotype: the NETPET pattern at the latest "
        "timepoint."
    )
    primary, dome = table.rows
    assert (primary.name, primary.site, primary.pattern) == (
        "Pancreas tail (primary)",
        "pancreas",
        "P2",
    )
    assert dome.phenotype is not None and dome.phenotype.code == "discordant"
    assert primary.values == (
        ("3", ""), ("10.0", ""),  # SUV at one decimal: 10.000 -> "10.0"
        ("3", ""), ("—", ""),
        ("25", ""),  # millimetres without trailing zeros
        ("3", ""), ("24.0", ""),
        ("3", ""), ("7.5", ""),
        ("3", ""), ("—", ""),
    )  # fmt: skip
    assert dome.values[4] == ("25.5", "")
    assert dome.values[5:9] == (
        ("1", "disagreement"),
        ("24.125", ""),
        ("not evaluable", ""),
        ("—", ""),
    )


def test_the_lesion_table_stays_small_for_a_large_record() -> None:
    """24 studies x 40 lesions: 40 rows at 4 studies (the latest two timepoints), not 24."""
    studies, timepoints = [], []
    for n in range(12):
        day = date(2021, 1, 11) + timedelta(days=90 * n)
        studies += [study(2 * n + 1, day.isoformat(), "ga68_dotatate")]
        studies += [study(2 * n + 2, (day + timedelta(days=2)).isoformat(), "f18_fdg")]
        timepoints.append(timepoint(2 * n + 1, 2 * n + 2))
    lesions = [LesionIn(n, f"Lesion {n:02d}") for n in range(40)]
    uptake = {s.id: {n: graded(2) for n in range(40)} for s in studies}
    t = timeline(studies, lesions, uptake, timepoints)
    assert t.table is not None
    assert [s.study for s in t.table.studies] == [21, 22, 23, 24]
    assert len(t.table.rows) == 40 and t.table.width == 3 + 8
    assert "4 of 24 studies" in t.table.caption
    assert len([c for row in t.rows for c in row.cells]) == 24 * 40  # the timeline has them all


def test_no_lesion_no_table() -> None:
    assert timeline([study(1, "2024-01-10", "none", "ct")], []).table is None
