"""Tamper-evident decisions (issue 17, part 5): each signed decision stores a SHA-256 digest of
its canonical content, chained to the digest of the decision signed before it;
``manage.py verify_decisions`` checks the chain and names the first broken link; the decision
pages say "Verified" or "Altered since signing".

The database refuses UPDATE and DELETE of a signed decision; these tests change signed rows as
a database superuser could anyway: with the triggers switched off (``ALTER TABLE … DISABLE
TRIGGER ALL``, or ``session_replication_role = replica``, which silences the audit triggers
too)."""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import IntegrityError, ProgrammingError, connection, connections, transaction
from django.test import Client
from django.utils import timezone

from apps.decisions import integrity, services
from apps.decisions.integrity import decision_canonical, decision_verified, verify_chain
from apps.decisions.models import Case, Decision
from apps.scoring.models import PhenotypeAssessment
from tests.decisions.test_decision_pages import decide, shown
from tests.decisions.test_meeting_pages import client_for, graded_patient, html_of
from tests.factories import CaseFactory, MeetingFactory, UserFactory

pytestmark = pytest.mark.django_db

SHOWN = {"timepoints": [{"netpet": {"grade": "P1"}}], "suv_max": 12.5}
RATIONALE = "All lesions Krenning 4, no FDG-avid disease."


def assessed_case(phenotype: dict[str, Any] | None = None) -> Case:
    """A case whose patient has a stored assessment (``phenotype``, default ``SHOWN``)."""
    case = CaseFactory()
    # update_or_create: with autocommit (the concurrency test) the patient's recompute has
    # already stored one.
    PhenotypeAssessment.objects.update_or_create(
        patient=case.patient,
        defaults={
            "phenotype": phenotype or SHOWN,
            "rules_version": "test",
            "rules_fingerprint": "test",
            "inputs_digest": "test",
            "inputs_version": 1,
            "computed_at": timezone.now(),
        },
    )
    return case


def signed(*, via: str = "record", rationale: str = RATIONALE, **fields: Any) -> Decision:
    """A decision signed through the service: inserted signed (``decision_record(sign=True)``)
    or saved as a draft and then signed (``decision_sign``)."""
    case = assessed_case(fields.pop("phenotype", None))
    decision = services.decision_record(
        case=case,
        recommendation="prrt",
        rationale=rationale,
        attendees="Dr Ada, Dr Byron",
        decided_by=UserFactory(),
        sign=via == "record",
        **fields,
    )
    if via == "sign":
        decision = services.decision_sign(decision=decision)
    return Decision.objects.get(pk=decision.pk)


def chain(n: int) -> list[Decision]:
    """``n`` signed decisions, alternately through both signing paths."""
    return [signed(via="record" if i % 2 == 0 else "sign") for i in range(n)]


@contextmanager
def triggers_off(how: str = "disable") -> Iterator[Any]:
    """A cursor with the triggers of decisions_decision switched off, as a superuser would."""
    with connection.cursor() as cursor:
        if how == "disable":
            # The test's transaction has deferred foreign-key checks pending; a superuser's
            # session would not.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE decisions_decision DISABLE TRIGGER ALL")
        else:
            cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            if how == "disable":
                cursor.execute("ALTER TABLE decisions_decision ENABLE TRIGGER ALL")
            else:
                cursor.execute("SET session_replication_role = origin")


def tamper(sql: str, params: list[Any], how: str = "disable") -> None:
    with triggers_off(how) as cursor:
        cursor.execute(sql, params)
        assert cursor.rowcount == 1


