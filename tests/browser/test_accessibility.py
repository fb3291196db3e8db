"""Accessibility of the main pages, checked by axe-core in Chromium (tests/browser/axe.py): no
violation of impact "serious" or "critical" on the login page, the patient list and the patient
page with its timeline. The helper itself is tested on a page built to fail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.management import call_command

from apps.patients.models import Patient
from apps.patients.timeline import FDG_COLOURS, FDG_TEXT, SSTR_COLOURS, SSTR_TEXT

from .axe import assert_no_serious_violations, serious_violations
from .keyboard import DEMO_PASSWORD, log_in

BAD_PAGE = """<!doctype html>
<html lang="en"><head><title>Deliberately inaccessible</title></head>
<body><main>
  <h1>Deliberately inaccessible</h1>
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="20" height="20">
  <input type="text" name="unlabelled">
  <p style="color:#bbbbbb;background:#ffffff">Low-contrast text that is hard to read.</p>
</main></body></html>"""

GOOD_PAGE = """<!doctype html>
<html lang="en"><head><title>Accessible</title></head>
<body><main>
  <h1>Accessible</h1>
  <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="20" height="20" alt="A dot">
  <label for="name">Name</label> <input type="text" id="name" name="name">
  <p style="color:#1b1f24;background:#ffffff">Dark text on white.</p>
</main></body></html>"""


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_numbers_on_the_score_colours_can_be_read() -> None:
    """axe-core cannot compute the contrast of text inside the timeline's SVG (it reports it as
    "incomplete"), so the palettes are checked here: every score's number on its colour at
    4.5:1 or more (the cells' text is 11 px, not large text), in the cells and the legend."""
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert contrast("#ffffff", "#7c7b78") < 4.5  # Krenning 2 before it was darkened
    pairs = [*zip(SSTR_COLOURS, SSTR_TEXT, strict=True), *zip(FDG_COLOURS, FDG_TEXT, strict=True)]
    for fill, ink in pairs:
        assert contrast(ink, fill) >= 4.5, (fill, ink, round(contrast(ink, fill), 2))


def test_the_phenotype_colours_and_the_tags_can_be_read() -> None:
    """The phenotype's glyph and label beside each lesion's name, the "new" tag and the lesion
    table's notes are text on white in the SVG (where axe-core cannot see their contrast) or
    the page: each colour at 4.5:1 or more on white (static/css/netboard.css)."""
    from django.contrib.staticfiles import finders

    path = finders.find("css/netboard.css")
    assert path
    with open(path, encoding="utf-8") as css_file:
        css = css_file.read()
    names = dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6})", css))
    rules = {
        selector.strip(): colour
        for selector, colour in re.findall(
            r"(\.timeline [^{]*(?:pheno-[\w-]+|new-tag text|biopsy-line|text\.phenotype)) "
            r"\{[^}]*?fill: (var\(--[\w-]+\)|#[0-9a-f]{6})",
            css,
        )
    }
    assert {".timeline .pheno-discordant", ".timeline .new-tag text"} <= set(rules), rules
    for selector, colour in rules.items():
        hex_colour = names[colour[6:-1]] if colour.startswith("var(") else colour
        assert contrast(hex_colour, "#ffffff") >= 4.5, (selector, hex_colour)
    for name in ("muted", "info", "blocks", "caution", "accent"):  # tags, notes, the table
        assert contrast(names[name], "#ffffff") >= 4.5, name


def test_the_helper_fails_on_an_inaccessible_page(chromium_page: Any) -> None:
    page = chromium_page
    page.set_content(BAD_PAGE)
    ids = {v["id"] for v in serious_violations(page)}
    assert {"image-alt", "label", "color-contrast"} <= ids, ids
    with pytest.raises(AssertionError) as failure:
        assert_no_serious_violations(page, "the bad page")
    message = str(failure.value)
    assert "the bad page" in message
    assert "image-alt" in message and "label" in message and "color-contrast" in message
    assert "— img" in message and "— input" in message  # the targets are named


def test_the_helper_passes_an_accessible_page(chromium_page: Any) -> None:
    chromium_page.set_content(GOOD_PAGE)
    assert_no_serious_violations(chromium_page, "the good page")


@pytest.mark.django_db(transaction=True)
def test_the_main_pages_have_no_serious_violations(live_server: Any, chromium_page: Any) -> None:
    call_command("load_demo", "--users", verbosity=0)
    patient = Patient.objects.get(mrn="DEMO-0010")
    page, base = chromium_page, live_server.url

    page.goto(base + "/accounts/login/")
    assert_no_serious_violations(page, "the login page")
    page.fill("#id_username", "demo-clinician")
    page.fill("#id_password", "wrong password")
    page.click("button[type=submit]")
    page.wait_for_selector("p.error")
    assert_no_serious_violations(page, "the login page with an error")

    log_in(page, base, "demo-clinician", DEMO_PASSWORD)
    assert page.locator("table.patients tbody tr").count() >= 10
    assert_no_serious_violations(page, "the patient list")
    page.goto(base + "/?q=nobody&grade=P5&blocking=1")
    assert "No patient matches these filters." in page.content()
    assert_no_serious_violations(page, "the patient list with no match")

    page.goto(f"{base}/patients/{patient.pk}/")
    timeline = page.locator("figure.timeline")
    assert timeline.locator("g.cell").count() > 10 and timeline.locator("g.badge").count() == 2
    assert_no_serious_violations(page, f"the patient page of {patient.mrn}")
    # A focused cell (the highlighted outline) is still fine.
    timeline.locator("g.cell").first.focus()
    assert_no_serious_violations(page, f"the patient page of {patient.mrn}, a cell focused")
    # The skip link to the lesion table, shown while focused; the lesion table itself.
    page.locator("a.skip-link").focus()
    assert page.locator("a.skip-link").is_visible()
    assert_no_serious_violations(page, f"the patient page of {patient.mrn}, the skip link focused")
    # A patient with a lane of another tracer (123I-MIBG) and a biopsy target's own line.
    ppgl = Patient.objects.get(mrn="DEMO-0013")
    page.goto(f"{base}/patients/{ppgl.pk}/")
    assert page.locator("figure.timeline g.mark-net").count() == 1
    assert page.locator("#lesion-table tbody tr").count() == 2
    assert_no_serious_violations(page, f"the patient page of {ppgl.mrn}")
