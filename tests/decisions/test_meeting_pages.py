"""The MDT meeting pages: the meeting list, the agenda and its management by coordinators, and
presentation mode (one case at a time, previous/next, the case's grades and findings). Decisions
are in test_decision_pages.py. Query counts must not grow with the number of cases or lesions."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.api_base import etag_for
from apps.core.models import AccessEvent
from apps.decisions import services
from apps.decisions.models import Case, Meeting
from apps.imaging.models import ImagingStudy
from apps.patients.models import Patient
from tests.factories import (
    CaseFactory,
    LesionFactory,
    MeetingFactory,
    ObservationFactory,
    PathologyFactory,
    PatientFactory,
    StudyFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SSTR_DAY = date(2024, 3, 1)


def committed() -> Any:
    """Run the on-commit callbacks: the recompute is queued after commit and, without a broker,
    runs right there, so the patient has a stored assessment afterwards."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def graded_patient(
    fdg_suv: str = "8.0",
    lesions: int = 1,
    timepoints: int = 1,
    sstr_suv: str = "12.0",
    **fields: Any,
) -> Patient:
    """A patient with SSTR and FDG PETs, their reads finished, and a stored, fresh assessment.

    Every lesion is Krenning 3 on the SSTR PET (SUVmax 12, liver 6, spleen 18). With FDG SUVmax
    8 (liver 2) each is FDG-avid above liver with FDG avidity higher than SSTR: NETPET P4a (P4b
    from 3 lesions), Karfis C2, Zidan 3. With FDG SUVmax 1 (below blood pool) they are
    FDG-negative: P1, C1, Zidan 2.
    """
    with committed():
        patient = PatientFactory(**fields)
        studies = []
        for t in range(timepoints):
            day = SSTR_DAY + timedelta(days=120 * t)
            studies.append((StudyFactory(patient=patient, performed_on=day), sstr_suv))
            studies.append(
                (
                    StudyFactory(
                        patient=patient,
                        performed_on=day + timedelta(days=2),
                        tracer="f18_fdg",
                        spleen_suv=None,
                        liver_suv=Decimal("2.0"),
                    ),
                    fdg_suv,
                )
            )
        for n in range(lesions):
            lesion = LesionFactory(patient=patient, label=f"L{n + 1}")
            for study, suv in studies:
                ObservationFactory(study=study, lesion=lesion, suv_max=Decimal(suv))
        ImagingStudy.objects.filter(patient=patient).update(
            status="final", finalized_at=timezone.now()
        )
    return patient


def client_for(role: str | None) -> Client:
    client = Client()
    if role is None:
        user = get_user_model().objects.create_user("no-role", password="x" * 12)
    else:
        user = UserFactory(username=f"{role}-user", role=role)
    client.force_login(user)
    return client


def html_of(response: Any) -> str:
    return response.content.decode()


@pytest.fixture
def coordinator(db: None) -> Client:
    return client_for("coordinator")


@pytest.fixture
def clinician(db: None) -> Client:
    return client_for("clinician")


# --- Meeting list -----------------------------------------------------------------------------


def test_the_list_shows_upcoming_and_past_meetings_with_their_number_of_cases(
    clinician: Client,
) -> None:
    today = timezone.localdate()
    soon = MeetingFactory(held_on=today + timedelta(days=7), title="Next week MDT")
    later = MeetingFactory(held_on=today + timedelta(days=21), title="Later MDT")
    past = MeetingFactory(held_on=today - timedelta(days=7), title="Last week MDT")
    for _ in range(3):
        CaseFactory(meeting=soon)
    CaseFactory(meeting=past)
    html = html_of(clinician.get("/meetings/"))
    upcoming, _, earlier = html.partition('id="past-title"')
    assert upcoming.index("Next week MDT") < upcoming.index("Later MDT")  # soonest first
    assert "Last week MDT" not in upcoming and "Last week MDT" in earlier
    assert re.search(r"Next week MDT</a></td><td>3</td>", html)
    assert re.search(r"Last week MDT</a></td><td>1</td>", html)
    assert f'href="/meetings/{later.pk}/"' in html
    assert "New meeting" not in html  # clinicians do not create meetings


