"""The patient list and the patient page in Chromium: log in, find a patient by keyboard, read
the phenotype timeline, focus a score cell and read its values. Screenshots go to
test-artifacts/ (looked at by a person before a release)."""

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
    page.wait_for_url("**/?q=juniper*")
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
    timeline.screenshot(path=str(ARTIFACTS / "timeline.png"))

    # Every cell can be reached with the keyboard and names its values.
    cell = timeline.locator("g.cell").last
    cell.focus()
    label = cell.get_attribute("aria-label")
    assert label is not None and "FDG grade 3" in label
    assert page.evaluate("document.activeElement.getAttribute('class')") == "cell"
    assert "eligible" not in page.content().lower()
