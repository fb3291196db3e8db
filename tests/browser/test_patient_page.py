"""The patient list and the patient page in Chromium: log in, find a patient by keyboard, read
the phenotype timeline, focus a score cell and read its values; the timeline as drawn (no text
outside the SVG or under a cycle tick, every study marked, the discordant lesion readable in
greyscale) and its keyboard path (one tab stop, arrow keys inside, a skip link to the lesion
table); a PPGL patient's agent-choice table (issue 19). Screenshots go to test-artifacts/
(looked at by a person before a release): timeline.png and timeline-greyscale.png are
DEMO-0010's, the seed paper's relapse with a discordant lesion; agent-choice.png and
agent-choice-greyscale.png DEMO-0014's tandem choice."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from apps.patients.models import Patient

from .conftest import ARTIFACTS
from .keyboard import DEMO_PASSWORD, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_find_a_patient_and_read_the_timeline(live_server: Any, chromium_page: Any) -> None:
    call_command("load_demo", "--users", verbosity=0)
    patient = Patient.objects.get(mrn="DEMO-0010")
    page, base = chromium_page, live_server.url
    log_in(page, base, "demo-clinician", DEMO_PASSWORD)

    # The search box has the focus: type, Enter, and the list narrows to the patient.
    page.wait_for_selector("#q:focus")  # (autofocus lands once the page has loaded)
    page.keyboard.type("juniper")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?search=*")
    assert "juniper" not in page.url  # what was typed is in no URL: the search's token is
    rows = page.locator("table.patients tbody tr")
    assert rows.count() == 1
    assert "P5" in rows.first.inner_text()
    page.screenshot(path=str(ARTIFACTS / "patient-list.png"), full_page=True)

    page.get_by_role("link", name="DEMO-0010").click()
    page.wait_for_url(f"{base}/patients/{patient.pk}/")
    assert "fresh" in page.locator("#assessment-status").inner_text()
    timeline = page.locator("figure.timeline")
    assert timeline.locator("g.badge").count() == 2
    assert "P5 · C3 · Z4" in timeline.inner_text()
    page.screenshot(path=str(ARTIFACTS / "patient-page.png"), full_page=True)

    # Every cell can be reached with the keyboard and names its values.
    cell = timeline.locator("g.cell").last
    cell.focus()
    label = cell.get_attribute("aria-label")
    assert label is not None and "FDG grade 3" in label
    assert page.evaluate("document.activeElement.getAttribute('class')") == "cell"
    assert "eligible" not in page.content().lower()


# Where every text of the timeline's SVG is drawn, relative to the SVG's box, and each treatment
# band's name against its cycle ticks (client px).
GEOMETRY = """() => {
  const svg = document.querySelector("figure.timeline svg");
  const box = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll("text")].map((t) => {
    const r = t.getBoundingClientRect();
    const shown = [...t.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data).join("");
    return {cls: t.getAttribute("class") || "", text: shown, left: r.left - box.left,
            right: box.right - r.right, width: r.width};
  });
  const bands = [...svg.querySelectorAll("g.band")].map((g) => {
    const t = g.querySelector(":scope > text").getBoundingClientRect();
    return {text: [t.left, t.right], ticks: [...g.querySelectorAll("line.cycle")].map((l) => {
      const r = l.getBoundingClientRect(); return [r.left, r.right]; })};
  });
  return {texts, bands};
}"""


def _active(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => { const el = document.activeElement;
        return {cls: el.getAttribute("class") || "", id: el.id,
                label: el.getAttribute("aria-label"), tabindex: el.getAttribute("tabindex"),
                svg: !!el.ownerSVGElement}; }"""
    )


