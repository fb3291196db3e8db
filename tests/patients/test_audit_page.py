"""The patient's audit page: who changed what and when in all the patient's records (from the
database-trigger history), and who viewed the patient. Auditors and admins only; reading it is
itself logged; its query count does not grow with the history."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core.models import AccessEvent
from apps.patients.models import Biomarker, TreatmentCycle
from tests.factories import (
    CaseFactory,
    LesionFactory,
    PathologyFactory,
    PatientFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(as_role: Any) -> Client:
    return as_role("auditor", "audrey-auditor")


def html_of(response: Any) -> str:
    return response.content.decode()


def rows(html: str) -> list[str]:
    """The body rows of the page's table."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def text(fragment: str) -> str:
    """What a reader reads in a fragment: cells and list items apart, inline markup gone."""
    spaced = re.sub(r"</(td|th|li)>", " ", fragment)
    return " ".join(unescape(re.sub(r"<[^>]+>", "", spaced)).split())


@pytest.mark.parametrize(
    ("role", "status"),
    [("auditor", 200), ("admin", 200), ("reader", 403), ("clinician", 403), ("coordinator", 403)],
)
def test_only_auditors_and_admins_see_the_audit_page(as_role: Any, role: str, status: int) -> None:
    patient = PatientFactory()
    client = as_role(role)
    assert client.get(f"/patients/{patient.pk}/audit/").status_code == status
    assert client.get(f"/patients/{patient.pk}/audit/?tab=access").status_code == status


def test_the_record_page_links_to_the_audit_page_only_for_auditors(as_role: Any) -> None:
    patient = PatientFactory()
    link = f'href="/patients/{patient.pk}/audit/"'
    assert link in html_of(as_role("auditor").get(f"/patients/{patient.pk}/record/"))
    assert link not in html_of(as_role("reader").get(f"/patients/{patient.pk}/record/"))


def test_a_change_made_through_a_form_shows_who_from_where_and_old_to_new(
    as_role: Any, auditor: Client
) -> None:
    patient = PatientFactory(family_name="Before", height_cm=Decimal("170.0"))
    reader = as_role("reader", "rita-reader")
    form = html_of(reader.get(f"/patients/{patient.pk}/edit/"))
    etag = unescape(re.search(r'name="etag" value="([^"]+)"', form).group(1))  # type: ignore[union-attr]
    values = {
        "mrn": patient.mrn,
        "family_name": "After",
        "given_name": patient.given_name,
        "birth_date": "1960-01-01",
        "sex": "female",
        "height_cm": "171.5",
        "weight_kg": "",
        "primary_site": "pancreas",
        "histology": "net",
        "ppgl_cluster": "",
        "etag": etag,
    }
    assert reader.post(f"/patients/{patient.pk}/edit/", values).status_code == 302

    html = html_of(auditor.get(f"/patients/{patient.pk}/audit/"))
    entries = rows(html)
    newest = text(entries[0])
    assert "rita-reader" in newest
    assert "browser" in newest
    assert f"Patient #{patient.pk}" in newest
    assert "update" in newest
    assert "Family name: Before → After" in newest
    assert "Height (cm): 170.0 → 171.5" in newest
    assert "Updated at" not in newest  # bookkeeping is not a change
    # The creation (by the factory, outside any request) is the older entry.
    oldest = text(entries[-1])
    assert "insert" in oldest and "Family name: Before" in oldest
    assert "2 changes" in html


