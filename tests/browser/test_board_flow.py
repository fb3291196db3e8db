"""The whole product in Chromium against a real web server and a real Celery worker on Redis
(issue 6, "Tests in a real browser"): a reader logs in, creates a patient, enters an SSTR and an
FDG read with the keyboard only, and sees the NETPET grade the worker computed appear on the
patient page; a coordinator lists the case at a meeting; a clinician presents it and records a
signed decision; a later edit of the data changes the patient page but not the decision's
snapshot. axe-core checks every page on the way; screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from apps.decisions.models import Decision
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.models import Patient
from tests.factories import UserFactory
from tests.processes import Stack

from .axe import assert_no_serious_violations
from .conftest import ARTIFACTS
from .keyboard import log_in, tab_out, type_fields

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
WAIT_MS = 60_000  # the worker's first task starts a process pool


def create_study(page: Any, patient: Patient, tracer_keys: str, refs: list[str]) -> ImagingStudy:
    """The study form by keyboard: date, modality, tracer, then the reference SUVs; Enter."""
    before = set(ImagingStudy.objects.filter(patient=patient).values_list("pk", flat=True))
    page.wait_for_selector("#id_performed_on:focus")
    page.keyboard.type("03012024")  # mm dd yyyy segments of the date input
    tab_out(page)
    page.keyboard.type("PET/CT")  # type-ahead in the list
    page.keyboard.press("Tab")
    page.keyboard.type(tracer_keys)
    page.keyboard.press("Tab")
    type_fields(page, "", "")  # accession number, baseline box
    for index, value in enumerate(refs):  # blood pool, liver, liver SD, spleen
        if value:
            page.keyboard.type(value)
        if index < len(refs) - 1:
            page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/studies/\d+/$"))
    (study,) = ImagingStudy.objects.filter(patient=patient).exclude(pk__in=before)
    return study


def wait_saved(page: Any, lesion: Lesion) -> None:
    page.wait_for_selector(f"#row-{lesion.pk}[data-status=saved]")


def finish_read(page: Any, study: ImagingStudy) -> None:
    """Finish the read from the keyboard (Alt+Shift+F) and wait for the finished grid. If it does
    not come, say what the grid showed (its refusal, each row's state) and keep a screenshot."""
    page.keyboard.press("Alt+Shift+F")
    try:
        page.wait_for_selector("#reopen-read", timeout=WAIT_MS)
    except PlaywrightTimeout:
        page.screenshot(path=str(ARTIFACTS / "finish-failure.png"), full_page=True)
        refusal = page.locator("#finish-error").all_text_contents()
        rows = page.eval_on_selector_all(
            "tr.obs-row", "rows => rows.map(row => `${row.id}: ${row.dataset.status}`)"
        )
        status = ImagingStudy.objects.get(pk=study.pk).status
        raise AssertionError(
            f"the read was not finished (study {status}); refusal {refusal}, rows {rows}, "
            f"focus on {page.evaluate('document.activeElement && document.activeElement.id')}"
        ) from None
    assert ImagingStudy.objects.get(pk=study.pk).status == "final"


def grade_on_patient_page(page: Any, base: str, patient: Patient, grade: str) -> None:
    """Open the patient page and wait until the worker's result shows the NETPET grade (the
    status line polls while pending and reloads the page when the result lands)."""
    page.goto(f"{base}/patients/{patient.pk}/")
    expect(page.locator("#assessment-status")).to_contain_text("fresh", timeout=WAIT_MS)
    try:
        expect(page.locator("figure.timeline g.badge").last).to_contain_text(grade, timeout=WAIT_MS)
    except AssertionError:
        page.screenshot(path=str(ARTIFACTS / "flow-failure.png"), full_page=True)
        (ARTIFACTS / "flow-failure.html").write_text(page.content())
        raise


def test_read_grade_list_decide_and_keep_the_snapshot(stack: Stack, chromium_page: Any) -> None:
    for name, role in [("r.reader", "reader"), ("c.coord", "coordinator"), ("d.clin", "clinician")]:
        UserFactory(username=name, role=role)
    base = stack.web().base
    stack.worker()
    page = chromium_page

    # --- A reader creates the patient, by keyboard.
    log_in(page, base, "r.reader")
    page.get_by_role("link", name="New patient").click()
    page.wait_for_selector("#id_mrn:focus")
    type_fields(page, "FLOW-0001", "Flow", "Tess", "02031961", "f", "", "")
    page.keyboard.type("Pancreas")  # primary site
    page.keyboard.press("Shift+Tab")  # back to a text box, where Enter submits
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/patients/\d+/record/$"))
    patient = Patient.objects.get(mrn="FLOW-0001")
    assert (patient.family_name, str(patient.birth_date), patient.primary_site) == (
        "Flow",
        "1961-02-03",
        "pancreas",
    )

    # --- The SSTR PET: study form, then two lesions added inline and read, keyboard only.
    page.goto(f"{base}/patients/{patient.pk}/")
    page.get_by_role("link", name="New study").focus()
    page.keyboard.press("Enter")
    sstr = create_study(page, patient, "68Ga-DOTATATE", ["1.5", "6", "", "18"])
    assert (sstr.tracer, sstr.liver_suv, sstr.spleen_suv) == ("ga68_dotatate", 6, 18)
    page.wait_for_selector("#new-label:focus")  # no lesion yet: the add-lesion box has it
    lesions = []
    for label, suv in [("Liver seg 7", "25"), ("Liver seg 2", "21")]:
        page.keyboard.type(label)
        page.keyboard.press("Enter")
        page.wait_for_selector("tr.obs-row:last-child select[name=state]:focus")
        lesion = Lesion.objects.get(patient=patient, label=label)
        type_fields(page, "", suv, "")  # state (scored), SUVmax, SUVpeak
        page.keyboard.type("4")  # visual Krenning
        expect(page.locator(f"#row-{lesion.pk} .computed-score")).to_have_text("4")
        page.keyboard.press("Enter")  # last row: Enter goes on to "add lesion"
        wait_saved(page, lesion)
        lesions.append(lesion)
    page.wait_for_selector("#new-label:focus")
    assert_no_serious_violations(page, "study grid (SSTR)")
    assert [o.krenning_visual for o in Observation.objects.filter(study=sstr)] == [4, 4]
    # The reader finishes the read from the keyboard (the board signs on finished reads).
    finish_read(page, sstr)

    # --- The FDG PET on the same day: both lesions are FDG-negative (not seen).
    page.goto(f"{base}/patients/{patient.pk}/studies/new/")
    fdg = create_study(page, patient, "18F-FDG", ["1.6", "2.4"])
    page.wait_for_selector(f"#row-{lesions[0].pk} select[name=state]:focus")
    page.keyboard.type("Not seen")
    page.keyboard.press("ArrowDown")
    page.keyboard.type("Not seen")
    page.keyboard.press("ArrowDown")  # leaves the last row: it is written whole
    for lesion in lesions:
        wait_saved(page, lesion)
    assert set(Observation.objects.filter(study=fdg).values_list("state", flat=True)) == {
        "not_seen"
    }
    finish_read(page, fdg)
    page.screenshot(path=str(ARTIFACTS / "flow-study-grid-fdg.png"), full_page=True)

    # --- The worker's grade appears on the patient page: SSTR-avid, FDG-negative is P1.
    grade_on_patient_page(page, base, patient, "P1")
    assert "P1" in page.locator(".grades").inner_text()
    assert_no_serious_violations(page, "patient page")
    page.locator("figure.timeline").screenshot(path=str(ARTIFACTS / "flow-timeline.png"))

    # --- A coordinator creates the meeting and lists the case.
    log_in(page, base, "c.coord")
    page.get_by_role("link", name="Meetings").click()
    page.locator("#meeting_held_on").focus()
    page.keyboard.type("06012024")
    page.locator("#meeting_title").fill("NET board")
    page.get_by_role("button", name="Create meeting").click()
    page.wait_for_url(re.compile(r".*/meetings/\d+/$"))
    page.locator("#add_mrn").fill("FLOW-0001")
    page.locator("#add_question").fill("PRRT after progression on SSA?")
    page.get_by_role("button", name="Add to the agenda").click()
    expect(page.locator("main")).to_contain_text("PRRT after progression on SSA?")
    assert_no_serious_violations(page, "meeting agenda")
    meeting_url = page.url

    # --- A clinician presents the case and records a signed decision by keyboard.
    log_in(page, base, "d.clin")
    page.goto(meeting_url)
    page.get_by_role("link", name="Start presentation").click()
    page.wait_for_url(re.compile(r".*/present/\d+/$"))
    expect(page.locator("main")).to_contain_text("PRRT after progression on SSA?")
    expect(page.locator("main")).to_contain_text("P1")
    page.screenshot(path=str(ARTIFACTS / "presentation-mode.png"), full_page=True)
    assert_no_serious_violations(page, "presentation mode")
    page.keyboard.press("d")  # to the decision form
    page.keyboard.type("PRRT")
    page.keyboard.press("Tab")
    page.keyboard.type("SSTR-avid, FDG-negative disease (NETPET P1): PRRT recommended.")
    page.keyboard.press("Tab")
    page.keyboard.type("Dr Ada, Dr Byron")
    page.get_by_role("button", name="Save and sign").click()
    decision = Decision.objects.get(case__patient=patient)
    assert decision.is_signed and decision.recommendation == "prrt"
    assert decision.phenotype_snapshot["timepoints"][-1]["netpet"]["grade"] == "P1"

    # --- The reader edits the FDG read: lesion 1 is now FDG-avid above SSTR.
    log_in(page, base, "r.reader")
    page.goto(f"{base}/studies/{fdg.pk}/")
    page.locator("#reopen-read").click()  # a finished read is reopened to be changed
    page.wait_for_selector("#finish-read")
    page.locator(f"#row-{lesions[0].pk} select[name=state]").focus()
    page.keyboard.type("Scored")
    type_fields(page, "", "30", "")
    page.keyboard.type("3")  # visual FDG grade 3
    page.keyboard.press("Enter")
    wait_saved(page, lesions[0])
    page.goto(f"{base}/patients/{patient.pk}/")
    expect(page.locator("#assessment-status")).to_contain_text("fresh", timeout=WAIT_MS)
    expect(page.locator("figure.timeline g.badge").last).not_to_contain_text("P1", timeout=WAIT_MS)
    badge = page.locator("figure.timeline g.badge").last.text_content() or ""
    found = re.search(r"\bP[0-5][ab]?\b", badge)
    assert found is not None and found.group() != "P1", badge
    current = found.group()

    # --- The decision still shows the assessment as it was shown at the meeting.
    page.goto(f"{base}/decisions/{decision.pk}/")
    body = page.locator("main").inner_text()
    assert re.search(r"\bP1\b", body) and not re.search(rf"\b{current}\b", body)
    assert "eligible" not in page.content().lower()
    assert_no_serious_violations(page, "decision page")
