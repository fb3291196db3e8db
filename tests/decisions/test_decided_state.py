"""After signing, a case is *decided*: the agenda says so with the signing time, the case's
pages say so, and a decision's snapshot header gives the signing time and the meeting. The
signer is named the same way everywhere (``apps.decisions.display.person_name``)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from apps.decisions import services
from apps.decisions.display import person_name
from apps.decisions.models import Case, Decision
from tests.decisions.test_meeting_pages import client_for, graded_patient, html_of
from tests.factories import CaseFactory, MeetingFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinician(db: None) -> Client:
    return client_for("clinician")


def sign(case: Case, **user: str) -> Decision:
    signer = UserFactory(**user)
    return services.decision_record(
        case=case, recommendation="prrt", rationale="Agreed.", decided_by=signer, sign=True
    )


def stamp(decision: Decision) -> str:
    assert decision.signed_at is not None
    return decision.signed_at.strftime("%Y-%m-%d %H:%M UTC")  # TIME_ZONE is UTC in tests


# --- The signer's name ----------------------------------------------------------------------------


def test_person_name_is_the_full_name_else_the_user_name() -> None:
    assert person_name(UserFactory(username="alove", first_name="Ada", last_name="Lovelace")) == (
        "Ada Lovelace"
    )
    assert person_name(UserFactory(username="byron")) == "byron"
    assert person_name(UserFactory(username="blank", first_name=" ", last_name=" ")) == "blank"
    assert person_name(UserFactory(username="solo", last_name="Curie")) == "Curie"
    assert person_name(None) == ""
    assert person_name(AnonymousUser()) == ""


def test_every_page_names_the_signer_by_the_helper(clinician: Client) -> None:
    case = CaseFactory(patient=graded_patient())
    decision = sign(case, username="alove", first_name="Ada", last_name="Lovelace")
    pages = {
        "case page": html_of(clinician.get(f"/cases/{case.pk}/decision/")),
        "presentation": html_of(clinician.get(f"/meetings/{case.meeting_id}/present/{case.pk}/")),
        "decision page": html_of(clinician.get(f"/decisions/{decision.pk}/")),
        "summary": html_of(clinician.get(f"/cases/{case.pk}/summary/")),
    }
    for name, html in pages.items():
        assert "Ada Lovelace" in html, name
        assert "alove" not in html, name  # never the user name when there is a full name
    assert re.search(r"Signed by</strong> Ada Lovelace <strong>at</strong>", pages["summary"])
    assert "Recorded by Ada Lovelace at" in pages["decision page"]
    assert "Signed by Ada Lovelace at" in pages["case page"]


def test_no_decision_template_names_a_user_another_way() -> None:
    folder = Path(settings.BASE_DIR) / "templates" / "decisions"
    for template in folder.glob("*.html"):
        text = template.read_text()
        for other in ("get_full_name", "decided_by.get_username", "decided_by.username"):
            assert other not in text, (template.name, other)


# --- Decided ------------------------------------------------------------------------------------


def test_the_agenda_shows_a_signed_case_as_decided_with_the_signing_time(
    clinician: Client,
) -> None:
    meeting = MeetingFactory()
    decided, drafted, waiting = (
        CaseFactory(meeting=meeting, position=n, status="discussed") for n in range(3)
    )
    signed = sign(decided)
    services.decision_record(
        case=drafted, recommendation="ssa", rationale="r", decided_by=UserFactory()
    )
    html = html_of(clinician.get(f"/meetings/{meeting.pk}/"))
    rows = html.split('class="agenda-row"')[1:]
    assert len(rows) == 3
    assert signed.signed_at is not None
    assert 'case-status-decided">Decided</span>' in rows[0]
    assert f'<time datetime="{signed.signed_at.isoformat()}">{stamp(signed)}</time>' in rows[0]
    assert ">Signed</a>" in rows[0]
    for row in rows[1:]:  # a draft, or nothing yet: not decided, the case's own status
        assert "Decided" not in row and ">Discussed<" in row


def test_a_superseding_draft_leaves_the_case_undecided_until_it_is_signed(
    clinician: Client,
) -> None:
    case = CaseFactory()
    first = sign(case)
    services.decision_record(
        case=case, recommendation="ssa", rationale="r", decided_by=UserFactory(), supersedes=first
    )
    html = html_of(clinician.get(f"/meetings/{case.meeting_id}/"))
    assert "Decided" not in html.split('class="agenda-row"')[1] and ">Draft</a>" in html


def test_the_case_pages_say_the_case_is_decided(clinician: Client) -> None:
    case = CaseFactory(patient=graded_patient())
    for url in (f"/cases/{case.pk}/decision/", f"/meetings/{case.meeting_id}/present/{case.pk}/"):
        assert 'id="case-decided"' not in html_of(clinician.get(url))
    decision = sign(case, username="signer")
    for url in (f"/cases/{case.pk}/decision/", f"/meetings/{case.meeting_id}/present/{case.pk}/"):
        html = html_of(clinician.get(url))
        banner = re.search(r'<p class="decided-banner" id="case-decided">(.*?)</p>', html, re.S)
        assert banner is not None, url
        text = re.sub(r"<[^>]+>", "", banner.group(1))
        assert text.startswith("Decided: PRRT (177Lu-DOTATATE), signed by signer at ")
        assert stamp(decision) in text


def test_the_snapshot_header_gives_the_meeting_and_the_signing_time(clinician: Client) -> None:
    case = CaseFactory(
        patient=graded_patient(),
        meeting=MeetingFactory(held_on=date(2024, 6, 1), title="Spring NET board"),
    )
    draft = services.decision_record(
        case=case, recommendation="prrt", rationale="r", decided_by=UserFactory()
    )

    def headers() -> list[str]:
        found = []
        for url, element in (
            (f"/decisions/{draft.pk}/", "snapshot-title"),
            (f"/cases/{case.pk}/summary/", "sheet-snapshot-title"),
        ):
            html = html_of(clinician.get(url))
            header = re.search(rf'<h2 id="{element}">(.*?)</h2>', html, re.S)
            assert header is not None, url
            found.append(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", header.group(1))).strip())
        return found

    for header in headers():
        assert header.startswith("Assessment as shown at the meeting on 2024-06-01")
        assert "(Spring NET board)" in header and "not signed" in header
    signed = services.decision_sign(decision=draft)
    for header in headers():
        assert header == (
            f"Assessment as shown at the meeting on 2024-06-01 (Spring NET board) · signed "
            f"{stamp(signed)}"
        )


def test_the_admin_list_names_the_signer_by_the_helper() -> None:
    case = CaseFactory()
    sign(case, username="alove", first_name="Ada", last_name="Lovelace")
    admin = client_for("admin")
    html = html_of(admin.get("/admin/decisions/decision/"))
    assert '<td class="field-signer">Ada Lovelace</td>' in html
