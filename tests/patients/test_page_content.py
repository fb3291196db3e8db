"""What the patient page shows (issue 6), rendered for every view from what the worker stored:
the timeline (its cells are the stored per-lesion scores, ``PhenotypeAssessment.uptake``: the
page never scores), decision support at the latest timepoint, RECIST and PERCIST, alerts,
markers and notes; the status line, the links of the reader's permissions, the studies and the
tumour-board cases. A change shows at the next view, with the status saying whether the
assessment is fresh; the patient list agrees with the page on the latest timepoint.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import F
from django.test import Client, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core import numbers
from apps.core.models import AccessEvent
from apps.imaging.models import ImagingStudy, Observation
from apps.patients.models import Patient
from apps.scoring import services
from apps.scoring.models import InputVersion, PhenotypeAssessment
from tests.factories import (
    CaseFactory,
    ObservationFactory,
    PathologyFactory,
    PatientFactory,
    StudyFactory,
    dual_tracer_record,
    three_liver_lesions,
)

pytestmark = pytest.mark.django_db


def committed(execute: bool = True) -> Any:
    """Run (or drop) the after-commit callbacks of the writes inside, as a real commit would:
    here they queue the recompute, which runs in-process (no broker in the tests)."""
    return TestCase.captureOnCommitCallbacks(execute=execute)


@pytest.fixture
def browser(user_with_role: Any) -> Client:
    client = Client()
    client.force_login(user_with_role("clinician"))
    return client


def dual_tracer_patient() -> Patient:
    """Three liver lesions, Krenning 4 on an SSTR PET, FDG-negative on an FDG PET nine days
    later (NETPET P1); the assessment computed on commit."""
    with committed():
        patient = PatientFactory()
        PathologyFactory(patient=patient, reported_on=date(2024, 1, 5), ki67_percent=Decimal("4"))
        three_liver_lesions(patient)
    assert services.phenotype_body(patient.pk)["status"] == "fresh"
    return patient


def view(client: Client, patient: Patient) -> tuple[str, int]:
    """The page's HTML and its number of queries."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def findings(html: str) -> str:
    """The parts of the page computed from the stored assessment and the inputs, the same for
    every reader: from the timeline to the end of the RECIST/PERCIST row, and from the alerts
    to the end of the page's content."""
    top = html[
        html.index('<section aria-labelledby="timeline-title"') : html.index(
            '<section aria-labelledby="studies-title"'
        )
    ]
    bottom = html[html.index('<section aria-labelledby="alerts-title"') : html.index("</main>")]
    assert top and bottom
    return top + bottom


def status_line(html: str) -> str:
    return re.sub(r"\s+", " ", html[html.index('<p id="assessment-status"') :].split("</p>")[0])


def netpet(html: str) -> str:
    found = re.search(r"NETPET</abbr> <strong>([^<]+)</strong>", html)
    assert found, "no NETPET grade on the page"
    return found.group(1)


def fdg_cells(html: str) -> list[str]:
    return re.findall(r'<g class="cell"[^>]*aria-label="([^"]*FDG grade[^"]*)"', html)


def cells(html: str) -> list[str]:
    return re.findall(r'<g class="cell"[^>]*aria-label="([^"]*)"', html)


# --- What the page shows ------------------------------------------------------------------------