def test_the_pages_link_to_the_meeting_list_page_not_to_the_api(coordinator: Client) -> None:
    meeting = MeetingFactory()
    assert 'action="/meetings/"' in html_of(coordinator.get("/meetings/"))
    assert 'href="/meetings/">← Meetings' in html_of(coordinator.get(f"/meetings/{meeting.pk}/"))


def test_a_coordinator_creates_a_meeting_and_errors_keep_what_was_typed(
    coordinator: Client,
) -> None:
    refused = coordinator.post("/meetings/", {"held_on": "2031-02-03", "title": ""})
    assert refused.status_code == 200
    html = html_of(refused)
    assert 'value="2031-02-03"' in html
    assert re.search(r'id="meeting_title-error".*may not be blank', html, re.S)
    assert not Meeting.objects.exists()
    created = coordinator.post("/meetings/", {"held_on": "2031-02-03", "title": "Spring MDT"})
    meeting = Meeting.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/meetings/{meeting.pk}/"
    assert (meeting.held_on, meeting.title) == (date(2031, 2, 3), "Spring MDT")


@pytest.mark.parametrize("role", ["reader", "clinician", "auditor"])
def test_only_coordinators_create_meetings_and_manage_cases(role: str) -> None:
    client = client_for(role)
    patient = PatientFactory(mrn="PERM-1")
    case = CaseFactory(question="Original question?")
    meeting = case.meeting
    assert client.post("/meetings/", {"held_on": "2031-01-01", "title": "X"}).status_code == 403
    attempts = [
        (f"/meetings/{meeting.pk}/cases/", {"mrn": "PERM-1", "question": "Q?"}),
        (f"/cases/{case.pk}/edit/", {"question": "Changed?", "status": "deferred"}),
        (f"/cases/{case.pk}/move/", {"direction": "down"}),
        (f"/cases/{case.pk}/remove/", {}),
    ]
    for url, data in attempts:
        assert client.post(url, data).status_code == 403, url
    assert Meeting.objects.count() == 1
    assert list(Case.objects.values_list("patient_id", "question", "status")) == [
        (case.patient_id, "Original question?", "listed")
    ]
    assert not Case.objects.filter(patient=patient).exists()
    html = html_of(client.get(f"/meetings/{meeting.pk}/"))  # every clinical role may look
    assert "Add a case" not in html and "case-move" not in html and ">Edit<" not in html


def test_pages_need_a_login_and_a_clinical_role() -> None:
    case = CaseFactory()
    urls = [
        "/meetings/",
        f"/meetings/{case.meeting_id}/",
        f"/meetings/{case.meeting_id}/present/{case.pk}/",
    ]
    no_role = client_for(None)
    for url in urls:
        assert no_role.get(url).status_code == 403, url
        anonymous = Client().get(url)
        assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


# --- Agenda -----------------------------------------------------------------------------------


