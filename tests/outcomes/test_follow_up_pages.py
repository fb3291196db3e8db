"""Follow-up records in the patient's record pages (issue 18 part 1, "forms in the patient's
record"): add, correct and delete through the same service as the API, a refusal shown at the
field with what was typed kept, the study chosen among the patient's own, and the progressions
NETboard's response assessment suggests opening the form filled in for the user to confirm."""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from typing import Any

import pytest
from django.test import Client

from apps.outcomes.models import FollowUp
from apps.scoring.models import PhenotypeAssessment
from tests.factories import PathologyFactory, PatientFactory, StudyFactory
from tests.outcomes.cohort import record, store_assessment

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(as_role: Any) -> Client:
    return as_role("reader")


@pytest.fixture
def patient() -> Any:
    patient = PatientFactory()
    PathologyFactory(patient=patient, reported_on=date(2023, 1, 10))
    return patient


def test_the_record_page_lists_follow_ups_with_their_links(reader: Client, patient: Any) -> None:
    record(patient, "progression", date(2024, 3, 1), basis="recist")
    record(patient, "last_contact", date(2024, 9, 1))
    html = reader.get(f"/patients/{patient.pk}/record/").content.decode()
    table = html[
        html.index('id="follow-up-table"') : html.index(
            "</table>", html.index('id="follow-up-table"')
        )
    ]
    assert table.index("2024-03-01") < table.index("2024-09-01")
    assert "Progression" in table and "RECIST" in table and "Last contact" in table
    assert f'href="/patients/{patient.pk}/follow-ups/new/"' in html


def test_a_reader_records_a_death_from_the_form(reader: Client, patient: Any) -> None:
    url = f"/patients/{patient.pk}/follow-ups/new/"
    page = reader.get(url)
    assert page.status_code == 200
    response = reader.post(
        url, {"kind": "death", "occurred_on": "2025-02-03", "basis": "", "study": "", "cause": ""}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/record/#follow-ups"
    death = FollowUp.objects.get(patient=patient)
    assert (death.kind, death.occurred_on, death.basis, death.cause) == (
        "death",
        date(2025, 2, 3),
        None,
        None,
    )


def test_a_refusal_is_shown_at_its_field_and_keeps_what_was_typed(
    reader: Client, patient: Any
) -> None:
    record(patient, "progression", date(2024, 6, 1), basis="clinical")
    response = reader.post(
        f"/patients/{patient.pk}/follow-ups/new/",
        {"kind": "death", "occurred_on": "2024-05-01", "basis": "", "study": "", "cause": "NET"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_occurred_on-error"' in html
    assert 'value="2024-05-01"' in html and 'value="NET"' in html
    assert FollowUp.objects.filter(patient=patient).count() == 1


def test_a_progression_needs_its_basis(reader: Client, patient: Any) -> None:
    response = reader.post(
        f"/patients/{patient.pk}/follow-ups/new/",
        {"kind": "progression", "occurred_on": "2024-05-01", "basis": "", "study": "", "cause": ""},
    )
    assert response.status_code == 200
    assert 'id="id_basis-error"' in response.content.decode()
    assert not FollowUp.objects.filter(patient=patient).exists()


def test_the_study_is_chosen_among_the_patients_own(reader: Client, patient: Any) -> None:
    own = StudyFactory(patient=patient, performed_on=date(2024, 4, 2))
    other = StudyFactory()
    html = reader.get(f"/patients/{patient.pk}/follow-ups/new/").content.decode()
    options = re.findall(r'<option value="(\d+)"', html[html.index('name="study"') :])
    assert str(own.pk) in options and str(other.pk) not in options
    assert "2024-04-02 · " in html


def test_edit_and_delete_go_through_the_service(reader: Client, patient: Any) -> None:
    contact = record(patient, "last_contact", date(2024, 9, 1))
    edit = reader.get(f"/follow-ups/{contact.pk}/edit/").content.decode()
    etag = unescape(re.search(r'name="etag" value="([^"]+)"', edit).group(1))
    saved = reader.post(
        f"/follow-ups/{contact.pk}/edit/",
        {
            "kind": "last_contact",
            "occurred_on": "2024-10-01",
            "basis": "",
            "study": "",
            "cause": "",
            "etag": etag,
        },
    )
    assert saved.status_code == 302
    contact.refresh_from_db()
    assert contact.occurred_on == date(2024, 10, 1)
    confirm = reader.get(f"/follow-ups/{contact.pk}/delete/").content.decode()
    version = unescape(re.search(r'name="etag" value="([^"]+)"', confirm).group(1))
    deleted = reader.post(f"/follow-ups/{contact.pk}/delete/", {"etag": version})
    assert deleted.status_code == 302
    assert not FollowUp.objects.filter(pk=contact.pk).exists()


def test_a_suggested_progression_opens_the_form_filled_in(reader: Client, patient: Any) -> None:
    study = StudyFactory(patient=patient, performed_on=date(2024, 8, 5))
    store_assessment(patient, [])
    PhenotypeAssessment.objects.filter(patient=patient).update(
        response={
            "recist": [
                {
                    "study": study.pk,
                    "performed_on": "2024-08-05",
                    "category": "PD",
                    "baseline_study": 1,
                }
            ]
        }
    )
    html = reader.get(f"/patients/{patient.pk}/record/").content.decode()
    assert 'id="progression-suggestions"' in html
    link = re.search(r'<a href="([^"]+)">record this progression</a>', html).group(1)
    form = reader.get(link.replace("&amp;", "&")).content.decode()
    assert 'value="2024-08-05"' in form
    assert re.search(r'<option value="progression" selected>', form)
    assert re.search(r'<option value="recist" selected>', form)
    assert re.search(rf'<option value="{study.pk}" selected>', form)
    assert not FollowUp.objects.filter(patient=patient).exists(), "nothing saved until confirmed"
    # Once recorded, the suggestion is gone.
    record(patient, "progression", date(2024, 8, 5), basis="recist", study=study)
    html = reader.get(f"/patients/{patient.pk}/record/").content.decode()
    assert 'id="progression-suggestions"' not in html


@pytest.mark.parametrize("role", ["clinician", "coordinator", "auditor"])
def test_other_roles_read_but_do_not_write(as_role: Any, patient: Any, role: str) -> None:
    client = as_role(role)
    record(patient, "last_contact", date(2024, 9, 1))
    html = client.get(f"/patients/{patient.pk}/record/").content.decode()
    assert 'id="follow-up-table"' in html
    assert "Add follow-up record" not in html
    assert client.get(f"/patients/{patient.pk}/follow-ups/new/").status_code == 403