def test_the_page_shows_the_stored_assessment_and_the_live_parts(browser: Client) -> None:
    patient = dual_tracer_patient()
    first, _ = view(browser, patient)
    second, _ = view(browser, patient)
    assert 'aria-label="SSTR and FDG phenotype timeline"' in second
    assert second.count('class="mark mark-sstr"') == second.count('class="mark mark-fdg"') == 1
    assert len(fdg_cells(second)) == 3 and all("SUVmax 1.0" in c for c in fdg_cells(second))
    assert netpet(second) == "P1"
    # The summary with the latest pathology, the status line, the studies; two views are the
    # same page but for the CSRF token of the sign-out form.
    assert "latest pathology 2024-01-05: WHO G2, Ki-67 4.00%" in second
    assert "Assessment: <strong>fresh</strong>" in second
    studies = second[second.index('<section aria-labelledby="studies-title"') :]
    assert studies[: studies.index("</section>")].count('<a href="/studies/') == 2
    # Both reads are drafts: the grades are preliminary, and the page names the two reads.
    notice = second[second.index('<p class="preliminary notice"') :]
    notice = notice[: notice.index("</p>")]
    assert "not finished" in notice and notice.count('<a href="/studies/') == 2
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub("", second) == token.sub("", first)
    # Every view is logged.
    assert (
        AccessEvent.objects.filter(patient_id=patient.pk, action="view_patient_page").count() == 2
    )


def test_the_findings_are_the_same_for_every_reader_and_the_links_follow_each_one(
    browser: Client, user_with_role: Any
) -> None:
    patient = dual_tracer_patient()
    clinician, _ = view(browser, patient)
    reader = Client()
    reader.force_login(user_with_role("reader"))
    auditor = Client()
    auditor.force_login(user_with_role("auditor"))
    for client, new_study, audit in ((reader, True, False), (auditor, False, True)):
        html, _ = view(client, patient)
        assert findings(html) == findings(clinician)
        assert (f'href="/patients/{patient.pk}/studies/new/"' in html) is new_study
        assert ("Audit trail</a>" in html) is audit
    assert f"/patients/{patient.pk}/studies/new/" not in clinician


def test_the_studies_and_the_cases_show_at_once(browser: Client) -> None:
    patient = dual_tracer_patient()
    first, _ = view(browser, patient)
    assert "Not listed at a meeting yet." in first
    CaseFactory(patient=patient, question="PRRT now or later?")
    html, _ = view(browser, patient)
    assert "PRRT now or later?" in html and "no decision yet" in html
    assert findings(html) == findings(first)
    # The studies table: every study with its number of reads, newest first.
    rows = re.findall(
        r'<tr><td>([\d-]+)</td><td><a href="/studies/(\d+)/">([^<]+)</a>.*?</td>'
        r"<td>(\d+)</td><td>(\w+)</td></tr>",
        html,
    )
    studies = ImagingStudy.objects.filter(patient=patient).order_by("-performed_on")
    assert rows == [
        (
            s.performed_on.isoformat(),
            str(s.pk),
            f"{s.get_tracer_display()} {s.get_modality_display()}",
            "3",
            s.status,
        )
        for s in studies
    ]


# --- A change shows at the next view ------------------------------------------------------------


