"""The study form in Chromium: planar scintigraphy has no SUV, so choosing it switches the
reference uptake off (with a note saying why), keeps what was typed there, and saves the study
without it; choosing a PET again gives the typed values back."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from apps.imaging.models import ImagingStudy
from tests.factories import PatientFactory, UserFactory

from .keyboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_planar_switches_the_reference_uptake_off_and_loses_nothing_typed(
    live_server: Any, chromium_page: Any
) -> None:
    UserFactory(username="form-reader", role="reader")
    page = chromium_page
    log_in(page, live_server.url, "form-reader")
    patient = PatientFactory(histology="pheochromocytoma", primary_site="adrenal")
    page.goto(f"{live_server.url}/patients/{patient.pk}/studies/new/")
    boxes = ["#id_blood_pool_suv", "#id_liver_suv", "#id_liver_suv_sd", "#id_spleen_suv"]
    note = page.locator("#reference-planar-note")
    for box in boxes:
        expect(page.locator(box)).to_be_enabled()
    expect(note).to_be_hidden()
    page.fill("#id_performed_on", "2024-03-08")
    page.select_option("#id_tracer", "i123_mibg")
    page.fill("#id_blood_pool_suv", "1.5")
    page.fill("#id_liver_suv", "6")

    page.select_option("#id_modality", "planar")
    for box in boxes:
        expect(page.locator(box)).to_be_disabled()
    expect(note).to_be_visible()
    expect(note).to_contain_text("Planar scintigraphy has no SUV")
    # Back to a modality with SUVs: what was typed is there again.
    page.select_option("#id_modality", "spect_ct")
    expect(page.locator("#id_liver_suv")).to_be_enabled()
    expect(page.locator("#id_liver_suv")).to_have_value("6")
    expect(note).to_be_hidden()

    # Saved as planar: the study has no reference uptake (nothing refused, nothing half-saved).
    page.select_option("#id_modality", "planar")
    page.get_by_role("button", name="Create study and enter the read").click()
    page.wait_for_url(f"{live_server.url}/studies/*/")
    study = ImagingStudy.objects.get(patient=patient)
    assert (study.modality, study.tracer) == ("planar", "i123_mibg")
    assert (study.blood_pool_suv, study.liver_suv, study.spleen_suv) == (None, None, None)
