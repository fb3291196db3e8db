"""The timeline on the patient page of the demo cohort (issue 15 §2 and §4): every study has its
marker (DEMO-0013's 123I-MIBG on a lane of its own), each lesion its stored phenotype, the lesion
table under the timeline has every lesion's values as stored, the timeline is one tab stop with
a skip link to the table, and the page's dates do not wrap. The phenotypes are read from the
stored phenotype (``netpet.lesions`` of the latest timepoint), in one query whatever the size."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, TestCase

from apps.core import numbers
from apps.imaging.models import ImagingStudy, Observation
from apps.patients.models import Patient
from apps.patients.page import patient_page_context
from apps.scoring.models import PhenotypeAssessment, latest_timepoint
from apps.scoring.phenotypes import phenotype_of

pytestmark = pytest.mark.django_db

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def demo() -> dict[str, Patient]:
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("load_demo", verbosity=0)
    return {p.mrn: p for p in Patient.objects.all()}


@pytest.fixture
def browser(user_with_role: Any) -> Client:
    client = Client()
    client.force_login(user_with_role("clinician"))
    return client


def page(browser: Client, patient: Patient) -> str:
    response = browser.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def svg_of(html: str) -> ET.Element:
    start = html.index("<svg viewBox")
    return ET.fromstring(html[start : html.index("</svg>", start)] + "</svg>")  # noqa: S314


def lesion_table(html: str) -> ET.Element:
    start = html.index('<div class="lesion-table"')
    return ET.fromstring(html[start : html.index("</div>", start) + 6])  # noqa: S314


def test_every_study_of_every_demo_patient_has_a_marker(
    demo: dict[str, Patient], browser: Client
) -> None:
    for mrn, patient in demo.items():
        html = page(browser, patient)
        marks = re.findall(r'<g class="mark mark-([\w-]+)"', html)
        assert len(marks) == ImagingStudy.objects.filter(patient=patient).count(), mrn
    # DEMO-0013 (PPGL cluster 1A): the 123I-MIBG SPECT/CT on its MIBG lane, its scores on each
    # lesion's MIBG row, not the SSTR row.
    html = page(browser, demo["DEMO-0013"])
    svg = svg_of(html)
    lanes = [t.text for t in svg.iter(f"{SVG_NS}text") if t.get("class") == "lane"]
    assert lanes == [
        "Treatment",
        "SSTR PET",
        "FDG PET",
        "MIBG",
        "Post-therapy SPECT",
        "CT / MRI",
        "Phenotype",
    ]
    assert re.findall(r'<g class="mark mark-([\w-]+)"', html) == ["sstr", "fdg", "net"]
    assert 'aria-label="123I-MIBG SPECT/CT 2024-10-10"' in html
    mibg = re.findall(r'<g class="cell"[^>]*aria-label="([^"]+)"', html)
    assert [c for c in mibg if "MIBG" in c] == [
        "Organ of Zuckerkandl (primary) · 123I-MIBG SPECT/CT 2024-10-10 · uptake score 1 (visual)",
        "L2 vertebra · 123I-MIBG SPECT/CT 2024-10-10 · uptake score 0 (state)",
    ]
    assert html.count('<text class="tracer" x="-6" y="14">MIBG</text>') == 2
    assert '</svg> MIBG <svg class="swatch mark-spect"' in html  # the legend names the lane
    assert "123I-MIBG SPECT/CT <span" in html  # a column of the lesion table


def test_each_lesion_shows_its_stored_phenotype(demo: dict[str, Patient], browser: Client) -> None:
    for mrn in ("DEMO-0009", "DEMO-0010", "DEMO-0013"):
        patient = demo[mrn]
        stored = PhenotypeAssessment.objects.get(patient=patient).phenotype
        latest = latest_timepoint(stored)
        assert latest is not None
        expected = {
            row["lesion"]: phenotype_of(row["pattern"]) for row in latest["netpet"]["lesions"]
        }
        svg = svg_of(page(browser, patient))
        shown = [t for t in svg.iter(f"{SVG_NS}text") if "phenotype" in (t.get("class") or "")]
        labels = sorted((t.get("class"), t.find(f"{SVG_NS}title").tail) for t in shown)  # type: ignore[union-attr]
        assert labels == sorted(
            (f"phenotype pheno-{p.code}", p.label) for p in expected.values() if p is not None
        ), mrn
        glyphs = [t.text for t in svg.iter(f"{SVG_NS}text") if "glyph" in (t.get("class") or "")]
        assert sorted(glyphs) == sorted(p.glyph for p in expected.values() if p is not None)
    # DEMO-0010's relapse: the new FDG-positive, SSTR-negative lesion reads as discordant.
    html = page(browser, demo["DEMO-0010"])
    assert ">SSTR−/FDG+ discordant</text>" in html
    assert "▲ Liver dome" not in html  # "new" is a small tag, not a triangle before the name
    assert html.count('<g class="new-tag"') == 1


def test_the_patterns_are_those_the_worker_stored_with_the_summary(
    demo: dict[str, Patient],
) -> None:
    """Stored with the summary the page reads (``lesion_patterns``): the same row, no query of
    their own."""
    patient = demo["DEMO-0010"]
    stored = PhenotypeAssessment.objects.get(patient=patient)
    rows = latest_timepoint(stored.phenotype)["netpet"]["lesions"]  # type: ignore[index]
    read = stored.summary["lesion_patterns"]
    assert read == [{"lesion": row["lesion"], "pattern": row["pattern"]} for row in rows]
    assert [row["pattern"] for row in read] == ["P1", "P1", "P1", "P1", "P5"]
    timeline = patient_page_context(patient)["timeline"]
    shown = {row.lesion: row.pattern for row in timeline.rows if row.first}
    assert [shown[row["lesion"]] for row in read] == ["P1", "P1", "P1", "P1", "P5"]
    # A patient whose latest timepoint has no FDG PET has no graded lesion.
    assert (
        PhenotypeAssessment.objects.get(patient=demo["DEMO-0011"]).summary["lesion_patterns"] == []
    )


def test_the_lesion_table_has_every_lesion_at_the_latest_studies(
    demo: dict[str, Patient], browser: Client
) -> None:
    patient = demo["DEMO-0010"]
    html = page(browser, patient)
    table = lesion_table(html)
    assert table.get("role") == "region" and table.get("tabindex") == "0"
    caption = table.find(".//caption")
    assert caption is not None
    # (Its dates are spans that keep them on one line.)
    assert caption.findall("span") and all(span.get("class") == "date" for span in caption)
    assert "".join(caption.itertext()).startswith(
        "Each lesion at the latest dual-tracer timepoint (SSTR PET 2023-04-01, FDG PET "
        "2023-04-08), the timepoint before it (SSTR PET 2021-02-22, FDG PET 2021-03-01) and the "
        "latest CT (2023-03-20): 5 of 12 studies"
    )
    heads = [th.get("scope") for th in table.iter("th")]
    assert heads.count("colgroup") == 5 and heads.count("row") == patient.lesions.count()
    rows = table.findall("./table/tbody/tr")
    names = [re.sub(r"\s+", " ", "".join(row.find("th").itertext())).strip() for row in rows]  # type: ignore[union-attr]
    assert names == [
        "Pancreas tail (primary)",
        "Liver 1 (seg VII)",
        "Liver 2 (seg IVa)",
        "Liver 3 (seg VI)",
        "Liver dome (new) new ◎ biopsy target",
    ]
    # The liver dome at the relapse: SSTR 1 at SUVmax 1.6, FDG 3 at 7.0, 24 mm on the CT, as
    # the observations hold them (SUV to one decimal, millimetres whole).
    dome = [td.text for td in rows[-1].findall("td")]
    assert dome[0] == "liver" and dome[2:] == ["—", "—", "—", "—", "24", "1", "1.6", "3", "7.0"]
    sstr = ImagingStudy.objects.get(patient=patient, performed_on="2023-04-01")
    dome_obs = Observation.objects.get(study=sstr, lesion__label="Liver dome (new)")
    assert dome[8] == numbers.suv(dome_obs.suv_max)
    # Every value cell's number is one the timeline's cells say too.
    cells = re.findall(r'<g class="cell"[^>]*aria-label="([^"]+)"', html)
    assert any(c.startswith("Liver dome (new) · FDG PET 2023-04-08 · FDG grade 3") for c in cells)
    assert any("SUVmax 7.0" in c for c in cells)


def test_the_timeline_is_one_tab_stop_with_a_skip_link_to_the_table(
    demo: dict[str, Patient], browser: Client
) -> None:
    html = page(browser, demo["DEMO-0010"])
    skip = html.index('<a class="skip-link" href="#lesion-table">Skip to lesion table</a>')
    svg_at = html.index("<svg viewBox")
    assert skip < svg_at < html.index('id="lesion-table"')
    svg = svg_of(html)
    focusable = [g for g in svg.iter(f"{SVG_NS}g") if g.get("tabindex") is not None]
    assert len(focusable) > 50
    assert [g.get("tabindex") for g in focusable].count("0") == 1
    assert focusable[0].get("tabindex") == "0" and focusable[0].get("class") == "band"
    assert svg.get("aria-describedby") == "timeline-keys" and 'id="timeline-keys"' in html
    assert "js/timeline.js" in html


def test_dates_in_the_page_tables_do_not_wrap(demo: dict[str, Patient], browser: Client) -> None:
    html = page(browser, demo["DEMO-0010"])
    tables = re.findall(r'<table class="([^"]+)">\s*<thead><tr><th scope="col">(\w[\w-]*)', html)
    dated = {head: "dated" in classes.split() for classes, head in tables}
    assert dated == {"Follow-up": True, "Date": True, "Marker": False}
    from django.contrib.staticfiles import finders

    path = finders.find("css/netboard.css")
    assert path
    with open(path, encoding="utf-8") as css:
        assert re.search(r"table\.dated td:first-child \{ white-space: nowrap; \}", css.read())