def test_a_data_change_shows_at_once_with_its_status(browser: Client) -> None:
    patient = dual_tracer_patient()
    before, _ = view(browser, patient)
    assert netpet(before) == "P1" and "Assessment: <strong>fresh</strong>" in before

    # The FDG PET is read again: SUVmax 9 and FDG-positive. The write commits; its recompute is
    # not run yet (the callbacks are dropped, as if the worker had not picked it up).
    with committed(execute=False):
        for obs in Observation.objects.filter(patient=patient, study__tracer="f18_fdg"):
            obs.suv_max, obs.fdg_visual = Decimal("9.0"), "positive"
            obs.save()
    stale, _ = view(browser, patient)
    assert "Assessment: <strong>stale</strong>" in stale
    # The cells show the SUVs as they are now with the stored (stale) scores; the grades are
    # still the stored result's, as the status line says.
    assert all("SUVmax 9.0" in c for c in fdg_cells(stale)) and len(fdg_cells(stale)) == 3
    assert fdg_cells(stale) == [c.replace("SUVmax 1.0", "SUVmax 9.0") for c in fdg_cells(before)]
    assert netpet(stale) == "P1"

    # Another change before any recompute: still stale, the same stored result.
    with committed(execute=False):
        Observation.objects.filter(patient=patient, study__tracer="f18_fdg").update(
            suv_max=Decimal("11.0")
        )
    again, _ = view(browser, patient)
    assert "Assessment: <strong>stale</strong>" in again
    assert all("SUVmax 11.0" in c for c in fdg_cells(again)) and len(fdg_cells(again)) == 3

    # Queued: pending, and the line polls.
    InputVersion.objects.filter(patient=patient).update(queued_at=timezone.now())
    pending, _ = view(browser, patient)
    assert "Assessment: <strong>pending</strong>" in pending
    assert 'hx-trigger="every 2s"' in pending

    # The worker's recompute: fresh, and the new result is what the page shows.
    assert services.recompute_phenotype(patient.pk) == "written"
    fresh, _ = view(browser, patient)
    assert "Assessment: <strong>fresh</strong>" in fresh
    assert netpet(fresh) != "P1"
    assert netpet(fresh) == services.phenotype_body(patient.pk)["timepoints"][0]["netpet"]["grade"]
    stored = PhenotypeAssessment.objects.get(patient=patient).uptake
    fdg = ImagingStudy.objects.get(patient=patient, tracer="f18_fdg")
    scores = sorted(str(entry["score"]) for entry in stored[str(fdg.pk)].values())
    assert sorted(re.search(r"FDG grade (\d)", c).group(1) for c in fdg_cells(fresh)) == scores  # type: ignore[union-attr]


def test_a_change_of_the_latest_pathology_shows_at_once(browser: Client) -> None:
    patient = dual_tracer_patient()
    assert "latest pathology 2024-01-05: WHO G2, Ki-67 4.00%" in view(browser, patient)[0]
    with committed():
        PathologyFactory(
            patient=patient, reported_on=date(2024, 5, 2), who_grade="G3", ki67_percent=25
        )
    assert "latest pathology 2024-05-02: WHO G3, Ki-67 25.00%" in view(browser, patient)[0]


def test_a_recompute_of_the_same_inputs_shows_its_time_and_the_same_findings(
    browser: Client,
) -> None:
    patient = dual_tracer_patient()
    first, _ = view(browser, patient)
    stored = PhenotypeAssessment.objects.get(patient=patient)
    version = InputVersion.objects.get(patient=patient).version
    # Have the same inputs computed again (a worker would do this after, say, a lost result):
    # a new computed_at, the same input version, status fresh as before.
    PhenotypeAssessment.objects.filter(patient=patient).update(
        inputs_version=F("inputs_version") - 1, inputs_digest="0" * 64
    )
    assert services.recompute_phenotype(patient.pk) == "written"
    again = PhenotypeAssessment.objects.get(patient=patient)
    assert again.computed_at > stored.computed_at
    assert InputVersion.objects.get(patient=patient).version == version

    html, _ = view(browser, patient)
    assert f'datetime="{again.computed_at.isoformat()}"' in status_line(html)
    assert f'datetime="{stored.computed_at.isoformat()}"' in status_line(first)
    assert findings(html) == findings(first)  # the same inputs, the same result


def test_the_status_line_shows_what_the_status_endpoint_compares(browser: Client) -> None:
    """The page's ``shown`` is the stored computed_at exactly as the status endpoint writes it:
    otherwise a fresh page would reload itself for ever."""
    patient = dual_tracer_patient()
    html = view(browser, patient)[0]
    shown = re.search(r'hx-get="[^"]*\?shown=([^"]*)"', html)
    assert shown is None  # fresh: no polling
    computed_at = PhenotypeAssessment.objects.get(patient=patient).computed_at.isoformat()
    assert f'<time datetime="{computed_at}">' in html
    status = browser.get(f"/patients/{patient.pk}/status/", {"shown": computed_at})
    assert "HX-Refresh" not in status.headers