def test_the_agenda_lists_cases_in_order_with_grades_status_and_decision_state(
    clinician: Client,
) -> None:
    meeting = MeetingFactory()
    avid = graded_patient(fdg_suv="8.0", mrn="AG-AVID", family_name="Avid")
    quiet = graded_patient(fdg_suv="1.0", mrn="AG-QUIET", family_name="Quiet")
    bare = PatientFactory(mrn="AG-BARE", family_name="Bare")
    # Positions out of creation order: the agenda follows position, not id.
    c_quiet = CaseFactory(meeting=meeting, patient=quiet, position=2, question="SSA or PRRT?")
    c_avid = CaseFactory(meeting=meeting, patient=avid, position=0, question="PRRT now?")
    CaseFactory(meeting=meeting, patient=bare, position=1, status="deferred")
    doctor = UserFactory()
    services.decision_record(
        case=c_avid, recommendation="prrt", rationale="r", decided_by=doctor, sign=True
    )
    services.decision_record(case=c_quiet, recommendation="ssa", rationale="r", decided_by=doctor)
    response = clinician.get(f"/meetings/{meeting.pk}/")
    assert response.status_code == 200
    html = html_of(response)
    assert re.findall(r'class="agenda-mrn">([A-Z-]+)</a>', html) == [
        "AG-AVID",
        "AG-BARE",
        "AG-QUIET",
    ]
    rows = dict(zip(["avid", "bare", "quiet"], html.split('class="agenda-row"')[1:], strict=True))
    grades = r"NETPET</span> <strong>{}</strong>.*Karfis</span> <strong>{}</strong>.*" + (
        r"Zidan</span> <strong>{}</strong>"
    )
    assert re.search(grades.format("P4a", "C2", "3"), rows["avid"], re.S)
    assert re.search(grades.format("P1", "C1", "2"), rows["quiet"], re.S)
    assert re.search(grades.format("—", "—", "—"), rows["bare"], re.S)
    assert 'status-fresh">fresh' in rows["avid"] and 'status-stale">stale' in rows["bare"]
    assert f'href="/patients/{avid.pk}/"' in rows["avid"] and "PRRT now?" in rows["avid"]
    assert ">Signed</a>" in rows["avid"] and ">Draft</a>" in rows["quiet"]
    assert ">None</span>" in rows["bare"] and ">Deferred<" in rows["bare"]
    assert (
        f'href="/meetings/{meeting.pk}/present/{c_avid.pk}/"' in html.split("Start presentation")[0]
    )
    assert "eligible" not in html.lower()
    seen = set(
        AccessEvent.objects.filter(action="view_meeting_agenda").values_list(
            "patient_id", flat=True
        )
    )
    assert seen == {avid.pk, quiet.pk, bare.pk}


def test_the_agenda_shows_a_grade_code_in_words(clinician: Client) -> None:
    # Nothing avid on either PET (SSTR and FDG SUVmax 1.0, below the blood pool): NETPET P0,
    # Karfis not classifiable (DOMAIN.md §3-§4), shown in words, not as the API's code.
    meeting = MeetingFactory()
    CaseFactory(meeting=meeting, patient=graded_patient(fdg_suv="1.0", sstr_suv="1.0"))
    html = html_of(clinician.get(f"/meetings/{meeting.pk}/"))
    assert "Karfis</span> <strong>not classifiable</strong>" in html
    assert "not_classifiable" not in html


def test_a_coordinator_adds_a_case_by_mrn_and_wrong_mrns_are_refused_at_the_field(
    coordinator: Client,
) -> None:
    meeting = MeetingFactory()
    first = CaseFactory(meeting=meeting, position=0)
    patient = PatientFactory(mrn="ADD-1")
    unknown = coordinator.post(
        f"/meetings/{meeting.pk}/cases/", {"mrn": "NOPE-9", "question": "Biopsy first?"}
    )
    assert unknown.status_code == 200
    html = html_of(unknown)
    assert re.search(r'id="add_mrn-error".*No patient has this MRN', html, re.S)
    assert 'value="NOPE-9"' in html and "Biopsy first?</textarea>" in html
    added = coordinator.post(
        f"/meetings/{meeting.pk}/cases/", {"mrn": " ADD-1 ", "question": "Biopsy first?"}
    )
    case = Case.objects.get(patient=patient)
    assert added.status_code == 302 and added["Location"].endswith(f"#case-{case.pk}")
    assert (case.meeting_id, case.question, case.position) == (
        meeting.pk,
        "Biopsy first?",
        first.position + 1,
    )
    twice = coordinator.post(f"/meetings/{meeting.pk}/cases/", {"mrn": "ADD-1", "question": "Q"})
    assert "already listed at this meeting" in html_of(twice)
    assert Case.objects.filter(patient=patient).count() == 1


def test_a_coordinator_edits_question_and_status_with_errors_at_the_field(
    coordinator: Client,
) -> None:
    case = CaseFactory(question="Old?")
    etag = etag_for(case)
    refused = coordinator.post(
        f"/cases/{case.pk}/edit/", {"question": "New?", "status": "maybe", "etag": etag}
    )
    html = html_of(refused)
    assert refused.status_code == 200
    assert re.search(rf'id="case{case.pk}_status-error".*not a valid choice', html, re.S)
    assert "New?</textarea>" in html  # what was typed stays
    case.refresh_from_db()
    assert (case.question, case.status) == ("Old?", "listed")
    saved = coordinator.post(
        f"/cases/{case.pk}/edit/", {"question": "New?", "status": "discussed", "etag": etag}
    )
    assert saved.status_code == 302
    case.refresh_from_db()
    assert (case.question, case.status) == ("New?", "discussed")


