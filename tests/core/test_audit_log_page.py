"""The auditor's page (issue 17 §6): access events and exports by user and by patient, the
security log by user and kind, both by date; auditors and admins only; a bad filter is a 400
on its field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.core.models import AccessEvent, SecurityEvent
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/audit/"


def access(username: str, patient_id: int, action: str, days_ago: int = 0) -> AccessEvent:
    return AccessEvent.objects.create(
        at=timezone.now() - timedelta(days=days_ago),
        username=username,
        patient_id=patient_id,
        action=action,
        path=f"/patients/{patient_id}/",
    )


def rows(response: Any) -> list[str]:
    html = response.content.decode()
    if 'id="audit-log"' not in html:
        return []
    body = html[html.index("<tbody>", html.index('id="audit-log"')) : html.index("</tbody>")]
    return body.split("<tr>")[1:]


@pytest.fixture
def auditor(as_role: Any) -> Any:
    return as_role("auditor", "audrey")


def test_only_auditors_and_admins_may_read_it(as_role: Any) -> None:
    for role in ("reader", "clinician", "coordinator"):
        assert as_role(role).get(URL).status_code == 403, role
    assert as_role("auditor").get(URL).status_code == 200
    assert as_role("admin").get(URL).status_code == 200


def test_access_events_by_user_and_by_patient(auditor: Any) -> None:
    access("rita", 11, "view_patient_page")
    access("carol", 11, "view_patient_page")
    access("carol", 12, "study_grid")
    everything = rows(auditor.get(URL))
    assert len(everything) == 3
    by_user = rows(auditor.get(URL, {"user": "carol"}))
    assert len(by_user) == 2 and all("carol" in row for row in by_user)
    by_patient = rows(auditor.get(URL, {"patient": 11}))
    assert len(by_patient) == 2 and all("#11" in row for row in by_patient)
    both = rows(auditor.get(URL, {"user": "carol", "patient": 12}))
    assert len(both) == 1 and "study_grid" in both[0]


def test_exports_are_marked_and_can_be_listed_alone(auditor: Any) -> None:
    access("rita", 11, "view_patient_page")
    access("carol", 11, "view_case_summary")
    access("his", 11, "fhir_read:everything")
    access("pacs", 11, "api_read:export_sr")
    access("rita", 11, "study_sr_export")
    exports = rows(auditor.get(URL, {"kind": "exports"}))
    assert len(exports) == 4
    joined = " ".join(exports)
    for label in (
        "Export: Case summary (printable)",
        "Export: FHIR bundle ($everything)",
        "Export: DICOM SR file (API)",
        "Export: DICOM SR file (study page)",
    ):
        assert label in joined
    assert "view_patient_page" not in joined
    fhir_only = rows(auditor.get(URL, {"kind": "fhir_read:everything"}))
    assert len(fhir_only) == 1 and "his" in fhir_only[0]


def test_a_real_fhir_export_shows_on_the_page(auditor: Any, token_client: Any) -> None:
    patient = PatientFactory()
    response = token_client("clinician", "his-export").get(
        f"/fhir/R4/Patient/{patient.pk}/$everything"
    )
    assert response.status_code == 200
    exports = rows(auditor.get(URL, {"kind": "exports", "patient": patient.pk}))
    assert len(exports) == 1
    assert "Export: FHIR bundle" in exports[0] and "his-export" in exports[0]


def test_dates_are_inclusive_days(auditor: Any) -> None:
    access("rita", 11, "view_patient_page", days_ago=10)
    access("rita", 11, "view_patient_page", days_ago=3)
    access("rita", 11, "view_patient_page", days_ago=0)
    today = timezone.localdate()
    since = today - timedelta(days=3)
    assert len(rows(auditor.get(URL, {"since": since.isoformat()}))) == 2
    assert len(rows(auditor.get(URL, {"until": since.isoformat()}))) == 2
    window = {"since": since.isoformat(), "until": since.isoformat()}
    assert len(rows(auditor.get(URL, window))) == 1


def test_a_bad_filter_is_a_400_naming_the_field_and_keeps_what_was_typed(auditor: Any) -> None:
    access("rita", 11, "view_patient_page")
    response = auditor.get(URL, {"user": "rita", "since": "2026-13-40"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="since-error"' in html and 'value="rita"' in html
    assert rows(response) == []
    backwards = auditor.get(URL, {"since": "2026-05-02", "until": "2026-05-01"})
    assert backwards.status_code == 400
    assert "The end date is before the start date." in backwards.content.decode()
    not_an_id = auditor.get(URL, {"patient": "abc"})
    assert not_an_id.status_code == 400 and 'id="patient-error"' in not_an_id.content.decode()


def test_the_security_log_by_user_and_kind(auditor: Any) -> None:
    SecurityEvent.objects.create(kind="signin", username="carol", detail="authenticator app")
    SecurityEvent.objects.create(kind="mfa_failed", username="carol")
    SecurityEvent.objects.create(kind="lockout", username="mallory", detail="5 failures")
    SecurityEvent.objects.create(kind="mfa_reset", username="rita", actor="carol")
    everything = rows(auditor.get(URL, {"tab": "security"}))
    # and the auditor's own role change and sign-in, made by the fixture
    assert len([row for row in everything if "audrey" not in row]) == 4
    assert len(everything) == 6
    carol = rows(auditor.get(URL, {"tab": "security", "user": "carol"}))
    assert len(carol) == 3, "her own events and the reset she did to rita"
    failures = rows(auditor.get(URL, {"tab": "security", "kind": "mfa_failed"}))
    assert len(failures) == 1 and "two-factor code wrong" in failures[0]
    by_patient = auditor.get(URL, {"tab": "security", "patient": 3})
    assert by_patient.status_code == 400


def test_pages_keep_the_filters(auditor: Any) -> None:
    for n in range(55):
        access("rita", 11, "view_patient_page", days_ago=n % 3)
    access("carol", 11, "view_patient_page")
    first = auditor.get(URL, {"user": "rita"})
    assert len(rows(first)) == 50
    assert "user=rita&amp;page=2" in first.content.decode()
    second = auditor.get(URL, {"user": "rita", "page": 2})
    assert len(rows(second)) == 5
