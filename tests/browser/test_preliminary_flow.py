"""Preliminary grades, through to the signed snapshot (issue 15 §1), in Chromium: grades from a
draft read are marked *preliminary* on the patient list, the patient page, the agenda,
presentation mode and the decision form; signing on them is refused without the
acknowledgement and, with it, the decision and its printable summary say so. Once the reads are
finished, the marks are gone."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import TestCase
from playwright.sync_api import expect

from apps.decisions.models import Decision
from apps.imaging.models import ImagingStudy
from apps.imaging.services import study_finish
from tests.factories import (
    CaseFactory,
    MeetingFactory,
    PatientFactory,
    UserFactory,
    three_liver_lesions,
)

from .keyboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_preliminary_grades_are_marked_up_to_the_signature(
    live_server: Any, chromium_page: Any
) -> None:
    base, page = live_server.url, chromium_page
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = three_liver_lesions(PatientFactory())  # both reads draft: P1, preliminary
    meeting = MeetingFactory()  # held in the past: signing is allowed
    case = CaseFactory(meeting=meeting, patient=patient)
    UserFactory(username="prelim-clinician", role="clinician")
    log_in(page, base, "prelim-clinician")

    row = page.locator("table.patients tbody tr", has_text=patient.mrn)
    expect(row).to_contain_text("preliminary")
    page.goto(f"{base}/patients/{patient.pk}/")
    expect(page.locator(".preliminary").first).to_contain_text("not finished")
    page.goto(f"{base}/meetings/{meeting.pk}/")
    expect(page.locator(".agenda-grades")).to_contain_text("Preliminary")
    page.goto(f"{base}/meetings/{meeting.pk}/present/{case.pk}/")
    expect(page.locator(".preliminary").first).to_be_visible()

    # Signing without the acknowledgement is refused, and what was typed stays.
    page.goto(f"{base}/cases/{case.pk}/decision/")
    expect(page.locator(".preliminary").first).to_be_visible()
    page.locator("select[name=recommendation]").select_option("prrt")
    page.locator("textarea[name=rationale]").fill("SSTR-positive throughout; FDG negative.")
    page.get_by_role("button", name="Save and sign").click()
    expect(page.locator("#decision-form")).to_contain_text("preliminary")
    assert page.locator("textarea[name=rationale]").input_value() == (
        "SSTR-positive throughout; FDG negative."
    )
    assert not Decision.objects.filter(case=case).exists()

    # With it, the decision is signed and says it was signed on a preliminary assessment.
    page.locator("#acknowledged_preliminary").check()
    page.get_by_role("button", name="Save and sign").click()
    expect(page.locator("#decision")).to_contain_text("knowing the assessment was preliminary")
    decision = Decision.objects.get(case=case)
    assert decision.is_signed and decision.acknowledged_preliminary
    assert decision.phenotype_snapshot["preliminary"] is True
    page.goto(f"{base}/cases/{case.pk}/summary/")
    expect(page.locator(".signature")).to_contain_text("knowing the assessment was preliminary")

    # Both reads finished: no longer preliminary anywhere.
    clinician_reader = UserFactory(role="reader")
    with TestCase.captureOnCommitCallbacks(execute=True):
        for study in ImagingStudy.objects.filter(patient=patient):
            study_finish(study=study, user=clinician_reader)
    page.goto(f"{base}/")
    expect(page.locator("table.patients tbody tr", has_text=patient.mrn)).not_to_contain_text(
        "preliminary"
    )
    page.goto(f"{base}/patients/{patient.pk}/")
    expect(page.locator(".preliminary")).to_have_count(0)
