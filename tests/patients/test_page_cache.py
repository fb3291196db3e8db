"""The cache of the patient page's sections (issue 6): the timeline, decision support, RECIST and
PERCIST, alerts, markers and notes are rendered once per state of the patient's data and of its
stored assessment, and served from the cache until either changes; the status line, the links
of the reader's permissions, the studies and the tumour-board cases are read for every view.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
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

from apps.core.models import AccessEvent
from apps.imaging.models import ImagingStudy, Observation
from apps.patients import page
from apps.patients.models import Patient
from apps.scoring import selectors, services
from apps.scoring.models import InputVersion, PhenotypeAssessment
from apps.scoring.signals import assessment_stored
from tests.factories import (
    CaseFactory,
    PathologyFactory,
    PatientFactory,
    dual_tracer_record,
    three_liver_lesions,
)

pytestmark = pytest.mark.django_db


def committed(execute: bool = True) -> Any:
    """Run (or drop) the after-commit callbacks of the writes inside, as a real commit would:
    here they queue the recompute, which runs in-process (no broker in the tests)."""
    return TestCase.captureOnCommitCallbacks(execute=execute)


@pytest.fixture(autouse=True)
def _no_warming() -> Iterator[None]:
    """These tests exercise the page's own cache logic, hits and misses: the recompute task's
    warming of the cache (tests/patients/test_page_warming.py) is off here."""
    assessment_stored.disconnect(dispatch_uid="patients.warm_page_sections")
    yield
    assessment_stored.connect(page.warm_page_sections, dispatch_uid="patients.warm_page_sections")


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


def record(pairs: int, lesions: int) -> Patient:
    return dual_tracer_record(pairs, lesions, mrn=f"CACHE-{pairs:02d}-{lesions:02d}")


class Spies:
    """Counts the calls of the expensive steps of a miss: the full read of the stored
    assessment, the read of the rules inputs and the timeline."""

    def __init__(self) -> None:
        self.bodies = mock.patch.object(
            services, "assessment_bodies", wraps=services.assessment_bodies
        )
        self.inputs = mock.patch.object(
            page, "patient_rules_input", wraps=selectors.patient_rules_input
        )
        self.timeline = mock.patch.object(page, "build_timeline", wraps=page.build_timeline)

    def __enter__(self) -> Spies:
        self.bodies_calls = self.bodies.start()
        self.inputs_calls = self.inputs.start()
        self.timeline_calls = self.timeline.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for patcher in (self.bodies, self.inputs, self.timeline):
            patcher.stop()

    @property
    def counts(self) -> tuple[int, int, int]:
        return (
            self.bodies_calls.call_count,
            self.inputs_calls.call_count,
            self.timeline_calls.call_count,
        )


def view(client: Client, patient: Patient) -> tuple[str, int, tuple[int, int, int]]:
    """The page's HTML, its number of queries, and the calls of the steps of a miss."""
    with Spies() as spies, CaptureQueriesContext(connection) as queries:
        response = client.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    return response.content.decode(), len(queries), spies.counts


MISS, HIT = (1, 1, 1), (0, 0, 0)


def cached_part(html: str) -> str:
    """The sections of the page that come from the cache: from the timeline to the end of the
    RECIST/PERCIST row, and from the alerts to the end of the page's content."""
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


# --- Hits ----------------------------------------------------------------------------------------


def test_a_second_view_is_served_from_the_cache_and_is_the_same_page(browser: Client) -> None:
    patient = dual_tracer_patient()
    first, first_queries, first_calls = view(browser, patient)
    second, second_queries, second_calls = view(browser, patient)
    assert (first_calls, second_calls) == (MISS, HIT)
    # A hit reads neither the stored assessment's JSON nor the rules inputs (and its own header
    # query does not go through assessment_bodies): three queries fewer.
    assert second_queries == first_queries - 3

    # The cached part is what the first view rendered, and it is the real thing.
    assert cached_part(second) == cached_part(first)
    assert 'aria-label="SSTR and FDG phenotype timeline"' in second
    assert second.count('class="mark mark-sstr"') == second.count('class="mark mark-fdg"') == 1
    assert len(fdg_cells(second)) == 3 and all("SUVmax 1.0" in c for c in fdg_cells(second))
    assert netpet(second) == "P1"
    # The live parts are there too: the summary with the latest pathology, the status line, the
    # studies, and the whole page is the same but for the CSRF token of the sign-out form.
    assert "latest pathology 2024-01-05: WHO G2, Ki-67 4.00%" in second
    assert "Assessment: <strong>fresh</strong>" in second
    assert second.count('<a href="/studies/') == 2
    token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub("", second) == token.sub("", first)
    # Every view is logged, hit or miss.
    assert (
        AccessEvent.objects.filter(patient_id=patient.pk, action="view_patient_page").count() == 2
    )


