"""The decisions signed before the chain existed join it: in the order ``signed_at``, ``id``,
each gets its chain position, the previous link's digest and its own digest
(``apps.decisions.integrity``), so ``verify_decisions`` verifies an upgraded database.

A signed decision is protected by the ``signed_decision_immutable`` trigger: this migration
switches that one trigger off for its own transaction (``ALTER TABLE … DISABLE TRIGGER``,
which the table's owner, who runs the migrations, may do) and on again. The audit triggers stay
on: each decision chained here has an ``update`` event with its new digest. The chain made
here is only as trustworthy as the rows were when it ran."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db import migrations

PROTECT_TRIGGER = "pgtrigger_signed_decision_immutable_f7afe"


def chain_signed(apps: Any, schema_editor: Any) -> None:
    from apps.decisions.integrity import CONTENT_FIELDS, GENESIS, digest_of

    # The columns of this migration's state: ``agent_choice_lesions`` (0008) is not one yet, and
    # the canonical content of a decision without it does not include it; ``signer_username``
    # (0009) is not one either: the signer's name is their account's, as it is now.
    username = f"decided_by__{get_user_model().USERNAME_FIELD}"
    fields = [
        username if name == "signer_username" else name
        for name in CONTENT_FIELDS
        if name != "agent_choice_lesions"
    ]

    decisions = apps.get_model("decisions", "Decision")
    unchained = decisions.objects.filter(signed_at__isnull=False, chain_position__isnull=True)
    if not unchained.exists():
        return
    head = (
        decisions.objects.filter(chain_position__isnull=False)
        .order_by("-chain_position")
        .values_list("chain_position", "signed_digest")
        .first()
    )
    position, previous = head if head is not None else (0, GENESIS)
    ids = list(unchained.order_by("signed_at", "id").values_list("id", flat=True))
    with schema_editor.connection.cursor() as cursor:
        # ALTER TABLE refuses while deferred checks are pending in the transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE decisions_decision DISABLE TRIGGER {PROTECT_TRIGGER}")
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            rows = {
                row["id"]: row for row in decisions.objects.filter(id__in=chunk).values(*fields)
            }
            for pk in chunk:
                position += 1
                row = {**rows[pk], "chain_position": position, "previous_digest": previous}
                row["signer_username"] = row.pop(username)
                digest = digest_of(row)
                decisions.objects.filter(pk=pk).update(
                    chain_position=position, previous_digest=previous, signed_digest=digest
                )
                previous = digest
        cursor.execute(f"ALTER TABLE decisions_decision ENABLE TRIGGER {PROTECT_TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [("decisions", "0006_tamper_evident_chain")]

    operations = [migrations.RunPython(chain_signed, migrations.RunPython.noop)]
