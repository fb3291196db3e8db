"""No console errors and no serious accessibility violations on any page a reader, a clinician or
a coordinator uses (issue 15 §5): the patient list, the patient page, both grids of a dual-tracer
timepoint, the meeting agenda, the decision form, presentation mode, the case summary and a
signed decision. Screenshots of the grid, presentation mode and the patient page go to
test-artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone

from apps.decisions.models import Meeting
from apps.decisions.services import case_add
from apps.imaging.models import ImagingStudy
from apps.patients.models import Patient

from .axe import assert_no_serious_violations
from .conftest import ARTIFACTS
from .keyboard import DEMO_PASSWORD, log_in

pytestmark = pytest.mark.django_db(transaction=True)


class Console:
    """Every console error, failed request of our own origin and uncaught exception."""

    def __init__(self, page: Any, base: str) -> None:
        self.problems: list[str] = []
        page.on(
            "console",
            lambda msg: (
                self.problems.append(f"console {msg.type}: {msg.text} at {msg.location}")
                if msg.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "response",
            lambda response: (
                self.problems.append(f"{response.status} {response.url}")
                if response.url.startswith(base) and response.status >= 400
                else None
            ),
        )


def visit(page: Any, console: Console, url: str, name: str, shot: str | None = None) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert not console.problems, (name, console.problems)
    assert_no_serious_violations(page, name)
    # axe's first try at injection is an inline script, which the page's CSP refuses (as it
    # should): that message is the test's own, not the page's.
    console.problems.clear()
    if shot:
        page.screenshot(path=str(ARTIFACTS / shot), full_page=True)


def test_every_main_page_is_free_of_console_errors(live_server: Any, chromium_page: Any) -> None:
    call_command("load_demo", "--users", verbosity=0)
    patient = Patient.objects.get(mrn="DEMO-0010")
    meeting = Meeting.objects.create(held_on=timezone.localdate(), title="NET board")
    with TestCase.captureOnCommitCallbacks(execute=True):
        case = case_add(meeting=meeting, patient=patient, question="PRRT?")
    page, base = chromium_page, live_server.url
    page.set_viewport_size({"width": 1366, "height": 900})
    console = Console(page, base)
    log_in(page, base, "demo-clinician", DEMO_PASSWORD)

    visit(page, console, f"{base}/", "the patient list")
    # The list and the page show the same latest grade, for every demo patient.
    listed = {
        row.locator("td").first.inner_text().strip(): row.locator("span.grade").all_inner_texts()
        for row in page.locator("table.patients tbody tr").all()
    }
    for demo in Patient.objects.filter(mrn__startswith="DEMO-"):
        page.goto(f"{base}/patients/{demo.pk}/")
        chip = page.locator(".grade-chip", has_text="NETPET").locator("strong").inner_text()
        shown = [chip] if chip != "—" else []
        assert [grade.split(" ")[0] for grade in listed.get(demo.mrn, [])] == shown, demo.mrn
    visit(page, console, f"{base}/patients/{patient.pk}/", "the patient page", "patient-page.png")
    for study in ImagingStudy.objects.filter(patient=patient, tracer_class__in=("SSTR", "FDG")):
        visit(
            page,
            console,
            f"{base}/studies/{study.pk}/",
            f"the {study.tracer_class} grid of {study.performed_on}",
            f"grid-{study.tracer_class.lower()}-{study.performed_on}.png",
        )
    visit(page, console, f"{base}/meetings/{meeting.pk}/", "the meeting agenda")
    visit(page, console, f"{base}/cases/{case.pk}/decision/", "the decision form")
    visit(
        page,
        console,
        f"{base}/meetings/{meeting.pk}/present/{case.pk}/",
        "presentation mode",
        "presentation-mode.png",
    )
    visit(page, console, f"{base}/cases/{case.pk}/summary/", "the case summary")
