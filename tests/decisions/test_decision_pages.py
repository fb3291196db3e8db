"""Recording the board's decision from the case pages, the decision page and the printed
summary. The decision keeps the assessment exactly as the page showed it: a page shown before a
recompute is refused; a signed decision is never edited (a new one supersedes it); the pages
that show a decision show its snapshot, not the patient's current data."""

from __future__ import annotations

import html as htmllib
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import ProgrammingError, connection, transaction
from django.test import Client

from apps.core.models import AccessEvent
from apps.decisions import services
from apps.decisions.models import Case, Decision
from apps.imaging.models import Observation
from apps.patients.models import Patient
from apps.patients.services import record_save
from apps.scoring import services as scoring
from apps.scoring.models import InputVersion, PhenotypeAssessment
from tests.decisions.test_meeting_pages import client_for, committed, graded_patient, html_of
from tests.factories import CaseFactory, MeetingFactory, UserFactory

pytestmark = pytest.mark.django_db

RATIONALE = "All lesions SSTR-positive; FDG-avid disease is SSTR-positive too."


@pytest.fixture
def clinician(db: None) -> Client:
    return client_for("clinician")


@pytest.fixture
def case(db: None) -> Case:
    """Case 1 of a meeting on 2024-06-01, for a patient graded P4a · C2 · 3."""
    return CaseFactory(patient=graded_patient(mrn="DEC-1"), meeting=MeetingFactory())


