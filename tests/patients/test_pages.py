"""The browser pages for patients (issue 6): the list with search, filters, sort and pages; the
patient page with the phenotype timeline, findings and response tables; the status line that
updates itself; the query count of the patient page, independent of the size of the record."""

from __future__ import annotations

import html as htmllib
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext

from apps.core.models import AccessEvent
from apps.patients.models import Patient
from apps.scoring.models import InputVersion, PhenotypeAssessment
from tests.factories import LesionFactory, ObservationFactory, PatientFactory, StudyFactory

pytestmark = pytest.mark.django_db


def committed() -> Any:
    return TestCase.captureOnCommitCallbacks(execute=True)


@pytest.fixture
def demo() -> dict[str, Patient]:
    with committed():
        call_command("load_demo", verbosity=0)
    return {p.mrn: p for p in Patient.objects.all()}


@pytest.fixture
def browser(user_with_role: Any) -> Client:
    client = Client()
    client.force_login(user_with_role("clinician"))
    return client


def mrns(html: str) -> list[str]:
    return re.findall(r">(DEMO-\d{4})</a>", html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [f"DEMO-{n:04d}" for n in range(1, 16)]),
        ("?q=demo-0004", ["DEMO-0004"]),
        ("?q=juniper", ["DEMO-0010"]),
        ("?site=lung", ["DEMO-0007"]),
        ("?grade=P5", ["DEMO-0009", "DEMO-0010"]),
        ("?grade=P5&blocking=1", ["DEMO-0009", "DEMO-0010"]),
        ("?sort=-mrn&q=DEMO-000", [f"DEMO-{n:04d}" for n in range(9, 0, -1)]),
        ("?q=nobody", []),
    ],
)
def test_search_filter_and_sort(
    demo: dict[str, Patient], browser: Client, query: str, expected: list[str]
) -> None:
    html = browser.get("/" + query, follow=True).content.decode()
    assert mrns(html) == expected
    if not expected:
        assert "No patient matches these filters." in html


def test_the_form_keeps_what_was_chosen_and_pages_keep_the_filters(
    demo: dict[str, Patient], browser: Client
) -> None:
    html = browser.get("/?q=DEMO&site=pancreas&grade=P2", follow=True).content.decode()
    assert 'value="DEMO"' in html
    assert '<option value="pancreas" selected>' in html
    assert '<option value="P2" selected>' in html
    for n in range(30):
        PatientFactory(mrn=f"PAGE-{n:03d}", family_name=f"Paged{n:03d}")
    first = browser.post("/", {"q": "PAGE-"}, follow=True).content.decode()
    # The next page keeps the search: by its token, never the text typed.
    next_link = htmllib.unescape(first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0])
    assert "Page 1 of 2" in first and "search=" in next_link and "PAGE" not in next_link
    second = browser.get("/" + next_link).content.decode()
    assert "Page 2 of 2" in second and second.count("PAGE-0") == 5


def test_listed_for_a_meeting(demo: dict[str, Patient], browser: Client) -> None:
    from tests.factories import CaseFactory

    CaseFactory(patient=demo["DEMO-0003"])
    assert mrns(browser.get("/?listed=1").content.decode()) == ["DEMO-0003"]


def test_the_patient_page_shows_the_timeline_the_findings_and_the_response(
    demo: dict[str, Patient], browser: Client
) -> None:
    """DEMO-0010 is the seed paper's Fig. 4: P2b, four PRRT cycles, relapse with a new
    FDG-positive, SSTR-negative lesion at the liver dome, which is the biopsy target."""
    patient = demo["DEMO-0010"]
    response = browser.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and 'aria-label="SSTR and FDG phenotype timeline"' in html
    assert "P2b · C2 · Z3" in html and "P5 · C3 · Z4" in html
    assert "▲ new FDG+/SSTR− lesion" in html
    assert "Liver dome (new) ◎ biopsy target" in html
    assert html.count('class="mark mark-spect"') == 4
    assert "177Lu-DOTATATE ×4" in html
    assert "BLOCKS" in html and "Assessment: <strong>fresh</strong>" in html
    assert re.search(r"<td>2023-03-20</td><td><strong>PD</strong>", html)
    assert "eligible" not in html.lower()
    assert AccessEvent.objects.filter(patient_id=patient.pk, action="view_patient_page").exists()


def test_every_cell_names_its_values(demo: dict[str, Patient], browser: Client) -> None:
    html = browser.get(f"/patients/{demo['DEMO-0010'].pk}/").content.decode()
    cells = re.findall(r'<g class="cell"[^>]*aria-label="([^"]+)"', html)
    assert cells and all(("Krenning" in c or "FDG grade" in c) for c in cells)
    assert any("Liver dome (new) · FDG PET 2023-04-08 · FDG grade 3" in c for c in cells)


def _record(lesions: int, timepoints: int) -> Patient:
    with committed():
        patient = PatientFactory()
        studies = []
        for t in range(timepoints):
            day = date(2022, 1, 1) + timedelta(days=90 * t)
            studies.append(StudyFactory(patient=patient, performed_on=day))
            studies.append(
                StudyFactory(
                    patient=patient,
                    performed_on=day + timedelta(days=2),
                    tracer="f18_fdg",
                    spleen_suv=None,
                    liver_suv=Decimal("2.0"),
                )
            )
        for n in range(lesions):
            lesion = LesionFactory(patient=patient, label=f"L{n}")
            for study in studies:
                ObservationFactory(study=study, lesion=lesion, suv_max=Decimal("8.0"))
    return patient


