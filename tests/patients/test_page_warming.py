"""The recompute task renders the patient page's sections into the cache as soon as the result
is stored, so the first view after a change is a hit; a failing warm-up never fails the task."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import Client

from apps.imaging.models import Observation
from apps.patients import page
from apps.scoring.tasks import recompute_patient
from tests.patients.test_page_cache import HIT, MISS, committed, dual_tracer_patient, view

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(as_role: Any) -> Client:
    return as_role("clinician")


def test_after_the_task_stores_a_result_the_first_view_is_a_hit(browser: Client) -> None:
    patient = dual_tracer_patient()
    cache.clear()
    page.LOCAL_SECTIONS.clear()
    with committed(execute=False):  # the change, without running its queued task here
        obs = Observation.objects.filter(patient_id=patient.pk).first()
        assert obs is not None
        obs.suv_max = Decimal("2.0")
        obs.save()
    assert recompute_patient(patient.pk) == "written"
    html, _queries, calls = view(browser, patient)
    assert calls == HIT
    assert "fresh" in html
    # Without the warm-up (the entry cleared), the same view is a miss: the test can fail.
    cache.clear()
    page.LOCAL_SECTIONS.clear()
    assert view(browser, patient)[2] == MISS


def test_a_failing_warm_up_is_logged_and_the_task_still_succeeds(
    browser: Client, caplog: pytest.LogCaptureFixture
) -> None:
    patient = dual_tracer_patient()
    with committed(execute=False):
        Observation.objects.filter(patient_id=patient.pk).update(suv_max=Decimal("3.0"))
        patient.save()  # a signal-sending write: the version moves
    with mock.patch.object(page, "page_sections", side_effect=RuntimeError("boom")):
        assert recompute_patient(patient.pk) == "written"
    assert "after-store step" in caplog.text and "RuntimeError" in caplog.text
    assert view(browser, patient)[2] == MISS  # nothing was stored: the page renders itself