def test_the_cached_part_is_the_same_for_every_reader_and_the_links_follow_each_one(
    browser: Client, user_with_role: Any
) -> None:
    patient = dual_tracer_patient()
    clinician, _, calls = view(browser, patient)
    assert calls == MISS
    reader = Client()
    reader.force_login(user_with_role("reader"))
    auditor = Client()
    auditor.force_login(user_with_role("auditor"))
    for client, new_study, audit in ((reader, True, False), (auditor, False, True)):
        html, _, calls = view(client, patient)
        assert calls == HIT
        assert cached_part(html) == cached_part(clinician)
        assert (f'href="/patients/{patient.pk}/studies/new/"' in html) is new_study
        assert ("Audit trail</a>" in html) is audit
    assert f"/patients/{patient.pk}/studies/new/" not in clinician


def test_the_studies_and_the_cases_are_read_for_every_view(browser: Client) -> None:
    patient = dual_tracer_patient()
    first, _, _ = view(browser, patient)
    assert "Not listed at a meeting yet." in first
    # A case is not an input of the assessment: the version stays, the sections come from the
    # cache, and the case shows all the same.
    version = InputVersion.objects.get(patient=patient).version
    CaseFactory(patient=patient, question="PRRT now or later?")
    assert InputVersion.objects.get(patient=patient).version == version
    html, _, calls = view(browser, patient)
    assert calls == HIT
    assert "PRRT now or later?" in html and "no decision yet" in html
    assert cached_part(html) == cached_part(first)
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


# --- Misses: a change of the data, a recompute, the rules, the code -------------------------------


def test_a_data_change_is_never_served_the_old_sections(browser: Client) -> None:
    patient = dual_tracer_patient()
    before, _, _ = view(browser, patient)
    assert view(browser, patient)[2] == HIT
    assert netpet(before) == "P1" and "Assessment: <strong>fresh</strong>" in before

    # The FDG PET is read again: SUVmax 9 and FDG-positive. The write commits; its recompute is
    # not run yet (the callbacks are dropped, as if the worker had not picked it up).
    with committed(execute=False):
        for obs in Observation.objects.filter(patient=patient, study__tracer="f18_fdg"):
            obs.suv_max, obs.fdg_visual = Decimal("9.0"), "positive"
            obs.save()
    stale, _, calls = view(browser, patient)
    assert calls == MISS
    assert "Assessment: <strong>stale</strong>" in stale
    # The timeline is built from the inputs as they are now; the grades are still the stored
    # (stale) result's, as the status line says.
    assert all("SUVmax 9.0" in c for c in fdg_cells(stale)) and len(fdg_cells(stale)) == 3
    assert netpet(stale) == "P1"

    # Another change before any recompute: still stale, the same stored result, a new version.
    with committed(execute=False):
        Observation.objects.filter(patient=patient, study__tracer="f18_fdg").update(
            suv_max=Decimal("11.0")
        )
    again, _, calls = view(browser, patient)
    assert calls == MISS
    assert "Assessment: <strong>stale</strong>" in again
    assert all("SUVmax 11.0" in c for c in fdg_cells(again)) and len(fdg_cells(again)) == 3

    # Queued: pending, and the line polls.
    InputVersion.objects.filter(patient=patient).update(queued_at=timezone.now())
    pending, _, calls = view(browser, patient)
    assert calls == MISS
    assert "Assessment: <strong>pending</strong>" in pending
    assert 'hx-trigger="every 2s"' in pending

    # The worker's recompute: fresh, and the new result is what the page shows.
    assert services.recompute_phenotype(patient.pk) == "written"
    fresh, _, calls = view(browser, patient)
    assert calls == MISS
    assert "Assessment: <strong>fresh</strong>" in fresh
    assert netpet(fresh) != "P1"
    assert netpet(fresh) == services.phenotype_body(patient.pk)["timepoints"][0]["netpet"]["grade"]
    assert view(browser, patient)[2] == HIT