def test_new_thresholds_show_the_stored_scores_as_stale(browser: Client) -> None:
    """The page never grades: under other thresholds, the cells are the stored scores (computed
    under the thresholds of the stored assessment) until the worker recomputes, and the status
    line says the assessment is stale."""
    patient = dual_tracer_patient()
    default, _ = view(browser, patient)
    lesions_40_mm = override_settings(NETBOARD_RULES={"small_lesion_mm": 40})
    with lesions_40_mm:
        html, _ = view(browser, patient)
    assert "Assessment: <strong>stale</strong>" in html
    assert findings(html) == findings(default)

    # A change of the data not yet recomputed: stale under either thresholds.
    with committed(execute=False):
        Observation.objects.filter(patient=patient, study__tracer="f18_fdg").update(
            suv_max=Decimal("9.0")
        )
    default, _ = view(browser, patient)
    with lesions_40_mm:
        other, _ = view(browser, patient)
    assert "Assessment: <strong>stale</strong>" in default and "<strong>stale</strong>" in other
    assert findings(other) == findings(default)
    # The worker recomputes under the thresholds in force: 30 mm lesions are small under
    # 40 mm, and the cells say so.
    with lesions_40_mm:
        assert services.recompute_phenotype(patient.pk) == "written"
        fresh, _ = view(browser, patient)
    assert "Assessment: <strong>fresh</strong>" in fresh
    assert any("small lesion" in c for c in cells(fresh))
    assert not any("small lesion" in c for c in cells(default))


# --- The timeline reads the stored scores -------------------------------------------------------


def test_the_cells_are_the_stored_scores_and_the_page_never_scores(browser: Client) -> None:
    patient = dual_tracer_patient()
    sstr = ImagingStudy.objects.get(patient=patient, tracer="ga68_dotatate")
    lesion = Observation.objects.filter(study=sstr).order_by("lesion_id").first().lesion  # type: ignore[union-attr]
    # The stored score of one lesion, as a worker of other rules might have stored it.
    assessment = PhenotypeAssessment.objects.get(patient=patient)
    entry = assessment.uptake[str(sstr.pk)][str(lesion.pk)]
    assert entry["score"] == 4
    entry.update(score=1, source="computed", flags=["score_disagreement"])
    PhenotypeAssessment.objects.filter(patient=patient).update(uptake=assessment.uptake)
    # What the rules would compute (Krenning 4) is not what the page shows: the stored score.
    html, _ = view(browser, patient)
    shown = [c for c in cells(html) if c.startswith(f"{lesion.label} · SSTR PET")]
    suv = Observation.objects.get(study=sstr, lesion=lesion).suv_max
    # (The SUVmax at clinical precision: the stored 8.000 is shown 8.0, apps/core/numbers.py.)
    assert shown == [
        f"{lesion.label} · SSTR PET 2024-03-01 · Krenning 1 (computed), SUVmax {numbers.suv(suv)}"
        " · disagreement"
    ]
    assert '<rect class="k1" x="-9" y="2" width="18" height="18"/><text y="15">1</text>' in html
    assert html.count('<rect class="k4" x="-9"') == 2  # the other two lesions


def test_a_study_not_yet_scored_by_the_worker_shows_no_cells(browser: Client) -> None:
    patient = dual_tracer_patient()
    before, _ = view(browser, patient)
    # A second SSTR PET read, its recompute not run yet.
    with committed(execute=False):
        study = StudyFactory(patient=patient, performed_on=date(2024, 9, 2))
        for lesion in patient.lesions.all():
            ObservationFactory(study=study, lesion=lesion, krenning_visual=2, long_axis_mm=30)
    html, _ = view(browser, patient)
    assert "Assessment: <strong>stale</strong>" in html
    assert html.count('class="mark mark-sstr"') == 2  # the study is on its lane
    assert cells(html) == cells(before)  # but has no cells: the worker has not scored it
    assert not any("2024-09-02" in c for c in cells(html))
    assert services.recompute_phenotype(patient.pk) == "written"
    fresh, _ = view(browser, patient)
    assert sum("SSTR PET 2024-09-02 · Krenning 2" in c for c in cells(fresh)) == 3


