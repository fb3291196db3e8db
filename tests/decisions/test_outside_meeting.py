"""Signing before the meeting's date is refused unless the decision is marked as a decision
outside the meeting (``Decision.outside_meeting``), on both sides of the date boundary, through
the service, the decision page and the API. "Today" is the hospital's (``TIME_ZONE``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.decisions import services
from apps.decisions.models import Case, Decision
from tests.decisions.test_decision_pages import decide, hidden_fields, present_url, shown
from tests.decisions.test_meeting_pages import client_for, graded_patient, html_of
from tests.factories import CaseFactory, MeetingFactory, UserFactory

pytestmark = pytest.mark.django_db


def case_on(days_from_today: int) -> Case:
    """A case at a meeting ``days_from_today`` after today (negative: before)."""
    held_on = timezone.localdate() + timedelta(days=days_from_today)
    return CaseFactory(meeting=MeetingFactory(held_on=held_on))


def record(case: Case, **kwargs: object) -> Decision:
    return services.decision_record(
        case=case,
        recommendation="prrt",
        rationale="SSTR-avid disease throughout.",
        decided_by=UserFactory(),
        **kwargs,  # type: ignore[arg-type]
    )


# --- The service ------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, -1, -30])
def test_signing_on_or_after_the_meeting_day_is_allowed(days: int) -> None:
    decision = record(case_on(days), sign=True)
    assert decision.is_signed and decision.outside_meeting is False


def test_signing_the_day_before_the_meeting_is_refused_naming_the_field() -> None:
    case = case_on(1)
    with pytest.raises(ValidationError) as refused:
        record(case, sign=True)
    assert set(refused.value.message_dict) == {"outside_meeting"}
    message = refused.value.message_dict["outside_meeting"][0]
    assert case.meeting.held_on.isoformat() in message and "outside the meeting" in message
    assert not Decision.objects.exists()  # nothing written


def test_a_decision_outside_the_meeting_may_be_signed_the_day_before() -> None:
    decision = record(case_on(1), sign=True, outside_meeting=True)
    decision.refresh_from_db()
    assert decision.is_signed and decision.outside_meeting is True


def test_a_draft_may_be_saved_before_the_meeting_and_signed_only_as_outside_it() -> None:
    case = case_on(7)
    draft = record(case)
    assert not draft.is_signed and draft.outside_meeting is False
    with pytest.raises(ValidationError) as refused:
        services.decision_sign(decision=draft)
    assert "outside_meeting" in refused.value.message_dict
    draft.refresh_from_db()
    assert not draft.is_signed
    signed = services.decision_sign(decision=draft, outside_meeting=True)
    signed.refresh_from_db()
    assert signed.is_signed and signed.outside_meeting is True


def test_a_draft_marked_outside_the_meeting_signs_as_it_is() -> None:
    draft = record(case_on(3), outside_meeting=True)
    assert services.decision_sign(decision=draft).is_signed


def test_today_is_the_hospitals_local_date() -> None:
    """At 12:00 UTC on 1 June it is already 2 June in Kiribati (UTC+14): a meeting on 2 June
    may be signed there, not in a hospital on UTC."""
    noon_utc = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    with mock.patch("django.utils.timezone.now", return_value=noon_utc):
        with override_settings(TIME_ZONE="UTC"), pytest.raises(ValidationError):
            record(CaseFactory(meeting=MeetingFactory(held_on=date(2030, 6, 2))), sign=True)
        with override_settings(TIME_ZONE="Pacific/Kiritimati"):
            case = CaseFactory(meeting=MeetingFactory(held_on=date(2030, 6, 2)))
            assert record(case, sign=True).is_signed


# --- The decision page --------------------------------------------------------------------------


@pytest.fixture
def clinician(db: None) -> Client:
    return client_for("clinician")


def graded_case(days_from_today: int) -> Case:
    held_on = timezone.localdate() + timedelta(days=days_from_today)
    return CaseFactory(patient=graded_patient(), meeting=MeetingFactory(held_on=held_on))


def test_the_page_refuses_signing_the_day_before_and_keeps_what_was_typed(
    clinician: Client,
) -> None:
    case = graded_case(1)
    url = f"/cases/{case.pk}/decision/"
    page = html_of(clinician.get(url))
    assert 'id="before-meeting"' in page  # said before anyone tries
    assert re.search(
        r'<input type="checkbox" name="outside_meeting"[^>]*id="decision_outside_meeting"', page
    )
    refused = decide(clinician, url, hidden_fields(page), attendees="Dr Kept")
    assert refused.status_code == 200
    html = html_of(refused)
    assert re.search(
        r'id="decision_outside_meeting-error".*must be marked as a decision outside the meeting',
        html,
        re.S,
    )
    assert (
        'aria-describedby="decision_outside_meeting_helptext decision_outside_meeting-error"'
        in html
    )
    assert "Dr Kept</textarea>" in html and "SSTR-positive" in html  # what was typed stays
    assert not Decision.objects.exists()
    # Ticked: signed, and shown as such.
    signed = decide(clinician, url, hidden_fields(html), outside_meeting="on")
    assert signed.status_code == 302
    decision = Decision.objects.get()
    assert decision.is_signed and decision.outside_meeting
    for page_url in (url, f"/decisions/{decision.pk}/", f"/cases/{case.pk}/summary/"):
        assert "Decision outside the meeting" in html_of(clinician.get(page_url)), page_url


def test_the_page_signs_on_the_meeting_day(clinician: Client) -> None:
    case = graded_case(0)
    url = present_url(case)
    page = html_of(clinician.get(url))
    assert 'id="before-meeting"' not in page
    assert decide(clinician, url, hidden_fields(page)).status_code == 302
    decision = Decision.objects.get()
    assert decision.is_signed and not decision.outside_meeting
    assert "Decision outside the meeting</p>" not in html_of(
        clinician.get(f"/decisions/{decision.pk}/")
    )


def test_the_ticked_box_is_kept_when_another_field_is_refused(clinician: Client) -> None:
    case = graded_case(1)
    url = f"/cases/{case.pk}/decision/"
    refused = decide(clinician, url, shown(clinician, url), rationale=" ", outside_meeting="on")
    html = html_of(refused)
    assert refused.status_code == 200 and 'id="decision_rationale-error"' in html
    assert re.search(r'<input type="checkbox" name="outside_meeting"[^>]*checked', html)
    assert not Decision.objects.exists()


def test_a_draft_is_saved_before_the_meeting_and_its_box_is_kept(clinician: Client) -> None:
    case = graded_case(2)
    url = f"/cases/{case.pk}/decision/"
    assert decide(clinician, url, shown(clinician, url), action="draft").status_code == 302
    draft = Decision.objects.get()
    assert not draft.is_signed
    # Signing the own draft later, ticking the box: the draft is signed in place.
    assert decide(clinician, url, shown(clinician, url), outside_meeting="on").status_code == 302
    draft.refresh_from_db()
    assert draft.is_signed and draft.outside_meeting


# --- The API -------------------------------------------------------------------------------------


def test_the_api_reads_and_writes_outside_meeting(
    token_client: Callable[..., APIClient],
) -> None:
    case = case_on(5)
    api = token_client("clinician", name="c")
    body = {"case": case.pk, "recommendation": "prrt", "rationale": "Agreed by e-mail."}
    plain = api.post("/api/v1/decisions/", body, format="json")
    assert plain.status_code == 201 and plain.json()["outside_meeting"] is False
    Decision.objects.all().delete()  # drafts only
    marked = api.post("/api/v1/decisions/", {**body, "outside_meeting": True}, format="json")
    assert marked.status_code == 201, marked.content
    assert marked.json()["outside_meeting"] is True
    assert Decision.objects.get(pk=marked.json()["id"]).outside_meeting is True
    fetched = api.get(f"/api/v1/decisions/{marked.json()['id']}/")
    assert fetched.json()["outside_meeting"] is True


def test_a_bad_outside_meeting_is_a_400_naming_the_field(
    token_client: Callable[..., APIClient],
) -> None:
    case = case_on(5)
    api = token_client("clinician", name="c")
    body = {"case": case.pk, "recommendation": "prrt", "rationale": "r", "outside_meeting": "maybe"}
    answer = api.post("/api/v1/decisions/", body, format="json")
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/problem+json"
    assert "outside_meeting" in answer.json()["errors"]
    assert not Decision.objects.exists()


def test_the_api_changes_it_on_a_draft_and_the_page_then_signs_before_the_meeting(
    token_client: Callable[..., APIClient],
) -> None:
    case = CaseFactory(
        patient=graded_patient(),
        meeting=MeetingFactory(held_on=timezone.localdate() + timedelta(days=1)),
    )
    api = token_client("admin", name="a")
    body = {"case": case.pk, "recommendation": "prrt", "rationale": "r"}
    created = api.post("/api/v1/decisions/", body, format="json").json()
    draft = Decision.objects.get(pk=created["id"])
    # A draft from the API is signed by the service alone: refused the day before...
    with pytest.raises(ValidationError):
        services.decision_sign(decision=draft)
    etag = api.get(f"/api/v1/decisions/{draft.pk}/")["ETag"]
    patched = api.patch(
        f"/api/v1/decisions/{draft.pk}/",
        {"outside_meeting": True},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["outside_meeting"] is True
    # ...and allowed once the API marked it outside the meeting.
    assert services.decision_sign(decision=draft).is_signed
    # Signed: the API may not change it any more (409).
    etag = api.get(f"/api/v1/decisions/{draft.pk}/")["ETag"]
    again = api.patch(
        f"/api/v1/decisions/{draft.pk}/",
        {"outside_meeting": False},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert again.status_code == 409
    draft.refresh_from_db()
    assert draft.outside_meeting is True


def test_a_service_refusal_on_create_is_a_400_not_a_500(
    token_client: Callable[..., APIClient],
) -> None:
    """The service's ValidationErrors map to 400 naming the field (here: superseding a decision
    of another case, which only the service checks)."""
    other = record(case_on(-1))
    api = token_client("clinician", name="c")
    body = {
        "case": case_on(-1).pk,
        "recommendation": "prrt",
        "rationale": "r",
        "supersedes": other.pk,
    }
    answer = api.post("/api/v1/decisions/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert "supersedes" in answer.json()["errors"]
