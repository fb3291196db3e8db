from __future__ import annotations

import pytest
from django.db import ProgrammingError, connection, transaction
from django.utils import timezone

from apps.decisions import services
from apps.decisions.models import Decision
from apps.scoring.models import PhenotypeAssessment
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


SHOWN = {"timepoints": [{"netpet": {"grade": "P1"}}]}


def record(sign: bool) -> Decision:
    """A decision on a case whose patient has the stored result ``SHOWN``: its snapshot."""
    case = CaseFactory()
    PhenotypeAssessment.objects.create(
        patient=case.patient,
        phenotype=SHOWN,
        rules_version="test",
        rules_fingerprint="test",
        inputs_digest="test",
        inputs_version=1,
        computed_at=timezone.now(),
    )
    return services.decision_record(
        case=case,
        recommendation="prrt",
        rationale="All lesions Krenning 4, no FDG-avid disease.",
        decided_by=UserFactory(),
        sign=sign,
    )


def test_draft_decision_can_be_edited() -> None:
    decision = record(sign=False)
    updated = services.decision_update(decision=decision, rationale="Revised after discussion.")
    assert updated.rationale == "Revised after discussion."


def test_signed_decision_cannot_be_edited_through_the_service() -> None:
    decision = record(sign=True)
    with pytest.raises(services.DecisionSignedError):
        services.decision_update(decision=decision, rationale="Changed later.")
    decision.refresh_from_db()
    assert decision.rationale == "All lesions Krenning 4, no FDG-avid disease."


def test_signed_decision_cannot_be_signed_again_or_deleted() -> None:
    decision = record(sign=True)
    with pytest.raises(services.DecisionSignedError):
        services.decision_sign(decision=decision)
    with pytest.raises(services.DecisionSignedError):
        services.decision_delete(decision=decision)
    assert Decision.objects.filter(pk=decision.pk).exists()


def test_signed_decision_is_refused_by_the_database_too() -> None:
    decision = record(sign=True)
    for sql in (
        "UPDATE decisions_decision SET phenotype_snapshot = '{}' WHERE id = %s",
        "DELETE FROM decisions_decision WHERE id = %s",
    ):
        with pytest.raises(ProgrammingError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [decision.pk])
    signed_snapshot = decision.phenotype_snapshot
    assert signed_snapshot["timepoints"] == SHOWN["timepoints"]
    decision.refresh_from_db()
    assert decision.phenotype_snapshot == signed_snapshot


def test_snapshot_and_author_are_not_editable_on_a_draft() -> None:
    decision = record(sign=False)
    with pytest.raises(services.ValidationError):
        services.decision_update(decision=decision, phenotype_snapshot={})


def test_a_new_decision_supersedes_a_signed_one_on_the_same_case() -> None:
    first = record(sign=True)
    second = services.decision_record(
        case=first.case,
        recommendation="surveillance",
        rationale="New FDG-avid lesion; PRRT deferred.",
        decided_by=first.decided_by,
        supersedes=first,
        sign=True,
    )
    assert first.superseded_by == second
    with pytest.raises(services.ValidationError):
        services.decision_record(
            case=CaseFactory(),
            recommendation="ssa",
            rationale="x",
            decided_by=first.decided_by,
            supersedes=second,
        )