def test_every_record_of_the_patient_is_covered_and_no_other_patients(
    as_role: Any, auditor: Client
) -> None:
    patient = PatientFactory()
    other = PatientFactory()
    PathologyFactory(patient=patient)
    Biomarker.objects.create(
        patient=patient, analyte="cea", value=Decimal("4"), measured_on=date(2024, 1, 1)
    )
    treatment = TreatmentFactory(patient=patient)
    cycle = TreatmentCycle.objects.create(treatment=treatment, number=1, given_on=date(2024, 2, 1))
    LesionFactory(patient=patient)
    CaseFactory(patient=patient)
    PathologyFactory(patient=other, specimen_site="elsewhere")
    treatment_of_other = TreatmentFactory(patient=other)
    TreatmentCycle.objects.create(treatment=treatment_of_other, number=7, given_on=date(2024, 2, 1))
    # A deleted treatment's cycles stay in the trail.
    gone = TreatmentFactory(patient=patient)
    gone_cycle = TreatmentCycle.objects.create(treatment=gone, number=3, given_on=date(2024, 5, 1))
    gone_id = gone.pk
    gone.delete()

    html = html_of(auditor.get(f"/patients/{patient.pk}/audit/"))
    shown = [text(row) for row in rows(html)]
    records = {re.search(r"(\w[\w ]*?) #(\d+)", row).group(0) for row in shown}  # type: ignore[union-attr]
    assert f"Patient #{patient.pk}" in records
    assert f"Treatment cycle #{cycle.pk}" in records
    assert f"Treatment cycle #{gone_cycle.pk}" in records
    assert f"Treatment #{gone_id}" in records
    for kind in ("Pathology", "Biomarker", "Treatment", "Lesion", "Case"):
        assert any(record.startswith(kind + " #") for record in records), kind
    assert "elsewhere" not in html
    assert "Number: 3" in " ".join(shown) and "Number: 7" not in " ".join(shown)
    assert sum("delete" in row for row in shown) == 2  # the treatment and its cycle


def test_the_access_tab_lists_who_viewed_the_patient(as_role: Any, auditor: Client) -> None:
    patient = PatientFactory()
    as_role("clinician", "carl-clinician").get(f"/patients/{patient.pk}/record/")
    html = html_of(auditor.get(f"/patients/{patient.pk}/audit/?tab=access"))
    entries = [text(row) for row in rows(html)]
    assert len(entries) == 1
    assert "carl-clinician" in entries[0] and "view_patient_record" in entries[0]
    assert f"/patients/{patient.pk}/record/" in entries[0]
    assert 'aria-current="page">Access' in html


def test_viewing_the_audit_page_is_itself_logged(auditor: Client) -> None:
    patient = PatientFactory()
    auditor.get(f"/patients/{patient.pk}/audit/")
    event = AccessEvent.objects.get(patient_id=patient.pk)
    assert (event.username, event.action) == ("audrey-auditor", "view_patient_audit")


def test_changes_are_newest_first_in_pages_of_fifty(auditor: Client) -> None:
    patient = PatientFactory()
    for n in range(60):
        patient.weight_kg = Decimal(40 + n)
        patient.save()
    first = [text(row) for row in rows(html_of(auditor.get(f"/patients/{patient.pk}/audit/")))]
    assert len(first) == 50
    assert "Weight (kg): 98.0 → 99.0" in first[0]  # the last save
    assert "Weight (kg): 97.0 → 98.0" in first[1]
    second_html = html_of(auditor.get(f"/patients/{patient.pk}/audit/?tab=changes&page=2"))
    second = [text(row) for row in rows(second_html)]
    assert len(second) == 11  # 60 updates and the insert
    assert "insert" in second[-1]
    assert "Page 2 of 2" in second_html


def audit_queries(client: Client, records: int, tab: str) -> int:
    patient = PatientFactory()
    for n in range(records):
        PathologyFactory(patient=patient)
        treatment = TreatmentFactory(patient=patient)
        TreatmentCycle.objects.create(treatment=treatment, number=1, given_on=date(2024, 2, 1))
        CaseFactory(patient=patient)
        patient.weight_kg = Decimal(50 + n)
        patient.save()
        client.get(f"/patients/{patient.pk}/record/")
    url = f"/patients/{patient.pk}/audit/?tab={tab}"
    client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert len(rows(html_of(response))) >= records
    return len(queries)


@pytest.mark.parametrize("tab", ["changes", "access"])
def test_the_audit_page_query_count_does_not_grow_with_the_history(
    auditor: Client, tab: str
) -> None:
    assert audit_queries(auditor, 1, tab) == audit_queries(auditor, 10, tab)