def test_the_score_colours_of_the_stylesheet_are_the_tested_palettes() -> None:
    """The cells' colours are CSS classes; the contrast test (tests/browser/test_accessibility.py)
    checks the palettes of apps/patients/timeline.py: both must be the same values."""
    from django.contrib.staticfiles import finders

    from apps.patients.timeline import FDG_COLOURS, FDG_TEXT, SSTR_COLOURS, SSTR_TEXT

    path = finders.find("css/netboard.css")
    assert path
    with open(path, encoding="utf-8") as css_file:
        css = css_file.read()
    for prefix, fills, inks in (("k", SSTR_COLOURS, SSTR_TEXT), ("f", FDG_COLOURS, FDG_TEXT)):
        for n, (fill, ink) in enumerate(zip(fills, inks, strict=True)):
            assert f".timeline .{prefix}{n} {{ fill: {fill}; }}" in css, (prefix, n)
            assert f".timeline .{prefix}{n} + text {{ fill: {ink}; }}" in css, (prefix, n)


# --- The latest timepoint: the same on the page and in the list ---------------------------------


def test_an_sstr_pet_without_fdg_partner_keeps_the_latest_grades_in_the_list_and_the_page(
    browser: Client,
) -> None:
    """The bug: after adding an SSTR PET with no FDG partner, the list read the last timepoint
    (no FDG: no grade) and showed "—", and its NETPET filter dropped the patient, while the
    page showed P1 (the last dual-tracer timepoint)."""
    patient = dual_tracer_patient()
    assert netpet(view(browser, patient)[0]) == "P1"
    with committed(execute=False):
        study = StudyFactory(patient=patient, performed_on=date(2024, 11, 4))
        for lesion in patient.lesions.all():
            ObservationFactory(study=study, lesion=lesion, krenning_visual=4, long_axis_mm=30)
    assert services.recompute_phenotype(patient.pk) == "written"
    body = services.phenotype_body(patient.pk)
    assert body["status"] == "fresh"
    assert len(body["timepoints"]) == 2 and body["timepoints"][-1]["fdg_study"] is None

    def listed(query: str) -> list[str]:
        html = browser.get("/" + query, follow=True).content.decode()
        return re.findall(r'<span class="grade grade-(\w+)">([^<]+)</span>', html)

    assert listed(f"?q={patient.mrn}") == [("p1", "P1")]
    assert listed(f"?q={patient.mrn}&grade=P1") == [("p1", "P1")]
    assert listed(f"?q={patient.mrn}&grade=P2") == []
    html, _ = view(browser, patient)
    assert netpet(html) == "P1"
    assert "(SSTR 2024-03-01 / FDG 2024-03-10)" in html


# --- Size and failure ---------------------------------------------------------------------------


def test_the_query_count_does_not_grow_with_the_record(browser: Client) -> None:
    small = dual_tracer_record(1, 3, mrn="CONTENT-01-03")
    large = dual_tracer_record(12, 40, mrn="CONTENT-12-40")
    counts = {}
    for name, patient in (("small", small), ("large", large)):
        html, counts[name] = view(browser, patient)
    assert counts["small"] == counts["large"], counts
    # And the large page is the full one.
    assert html.count('class="mark mark-') == 24
    assert len(re.findall(r'<g class="cell"', html)) == 24 * 40


def test_a_cache_that_fails_does_not_fail_the_page(browser: Client) -> None:
    patient = dual_tracer_patient()
    with (
        mock.patch.object(cache, "get", side_effect=ConnectionError("cache down")),
        mock.patch.object(cache, "set", side_effect=ConnectionError("cache down")),
    ):
        html, _ = view(browser, patient)
    assert netpet(html) == "P1" and len(fdg_cells(html)) == 3


def test_an_unknown_patient_is_404(browser: Client) -> None:
    assert browser.get("/patients/987654321/").status_code == 404
