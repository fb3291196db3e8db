"""Tamper evidence for signed decisions: a SHA-256 digest of each signed decision's canonical
content, chained to the digest of the decision signed before it.

The database already refuses UPDATE and DELETE of a signed decision (the
``signed_decision_immutable`` trigger); someone who can switch triggers off (a database
superuser, the table's owner) could still change one. The chain makes such a change visible:

- ``signed_digest`` is ``sha256(decision_canonical(decision)).hexdigest()``;
- ``previous_digest`` is the ``signed_digest`` of the decision at ``chain_position - 1``, or
  ``""`` for the first link (``GENESIS``);
- ``chain_position`` is 1, 2, 3, … in the order of signing (the order in which signing
  transactions took the chain lock, ``CHAIN_LOCK``); it is unique in the database.

The canonical content (``canonical_bytes``) is JSON with sorted keys, separators ``,`` and
``:``, ``ensure_ascii=False``, encoded as UTF-8, of: ``id``, ``case``, ``patient`` (the case's),
``recommendation``, ``rationale``, ``attendees``, ``signer_id`` and ``signer_username`` (the
user name stored with the decision when it was signed, ``Decision.signer_username``: renaming the
account later changes nothing that was signed),
``decided_at`` and ``signed_at`` (ISO 8601 in UTC with microseconds, ``+00:00``),
``phenotype_snapshot``, ``response_snapshot``, ``acknowledged_preliminary``,
``outside_meeting``, ``supersedes`` (an id or null), ``chain_position`` and
``previous_digest``; and ``agent_choice_lesions`` (what the decision kept of a PPGL agent
choice beside its snapshot) only where it is not empty, so that the digests of decisions signed
before NETboard kept it, and of every decision §11 does not apply to, are unchanged. Snapshots
are written as a JSON column gives them back: a number that is an integer (``3`` and ``3.0``
alike; PostgreSQL's ``jsonb`` may return ``1e+20`` as an integer) is written as an integer, any
other number in Python's shortest form, so the digest of a decision is the same before and after
a round trip through the database. The form is fixed: changing it
would make every stored digest fail; a new form needs a new, versioned function.

What the chain cannot show by itself: removing the LAST links (nothing follows them). The
``verify_decisions`` command prints the head of the chain (position and digest); keeping that
line somewhere else (a ticket, a mail) makes a truncation visible later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from apps.decisions.models import Decision

GENESIS = ""
"""The ``previous_digest`` of the first decision of the chain."""

CHAIN_LOCK = "netboard.decisions.chain"
"""The name of the transaction-scoped advisory lock that serialises appends to the chain
(``pg_advisory_xact_lock(hashtextextended(CHAIN_LOCK, 0))``). It is the last lock a signing
transaction takes (after the case, the patient and the assessment: apps/patients/locks.py), and
nothing waits for another lock while holding it."""

# The columns (``values()`` names) the canonical content is made of.
CONTENT_FIELDS = (
    "id",
    "case_id",
    "case__patient_id",
    "recommendation",
    "rationale",
    "attendees",
    "decided_by_id",
    "signer_username",
    "decided_at",
    "signed_at",
    "phenotype_snapshot",
    "response_snapshot",
    "acknowledged_preliminary",
    "outside_meeting",
    "supersedes_id",
    "chain_position",
    "previous_digest",
    "agent_choice_lesions",
)


# --- The canonical content and its digest ---------------------------------------------------------


def _stamp(moment: datetime | None) -> str | None:
    """A timestamp in ISO 8601, UTC, always with microseconds (PostgreSQL keeps microseconds)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _stable_numbers(value: Any) -> Any:
    """``value`` (as JSON gives it back) with every integral number as an ``int``."""
    if isinstance(value, dict):
        return {key: _stable_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stable_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _json_value(value: Any) -> Any:
    """A JSON column's value as it reads back from the database: JSON-encoded as the column
    encodes it (tuples become lists, keys strings), decoded, integral numbers as integers. A
    value JSON cannot hold (NaN, infinity, an object) raises ``ValueError``/``TypeError``."""
    return _stable_numbers(json.loads(json.dumps(value, allow_nan=False)))


def canonical_bytes(values: Mapping[str, Any]) -> bytes:
    """The canonical content of a decision given its ``CONTENT_FIELDS`` values."""
    content = {
        "id": values["id"],
        "case": values["case_id"],
        "patient": values["case__patient_id"],
        "recommendation": values["recommendation"],
        "rationale": values["rationale"],
        "attendees": values["attendees"],
        "signer_id": values["decided_by_id"],
        "signer_username": values["signer_username"],
        "decided_at": _stamp(values["decided_at"]),
        "signed_at": _stamp(values["signed_at"]),
        "phenotype_snapshot": _json_value(values["phenotype_snapshot"]),
        "response_snapshot": _json_value(values["response_snapshot"]),
        "acknowledged_preliminary": bool(values["acknowledged_preliminary"]),
        "outside_meeting": bool(values["outside_meeting"]),
        "supersedes": values["supersedes_id"],
        "chain_position": values["chain_position"],
        "previous_digest": values["previous_digest"],
    }
    # Only where not empty: the content of a decision without it is what it always was.
    if values.get("agent_choice_lesions"):
        content["agent_choice_lesions"] = _json_value(values["agent_choice_lesions"])
    text = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def digest_of(values: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(values)).hexdigest()


def _values_of(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.pk,
        "case_id": decision.case_id,
        "case__patient_id": decision.case.patient_id,
        "recommendation": decision.recommendation,
        "rationale": decision.rationale,
        "attendees": decision.attendees,
        "decided_by_id": decision.decided_by_id,
        "signer_username": decision.signer_username,
        "decided_at": decision.decided_at,
        "signed_at": decision.signed_at,
        "phenotype_snapshot": decision.phenotype_snapshot,
        "response_snapshot": decision.response_snapshot,
        "acknowledged_preliminary": decision.acknowledged_preliminary,
        "outside_meeting": decision.outside_meeting,
        "supersedes_id": decision.supersedes_id,
        "chain_position": decision.chain_position,
        "previous_digest": decision.previous_digest,
        "agent_choice_lesions": decision.agent_choice_lesions,
    }


def decision_canonical(decision: Decision) -> bytes:
    """The canonical content of ``decision`` as it is in memory (see the module's docstring)."""
    return canonical_bytes(_values_of(decision))


def decision_digest(decision: Decision) -> str:
    return hashlib.sha256(decision_canonical(decision)).hexdigest()


# --- Signing: appending to the chain --------------------------------------------------------------


def reserve_id() -> int:
    """An id for a decision about to be inserted signed: its digest covers its id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('decisions_decision', 'id'))")
        return int(cursor.fetchone()[0])


def chain_append(decision: Decision) -> None:
    """Give ``decision`` (about to be written signed: ``signed_at`` and ``pk`` set, every other
    field final) its place in the chain: ``chain_position``, ``previous_digest`` and
    ``signed_digest``. Call it inside the signing transaction, just before the write: it takes
    the chain lock, which the transaction holds until it ends, so two signings never get the
    same position or predecessor. It stores the signer's user name as it is now
    (``signer_username``), which the digest covers. The caller saves the fields."""
    if decision.pk is None or decision.signed_at is None:
        raise ValueError("Only a decision with an id and a signature time joins the chain.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [CHAIN_LOCK])
    head = (
        Decision.objects.filter(chain_position__isnull=False)
        .order_by("-chain_position")
        .values_list("chain_position", "signed_digest")
        .first()
    )
    position, previous = head if head is not None else (0, GENESIS)
    decision.signer_username = decision.decided_by.get_username()
    decision.chain_position = position + 1
    decision.previous_digest = previous
    decision.signed_digest = decision_digest(decision)


CHAIN_FIELDS = ["signer_username", "chain_position", "previous_digest", "signed_digest"]


# --- Verification ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainResult:
    """The outcome of ``verify_chain``: ``checked`` links verified, in chain order (before the
    broken one, if any); ``first_broken`` is the first decision that does not verify (``None``
    when ``ok``) and
    ``reason`` says what does not match. ``head_position`` and ``head_digest`` name the last
    link (0 and ``""`` for an empty chain)."""

    ok: bool
    checked: int
    first_broken: Decision | None = None
    reason: str = ""
    head_position: int = 0
    head_digest: str = GENESIS


_ROW_FIELDS = (*CONTENT_FIELDS, "signed_digest")


def _rows() -> Iterator[dict[str, Any]]:
    return (
        Decision.objects.filter(chain_position__isnull=False)
        .order_by("chain_position")
        .values(*_ROW_FIELDS)
        .iterator(chunk_size=500)
    )


def _broken(row: Mapping[str, Any], checked: int, reason: str) -> ChainResult:
    decision = Decision.objects.select_related("case", "decided_by").filter(pk=row["id"]).first()
    return ChainResult(ok=False, checked=checked, first_broken=decision, reason=reason)


def verify_chain() -> ChainResult:
    """Check every link of the chain in order: each decision's digest against its content, its
    ``previous_digest`` against the previous link's ``signed_digest``, positions 1, 2, 3, …
    without a gap (a deleted link); then that no signed decision is outside the chain (signed
    behind the signing service's back). Streams the rows, only the columns it needs."""
    expected, previous, checked = 1, GENESIS, 0
    previous_id: int | None = None
    for row in _rows():
        position = row["chain_position"]
        if position != expected:
            missing = (
                f"position {expected}"
                if position == expected + 1
                else f"positions {expected} to {position - 1}"
            )
            return _broken(
                row,
                checked,
                f"chain position {position} follows position {expected - 1}: the signed "
                f"decision at {missing} is missing (deleted)",
            )
        if row["previous_digest"] != previous:
            return _broken(
                row,
                checked,
                f"its previous_digest does not match the signature digest of the previous "
                f"signed decision (decision {previous_id}, position {position - 1}): that "
                f"decision or this link was changed",
            )
        if row["signed_at"] is None:
            return _broken(row, checked, "it is in the chain but no longer signed (signed_at)")
        if digest_of(row) != row["signed_digest"]:
            return _broken(row, checked, _content_mismatch(row))
        checked += 1
        expected, previous, previous_id = position + 1, row["signed_digest"], row["id"]
    unchained = (
        Decision.objects.filter(signed_at__isnull=False, chain_position__isnull=True)
        .order_by("signed_at", "id")
        .values("id")
        .first()
    )
    if unchained is not None:
        return _broken(
            unchained,
            checked,
            "it is signed but not in the chain (no signature digest): it was not signed "
            "through NETboard's signing",
        )
    return ChainResult(ok=True, checked=checked, head_position=expected - 1, head_digest=previous)


def _content_mismatch(row: Mapping[str, Any]) -> str:
    """Why a link's digest does not match, naming the changed fields when the audit trail still
    holds the decision as signed (its first signed event, whose content has the stored
    digest)."""
    reason = "its content no longer matches its signature digest"
    changed = _changed_since_signing(row)
    if changed:
        reason += f" (changed since signing: {', '.join(changed)})"
    return reason


def _changed_since_signing(row: Mapping[str, Any]) -> list[str]:
    """The columns that differ from the audit event written when the decision was signed (the
    first event with its digest), or what it refers to when none does; ``[]`` when the audit
    trail does not have that event."""
    if not row["signed_digest"]:
        return []
    event_model = Decision.pgh_event_model  # type: ignore[attr-defined]
    fields = [name for name in CONTENT_FIELDS if "__" not in name]
    signed = (
        event_model.objects.filter(
            pgh_obj_id=row["id"], signed_digest=row["signed_digest"], signed_at__isnull=False
        )
        .order_by("pgh_id")
        .values(*fields)
        .first()
    )
    if signed is None:
        return []
    if not signed["signer_username"]:
        # Signed before NETboard kept the signer's name (migration 0009 filled it in later).
        fields.remove("signer_username")
    changed = [name for name in fields if _comparable(signed[name]) != _comparable(row[name])]
    return changed or ["the case's patient"]


def _comparable(value: Any) -> Any:
    if isinstance(value, dict | list):
        return _json_value(value)
    if isinstance(value, datetime):
        return _stamp(value)
    return value


# --- One decision, for its page -------------------------------------------------------------------


@dataclass(frozen=True)
class Integrity:
    """What a page says about a signed decision: ``verified`` or not, the digest, and if not,
    ``reason`` (one sentence, lower case: pages put "Altered since signing:" before it)."""

    verified: bool
    digest: str
    reason: str = ""

    @property
    def short_digest(self) -> str:
        return self.digest[:12]


def decision_integrity(decision: Decision) -> Integrity | None:
    """Whether ``decision`` is unchanged since signing: its digest recomputed from the row as
    stored, and its links to the previous and the next signed decision. ``None`` for a draft
    (not signed, not in the chain). Reads the row again (not the instance in memory) and its
    two neighbours: two queries."""
    row = Decision.objects.filter(pk=decision.pk).values(*_ROW_FIELDS).first()
    if row is None:
        return None
    position = row["chain_position"]
    if position is None:
        if row["signed_at"] is None:
            return None
        return Integrity(
            verified=False,
            digest="",
            reason="this signed decision has no signature digest: it was not signed through "
            "NETboard's signing.",
        )
    digest = row["signed_digest"]
    if row["signed_at"] is None or digest_of(row) != digest:
        return Integrity(
            verified=False,
            digest=digest,
            reason="the stored decision no longer matches its signature digest.",
        )
    # One query for both neighbours, whatever the position (a page's query count is fixed).
    neighbours = {
        link["chain_position"]: link
        for link in Decision.objects.filter(chain_position__in=[position - 1, position + 1]).values(
            *_ROW_FIELDS
        )
    }
    before = neighbours.get(position - 1)
    if position == 1:
        previous_ok = row["previous_digest"] == GENESIS
    else:
        previous_ok = before is not None and before["signed_digest"] == row["previous_digest"]
    if not previous_ok:
        return Integrity(
            verified=False,
            digest=digest,
            reason="the signature chain is broken before this decision: the previous signed "
            "decision was changed or removed since this one was signed.",
        )
    following = neighbours.get(position + 1)
    if (
        following is not None
        and following["previous_digest"] != digest
        and digest_of(following) == following["signed_digest"]
    ):
        # The next link is intact and was chained to another digest of this decision.
        return Integrity(
            verified=False,
            digest=digest,
            reason="the next signed decision was chained to another digest of this one: this "
            "decision was changed and its digest recomputed.",
        )
    return Integrity(verified=True, digest=digest)


def decision_verified(decision: Decision) -> bool | None:
    """``True`` when a signed decision is unchanged since signing (``decision_integrity``),
    ``False`` when it is not, ``None`` for a draft."""
    integrity = decision_integrity(decision)
    return None if integrity is None else integrity.verified