def run_command(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_decisions", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


# --- Signing --------------------------------------------------------------------------------------


def test_signing_sets_the_digest_and_chains_each_decision_to_the_previous_one() -> None:
    decisions = chain(4)
    assert [d.chain_position for d in decisions] == [1, 2, 3, 4]
    assert decisions[0].previous_digest == integrity.GENESIS == ""
    for before, after in zip(decisions, decisions[1:], strict=False):
        assert after.previous_digest == before.signed_digest
    for decision in decisions:
        assert len(decision.signed_digest) == 64
        expected = hashlib.sha256(decision_canonical(decision)).hexdigest()
        assert decision.signed_digest == expected
    assert len({d.signed_digest for d in decisions}) == 4


def test_the_canonical_content_is_sorted_compact_json_of_what_was_signed() -> None:
    decision = signed(rationale="Tumeur neuroendocrine — Krenning ≥ 3")
    text = decision_canonical(decision).decode("utf-8")
    content = json.loads(text)
    assert text == json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "Krenning ≥ 3" in text  # UTF-8, not \u escapes
    assert content["id"] == decision.pk
    assert content["case"] == decision.case_id
    assert content["patient"] == decision.case.patient_id
    assert content["recommendation"] == "prrt"
    assert content["rationale"] == "Tumeur neuroendocrine — Krenning ≥ 3"
    assert content["attendees"] == "Dr Ada, Dr Byron"
    assert content["signer_id"] == decision.decided_by_id
    assert content["signer_username"] == decision.decided_by.username
    assert decision.signed_at is not None
    assert content["signed_at"] == decision.signed_at.astimezone(UTC).isoformat(
        timespec="microseconds"
    )
    assert content["signed_at"].endswith("+00:00") and len(content["signed_at"]) == 32
    assert content["decided_at"] == decision.decided_at.astimezone(UTC).isoformat(
        timespec="microseconds"
    )
    assert content["phenotype_snapshot"]["timepoints"] == SHOWN["timepoints"]
    assert content["response_snapshot"] == decision.response_snapshot
    assert content["acknowledged_preliminary"] is False
    assert content["outside_meeting"] is False
    assert content["supersedes"] is None
    assert content["chain_position"] == 1
    assert content["previous_digest"] == ""
    # Kept beside the snapshot only for a PPGL agent choice, and only then in the content: the
    # content of every other decision is what it was before NETboard kept it.
    assert decision.agent_choice_lesions == {} and "agent_choice_lesions" not in content


def test_the_digest_covers_every_part_of_the_content() -> None:
    decision = signed()
    row = Decision.objects.filter(pk=decision.pk).values(*integrity.CONTENT_FIELDS).get()
    digest = integrity.digest_of(row)
    assert digest == decision.signed_digest
    changes = {
        "id": decision.pk + 1,
        "case_id": decision.case_id + 1,
        "case__patient_id": decision.case.patient_id + 1,
        "recommendation": "ssa",
        "rationale": "Other",
        "attendees": "Dr Other",
        "decided_by_id": decision.decided_by_id + 1,
        "signer_username": "someone-else",
        "decided_at": decision.decided_at + timedelta(microseconds=1),
        "signed_at": decision.signed_at + timedelta(microseconds=1),  # type: ignore[operator]
        "phenotype_snapshot": {**decision.phenotype_snapshot, "suv_max": 12.6},
        "response_snapshot": {"changed": True},
        "acknowledged_preliminary": True,
        "outside_meeting": True,
        "supersedes_id": 1,
        "chain_position": 2,
        "previous_digest": "0" * 64,
        "agent_choice_lesions": {"labels": {"1": "T7 vertebra"}},
    }
    assert set(changes) == set(integrity.CONTENT_FIELDS)
    for field, value in changes.items():
        assert integrity.digest_of({**row, field: value}) != digest, field


def test_the_digest_is_stable_across_a_database_round_trip() -> None:
    """Numbers a JSON column gives back in another form (1e20 as an integer, -0.0 as 0, 1.0 as
    1.0), nested keys in another order, non-ASCII text: the same canonical content."""
    tricky = {
        "z": 1,
        "a": {"suv": 12.5, "ratio": 1.0, "big": 1e20, "tiny": 1e-7, "neg_zero": -0.0},
        "sum": 0.1 + 0.2,
        "huge_int": 2**70,
        "text": "Krenning ≥ 3 — ü",
        "lists": [[3, 2.0, "x"], {"b": None, "a": True}],
    }
    case = CaseFactory()
    decision = Decision(
        pk=integrity.reserve_id(),
        case=case,
        recommendation="prrt",
        rationale=RATIONALE,
        decided_by=UserFactory(),
        decided_at=timezone.now(),
        signed_at=timezone.now(),
        phenotype_snapshot=tricky,
        response_snapshot={"w": 3.25, "v": [1e16]},
    )
    before = decision_canonical(decision)
    decision.save(force_insert=True)
    reloaded = Decision.objects.get(pk=decision.pk)
    # The round trip does change the values (so this test can fail)...
    assert isinstance(reloaded.phenotype_snapshot["a"]["big"], int)
    assert json.dumps(reloaded.phenotype_snapshot, sort_keys=True) != json.dumps(
        tricky, sort_keys=True
    )
    # ...but not the canonical content.
    assert decision_canonical(reloaded) == before
    # And a decision signed by the service verifies after a reload.
    on_tricky = signed(phenotype={**SHOWN, **tricky})
    assert on_tricky.signed_digest == integrity.decision_digest(
        Decision.objects.get(pk=on_tricky.pk)
    )
    assert decision_verified(on_tricky) is True


def test_drafts_are_not_in_the_chain() -> None:
    first = signed()
    draft = services.decision_record(
        case=assessed_case(), recommendation="ssa", rationale="Draft.", decided_by=UserFactory()
    )
    draft.refresh_from_db()
    assert draft.chain_position is None
    assert draft.signed_digest == draft.previous_digest == ""
    assert decision_verified(draft) is None
    second = signed()
    assert second.chain_position == 2 and second.previous_digest == first.signed_digest
    assert verify_chain().checked == 2
    services.decision_sign(decision=draft)
    draft.refresh_from_db()
    assert draft.chain_position == 3 and draft.previous_digest == second.signed_digest
    assert verify_chain().ok


def test_a_decision_signed_in_the_browser_is_chained(db: None) -> None:
    clinician = client_for("clinician")
    case = CaseFactory(patient=graded_patient(mrn="TAMPER-1"), meeting=MeetingFactory())
    url = f"/cases/{case.pk}/decision/"
    response = decide(clinician, url, shown(clinician, url))
    assert response.status_code == 302
    decision = Decision.objects.get(case=case)
    assert decision.is_signed and decision.chain_position == 1
    assert decision.signed_digest == integrity.decision_digest(decision)
    # A draft saved in the browser, then signed there: the next link.
    other = CaseFactory(patient=graded_patient(mrn="TAMPER-2"), meeting=MeetingFactory())
    url = f"/cases/{other.pk}/decision/"
    decide(clinician, url, shown(clinician, url), action="draft")
    assert Decision.objects.get(case=other).chain_position is None
    decide(clinician, url, shown(clinician, url))
    signed_draft = Decision.objects.get(case=other)
    assert signed_draft.chain_position == 2
    assert signed_draft.previous_digest == decision.signed_digest
    assert verify_chain().ok


def test_chain_positions_are_unique_in_the_database() -> None:
    first = signed()
    draft = services.decision_record(
        case=assessed_case(), recommendation="ssa", rationale="Draft.", decided_by=UserFactory()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.filter(pk=draft.pk).update(
            signed_at=timezone.now(), chain_position=first.chain_position
        )
    # And only a signed decision has a place in the chain.
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.filter(pk=draft.pk).update(chain_position=99)


def test_a_signed_decision_and_its_digest_stay_protected_by_the_trigger() -> None:
    decision = signed()
    with pytest.raises(ProgrammingError), transaction.atomic():
        Decision.objects.filter(pk=decision.pk).update(signed_digest="0" * 64)


# --- Verification ---------------------------------------------------------------------------------


def test_verify_passes_on_an_untouched_chain() -> None:
    decisions = chain(5)
    services.decision_record(
        case=assessed_case(), recommendation="ssa", rationale="Draft.", decided_by=UserFactory()
    )
    result = verify_chain()
    assert result.ok and result.first_broken is None and result.reason == ""
    assert result.checked == 5
    assert result.head_position == 5 and result.head_digest == decisions[-1].signed_digest
    assert all(decision_verified(d) is True for d in decisions)


def test_an_empty_chain_verifies() -> None:
    result = verify_chain()
    assert result.ok and result.checked == 0 and result.head_position == 0


def test_a_rationale_changed_with_the_triggers_disabled_is_named() -> None:
    first, second, third = chain(3)
    tamper(
        "UPDATE decisions_decision SET rationale = %s WHERE id = %s",
        ["No PRRT: surveillance only.", second.pk],
    )
    result = verify_chain()
    assert not result.ok
    assert result.first_broken is not None and result.first_broken.pk == second.pk
    assert result.checked == 1
    assert "no longer matches its signature digest" in result.reason
    # The audit trail still holds the decision as signed: the changed field is named.
    assert "rationale" in result.reason and "snapshot" not in result.reason
    assert decision_verified(second) is False
    assert decision_verified(first) is True and decision_verified(third) is True


def test_a_snapshot_changed_as_a_superuser_is_named() -> None:
    first, second, third = chain(3)
    tamper(
        "UPDATE decisions_decision SET phenotype_snapshot = jsonb_set(phenotype_snapshot, "
        "'{timepoints,0,netpet,grade}', '\"P3\"') WHERE id = %s",
        [third.pk],
        how="replica",
    )
    assert Decision.objects.get(pk=third.pk).phenotype_snapshot["timepoints"][0]["netpet"] == {
        "grade": "P3"
    }
    result = verify_chain()
    assert not result.ok and result.first_broken is not None
    assert result.first_broken.pk == third.pk
    assert result.checked == 2
    assert "phenotype_snapshot" in result.reason
    assert decision_verified(third) is False and decision_verified(second) is True


def test_a_number_in_the_snapshot_rewritten_to_an_equal_value_still_verifies() -> None:
    """12.5 written as 12.50 (the same number): not a change of content."""
    decision = signed()
    tamper(
        "UPDATE decisions_decision SET phenotype_snapshot = jsonb_set(phenotype_snapshot, "
        "'{suv_max}', '12.50') WHERE id = %s",
        [decision.pk],
    )
    assert verify_chain().ok
    tamper(
        "UPDATE decisions_decision SET phenotype_snapshot = jsonb_set(phenotype_snapshot, "
        "'{suv_max}', '12.51') WHERE id = %s",
        [decision.pk],
    )
    assert not verify_chain().ok


def test_a_deleted_link_is_named_by_the_decision_after_it() -> None:
    first, second, third, fourth = chain(4)
    tamper("DELETE FROM decisions_decision WHERE id = %s", [second.pk], how="replica")
    result = verify_chain()
    assert not result.ok and result.first_broken is not None
    assert result.first_broken.pk == third.pk
    assert "position 2 is missing (deleted)" in result.reason
    assert decision_verified(third) is False
    assert decision_verified(first) is True and decision_verified(fourth) is True


def test_a_link_rewritten_with_a_consistent_digest_is_caught_by_the_next_link() -> None:
    """Someone who knows the scheme changes decision 2 and recomputes its digest (and keeps
    its previous_digest right), but does not rewrite decision 3: decision 3 is named."""
    first, second, third, fourth = chain(4)
    forged = Decision.objects.select_related("case", "decided_by").get(pk=second.pk)
    forged.rationale = "Changed, with a recomputed digest."
    forged_digest = integrity.decision_digest(forged)
    tamper(
        "UPDATE decisions_decision SET rationale = %s, signed_digest = %s WHERE id = %s",
        [forged.rationale, forged_digest, second.pk],
    )
    result = verify_chain()
    assert not result.ok and result.first_broken is not None
    assert result.first_broken.pk == third.pk
    assert result.checked == 2
    assert "previous_digest" in result.reason and f"decision {second.pk}" in result.reason
    # Its page is not fooled either: the next link was chained to another digest of it.
    assert decision_verified(second) is False
    assert decision_verified(third) is False
    assert decision_verified(first) is True and decision_verified(fourth) is True


def test_a_previous_digest_changed_alone_is_named() -> None:
    first, second, third = chain(3)
    tamper(
        "UPDATE decisions_decision SET previous_digest = %s WHERE id = %s",
        ["f" * 64, third.pk],
    )
    result = verify_chain()
    assert result.first_broken is not None and result.first_broken.pk == third.pk
    assert decision_verified(third) is False and decision_verified(second) is True


def test_a_signed_decision_outside_the_chain_is_named() -> None:
    """Inserted signed behind the signing service's back (the trigger allows an INSERT)."""
    chain(2)
    outsider = Decision.objects.create(
        case=CaseFactory(),
        recommendation="prrt",
        rationale=RATIONALE,
        decided_by=UserFactory(),
        decided_at=timezone.now(),
        signed_at=timezone.now(),
    )
    result = verify_chain()
    assert not result.ok and result.first_broken is not None
    assert result.first_broken.pk == outsider.pk
    assert result.checked == 2
    assert "not in the chain" in result.reason
    assert decision_verified(outsider) is False


def test_renaming_a_signers_account_leaves_what_they_signed_verified() -> None:
    """The signer's user name is part of what was signed, as it was when they signed
    (``signer_username``): an administrator renaming the account later (a new surname) is not
    an alteration of the decisions it signed. Before NETboard kept the name, the digest covered
    the account's current name, and this rename showed both decisions as altered."""
    first, second = chain(2)
    signer = second.decided_by.username
    assert second.signer_username == signer
    type(second.decided_by).objects.filter(pk=second.decided_by_id).update(username="renamed")
    result = verify_chain()
    assert result.ok and result.checked == 2
    second = Decision.objects.select_related("decided_by").get(pk=second.pk)
    assert decision_verified(second) is True
    assert second.signer_username == signer and second.decided_by.username == "renamed"
    content = json.loads(decision_canonical(second))
    assert content["signer_username"] == signer


def test_a_stored_signer_name_changed_is_named() -> None:
    first, second = chain(2)
    tamper(
        "UPDATE decisions_decision SET signer_username = %s WHERE id = %s",
        ["someone-else", second.pk],
    )
    result = verify_chain()
    assert result.first_broken is not None and result.first_broken.pk == second.pk
    assert "changed since signing: signer_username" in result.reason
    assert decision_verified(second) is False and decision_verified(first) is True


def test_drafts_keep_no_signer_name_until_signed() -> None:
    case = assessed_case()
    draft = services.decision_record(
        case=case,
        recommendation="prrt",
        rationale=RATIONALE,
        attendees="",
        decided_by=UserFactory(),
        sign=False,
    )
    assert Decision.objects.get(pk=draft.pk).signer_username == ""
    services.decision_sign(decision=draft)
    assert Decision.objects.get(pk=draft.pk).signer_username == draft.decided_by.username


def test_the_migration_names_the_decisions_signed_before_it_and_they_still_verify() -> None:
    """0009 gives every decision signed before it its signer's current account name; their
    digests, made over that name, verify unchanged, and a later change is still named (not the
    name, which the audit event of the signing does not have)."""
    migration = importlib.import_module("apps.decisions.migrations.0009_decision_signer_username")
    first, second = chain(2)
    with triggers_off("replica") as cursor:  # as signed before 0009: no name stored
        cursor.execute("UPDATE decisions_decision SET signer_username = ''")
        cursor.execute("UPDATE decisions_decisionevent SET signer_username = ''")
    assert not verify_chain().ok
    migration.fill_signer_username(django_apps, SimpleNamespace(connection=connection))
    names = dict(Decision.objects.values_list("pk", "signer_username"))
    assert names == {first.pk: first.decided_by.username, second.pk: second.decided_by.username}
    assert verify_chain().ok
    with pytest.raises(ProgrammingError), transaction.atomic():  # protected again
        Decision.objects.filter(pk=first.pk).update(rationale="Changed.")
    tamper("UPDATE decisions_decision SET rationale = %s WHERE id = %s", ["Other.", second.pk])
    reason = verify_chain().reason
    assert "changed since signing: rationale)" in reason, reason


def test_the_chain_check_streams_the_rows(django_assert_max_num_queries: Any) -> None:
    chain(6)
    with django_assert_max_num_queries(4):
        assert verify_chain().ok


def test_checking_one_decision_costs_two_queries_wherever_it_is_in_the_chain(
    django_assert_num_queries: Any,
) -> None:
    """A page's query count does not depend on the decision's place in the chain."""
    for decision in chain(3):
        with django_assert_num_queries(2):
            assert decision_verified(decision) is True


# --- The command ----------------------------------------------------------------------------------


def test_the_command_says_how_many_were_verified_and_exits_0() -> None:
    decisions = chain(3)
    code, out, err = run_command()
    assert code == 0 and err == ""
    assert out.splitlines()[0] == "3 signed decisions verified."
    head = f"3:{decisions[-1].signed_digest}"
    assert head in out
    assert run_command("--anchor", head)[0] == 0


def test_the_command_names_the_first_broken_link_and_exits_1() -> None:
    first, second, third = chain(3)
    tamper("UPDATE decisions_decision SET rationale = %s WHERE id = %s", ["Changed.", second.pk])
    tamper("UPDATE decisions_decision SET rationale = %s WHERE id = %s", ["Changed.", third.pk])
    code, out, err = run_command()
    assert code == 1
    assert "verified." not in out
    assert f"decision {second.pk} " in err and f"decision {third.pk} " not in err
    assert f"case {second.case_id}" in err
    assert second.signed_at is not None and second.signed_at.isoformat() in err
    assert "chain position 2" in err
    assert "no longer matches its signature digest" in err and "rationale" in err


def test_the_command_notices_a_truncated_chain_with_an_anchor() -> None:
    decisions = chain(3)
    head = f"3:{decisions[-1].signed_digest}"
    tamper("DELETE FROM decisions_decision WHERE id = %s", [decisions[-1].pk], how="replica")
    assert run_command()[0] == 0  # nothing follows the last link: only the anchor shows it
    code, _out, err = run_command("--anchor", head)
    assert code == 1 and "truncated" in err


# --- The pages ------------------------------------------------------------------------------------


def test_the_decision_page_says_verified_or_altered_since_signing() -> None:
    first, second = chain(2)
    tamper("UPDATE decisions_decision SET rationale = %s WHERE id = %s", ["Changed.", second.pk])
    draft = services.decision_record(
        case=assessed_case(), recommendation="ssa", rationale="Draft.", decided_by=UserFactory()
    )
    client: Client = client_for("clinician")
    intact = html_of(client.get(f"/decisions/{first.pk}/"))
    assert f'Verified: unchanged since signing (SHA-256 <code title="{first.signed_digest}">' in (
        intact
    )
    assert f">{first.signed_digest[:12]}…</code>)" in intact
    assert "Altered since signing" not in intact
    altered = html_of(client.get(f"/decisions/{second.pk}/"))
    assert (
        "<strong>Altered since signing</strong>: the stored decision no longer matches its "
        "signature digest."
    ) in altered
    assert 'role="alert"' in altered and "Verified" not in altered
    plain = html_of(client.get(f"/decisions/{draft.pk}/"))
    assert "Verified" not in plain and "Altered since signing" not in plain
    # The printable summary and the case page say it too.
    summary = html_of(client.get(f"/cases/{second.case_id}/summary/"))
    assert "Altered since signing" in summary
    assert "Verified: unchanged since signing" in html_of(
        client.get(f"/cases/{first.case_id}/summary/")
    )
    assert "Altered since signing" in html_of(client.get(f"/cases/{second.case_id}/decision/"))


def test_the_page_of_the_link_after_a_deleted_one_says_altered() -> None:
    first, second, third = chain(3)
    tamper("DELETE FROM decisions_decision WHERE id = %s", [second.pk], how="replica")
    client: Client = client_for("clinician")
    page = html_of(client.get(f"/decisions/{third.pk}/"))
    assert "Altered since signing" in page and "signature chain is broken" in page
    assert "Verified: unchanged" in html_of(client.get(f"/decisions/{first.pk}/"))


# --- The upgrade: decisions signed before the chain -----------------------------------------------


def test_the_migration_chains_decisions_signed_before_it_in_signing_order() -> None:
    migration = importlib.import_module("apps.decisions.migrations.0007_chain_signed_decisions")
    now = timezone.now()
    old = [
        Decision.objects.create(
            case=CaseFactory(),
            recommendation="prrt",
            rationale=f"Signed before the chain {i}.",
            decided_by=UserFactory(),
            decided_at=now - timedelta(days=10),
            signed_at=now - timedelta(days=days),
        )
        for i, days in enumerate([3, 5, 4])  # ids in another order than signed_at
    ]
    assert not verify_chain().ok  # signed, but outside the chain
    migration.chain_signed(django_apps, SimpleNamespace(connection=connection))
    # Then, as migrating goes on, 0009 stores each signer's name, which 0007's digests covered.
    importlib.import_module(
        "apps.decisions.migrations.0009_decision_signer_username"
    ).fill_signer_username(django_apps, SimpleNamespace(connection=connection))
    by_position = list(
        Decision.objects.filter(chain_position__isnull=False).order_by("chain_position")
    )
    assert [d.pk for d in by_position] == [old[1].pk, old[2].pk, old[0].pk]
    result = verify_chain()
    assert result.ok and result.checked == 3
    # Signing continues the chain, and the signed rows are protected again.
    after = signed()
    assert after.chain_position == 4 and after.previous_digest == by_position[-1].signed_digest
    assert verify_chain().ok
    with pytest.raises(ProgrammingError), transaction.atomic():
        Decision.objects.filter(pk=old[0].pk).update(rationale="Changed.")


# --- Concurrency ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_signings_get_distinct_positions_in_order() -> None:
    """Two drafts signed at once on two connections: the second waits for the chain lock of
    the first, then chains to it (without the lock both would take position 1)."""
    drafts = [
        services.decision_record(
            case=assessed_case(),
            recommendation="prrt",
            rationale=RATIONALE,
            decided_by=UserFactory(),
        )
        for _ in range(2)
    ]
    first_signed = threading.Event()
    times: dict[str, datetime] = {}
    errors: list[BaseException] = []

    def sign_and_hold() -> None:
        try:
            with transaction.atomic():
                services.decision_sign(decision=drafts[0])
                first_signed.set()
                threading.Event().wait(0.5)  # hold the chain lock a while
                times["first_commit"] = datetime.now(UTC)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            first_signed.set()
        finally:
            connections.close_all()

    def sign_second() -> None:
        try:
            first_signed.wait(10)
            services.decision_sign(decision=drafts[1])
            times["second_done"] = datetime.now(UTC)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign_and_hold), threading.Thread(target=sign_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    first = Decision.objects.get(pk=drafts[0].pk)
    second = Decision.objects.get(pk=drafts[1].pk)
    assert (first.chain_position, second.chain_position) == (1, 2)
    assert second.previous_digest == first.signed_digest
    assert times["second_done"] >= times["first_commit"]
    assert verify_chain().ok