def test_the_timeline_as_drawn_in_colour_and_greyscale(
    live_server: Any, chromium_page: Any
) -> None:
    call_command("load_demo", "--users", verbosity=0)
    page, base = chromium_page, live_server.url
    log_in(page, base, "demo-clinician", DEMO_PASSWORD)

    # DEMO-0013: every study has its marker, the 123I-MIBG SPECT/CT on its own lane; the
    # primary's long name is whole (its biopsy mark on a line of its own) and inside the SVG.
    ppgl = Patient.objects.get(mrn="DEMO-0013")
    page.goto(f"{base}/patients/{ppgl.pk}/")
    figure = page.locator("figure.timeline")
    assert figure.locator("g.mark").count() == ppgl.studies.count() == 3
    mibg = figure.locator("g.mark-net")
    assert mibg.is_visible() and mibg.get_attribute("aria-label") == "123I-MIBG SPECT/CT 2024-10-10"
    assert figure.locator("text.lane", has_text="MIBG").is_visible()
    names = figure.locator("text.lesion-label")
    assert names.first.evaluate("t => t.lastChild.data") == "Organ of Zuckerkandl (primary)"
    _nothing_outside(page.evaluate(GEOMETRY), "DEMO-0013")

    # DEMO-0010: the relapse's new liver-dome lesion is discordant (SSTR 1, FDG 3).
    relapse = Patient.objects.get(mrn="DEMO-0010")
    page.goto(f"{base}/patients/{relapse.pk}/")
    figure = page.locator("figure.timeline")
    assert figure.locator("g.mark").count() == relapse.studies.count() == 12
    glyph = figure.locator("text.glyph.pheno-discordant")
    assert glyph.is_visible() and glyph.text_content() == "◆"
    label = figure.locator("text.phenotype.pheno-discordant")
    assert label.is_visible() and label.evaluate("t => t.lastChild.data") == "SSTR−/FDG+ discordant"
    geometry = page.evaluate(GEOMETRY)
    _nothing_outside(geometry, "DEMO-0010")
    # The PRRT band's name is beside its cycle ticks, never under one.
    prrt = [band for band in geometry["bands"] if band["ticks"]]
    assert len(prrt) == 1 and len(prrt[0]["ticks"]) == 4
    left, right = prrt[0]["text"]
    for tick_left, tick_right in prrt[0]["ticks"]:
        assert tick_right <= left or tick_left >= right, (prrt[0], tick_left, tick_right)
    # The discordant pair reads apart without colour: the SSTR score is a square, the FDG a
    # circle, each with its number.
    dome = figure.locator("g.cell[aria-label^='Liver dome (new) · ']")
    shapes = dome.evaluate_all("gs => gs.map(g => g.children[1].tagName + ' ' + g.textContent)")
    assert [shape.split(" ")[0] for shape in shapes] == ["rect", "circle"]
    assert "Krenning 1 " in shapes[0] and "FDG grade 3 " in shapes[1]
    figure.screenshot(path=str(ARTIFACTS / "timeline.png"))
    page.evaluate("document.documentElement.style.filter = 'grayscale(1)'")  # (CSP: no <style>)
    assert page.evaluate("getComputedStyle(document.documentElement).filter") == "grayscale(1)"
    figure.screenshot(path=str(ARTIFACTS / "timeline-greyscale.png"))
    assert glyph.is_visible() and label.is_visible()
    page.evaluate("document.documentElement.style.filter = ''")

    # The lesion table has the values without hovering.
    table = page.locator("#lesion-table table")
    assert table.locator("caption").inner_text().startswith("Each lesion at the latest")
    row = table.locator("tbody tr", has_text="Liver dome")
    assert row.locator("td").all_inner_texts()[-4:] == ["1", "1.6", "3", "7.0"]
    page.locator("#lesion-table").screenshot(path=str(ARTIFACTS / "lesion-table.png"))


def _nothing_outside(geometry: dict[str, Any], mrn: str) -> None:
    """No text of the SVG starts left of it or ends right of it (the bugs: "uckerkandl
    (primary)" at the left edge, "Dec 202" at the right)."""
    drawn = [t for t in geometry["texts"] if t["width"] > 0]
    assert any(t["cls"] == "tick" for t in drawn) and any("lesion-label" in t["cls"] for t in drawn)
    for text in drawn:
        assert text["left"] >= -0.5, (mrn, "left of the SVG", text)
        assert text["right"] >= -0.5, (mrn, "right of the SVG", text)