def present_url(case: Case) -> str:
    return f"/meetings/{case.meeting_id}/present/{case.pk}/"


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the decision form: what the page says it showed."""
    found = re.search(r'<form[^>]*id="decision-form".*?</form>', html, re.S)
    assert found, "no decision form on the page"
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', found.group(0))
    return {name: htmllib.unescape(value) for name, value in pairs}


def shown(client: Client, url: str) -> dict[str, str]:
    response = client.get(url)
    assert response.status_code == 200
    return hidden_fields(html_of(response))


def decide(client: Client, url: str, hidden: dict[str, str], **values: str) -> Any:
    data = {
        "recommendation": "prrt",
        "rationale": RATIONALE,
        "attendees": "Dr Ada, Dr Byron",
        "action": "sign",
        **hidden,
        **values,
    }
    return client.post(url, data)


def change_fdg(patient: Patient, suv: str) -> None:
    """Change the FDG SUVmax of every lesion; the recompute runs on commit."""
    with committed():
        for observation in Observation.objects.filter(
            study__patient=patient, study__tracer="f18_fdg"
        ):
            observation.suv_max = Decimal(suv)
            record_save(record=observation)


def stored_grade(patient: Patient) -> str:
    result = scoring.assessment_bodies(patient.pk)["phenotype"]
    return str(result["timepoints"][-1]["netpet"]["grade"])


# --- Recording --------------------------------------------------------------------------------


def test_a_clinician_records_a_signed_decision_with_the_assessment_shown(
    clinician: Client, case: Case
) -> None:
    hidden = shown(clinician, present_url(case))
    stored = PhenotypeAssessment.objects.get(patient=case.patient)
    assert hidden["shown_computed_at"] == stored.computed_at.isoformat()
    assert hidden["shown_digest"] == stored.inputs_digest
    assert (hidden["shown_status"], hidden["base"]) == ("fresh", "")
    response = decide(clinician, present_url(case), hidden)
    assert response.status_code == 302
    assert response["Location"] == present_url(case) + "#decision"
    decision = Decision.objects.get()
    bodies = scoring.assessment_bodies(case.patient_id)
    assert decision.phenotype_snapshot == bodies["phenotype"]
    assert decision.response_snapshot == bodies["response"]
    assert decision.phenotype_snapshot["timepoints"][-1]["netpet"]["grade"] == "P4a"
    assert (decision.recommendation, decision.rationale, decision.attendees) == (
        "prrt",
        RATIONALE,
        "Dr Ada, Dr Byron",
    )
    assert decision.is_signed and decision.decided_by.username == "clinician-user"
    html = html_of(clinician.get(present_url(case)))
    assert "Decision signed." in html and 'id="decision-form"' not in html
    assert "Record a new decision that supersedes this one" in html


def test_a_draft_is_edited_and_then_signed_by_its_author(clinician: Client, case: Case) -> None:
    url = f"/cases/{case.pk}/decision/"
    response = decide(clinician, url, shown(clinician, url), action="draft", rationale="First.")
    assert response.status_code == 302
    draft = Decision.objects.get()
    assert not draft.is_signed and draft.rationale == "First."
    html = html_of(clinician.get(url))
    assert "First.</textarea>" in html and ">Draft<" in html  # the form edits the draft
    hidden = hidden_fields(html)
    assert hidden["base"] == str(draft.pk) and hidden["etag"]
    decide(clinician, url, hidden, rationale="Second thoughts.", action="sign")
    signed = Decision.objects.get()
    assert signed.pk == draft.pk and signed.is_signed and signed.rationale == "Second thoughts."
    assert signed.phenotype_snapshot == draft.phenotype_snapshot
    page = html_of(clinician.get(f"/meetings/{case.meeting_id}/"))
    assert ">Signed</a>" in page


@pytest.mark.parametrize("role", ["reader", "coordinator", "auditor"])
def test_only_clinicians_record_decisions(clinician: Client, case: Case, role: str) -> None:
    hidden = shown(clinician, present_url(case))
    other = client_for(role)
    assert other.get(present_url(case)).status_code == 200  # they may watch
    for url in (present_url(case), f"/cases/{case.pk}/decision/"):
        assert decide(other, url, hidden).status_code == 403
    assert not Decision.objects.exists()


def test_a_missing_rationale_is_refused_at_the_field_and_what_was_typed_stays(
    clinician: Client, case: Case
) -> None:
    response = decide(
        clinician,
        present_url(case),
        shown(clinician, present_url(case)),
        rationale="   ",
        recommendation="surveillance",
        attendees="Dr Kept",
    )
    assert response.status_code == 200
    html = html_of(response)
    assert re.search(r'id="decision_rationale-error".*may not be blank', html, re.S)
    assert '<option value="surveillance" selected>' in html and "Dr Kept</textarea>" in html
    assert not Decision.objects.exists()


def test_a_page_shown_before_a_recompute_is_refused_and_keeps_what_was_typed(
    clinician: Client, case: Case
) -> None:
    old = shown(clinician, present_url(case))
    change_fdg(case.patient, "1.0")  # FDG-negative now: P1, a new stored result
    assert stored_grade(case.patient) == "P1"
    refused = decide(clinician, present_url(case), old, attendees="Dr Typed")
    assert refused.status_code == 409
    html = html_of(refused)
    assert "The assessment was recomputed since this page was shown" in html
    assert RATIONALE in html and "Dr Typed</textarea>" in html
    assert not Decision.objects.exists()
    # The page now shows the new result and names it: deciding on it is accepted.
    assert re.search(r'NETPET</span> <strong class="grade-value">P1</strong>', html)
    new = hidden_fields(html)
    assert new["shown_computed_at"] != old["shown_computed_at"]
    assert decide(clinician, present_url(case), new).status_code == 302
    decision = Decision.objects.get()
    assert decision.phenotype_snapshot["timepoints"][-1]["netpet"]["grade"] == "P1"
    assert decision.phenotype_snapshot == scoring.assessment_bodies(case.patient_id)["phenotype"]


def test_a_changed_digest_or_status_is_refused_too(clinician: Client, case: Case) -> None:
    hidden = shown(clinician, present_url(case))
    tampered = {**hidden, "shown_digest": "0" * 64}
    assert decide(clinician, present_url(case), tampered).status_code == 409
    # The inputs changed (the version moved) and no new result yet: the page said "fresh".
    InputVersion.objects.filter(patient=case.patient).update(version=999)
    refused = decide(clinician, present_url(case), hidden)
    assert refused.status_code == 409
    assert "status changed since this page was shown (it is now stale)" in html_of(refused)
    assert not Decision.objects.exists()


# --- Signed decisions and superseding ---------------------------------------------------------


def test_a_signed_decision_cannot_be_edited_through_the_page_or_in_the_database(
    clinician: Client, case: Case
) -> None:
    before = shown(clinician, present_url(case))  # a page shown before the signature
    decide(clinician, present_url(case), before)
    signed = Decision.objects.get()
    html = html_of(clinician.get(f"/cases/{case.pk}/decision/"))
    assert 'id="decision-form"' not in html and "<textarea" not in html
    assert "Record a new decision that supersedes this one" in html
    # The old page posts "edit": refused, as another decision now stands.
    refused = decide(clinician, present_url(case), before, rationale="Overwrite attempt.")
    assert refused.status_code == 409
    assert "Another decision was recorded on this case" in html_of(refused)
    with pytest.raises(services.DecisionSignedError):
        services.decision_update(decision=signed, rationale="Overwrite attempt.")
    with pytest.raises(ProgrammingError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE decisions_decision SET rationale = 'Overwrite attempt.' WHERE id = %s",
            [signed.pk],
        )
    signed.refresh_from_db()
    assert signed.rationale == RATIONALE and Decision.objects.count() == 1


def test_a_new_decision_supersedes_a_signed_one(clinician: Client, case: Case) -> None:
    decide(clinician, present_url(case), shown(clinician, present_url(case)))
    first = Decision.objects.get()
    html = html_of(clinician.get(f"/cases/{case.pk}/decision/?supersede=1"))
    assert "Saving records a new decision that supersedes the signed one" in html
    hidden = hidden_fields(html)
    assert hidden["base"] == str(first.pk)
    response = decide(
        clinician,
        f"/cases/{case.pk}/decision/",
        hidden,
        recommendation="surveillance",
        rationale="New information: defer PRRT.",
    )
    assert response.status_code == 302
    second = Decision.objects.exclude(pk=first.pk).get()
    assert second.supersedes_id == first.pk and second.is_signed
    first.refresh_from_db()
    assert (first.recommendation, first.rationale, first.is_signed) == ("prrt", RATIONALE, True)
    page = html_of(clinician.get(f"/decisions/{first.pk}/"))
    assert "Superseded by" in page and f'href="/decisions/{second.pk}/"' in page
    assert "Record a new decision that supersedes" not in page  # only the standing one
    newer = html_of(clinician.get(f"/decisions/{second.pk}/"))
    assert f'Supersedes <a href="/decisions/{first.pk}/"' in newer
    agenda = html_of(clinician.get(f"/meetings/{case.meeting_id}/"))
    assert f'href="/decisions/{second.pk}/">Signed</a>' in agenda


def test_a_draft_on_an_older_assessment_is_superseded_with_the_one_shown(
    clinician: Client, case: Case
) -> None:
    url = f"/cases/{case.pk}/decision/"
    decide(clinician, url, shown(clinician, url), action="draft")
    draft = Decision.objects.get()
    change_fdg(case.patient, "1.0")
    html = html_of(clinician.get(url))
    assert "supersedes the draft" in html
    assert decide(clinician, url, hidden_fields(html), action="sign").status_code == 302
    newer = Decision.objects.exclude(pk=draft.pk).get()
    assert newer.supersedes_id == draft.pk and newer.is_signed
    assert newer.phenotype_snapshot["timepoints"][-1]["netpet"]["grade"] == "P1"
    draft.refresh_from_db()
    assert draft.phenotype_snapshot["timepoints"][-1]["netpet"]["grade"] == "P4a"


def test_another_clinicians_draft_is_superseded_not_overwritten(case: Case) -> None:
    author, colleague = client_for("clinician"), Client()
    colleague.force_login(UserFactory(username="colleague", role="clinician"))
    url = f"/cases/{case.pk}/decision/"
    decide(author, url, shown(author, url), action="draft", rationale="Author's draft.")
    draft = Decision.objects.get()
    decide(colleague, url, shown(colleague, url), rationale="Colleague signs.")
    draft.refresh_from_db()
    assert draft.rationale == "Author's draft." and not draft.is_signed
    signed = Decision.objects.get(supersedes=draft)
    assert signed.decided_by.username == "colleague" and signed.is_signed


# --- The decision page and the summary show the snapshot --------------------------------------


def shows(html: str, word: str) -> bool:
    """Whether the page's text (not its attributes: the CSRF token is random and may hold any
    two characters) has this word."""
    return bool(re.search(rf"\b{word}\b", re.sub(r"<[^>]*>", " ", html)))


def _signed_decision(clinician: Client, case: Case) -> Decision:
    assert (
        decide(clinician, present_url(case), shown(clinician, present_url(case))).status_code == 302
    )
    return Decision.objects.get()


def test_the_decision_page_shows_the_snapshot_after_the_data_changed(
    clinician: Client, case: Case
) -> None:
    decision = _signed_decision(clinician, case)
    shown_at = decision.phenotype_snapshot["computed_at"]
    change_fdg(case.patient, "1.0")
    assert "P1" in html_of(clinician.get(f"/patients/{case.patient_id}/"))  # the data moved
    response = clinician.get(f"/decisions/{decision.pk}/")
    assert response.status_code == 200
    html = html_of(response)
    assert "Assessment as shown at the meeting on 2024-06-01" in html
    assert re.search(r'NETPET</span> <strong class="grade-value">P4a</strong>', html)
    assert re.search(r'Karfis</span> <strong class="grade-value">C2</strong>', html)
    assert re.search(r'Zidan</span> <strong class="grade-value">3</strong>', html)
    # No current grade anywhere in the page's text (attributes such as the CSRF token are
    # random and may hold any two characters).
    assert not shows(html, "P1") and not shows(html, "C1")
    assert (
        f'datetime="{shown_at}"' in html and "Assessment as shown: <strong>fresh</strong>" in html
    )
    assert f'href="/patients/{case.patient_id}/" id="current-patient-link"' in html
    assert RATIONALE in html and "Dr Ada, Dr Byron" in html
    assert "eligible" not in html.lower()
    assert AccessEvent.objects.filter(patient_id=case.patient_id, action="view_decision").exists()


def test_the_decision_page_ignores_a_later_edit_of_the_stored_assessment(
    clinician: Client, case: Case
) -> None:
    decision = _signed_decision(clinician, case)
    assessment = PhenotypeAssessment.objects.get(patient=case.patient)
    assessment.phenotype["timepoints"][-1]["netpet"]["grade"] = "P5"
    assessment.save()
    html = html_of(clinician.get(f"/decisions/{decision.pk}/"))
    assert re.search(r'NETPET</span> <strong class="grade-value">P4a</strong>', html)
    assert not shows(html, "P5")


def test_the_summary_prints_the_snapshot_the_decision_and_the_signature(
    clinician: Client, case: Case
) -> None:
    decision = _signed_decision(clinician, case)
    change_fdg(case.patient, "1.0")
    response = clinician.get(f"/cases/{case.pk}/summary/")
    assert response.status_code == 200
    html = html_of(response)
    assert "DEC-1" in html and case.question in html
    assert re.search(r'NETPET</span> <strong class="grade-value">P4a</strong>', html)
    assert not shows(html, "P1")
    assert "PRRT (177Lu-DOTATATE)" in html and RATIONALE in html and "Dr Ada, Dr Byron" in html
    assert re.search(r"Signed by</strong> clinician-user <strong>at</strong> 20\d\d-", html)
    assert decision.signed_at is not None
    assert 'href="/static/css/meetings.css"' in html and "Save as PDF" in html
    assert "eligible" not in html.lower()
    assert AccessEvent.objects.filter(
        patient_id=case.patient_id, action="view_case_summary"
    ).exists()
    css = (Path(settings.BASE_DIR) / "static" / "css" / "meetings.css").read_text()
    print_rules = css[css.index("@media print") :]
    assert ".topbar" in print_rules and "break-inside: avoid" in print_rules


def test_the_summary_of_a_draft_says_it_is_not_signed(clinician: Client, case: Case) -> None:
    assert "No decision recorded" in html_of(clinician.get(f"/cases/{case.pk}/summary/"))
    decide(clinician, present_url(case), shown(clinician, present_url(case)), action="draft")
    html = html_of(clinician.get(f"/cases/{case.pk}/summary/"))
    assert "DRAFT — not signed" in html and "Signed by" not in html


def test_decision_pages_need_the_view_permissions(clinician: Client, case: Case) -> None:
    decision = _signed_decision(clinician, case)
    no_role = client_for(None)
    for url in (f"/decisions/{decision.pk}/", f"/cases/{case.pk}/summary/"):
        assert no_role.get(url).status_code == 403
        assert client_for("auditor").get(url).status_code == 200