def test_cases_move_up_and_down_and_stay_put_at_the_ends(coordinator: Client) -> None:
    meeting = MeetingFactory()
    # Shared positions (as the API may leave them) are ordered by id, then renumbered.
    a, b, c = (CaseFactory(meeting=meeting, position=0) for _ in range(3))

    def order() -> list[int]:
        return list(meeting.cases.order_by("position", "id").values_list("pk", flat=True))

    assert coordinator.post(f"/cases/{c.pk}/move/", {"direction": "up"}).status_code == 302
    assert order() == [a.pk, c.pk, b.pk]
    assert list(meeting.cases.order_by("position").values_list("position", flat=True)) == [0, 1, 2]
    coordinator.post(f"/cases/{a.pk}/move/", {"direction": "down"})
    assert order() == [c.pk, a.pk, b.pk]
    coordinator.post(f"/cases/{c.pk}/move/", {"direction": "up"})  # already first
    coordinator.post(f"/cases/{b.pk}/move/", {"direction": "down"})  # already last
    assert order() == [c.pk, a.pk, b.pk]
    assert coordinator.post(f"/cases/{a.pk}/move/", {"direction": "left"}).status_code == 400


def test_removing_a_case_is_post_only_and_keeps_cases_with_a_decision(
    coordinator: Client,
) -> None:
    meeting = MeetingFactory()
    plain, decided = CaseFactory(meeting=meeting), CaseFactory(meeting=meeting)
    services.decision_record(
        case=decided, recommendation="ssa", rationale="r", decided_by=UserFactory()
    )
    assert coordinator.get(f"/cases/{plain.pk}/remove/").status_code == 405
    assert Case.objects.filter(pk=plain.pk).exists()
    assert coordinator.post(f"/cases/{plain.pk}/remove/").status_code == 302
    assert not Case.objects.filter(pk=plain.pk).exists()
    kept = coordinator.post(f"/cases/{decided.pk}/remove/", follow=True)
    assert Case.objects.filter(pk=decided.pk).exists()
    assert "has a recorded decision" in html_of(kept)


def _agenda_queries(client: Client, meeting: Meeting) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/meetings/{meeting.pk}/").status_code == 200
    return len(queries)


def test_the_agenda_query_count_does_not_grow_with_the_cases(coordinator: Client) -> None:
    small, large = MeetingFactory(), MeetingFactory()
    CaseFactory(meeting=small, patient=graded_patient())
    doctor = UserFactory()
    for n in range(6):
        case = CaseFactory(meeting=large, patient=graded_patient(lesions=n + 1))
        if n % 2:
            services.decision_record(
                case=case, recommendation="ssa", rationale="r", decided_by=doctor, sign=n > 2
            )
    counts = [_agenda_queries(coordinator, small), _agenda_queries(coordinator, large)]
    assert counts[0] == counts[1], counts


# --- Presentation mode ------------------------------------------------------------------------


def _three_cases() -> tuple[Meeting, list[Case]]:
    meeting = MeetingFactory(title="Presenting MDT")
    cases = [
        CaseFactory(meeting=meeting, position=position, question=f"Question {position}?")
        for position in (0, 1, 2)
    ]
    return meeting, cases


def test_previous_and_next_follow_the_agenda_and_stop_at_the_ends(clinician: Client) -> None:
    meeting, (first, second, third) = _three_cases()

    def page(case: Case) -> str:
        response = clinician.get(f"/meetings/{meeting.pk}/present/{case.pk}/")
        assert response.status_code == 200
        return html_of(response)

    def link(html: str, rel: str) -> str | None:
        found = re.search(rf'href="([^"]+)" rel="{rel}"', html)
        return found.group(1) if found else None

    base = f"/meetings/{meeting.pk}/present/"
    html = page(first)
    assert "Case 1 of 3" in html and "Question 0?" in html
    assert link(html, "prev") is None and link(html, "next") == f"{base}{second.pk}/"
    html = page(second)
    assert "Case 2 of 3" in html
    assert (link(html, "prev"), link(html, "next")) == (f"{base}{first.pk}/", f"{base}{third.pk}/")
    html = page(third)
    assert "Case 3 of 3" in html
    assert link(html, "prev") == f"{base}{second.pk}/" and link(html, "next") is None
    assert f'href="/meetings/{meeting.pk}/#case-{third.pk}" id="present-agenda"' in html
    # A case is only presented within its own meeting.
    other = CaseFactory()
    assert clinician.get(f"{base}{other.pk}/").status_code == 404