def test_the_timeline_costs_one_tab_and_moves_with_the_arrow_keys(
    live_server: Any, chromium_page: Any
) -> None:
    """Before, every band, mark, badge, alert and cell was a tab stop: 51 Tabs past DEMO-0010's
    timeline. Now the skip link, one stop for the timeline, and the lesion table."""
    call_command("load_demo", "--users", verbosity=0)
    page, base = chromium_page, live_server.url
    log_in(page, base, "demo-clinician", DEMO_PASSWORD)
    relapse = Patient.objects.get(mrn="DEMO-0010")
    page.goto(f"{base}/patients/{relapse.pk}/")
    page.wait_for_load_state("load")  # static/js/timeline.js is deferred
    assert page.locator("figure.timeline g[tabindex]").count() == 51

    skip = page.locator("a.skip-link")
    assert not skip.is_visible() or skip.bounding_box()["width"] <= 1  # type: ignore[index]
    skip.focus()
    assert skip.is_visible() and skip.bounding_box()["width"] > 50  # type: ignore[index]
    page.keyboard.press("Tab")
    entry = _active(page)
    assert entry["svg"] and entry["cls"] == "band" and entry["tabindex"] == "0"
    assert entry["label"].startswith("Somatostatin analogue from 2021-01-05")
    page.keyboard.press("Tab")
    assert _active(page)["id"] == "lesion-table"  # past the timeline in one Tab
    # Or straight there from the skip link.
    skip.focus()
    page.keyboard.press("Enter")
    assert _active(page)["id"] == "lesion-table"

    # Inside: the arrow keys. Down from the SSA band to the PRRT band, to the first SSTR PET,
    # right to the relapse's, down to its FDG PET.
    page.keyboard.press("Shift+Tab")
    assert _active(page)["cls"] == "band"
    steps = [
        ("ArrowDown", "band", "177Lu-DOTATATE ×4 from 2021-04-05"),
        ("ArrowDown", "mark mark-sstr", "SSTR PET 2021-02-22"),
        ("ArrowRight", "mark mark-sstr", "SSTR PET 2023-04-01"),
        ("ArrowRight", "mark mark-sstr", "SSTR PET 2023-04-01"),  # the last of its lane
        ("ArrowDown", "mark mark-fdg", "FDG PET 2023-04-08"),
        ("Home", "mark mark-fdg", "FDG PET 2021-03-01"),
        ("End", "mark mark-fdg", "FDG PET 2023-04-08"),
    ]
    for key, cls, label in steps:
        page.keyboard.press(key)
        now = _active(page)
        assert (now["cls"], now["label"][: len(label)]) == (cls, label), key
    # Down to the lesions' cells: the liver dome's FDG 3 is the last row's last cell.
    for _ in range(40):
        page.keyboard.press("ArrowDown")
    last = _active(page)
    assert last["cls"] == "cell" and last["label"].startswith("Liver dome (new) · FDG PET")
    assert "FDG grade 3" in last["label"]
    # The focused part is the timeline's tab stop now: Tab leaves, Shift+Tab comes back to it.
    assert page.locator("figure.timeline g[tabindex='0']").count() == 1
    page.keyboard.press("Tab")
    assert _active(page)["id"] == "lesion-table"
    page.keyboard.press("Shift+Tab")
    assert _active(page)["label"] == last["label"]


def test_a_ppgl_patients_page_reads_the_agent_choice_table(
    live_server: Any, chromium_page: Any
) -> None:
    """Issue 19 §3: DEMO-0014 (the review's Fig. 8) — the suggestion in words, one row per graded
    lesion with its SSTR and MIBG uptake and the agent that covers it, read as a screen reader
    reads the table (its caption, column and row headers), in colour and in greyscale."""
    from apps.scoring.models import PhenotypeAssessment

    from .axe import assert_no_serious_violations

    call_command("load_demo", "--users", verbosity=0)
    patient = Patient.objects.get(mrn="DEMO-0014")
    stored = PhenotypeAssessment.objects.get(patient=patient).summary["agent_choice"]
    page, base = chromium_page, live_server.url
    log_in(page, base, "demo-clinician", DEMO_PASSWORD)
    page.goto(f"{base}/patients/{patient.pk}/")

    block = page.get_by_role("region", name="PPGL radioligand choice", exact=False)
    assert block.is_visible()
    suggestion = block.locator("#agent-suggestion")
    assert suggestion.inner_text() == "Suggested: tandem 177Lu-DOTATATE and 131I-MIBG"
    table = block.get_by_role("table", name="Uptake of each graded lesion", exact=False)
    assert table.get_by_role("columnheader").all_inner_texts() == [
        "Lesion",
        "SSTR uptake 0–4",
        "MIBG uptake 0–4",
        "Covered by",
    ]
    rows = [
        [cell.inner_text() for cell in row.locator("th, td").all()]
        for row in table.locator("tbody tr").all()
    ]
    assert rows == [
        ["T7 vertebra", "4", "4", "both"],
        ["Hepatic dome 1", "3", "4", "both"],
        ["Hepatic dome 2", "3", "2", "177Lu-DOTATATE"],
        ["Left upper quadrant soft tissue", "2", "4", "131I-MIBG"],
    ]
    assert table.get_by_role("rowheader").all_inner_texts() == [row[0] for row in rows]
    # The covered-by column is the stored coverage, lesion by lesion.
    labels = dict(patient.lesions.values_list("label", "id"))
    agents = {(True, True): "both", (True, False): "177Lu-DOTATATE", (False, True): "131I-MIBG"}
    for label, *_uptakes, covered_by in rows:
        by_sstr = labels[label] in stored["covered_by_sstr"]
        by_mibg = labels[label] in stored["covered_by_mibg"]
        assert covered_by == agents[by_sstr, by_mibg]
    assert block.locator("#agent-reason").inner_text() == stored["reason"]
    assert "eligible" not in block.inner_text().lower()
    assert_no_serious_violations(page, f"the agent choice on the patient page of {patient.mrn}")
    block.screenshot(path=str(ARTIFACTS / "agent-choice.png"))
    page.evaluate("document.documentElement.style.filter = 'grayscale(1)'")  # (CSP: no <style>)
    block.screenshot(path=str(ARTIFACTS / "agent-choice-greyscale.png"))