def test_a_change_of_the_latest_pathology_shows_at_once(browser: Client) -> None:
    patient = dual_tracer_patient()
    assert "latest pathology 2024-01-05: WHO G2, Ki-67 4.00%" in view(browser, patient)[0]
    with committed():
        PathologyFactory(
            patient=patient, reported_on=date(2024, 5, 2), who_grade="G3", ki67_percent=25
        )
    html, _, calls = view(browser, patient)
    assert calls == MISS
    assert "latest pathology 2024-05-02: WHO G3, Ki-67 25.00%" in html


def test_a_recompute_of_the_same_inputs_gives_a_new_key(browser: Client) -> None:
    patient = dual_tracer_patient()
    first, _, _ = view(browser, patient)
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

    html, _, calls = view(browser, patient)
    assert calls == MISS  # same version and status as the first view: only computed_at differs
    assert f'datetime="{again.computed_at.isoformat()}"' in status_line(html)
    assert f'datetime="{stored.computed_at.isoformat()}"' in status_line(first)
    assert cached_part(html) == cached_part(first)  # the same inputs, the same result


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


def test_the_key_names_every_input_of_the_sections() -> None:
    patient = dual_tracer_patient()
    version = InputVersion.objects.get(patient=patient)
    assessment = PhenotypeAssessment.objects.get(patient=patient)
    key = page.sections_cache_key(patient.pk, version, assessment, "fresh")
    assert key == page.sections_cache_key(patient.pk, version, assessment, "fresh")

    def changed(**kwargs: Any) -> str:
        v = InputVersion(patient_id=patient.pk, version=kwargs.get("version", version.version))
        a = PhenotypeAssessment(
            patient_id=patient.pk,
            computed_at=kwargs.get("computed_at", assessment.computed_at),
            rules_version=kwargs.get("rules_version", assessment.rules_version),
        )
        return page.sections_cache_key(patient.pk, v, a, kwargs.get("status", "fresh"))

    assert changed() == key
    others = {
        changed(version=version.version + 1),
        changed(computed_at=assessment.computed_at + timedelta(microseconds=1)),
        changed(rules_version="0-other"),
        changed(status="stale"),
        changed(status="pending"),
        page.sections_cache_key(patient.pk, version, None, "fresh"),
        page.sections_cache_key(patient.pk + 1, version, assessment, "fresh"),
    }
    with override_settings(NETBOARD_RULES={"small_lesion_mm": 40}):  # other thresholds
        others.add(page.sections_cache_key(patient.pk, version, assessment, "fresh"))
    with mock.patch.object(page, "SECTIONS_VERSION", page.SECTIONS_VERSION + 1):
        others.add(page.sections_cache_key(patient.pk, version, assessment, "fresh"))
    assert key not in others and len(others) == 9


def test_the_cache_holds_one_entry_per_patient_for_its_latest_state(browser: Client) -> None:
    patient = dual_tracer_patient()
    view(browser, patient)
    entry = page.sections_cache_entry(patient.pk)
    first = cache.get(entry)
    assert first is not None and first["top"].decode() in view(browser, patient)[0]
    with committed():
        PathologyFactory(patient=patient, reported_on=date(2024, 5, 2), who_grade="G3")
    html = view(browser, patient)[0]
    latest = cache.get(entry)  # replaced, not added to
    assert latest["key"] != first["key"] and latest["top"].decode() in html
    assert latest["pathology"]["who_grade"] == "G3"


@pytest.fixture
def remote_cache() -> Any:
    """The default cache taken for one in another process (Redis), so that the process keeps
    its own copies in front of it; the calls of the shared cache's get are counted."""
    page.LOCAL_SECTIONS.clear()
    with (
        mock.patch.object(page, "_shared_cache_is_remote", return_value=True),
        mock.patch.object(page.cache, "get", wraps=page.cache.get) as shared_get,
    ):
        yield shared_get
    page.LOCAL_SECTIONS.clear()