def test_the_page_query_count_does_not_grow_with_the_record(browser: Client) -> None:
    small, large = _record(lesions=2, timepoints=1), _record(lesions=12, timepoints=6)
    counts = []
    for patient in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert browser.get(f"/patients/{patient.pk}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_a_pending_status_polls_and_a_newer_result_reloads_the_page(browser: Client) -> None:
    patient = _record(lesions=1, timepoints=1)
    shown = PhenotypeAssessment.objects.get(patient=patient).computed_at.isoformat()
    status = browser.get(f"/patients/{patient.pk}/status/", {"shown": shown})
    assert "HX-Refresh" not in status.headers  # the page already shows this result
    assert "fresh" in status.content.decode()
    assert "HX-Refresh" in browser.get(f"/patients/{patient.pk}/status/?shown=older").headers
    # A queued recompute: pending, and the line asks again every 2 s.
    from django.utils import timezone

    InputVersion.objects.filter(patient=patient).update(version=999, queued_at=timezone.now())
    html = browser.get(f"/patients/{patient.pk}/").content.decode()
    assert "Assessment: <strong>pending</strong>" in html
    assert 'hx-trigger="every 2s"' in html
    assert "htmx-2.min.js" in html  # served from our static files, no CDN


def test_the_page_needs_a_login_and_the_view_permissions(user_with_role: Any) -> None:
    from django.contrib.auth import get_user_model

    patient = PatientFactory()
    auditor = Client()
    auditor.force_login(user_with_role("auditor"))
    assert auditor.get(f"/patients/{patient.pk}/").status_code == 200  # auditors may view
    no_role = Client()
    no_role.force_login(get_user_model().objects.create_user("no-role", password="x" * 12))
    forbidden = no_role.get(f"/patients/{patient.pk}/")
    assert forbidden.status_code == 403
    assert b"<html" in forbidden.content  # a friendly page, not a bare error
    anonymous = Client().get(f"/patients/{patient.pk}/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_the_studies_table_links_each_read_and_names_ct_by_its_modality(
    demo: dict[str, Patient], browser: Client
) -> None:
    patient = demo["DEMO-0010"]
    html = browser.get(f"/patients/{patient.pk}/").content.decode()
    table = html[html.index('id="studies-title"') : html.index('id="board-title"')]
    links = re.findall(r'<a href="/studies/(\d+)/">([^<]+)</a>', table)
    assert len(links) == patient.studies.count()
    names = {name for _pk, name in links}
    assert {"CT", "68Ga-DOTATATE PET/CT", "18F-FDG PET/CT"} <= names
    assert not any("None" in name for name in names)


def test_codes_read_as_words_on_the_page(demo: dict[str, Patient], browser: Client) -> None:
    """DEMO-0001 is P0 with Karfis not classifiable; DEMO-0010 has the new FDG-positive,
    SSTR-negative alert (DOMAIN.md §7): the page shows words, the code stays in the title
    (of an alert; a grade's code is its words)."""
    p0 = browser.get(f"/patients/{demo['DEMO-0001'].pk}/").content.decode()
    assert "Karfis <strong>not classifiable</strong>" in p0
    assert "not_classifiable" not in p0
    relapse = browser.get(f"/patients/{demo['DEMO-0010'].pk}/").content.decode()
    assert (
        '<span class="sev sev-caution" title="new_fdg_positive_sstr_negative">'
        "new FDG positive SSTR negative</span>"
    ) in relapse
    # DEMO-0011's cells carry §2 flags: their tooltips name them as the study grid does.
    flagged = browser.get(f"/patients/{demo['DEMO-0011'].pk}/").content.decode()
    assert "no spleen" in flagged and "small lesion" in flagged
    assert "spleen_reference_missing" not in flagged and "pet_may_overestimate" not in flagged


def test_what_was_typed_in_the_search_is_in_no_url(
    demo: dict[str, Patient], browser: Client, user_with_role: Any
) -> None:
    """The search box's text is patient data: the form is posted, and the list it redirects to
    names the search by a token kept in the session; a ``?q=`` link is redirected the same way,
    and the same text keeps its token."""
    posted = browser.post("/", {"q": "Juniper", "grade": "P5", "sort": "mrn"})
    assert posted.status_code == 302
    location = posted["Location"]
    assert "juniper" not in location.lower() and "search=" in location
    assert "grade=P5" in location and "sort=mrn" in location
    html = browser.get(location).content.decode()
    assert mrns(html) == ["DEMO-0010"] and 'value="Juniper"' in html
    linked = browser.get("/?q=Juniper&grade=P5&sort=mrn")
    assert linked.status_code == 302 and linked["Location"] == location
    # Another session does not have the token: the search is not run, and the page says why.
    other = Client()
    other.force_login(user_with_role("clinician"))
    html = other.get(location).content.decode()
    assert "That search is no longer kept" in html and 'value=""' in html.split('id="q"')[1][:80]


def test_the_search_form_is_posted_with_its_csrf_token(browser: Client) -> None:
    html = browser.get("/").content.decode()
    form = html.split('role="search"')[0].rsplit("<form", 1)[1] + html.split('role="search"')[1]
    assert 'method="post"' in form.split(">", 1)[0]
    assert 'name="csrfmiddlewaretoken"' in form.split("</form>", 1)[0]


def test_a_very_long_search_is_cut_to_its_first_200_characters(browser: Client) -> None:
    PatientFactory(mrn="LONG-0001", family_name="Longname")
    posted = browser.post("/", {"q": "longname " + "x" * 5000})
    assert posted.status_code == 302 and len(posted["Location"]) < 100
    kept = list(browser.session["patient_searches"].values())
    assert kept == [("longname " + "x" * 5000)[:200]]
    assert browser.get(posted["Location"]).status_code == 200
