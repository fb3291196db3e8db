"""An open page learns that what it shows changed (issue 15, part 3): the patient page and the
case pages poll ``/patients/<id>/changes/`` with the inputs' version and the assessment's
``computed_at`` they show; unchanged is a 204, changed is the banner, marked fresh once the new
result is stored (static/js/live.js then reloads a page nobody is typing on)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from apps.imaging.models import Observation
from apps.patients.page import live_state
from apps.scoring.models import InputVersion
from tests.factories import CaseFactory, MeetingFactory, PatientFactory, three_liver_lesions

pytestmark = pytest.mark.django_db


def poller(html: str) -> str:
    found = re.search(r'<div id="live"[^>]*hx-get="([^"]+)"', html)
    assert found is not None, "no live poller on the page"
    return found.group(1).replace("&amp;", "&")


def test_an_open_page_learns_of_a_change_and_of_the_new_result(as_role: Any) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = three_liver_lesions(PatientFactory())
    client: Client = as_role("clinician")
    url = poller(client.get(f"/patients/{patient.pk}/").content.decode())
    assert url.startswith(f"/patients/{patient.pk}/changes/?version=")
    assert client.get(url).status_code == 204  # nothing changed

    # A reader edits a value; the recompute has not run yet.
    with TestCase.captureOnCommitCallbacks(execute=False):
        Observation.objects.filter(patient=patient).update(suv_max=Decimal("30"))
    changed = client.get(url)
    assert changed.status_code == 200
    html = changed.content.decode()
    assert "Changed since you opened this page" in html and 'data-fresh="false"' in html
    assert poller(html) == url  # it goes on polling with what the page shows

    # The new result is stored: the banner says so (and the page reloads itself).
    from apps.scoring.services import recompute_phenotype

    assert recompute_phenotype(patient.pk) == "written"
    html = client.get(url).content.decode()
    assert 'data-fresh="true"' in html and "the new result is in" in html
    # A page drawn now shows the new state and has nothing to report.
    assert (
        client.get(poller(client.get(f"/patients/{patient.pk}/").content.decode())).status_code
        == 204
    )


def test_presentation_mode_and_the_decision_page_poll_too(as_role: Any) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = three_liver_lesions(PatientFactory())
    case = CaseFactory(patient=patient, meeting=MeetingFactory())
    client: Client = as_role("clinician")
    for page in (f"/meetings/{case.meeting_id}/present/{case.pk}/", f"/cases/{case.pk}/decision/"):
        html = client.get(page).content.decode()
        assert client.get(poller(html)).status_code == 204, page
        assert "js/live.js" in html


def test_the_changes_endpoint_needs_a_login_and_the_view_permissions(
    as_role: Any, django_user_model: Any
) -> None:
    patient = PatientFactory()
    url = f"/patients/{patient.pk}/changes/?version=0&computed_at="
    assert Client().get(url).status_code == 302  # to the sign-in page
    no_role = Client()
    no_role.force_login(django_user_model.objects.create_user("nobody", password="x" * 12))
    assert no_role.get(url).status_code == 403
    assert as_role("clinician").get("/patients/999999/changes/").status_code == 404


def test_a_poll_reads_the_inputs_version_once_with_the_status_it_judges(as_role: Any) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = three_liver_lesions(PatientFactory())
    client: Client = as_role("clinician")
    url = poller(client.get(f"/patients/{patient.pk}/").content.decode())
    version = InputVersion.objects.get(patient=patient).version
    assert f"version={version}&" in url  # the page shows the version it was drawn at
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 204
    reads = [q["sql"] for q in queries if 'FROM "scoring_inputversion"' in q["sql"]]
    assert len(reads) == 1, reads
    assert live_state(patient.pk)["version"] == version
    other = PatientFactory()
    InputVersion.objects.filter(patient=other).delete()  # as for a patient written by raw SQL
    assert live_state(other.pk)["version"] == 0
