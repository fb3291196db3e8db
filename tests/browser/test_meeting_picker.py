"""The agenda's patient picker in Chromium (issue 15 §5): a coordinator types name words, picks
the patient with ↓ and Enter, types the question and adds the case, keyboard only; a patient
already on the agenda is shown as such and cannot be picked; the mouse picks too."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.decisions.models import Case
from tests.factories import MeetingFactory, PatientFactory, UserFactory

from .axe import assert_no_serious_violations
from .conftest import ARTIFACTS
from .keyboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_coordinator_adds_a_case_by_name_with_the_keyboard(
    live_server: Any, chromium_page: Any
) -> None:
    UserFactory(username="c.coord", role="coordinator")
    meeting = MeetingFactory(title="Picker MDT")
    ivy = PatientFactory(
        mrn="PICK-0013", given_name="Ivy", family_name="Ivo", birth_date=date(1971, 5, 4)
    )
    smith = PatientFactory(mrn="PICK-0031", given_name="Ivy", family_name="Smith")
    PatientFactory(mrn="PICK-0099", given_name="Otto", family_name="Other")
    page, base = chromium_page, live_server.url
    log_in(page, base, "c.coord")
    page.goto(f"{base}/meetings/{meeting.pk}/")

    box = page.locator("#add_mrn")
    options = page.locator("#add-picker-list [role=option]")
    box.focus()
    page.keyboard.type("ivo ivy")  # name words, family name first
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("PICK-0013")
    expect(options.first).to_contain_text("Ivo, Ivy")
    expect(options.first).to_contain_text("born 1971-05-04")
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#add-picker-status")).to_have_text("1 patient matches.")
    assert_no_serious_violations(page, "agenda with the patient picker open")
    page.keyboard.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", f"pick-{ivy.pk}")
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.screenshot(path=str(ARTIFACTS / "meeting-picker.png"), full_page=True)
    page.keyboard.press("Enter")  # picks; the cursor goes on to the question
    expect(page.locator("#add_question")).to_be_focused()
    expect(box).to_have_value("PICK-0013 · Ivo, Ivy")
    expect(page.locator("#add_patient")).to_have_value(str(ivy.pk))
    expect(page.locator("#add-picker-list")).to_be_hidden()
    page.keyboard.type("PRRT after progression on SSA?")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Add to the agenda")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/meetings/\d+/#case-\d+$"))
    case = Case.objects.get(meeting=meeting)
    assert (case.patient_id, case.question) == (ivy.pk, "PRRT after progression on SSA?")
    expect(page.locator(".agenda-row")).to_have_count(1)

    # A patient already on the agenda is listed as such and is not picked.
    box.focus()
    page.keyboard.type("ivy")
    expect(options).to_have_count(2)
    expect(options.nth(0)).to_contain_text("already on the agenda")
    expect(options.nth(0)).to_have_attribute("aria-disabled", "true")
    expect(options.nth(1)).not_to_contain_text("already on the agenda")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#add-picker-status")).to_contain_text("already on the agenda")
    expect(page.locator("#add_patient")).to_have_value("")
    expect(box).to_be_focused()
    # ↓ to the next one; Esc closes the list and ↓ opens it again.
    page.keyboard.press("Escape")
    expect(page.locator("#add-picker-list")).to_be_hidden()
    page.keyboard.press("ArrowDown")
    expect(options).to_have_count(2)

    # The mouse picks too.
    options.nth(1).click()
    expect(box).to_have_value("PICK-0031 · Smith, Ivy")
    expect(page.locator("#add_patient")).to_have_value(str(smith.pk))
    page.locator("#add_question").fill("Biopsy first?")
    page.get_by_role("button", name="Add to the agenda").click()
    page.wait_for_url(re.compile(r".*#case-\d+$"))
    assert set(Case.objects.filter(meeting=meeting).values_list("patient_id", flat=True)) == {
        ivy.pk,
        smith.pk,
    }
    assert Case.objects.filter(patient=ivy).count() == 1  # never twice