def test_in_front_of_redis_the_process_keeps_its_own_copy_for_its_key(
    browser: Client, remote_cache: Any
) -> None:
    patient = dual_tracer_patient()
    first, _, calls = view(browser, patient)
    assert calls == MISS and remote_cache.call_count == 1
    second, _, calls = view(browser, patient)
    assert calls == HIT and remote_cache.call_count == 1  # not asked: the process's copy
    assert cached_part(second) == cached_part(first)

    # Another process rendered the sections (the shared entry is there, this process's copy
    # is not): read from the shared cache once, then from the copy.
    page.LOCAL_SECTIONS.clear()
    assert view(browser, patient)[2] == HIT and remote_cache.call_count == 2
    assert view(browser, patient)[2] == HIT and remote_cache.call_count == 2

    # A change: the copy is for another key, so is the shared entry: rendered anew.
    with committed(execute=False):
        Observation.objects.filter(patient=patient, study__tracer="f18_fdg").update(
            suv_max=Decimal("9.0")
        )
    changed, _, calls = view(browser, patient)
    assert calls == MISS and remote_cache.call_count == 3
    assert all("SUVmax 9.0" in c for c in fdg_cells(changed)) and len(fdg_cells(changed)) == 3
    again, _, calls = view(browser, patient)
    assert calls == HIT and remote_cache.call_count == 3
    assert cached_part(again) == cached_part(changed)


def test_the_process_keeps_copies_of_a_few_patients_only() -> None:
    local = page.LocalSections(2)
    for n in range(3):
        local.put(f"entry-{n}", {"key": f"key-{n}"})
    assert local.get("entry-0", "key-0") is None  # the oldest went
    assert local.get("entry-1", "key-1") == {"key": "key-1"}
    assert local.get("entry-1", "key-other") is None
    local.put("entry-3", {"key": "key-3"})  # entry-1 was used last: entry-2 goes
    assert local.get("entry-2", "key-2") is None
    assert local.get("entry-1", "key-1") is not None and local.get("entry-3", "key-3") is not None


def test_new_thresholds_are_never_served_the_old_sections(browser: Client) -> None:
    patient = dual_tracer_patient()
    view(browser, patient)
    lesions_40_mm = override_settings(NETBOARD_RULES={"small_lesion_mm": 40})
    with lesions_40_mm:
        html, _, calls = view(browser, patient)
    assert calls == MISS
    assert "Assessment: <strong>stale</strong>" in html

    # A change of the data not yet recomputed: stale under either thresholds. The timeline
    # grades the lesions under the thresholds in force (30 mm lesions are small under 40 mm).
    with committed(execute=False):
        Observation.objects.filter(patient=patient, study__tracer="f18_fdg").update(
            suv_max=Decimal("9.0")
        )
    default, _, calls = view(browser, patient)
    assert calls == MISS
    with lesions_40_mm:
        other, _, calls = view(browser, patient)
    assert calls == MISS
    assert "Assessment: <strong>stale</strong>" in default and "<strong>stale</strong>" in other
    assert cached_part(other) != cached_part(default)
    # Back to the thresholds before: the entry is the other thresholds', so rendered again.
    html, _, calls = view(browser, patient)
    assert calls == MISS and cached_part(html) == cached_part(default)
    assert view(browser, patient)[2] == HIT


# --- Size and failure ---------------------------------------------------------------------------


def test_the_query_count_does_not_grow_with_the_record_on_a_miss_or_a_hit(
    browser: Client,
) -> None:
    small, large = record(pairs=1, lesions=3), record(pairs=12, lesions=40)
    counts = {}
    for name, patient in (("small", small), ("large", large)):
        miss, miss_queries, miss_calls = view(browser, patient)
        hit, hit_queries, hit_calls = view(browser, patient)
        assert (miss_calls, hit_calls) == (MISS, HIT)
        assert cached_part(hit) == cached_part(miss)
        counts[name] = (miss_queries, hit_queries)
    assert counts["small"] == counts["large"], counts
    assert counts["large"][1] < counts["large"][0]
    # And the large page is the full one, from the cache.
    assert hit.count('class="mark mark-') == 24
    assert len(re.findall(r'<g class="cell"', hit)) == 24 * 40


def test_a_cache_that_fails_costs_time_not_the_page(browser: Client) -> None:
    patient = dual_tracer_patient()
    with (
        mock.patch.object(page.cache, "get", side_effect=ConnectionError("cache down")),
        mock.patch.object(page.cache, "set", side_effect=ConnectionError("cache down")),
    ):
        html, _, calls = view(browser, patient)
    assert calls == MISS
    assert netpet(html) == "P1" and len(fdg_cells(html)) == 3
    with mock.patch.object(page.cache, "set", side_effect=ConnectionError("cache down")):
        assert view(browser, patient)[2] == MISS  # nothing was stored
    assert view(browser, patient)[2] == MISS
    assert view(browser, patient)[2] == HIT


def test_an_unknown_patient_is_404(browser: Client) -> None:
    assert browser.get("/patients/987654321/").status_code == 404
