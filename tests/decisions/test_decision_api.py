"""Decisions recorded through the API keep the assessment as the API showed it (API.md:
*phenotype_snapshot*, "the assessment as shown when decided; immutable")."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import TestCase
from rest_framework.test import APIClient

from apps.decisions.models import Decision
from apps.scoring import services as scoring
from tests.factories import CaseFactory, ObservationFactory, StudyFactory

pytestmark = pytest.mark.django_db


def test_a_decision_posted_through_the_api_snapshots_the_shown_assessment(
    token_client: Callable[..., APIClient],
) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        sstr = StudyFactory()
        ObservationFactory(study=sstr, suv_max=Decimal("25"))
    case = CaseFactory(patient=sstr.patient)
    api = token_client("clinician")
    shown = api.get(f"/api/v1/patients/{sstr.patient_id}/phenotype/").json()
    shown_response = api.get(f"/api/v1/patients/{sstr.patient_id}/response/").json()
    assert shown["status"] == "fresh" and shown["timepoints"]
    body = {"case": case.pk, "recommendation": "prrt", "rationale": "SSTR-avid disease."}
    answer = api.post("/api/v1/decisions/", body, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["phenotype_snapshot"] == shown
    assert answer.json()["response_snapshot"] == shown_response
    # A later change of the data leaves the stored snapshot as it was.
    with TestCase.captureOnCommitCallbacks(execute=True):
        ObservationFactory(study=sstr, suv_max=Decimal("2"))
    scoring.recompute_phenotype(sstr.patient_id)
    decision = Decision.objects.get(pk=answer.json()["id"])
    assert decision.phenotype_snapshot == shown
    assert api.get(f"/api/v1/patients/{sstr.patient_id}/phenotype/").json() != shown
