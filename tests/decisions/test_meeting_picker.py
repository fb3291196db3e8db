"""Adding a case by MRN or name (issue 15 §5): the agenda's patient picker and its match list
endpoint, the form without JavaScript (a submitted query lists the matches with an Add button
each; an exact MRN still adds at once), patients already on the agenda, and who may use it."""

from __future__ import annotations

import logging
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core.models import AccessEvent
from apps.decisions.models import Case, Meeting
from apps.decisions.picker import PICKER_LIMIT
from apps.patients.models import Patient
from tests.decisions.test_meeting_pages import client_for, html_of
from tests.factories import CaseFactory, MeetingFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator(db: None) -> Client:
    return client_for("coordinator")


@pytest.fixture
def meeting(db: None) -> Meeting:
    return MeetingFactory()


@pytest.fixture
def ivy(db: None) -> Patient:
    return PatientFactory(
        mrn="PICK-0013", given_name="Ivy", family_name="Ivo", birth_date=date(1971, 5, 4)
    )


@pytest.fixture
def others(db: None) -> list[Patient]:
    return [
        PatientFactory(mrn="PICK-0020", given_name="Ivan", family_name="Ivory"),
        PatientFactory(mrn="PICK-0031", given_name="Ivy", family_name="Smith", birth_date=None),
    ]


def search(client: Client, meeting: Meeting, text: str) -> Any:
    return client.post(f"/meetings/{meeting.pk}/patients/", {"q": text})


def mrns(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.content
    return [row["mrn"] for row in answer.json()["results"]]


# --- The match list endpoint ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0013", ["PICK-0013"]),
        ("ivy", ["PICK-0013", "PICK-0031"]),  # by family name: Ivo, Smith
        ("Ivy Ivo", ["PICK-0013"]),
        ("ivo ivy", ["PICK-0013"]),
        ("iv", ["PICK-0013", "PICK-0020", "PICK-0031"]),
        ("nobody", []),
        ("   ", []),
    ],
)
def test_the_picker_lists_the_patients_matching_mrn_or_name_words(
    coordinator: Client,
    meeting: Meeting,
    ivy: Patient,
    others: list[Patient],
    text: str,
    expected: list[str],
) -> None:
    assert mrns(search(coordinator, meeting, text)) == expected


def test_each_match_has_mrn_name_birth_date_and_whether_it_is_listed(
    coordinator: Client, meeting: Meeting, ivy: Patient, others: list[Patient]
) -> None:
    CaseFactory(meeting=meeting, patient=others[1])
    CaseFactory(patient=ivy)  # listed at another meeting: not this agenda
    answer = search(coordinator, meeting, "ivy")
    assert answer["Content-Type"] == "application/json"
    assert "no-store" in answer["Cache-Control"]
    assert answer.json() == {
        "results": [
            {
                "id": ivy.pk,
                "mrn": "PICK-0013",
                "name": "Ivo, Ivy",
                "birth_date": "1971-05-04",
                "listed": False,
            },
            {
                "id": others[1].pk,
                "mrn": "PICK-0031",
                "name": "Smith, Ivy",
                "birth_date": None,
                "listed": True,
            },
        ],
        "more": False,
    }


def test_an_mrn_typed_whole_comes_first_and_the_list_is_capped(
    coordinator: Client, meeting: Meeting
) -> None:
    for n in range(PICKER_LIMIT + 2):
        PatientFactory(mrn=f"CAP-{n:02d}", family_name=f"Aaa{n:02d}")
    PatientFactory(mrn="CAP", family_name="Zzz")  # sorts last by name, but typed whole
    answer = search(coordinator, meeting, "cap")
    body = answer.json()
    assert len(body["results"]) == PICKER_LIMIT and body["more"] is True
    assert body["results"][0]["mrn"] == "CAP"
    assert [r["mrn"] for r in body["results"][1:3]] == ["CAP-00", "CAP-01"]


