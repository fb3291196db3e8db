"""Decisions recorded through the API keep the assessment as the API showed it (API.md:
*phenotype_snapshot*, "the assessment as shown when decided; immutable")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import TestCase
from rest_framework.test import APIClient

from apps.decisions.models import Decision
from apps.scoring import services as scoring
from tests.database import second_connection
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


@pytest.mark.django_db(transaction=True)
def test_a_decision_posted_through_the_api_waits_for_a_recompute_storing_its_result(
    token_client: Callable[..., APIClient],
) -> None:
    """The API's decision takes its snapshot under the same lock as the decision form (issue
    14): a recompute that holds the stored assessment while it writes a new result is waited
    for, and the snapshot is the new result, never the one being replaced."""
    sstr = StudyFactory()
    ObservationFactory(study=sstr, suv_max=Decimal("25"))
    scoring.recompute_phenotype(sstr.patient_id)
    case = CaseFactory(patient=sstr.patient)
    api = token_client("clinician")
    holding, posted = threading.Event(), threading.Event()

    def recompute_in_progress() -> None:
        with second_connection() as other, other.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM scoring_phenotypeassessment WHERE patient_id = %s FOR UPDATE",
                [sstr.patient_id],
            )
            holding.set()
            posted.wait(10)
            time.sleep(0.5)  # the POST is waiting on the lock meanwhile (or has read already)
            cursor.execute(
                "UPDATE scoring_phenotypeassessment SET phenotype = jsonb_set(phenotype::jsonb, "
                "'{rules_version}', '\"new\"'), computed_at = now() WHERE patient_id = %s",
                [sstr.patient_id],
            )
            other.commit()

    worker = threading.Thread(target=recompute_in_progress)
    worker.start()
    assert holding.wait(10)
    posted.set()
    body = {"case": case.pk, "recommendation": "prrt", "rationale": "SSTR-avid disease."}
    answer = api.post("/api/v1/decisions/", body, format="json")
    worker.join(10)
    assert answer.status_code == 201, answer.content
    assert answer.json()["phenotype_snapshot"]["rules_version"] == "new"
    assert answer.json()["phenotype_snapshot"] == (
        api.get(f"/api/v1/patients/{sstr.patient_id}/phenotype/").json()
    )