def test_the_presentation_shows_the_case_for_the_board(clinician: Client) -> None:
    patient = graded_patient(
        mrn="PRES-1",
        family_name="Projector",
        birth_date=date(1960, 6, 15),
        primary_site="small_intestine",
    )
    with committed():
        PathologyFactory(patient=patient, who_grade="G2", ki67_percent=Decimal("12"))
    case = CaseFactory(
        patient=patient, meeting=MeetingFactory(held_on=date(2025, 6, 1)), question="PRRT?"
    )
    html = html_of(clinician.get(f"/meetings/{case.meeting_id}/present/{case.pk}/"))
    assert "PRRT?" in html and "Projector" in html and "PRES-1" in html
    assert "64 years" in html  # on the meeting's date
    assert "Small intestine primary" in html
    assert "WHO grade <strong>G2</strong>" in html and "Ki-67 <strong>12" in html
    assert 'aria-label="SSTR and FDG phenotype timeline"' in html
    assert re.search(r'NETPET</span> <strong class="grade-value">P4a</strong>', html)
    assert re.search(r'Karfis</span> <strong class="grade-value">C2</strong>', html)
    assert re.search(r'Zidan</span> <strong class="grade-value">3</strong>', html)
    assert "Grade P4a: 1 lesion (L1)" in html  # the reason, readable aloud
    assert "PRRT decision support: <span" in html and "No blocking finding" in html
    assert "CAUTION" in html and "Assessment: <strong>fresh</strong>" in html
    assert "eligible" not in html.lower()
    assert 'src="/static/js/present.js"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN, no external asset
    assert html.count(str(patient.birth_date.year)) == 0  # the birth date is not shown
    assert AccessEvent.objects.filter(patient_id=patient.pk, action="present_case").exists()


def test_only_clinicians_get_the_decision_form_in_presentation_mode(
    clinician: Client, coordinator: Client
) -> None:
    case = CaseFactory()
    url = f"/meetings/{case.meeting_id}/present/{case.pk}/"
    assert 'id="decision-form"' in html_of(clinician.get(url))
    html = html_of(coordinator.get(url))
    assert 'id="decision-form"' not in html and "recorded by clinicians" in html


def _present_queries(client: Client, case: Case) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/meetings/{case.meeting_id}/present/{case.pk}/").status_code == 200
    return len(queries)


def test_the_presentation_query_count_does_not_grow_with_cases_or_lesions(
    clinician: Client,
) -> None:
    small = CaseFactory(patient=graded_patient(lesions=1))
    big_meeting = MeetingFactory()
    for _ in range(5):
        CaseFactory(meeting=big_meeting, patient=graded_patient())
    large = CaseFactory(
        meeting=big_meeting, patient=graded_patient(lesions=8, timepoints=3), position=9
    )
    services.decision_record(
        case=large, recommendation="ssa", rationale="r", decided_by=UserFactory(), sign=True
    )
    services.decision_record(
        case=small, recommendation="ssa", rationale="r", decided_by=UserFactory(), sign=True
    )
    counts = [_present_queries(clinician, small), _present_queries(clinician, large)]
    assert counts[0] == counts[1], counts


def test_the_keyboard_script_is_a_local_file_with_the_documented_keys() -> None:
    script = (Path(settings.BASE_DIR) / "static" / "js" / "present.js").read_text()
    for key in ('"ArrowRight"', '"PageDown"', '"n"', '"ArrowLeft"', '"PageUp"', '"p"'):
        assert key in script
    assert '"Escape"' in script and 'case "d"' in script
    assert "present-next" in script and "present-prev" in script and "decision-form" in script
    assert "http" not in script  # no CDN