def test_the_picker_takes_a_fixed_number_of_queries(coordinator: Client, meeting: Meeting) -> None:
    def queries(text: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert search(coordinator, meeting, text).status_code == 200
        return len(captured)

    PatientFactory(mrn="FEW-1")
    for n in range(8):
        patient = PatientFactory(mrn=f"MANY-{n}")
        if n % 2:
            CaseFactory(meeting=meeting, patient=patient)
    assert queries("FEW-") == queries("MANY-")


def test_the_picker_writes_access_events_and_keeps_the_typed_text_out_of_logs_and_events(
    coordinator: Client,
    meeting: Meeting,
    ivy: Patient,
    others: list[Patient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert mrns(search(coordinator, meeting, "Ivy Ivo")) == ["PICK-0013"]
        assert (
            client_for("reader")
            .post(f"/meetings/{meeting.pk}/patients/", {"q": "Ivy Ivo"})
            .status_code
            == 403
        )  # a refusal is logged by Django: with the path only
    assert "Ivy" not in caplog.text and "Ivo" not in caplog.text
    events = AccessEvent.objects.filter(action="search_patients_for_agenda")
    assert list(events.values_list("patient_id", "path")) == [
        (ivy.pk, f"/meetings/{meeting.pk}/patients/")
    ]


def test_an_unknown_meeting_is_a_404(coordinator: Client) -> None:
    assert coordinator.post("/meetings/999999/patients/", {"q": "x"}).status_code == 404


# --- Who may use it: roles x endpoints -----------------------------------------------------------

ROLE_ANSWERS = [
    # role, picker GET, add POST (302: added)
    ("reader", 403, 403),
    ("clinician", 403, 403),
    ("coordinator", 200, 302),
    ("auditor", 403, 403),
    ("admin", 200, 302),
    (None, 403, 403),  # signed in, no role
]


@pytest.mark.parametrize(("role", "picker", "add"), ROLE_ANSWERS)
def test_roles_by_endpoint_for_adding_cases(
    meeting: Meeting, ivy: Patient, role: str | None, picker: int, add: int
) -> None:
    client = client_for(role)
    assert search(client, meeting, "ivy").status_code == picker
    added = client.post(
        f"/meetings/{meeting.pk}/cases/", {"patient": ivy.pk, "mrn": "x", "question": "Q?"}
    )
    assert added.status_code == add
    assert Case.objects.filter(patient=ivy).exists() is (add == 302)
    page = html_of(client.get(f"/meetings/{meeting.pk}/"))
    if role is None:
        return  # 403: no agenda
    shown = 'id="add-case-form"' in page and "js/picker.js" in page
    assert shown is (add == 302)


def test_anonymous_users_are_sent_to_the_login(meeting: Meeting) -> None:
    for answer in (
        Client().post(f"/meetings/{meeting.pk}/patients/", {"q": "ivy"}),
        Client().post(f"/meetings/{meeting.pk}/cases/", {"mrn": "x", "question": "Q"}),
    ):
        assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
        assert "ivy" not in answer["Location"].split("?", 1)[0]


# --- Adding from the page -----------------------------------------------------------------------


def add(client: Client, meeting: Meeting, **data: Any) -> Any:
    return client.post(f"/meetings/{meeting.pk}/cases/", {"question": "PRRT now?", **data})


def test_a_picked_patient_is_added_by_id(
    coordinator: Client, meeting: Meeting, ivy: Patient
) -> None:
    # What static/js/picker.js posts: the id, and the box naming the patient.
    answer = add(coordinator, meeting, patient=str(ivy.pk), mrn="PICK-0013 · Ivo, Ivy")
    case = Case.objects.get(meeting=meeting)
    assert answer.status_code == 302 and answer["Location"].endswith(f"#case-{case.pk}")
    assert (case.patient_id, case.question) == (ivy.pk, "PRRT now?")


def test_a_typed_query_lists_the_matches_with_an_add_button_each(
    coordinator: Client, meeting: Meeting, ivy: Patient, others: list[Patient]
) -> None:
    CaseFactory(meeting=meeting, patient=others[1])  # Ivy Smith is on the agenda already
    answer = add(coordinator, meeting, mrn="ivy")
    assert answer.status_code == 200
    assert Case.objects.filter(meeting=meeting).count() == 1  # nothing added yet
    html = html_of(answer)
    assert re.search(r'id="add_mrn-error".*2 patients match: choose one below', html, re.S)
    assert 'value="ivy"' in html and "PRRT now?</textarea>" in html  # what was typed stays
    matches = html.split('id="matches-title"', 1)[1].split("</table>", 1)[0]
    assert "PICK-0013" in matches and "Ivo, Ivy" in matches and "1971-05-04" in matches
    assert f'name="pick" value="{ivy.pk}"' in matches
    # The one on the agenda is said to be, and has no Add button.
    smith = matches.split("PICK-0031", 1)[1].split("</tr>", 1)[0]
    assert "Already on the agenda" in smith and 'name="pick"' not in smith
    # The Add buttons come after the form's own button: Enter in the box submits as typed.
    assert html.index("Add to the agenda") < html.index('name="pick"')
    assert AccessEvent.objects.filter(
        action="search_patients_for_agenda", patient_id=ivy.pk
    ).exists()
    # Choosing one adds it, with the question typed.
    chosen = add(coordinator, meeting, mrn="ivy", pick=str(ivy.pk))
    assert chosen.status_code == 302
    assert Case.objects.get(meeting=meeting, patient=ivy).question == "PRRT now?"


def test_one_non_exact_match_is_confirmed_not_added_silently(
    coordinator: Client, meeting: Meeting, ivy: Patient, others: list[Patient]
) -> None:
    answer = add(coordinator, meeting, mrn="Ivy Ivo")
    assert answer.status_code == 200 and not Case.objects.exists()
    assert "1 patient matches: choose it below" in html_of(answer)


def test_an_exact_mrn_still_adds_at_once(
    coordinator: Client, meeting: Meeting, ivy: Patient, others: list[Patient]
) -> None:
    assert add(coordinator, meeting, mrn=" PICK-0013 ").status_code == 302
    assert add(coordinator, meeting, mrn="pick-0020").status_code == 302  # any case
    assert set(Case.objects.values_list("patient__mrn", flat=True)) == {"PICK-0013", "PICK-0020"}


def test_a_patient_already_on_the_agenda_is_not_added_twice(
    coordinator: Client, meeting: Meeting, ivy: Patient
) -> None:
    CaseFactory(meeting=meeting, patient=ivy)
    for data in ({"patient": str(ivy.pk)}, {"pick": str(ivy.pk)}, {"mrn": "PICK-0013"}):
        answer = add(coordinator, meeting, **data)
        assert answer.status_code == 200, data
        assert re.search(
            r'id="add_mrn-error".*PICK-0013 is already listed at this meeting',
            html_of(answer),
            re.S,
        )
    assert Case.objects.filter(patient=ivy).count() == 1


def test_refusals_keep_what_was_typed_and_name_the_field(
    coordinator: Client, meeting: Meeting, ivy: Patient
) -> None:
    empty = html_of(add(coordinator, meeting, mrn="  "))
    assert re.search(r'id="add_mrn-error".*Type an MRN or a name', empty, re.S)
    gone = html_of(add(coordinator, meeting, patient="999999", mrn="x"))
    assert "This patient no longer exists" in gone
    tampered = html_of(add(coordinator, meeting, patient="abc", mrn="x"))
    assert "Choose the patient again" in tampered
    # Picked, but no question: the box now names the picked patient by MRN, the id is not
    # carried over hidden (what the box says is what the next submission adds).
    no_question = add(
        coordinator, meeting, patient=str(ivy.pk), mrn="PICK-0013 · Ivo, Ivy", question=""
    )
    assert no_question.status_code == 200
    html = html_of(no_question)
    assert re.search(r'id="add_question-error"', html)
    assert 'value="PICK-0013"' in html and f'name="patient" value="{ivy.pk}"' not in html
    assert 'aria-describedby="add_mrn_helptext"' in html
    assert not Case.objects.exists()


def test_the_picker_script_is_a_local_file_driven_by_the_keyboard(coordinator: Client) -> None:
    html = html_of(coordinator.get(f"/meetings/{MeetingFactory().pk}/"))
    assert 'src="/static/js/picker.js"' in html and 'href="/static/css/meeting.css"' in html
    assert 'data-picker-url="/meetings/' in html and 'role="listbox"' in html
    script = (Path(settings.BASE_DIR) / "static" / "js" / "picker.js").read_text()
    for key in ('"ArrowDown"', '"ArrowUp"', '"Enter"', '"Escape"', "aria-activedescendant"):
        assert key in script
    assert "http" not in script  # no other host


def test_what_was_typed_goes_in_the_body_never_in_a_url(
    coordinator: Client, meeting: Meeting
) -> None:
    """The typed name is patient data: the picker sends it in a POST body (with the CSRF token,
    from the add-case form), and the endpoint refuses it in a query string."""
    assert coordinator.get(f"/meetings/{meeting.pk}/patients/", {"q": "Ivy"}).status_code == 405
    html = html_of(coordinator.get(f"/meetings/{meeting.pk}/"))
    assert (
        'name="csrfmiddlewaretoken"' in html.split('id="add-case-form"', 1)[1].split("</form>")[0]
    )
