"""What is shown is current (issue 15 §3), in Chromium with two browser contexts: a clinician
watches the patient page and a decision form while a reader edits the read in another; the
watching pages learn of it within seconds. The patient page, where nothing is typed, refreshes
itself with the new grade; the decision form, where the clinician is typing, keeps every word
and shows the banner instead."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import TestCase
from playwright.sync_api import expect

from apps.imaging.models import ImagingStudy
from tests.factories import (
    CaseFactory,
    MeetingFactory,
    PatientFactory,
    UserFactory,
    three_liver_lesions,
)

from .keyboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)

SOON = 12_000  # ms: the pages poll every 4 s; this leaves room for a slow machine


def test_open_pages_learn_that_the_read_changed(live_server: Any, chromium_page: Any) -> None:
    base = live_server.url
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = three_liver_lesions(PatientFactory())  # FDG negative: NETPET P1
    case = CaseFactory(meeting=MeetingFactory(), patient=patient)
    UserFactory(username="live-clinician", role="clinician")
    UserFactory(username="live-reader", role="reader")
    fdg = ImagingStudy.objects.get(patient=patient, tracer="f18_fdg")
    lesion = fdg.observations.order_by("lesion_id").first().lesion  # type: ignore[union-attr]

    watcher = chromium_page
    log_in(watcher, base, "live-clinician")
    watcher.goto(f"{base}/patients/{patient.pk}/")
    netpet = watcher.locator(".grade-chip", has_text="NETPET").locator("strong")
    expect(netpet).to_have_text("P1")
    browser = watcher.context.browser
    form_context = browser.new_context(viewport={"width": 1366, "height": 900})
    form = form_context.new_page()
    log_in(form, base, "live-clinician")
    form.goto(f"{base}/cases/{case.pk}/decision/")
    form.locator("textarea[name=rationale]").fill("Discussed: SSTR-positive disease throughout.")

    # A reader, in a browser of their own, makes one lesion FDG-positive above its SSTR uptake.
    reader_context = browser.new_context(viewport={"width": 1366, "height": 900})
    reader = reader_context.new_page()
    log_in(reader, base, "live-reader")
    reader.goto(f"{base}/studies/{fdg.pk}/")
    row = reader.locator(f"#row-{lesion.pk}")
    row.locator("select[name=fdg_visual]").select_option("positive")
    row.locator("input[name=suv_max]").fill("30")
    row.locator("input[name=krenning_visual]").fill("3")
    row.locator("select[name=fdg_vs_sstr]").select_option("higher")
    row.locator("select[name=fdg_vs_sstr]").press("Tab")
    reader.wait_for_selector(f"#row-{lesion.pk}[data-status=saved]")
    assert fdg.observations.get(lesion=lesion).suv_max == Decimal("30")

    # The patient page, where nothing is typed, refreshes itself: the new grade, no stale P1.
    expect(netpet).to_have_text("P4a", timeout=SOON)
    # The decision form keeps what was typed and says the assessment changed.
    expect(form.locator(".live-banner")).to_contain_text(
        "Changed since you opened this page", timeout=SOON
    )
    assert form.locator("textarea[name=rationale]").input_value() == (
        "Discussed: SSTR-positive disease throughout."
    )
    reader_context.close()
    form_context.close()
