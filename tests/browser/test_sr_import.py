"""An SR import in Chromium against a real web server and a real Celery worker (issue 16): a
reader imports the SSTR PET's TID 1500 report on the study grid, reviews it row by row and
accepts; then the FDG PET's report, whose lesions carry the same tracking UIDs and land on the
same rows; the worker's NETPET grade appears on the patient page. A conflict with a value typed
by hand is marked and settled by the reader's choice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.imaging.models import Lesion, Observation
from tests.factories import PatientFactory, StudyFactory, UserFactory
from tests.imaging.sr_factory import MEDIASTINUM, SITES, SPLEEN, SrLesionSpec, build_sr
from tests.processes import Stack

from .axe import assert_no_serious_violations
from .conftest import ARTIFACTS
from .keyboard import log_in
from .test_board_flow import grade_on_patient_page

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LIVER_UID, NODE_UID = "1.2.826.0.1.3680043.10.1.1", "1.2.826.0.1.3680043.10.1.2"


def _import(page: Any, base: str, study_pk: int, name: str, data: bytes) -> None:
    """On the study grid: Import measurements…, choose the file, review."""
    _import_file(page, base, study_pk, name, data)
    page.wait_for_selector("#sr-review")


def _import_file(page: Any, base: str, study_pk: int, name: str, data: bytes) -> None:
    page.goto(f"{base}/studies/{study_pk}/")
    page.get_by_role("link", name="Import measurements…").click()
    page.wait_for_selector("#sr-files:focus")
    page.set_input_files(
        "#sr-files", files=[{"name": name, "mimeType": "application/dicom", "buffer": data}]
    )
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Review import"


def test_import_review_accept_and_see_the_grade(stack: Stack, chromium_page: Any) -> None:
    UserFactory(username="sr.reader", role="reader")
    base = stack.web().base
    stack.worker()
    page = chromium_page
    patient = PatientFactory(mrn="SR-0001")
    sstr = StudyFactory(
        patient=patient,
        tracer="ga68_dotatate",
        performed_on=date(2024, 3, 1),
        blood_pool_suv=None,
        liver_suv=None,
        spleen_suv=None,
    )
    fdg = StudyFactory(
        patient=patient,
        tracer="f18_fdg",
        performed_on=date(2024, 3, 3),
        blood_pool_suv=None,
        liver_suv=None,
        spleen_suv=None,
    )
    log_in(page, base, "sr.reader")

    # --- The SSTR PET's report: two new lesions and the reference uptake.
    sstr_sr = build_sr(
        [
            SrLesionSpec(tracking_uid=LIVER_UID, identifier="Liver seg 7", suv_max=25, krenning=4),
            SrLesionSpec(
                tracking_uid=NODE_UID,
                identifier="Mesenteric node",
                site=SITES["lymph_node"],
                suv_max=21,
                krenning=4,
                kind="volumetric",
            ),
        ],
        patient_id="SR-0001",
        reference={SITES["liver"]: 6.0, MEDIASTINUM: 1.5, SPLEEN: 18.0},
    )
    _import(page, base, sstr.pk, "sstr.dcm", sstr_sr)
    rows = page.locator("tr.review-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("New lesion")
    expect(page.locator("#label-0-0")).to_have_value("Liver seg 7")
    # Wide enough to read the label (it was a value cell's 7 characters).
    label_box = page.locator("#label-0-0").bounding_box()
    assert label_box is not None and label_box["width"] >= 180, label_box
    expect(page.locator("#site-0-1")).to_have_value("lymph_node")
    expect(page.locator("#review-0-reference")).to_contain_text("18.0")
    assert not Lesion.objects.filter(patient=patient).exists()  # nothing written by the review
    assert_no_serious_violations(page, "SR import review")
    page.screenshot(path=str(ARTIFACTS / "sr-import-review.png"), full_page=True)
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(f"{base}/studies/{sstr.pk}/")
    expect(page.locator(".messages, [role=status]").first).to_contain_text("Imported 1 SR file")
    liver = Lesion.objects.get(patient=patient, tracking_uid=LIVER_UID)
    assert liver.label == "Liver seg 7"
    assert Observation.objects.get(study=sstr, lesion=liver).krenning_visual == 4

    # --- The FDG PET's report: the same tracking UIDs land on the same lesions. One value was
    # typed by hand before: a conflict, which the reader settles by keeping it.
    node = Lesion.objects.get(patient=patient, tracking_uid=NODE_UID)
    Observation.objects.create(study=fdg, lesion=node, suv_max=Decimal("1.1"))
    fdg_sr = build_sr(
        [
            SrLesionSpec(tracking_uid=LIVER_UID, identifier="Liver seg 7", suv_max=1.2),
            SrLesionSpec(
                tracking_uid=NODE_UID,
                identifier="Mesenteric node",
                site=SITES["lymph_node"],
                suv_max=1.3,
            ),
        ],
        patient_id="SR-0001",
        reference={SITES["liver"]: 2.4, MEDIASTINUM: 1.6},
    )
    _import(page, base, fdg.pk, "fdg.dcm", fdg_sr)
    expect(page.locator("tr.review-row")).to_have_count(2)
    expect(page.locator("#review-0-0")).to_contain_text("Liver seg 7")  # an existing lesion
    conflict = page.locator("#review-0-1 td.conflict")
    expect(conflict).to_contain_text("keep 1.1")
    page.get_by_role("button", name="Import").click()  # not yet settled: refused
    expect(page.locator("#error-summary")).to_contain_text("settle the marked rows")
    expect(page.locator("#error-summary")).to_be_focused()  # read first, from the keyboard
    assert Observation.objects.filter(study=fdg).count() == 1  # nothing written
    page.get_by_label("keep 1.1").check()
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(f"{base}/studies/{fdg.pk}/")
    assert Observation.objects.get(study=fdg, lesion=node).suv_max == Decimal("1.1")
    assert Observation.objects.get(study=fdg, lesion=liver).suv_max == Decimal("1.2")

    # --- The worker grades the dual-tracer timepoint: SSTR-avid, FDG-negative is P1.
    grade_on_patient_page(page, base, patient, "P1")
    page.locator("figure.timeline").screenshot(path=str(ARTIFACTS / "sr-import-timeline.png"))


def test_files_over_the_body_limit_are_refused_before_the_upload(
    live_server: Any, chromium_page: Any, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096  # NETBOARD_MAX_BODY_BYTES
    UserFactory(username="sr.big", role="reader")
    study = StudyFactory(patient=PatientFactory(mrn="SR-0002"))
    page = chromium_page
    log_in(page, live_server.url, "sr.big")
    data = build_sr([SrLesionSpec(identifier=f"L{n}") for n in range(5)], patient_id="SR-0002")
    assert len(data) > 4096
    _import_file(page, live_server.url, study.pk, "big.dcm", data)
    expect(page.locator("#sr-files-error")).to_contain_text("Choose fewer files")
    expect(page.locator("#sr-files")).to_have_attribute("aria-invalid", "true")
    assert page.url.endswith(f"/studies/{study.pk}/import/")  # still the page, nothing sent
    assert not Lesion.objects.filter(patient=study.patient).exists()
