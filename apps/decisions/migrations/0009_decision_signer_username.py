"""Each signed decision keeps its signer's user name (``signer_username``), which its digest
covers instead of the user account's current name: renaming an account no longer breaks the
verification of what it signed (``apps.decisions.integrity``).

The decisions already signed get the name their signer's account has now, which is the name
they were signed with unless the account was renamed since; the digests are unchanged. Like
0007, this switches the ``signed_decision_immutable`` trigger off for its own transaction and on
again; the audit triggers stay on (each decision filled in has an ``update`` event)."""

from typing import Any

import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

PROTECT_TRIGGER = "pgtrigger_signed_decision_immutable_f7afe"


def fill_signer_username(apps: Any, schema_editor: Any) -> None:
    decisions = apps.get_model("decisions", "Decision")
    unnamed = decisions.objects.filter(signed_at__isnull=False, signer_username="")
    if not unnamed.exists():
        return
    users = apps.get_model(settings.AUTH_USER_MODEL)
    username = get_user_model().USERNAME_FIELD  # historical models do not carry it
    with schema_editor.connection.cursor() as cursor:
        # ALTER TABLE refuses while deferred checks are pending in the transaction.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE decisions_decision DISABLE TRIGGER {PROTECT_TRIGGER}")
        unnamed.update(
            signer_username=Subquery(
                users.objects.filter(pk=OuterRef("decided_by_id")).values(username)[:1]
            )
        )
        cursor.execute(f"ALTER TABLE decisions_decision ENABLE TRIGGER {PROTECT_TRIGGER}")


class Migration(migrations.Migration):
    dependencies = [
        ("decisions", "0008_decision_agent_choice_lesions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name="decision",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="decision",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="decision",
            name="delete_delete",
        ),
        migrations.AddField(
            model_name="decision",
            name="signer_username",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                help_text="The signer's user name when they signed (empty until signed).",
                max_length=150,
            ),
        ),
        migrations.AddField(
            model_name="decisionevent",
            name="signer_username",
            field=models.CharField(
                blank=True,
                default="",
                editable=False,
                help_text="The signer's user name when they signed (empty until signed).",
                max_length=150,
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="decision",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "decisions_decisionevent" ("acknowledged_preliminary", "agent_choice_lesions", "attendees", "case_id", "chain_position", "created_at", "decided_at", "decided_by_id", "id", "outside_meeting", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "phenotype_snapshot", "previous_digest", "rationale", "recommendation", "response_snapshot", "signed_at", "signed_digest", "signer_username", "supersedes_id", "updated_at") SELECT new_values."acknowledged_preliminary", new_values."agent_choice_lesions", new_values."attendees", new_values."case_id", new_values."chain_position", new_values."created_at", new_values."decided_at", new_values."decided_by_id", new_values."id", new_values."outside_meeting", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'insert\', new_values."id", new_values."phenotype_snapshot", new_values."previous_digest", new_values."rationale", new_values."recommendation", new_values."response_snapshot", new_values."signed_at", new_values."signed_digest", new_values."signer_username", new_values."supersedes_id", new_values."updated_at" FROM ( SELECT new_values.* FROM new_values  ) AS new_values; RETURN NULL;',
                    hash="7867eb19684d6f7da43edfd69dd05ff17a0f235e",
                    level="STATEMENT",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_c5437",
                    referencing="REFERENCING NEW TABLE AS new_values ",
                    table="decisions_decision",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="decision",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "decisions_decisionevent" ("acknowledged_preliminary", "agent_choice_lesions", "attendees", "case_id", "chain_position", "created_at", "decided_at", "decided_by_id", "id", "outside_meeting", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "phenotype_snapshot", "previous_digest", "rationale", "recommendation", "response_snapshot", "signed_at", "signed_digest", "signer_username", "supersedes_id", "updated_at") SELECT new_values."acknowledged_preliminary", new_values."agent_choice_lesions", new_values."attendees", new_values."case_id", new_values."chain_position", new_values."created_at", new_values."decided_at", new_values."decided_by_id", new_values."id", new_values."outside_meeting", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'update\', new_values."id", new_values."phenotype_snapshot", new_values."previous_digest", new_values."rationale", new_values."recommendation", new_values."response_snapshot", new_values."signed_at", new_values."signed_digest", new_values."signer_username", new_values."supersedes_id", new_values."updated_at" FROM ( SELECT new_values.* FROM old_values JOIN new_values ON (old_values."id") = (new_values."id") WHERE (old_values.* IS DISTINCT FROM new_values.*) ) AS new_values; RETURN NULL;',
                    hash="cd3d44a81868f9c31ac434522ee5f895b3938a54",
                    level="STATEMENT",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_b017a",
                    referencing="REFERENCING OLD TABLE AS old_values  NEW TABLE AS new_values ",
                    table="decisions_decision",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="decision",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "decisions_decisionevent" ("acknowledged_preliminary", "agent_choice_lesions", "attendees", "case_id", "chain_position", "created_at", "decided_at", "decided_by_id", "id", "outside_meeting", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "phenotype_snapshot", "previous_digest", "rationale", "recommendation", "response_snapshot", "signed_at", "signed_digest", "signer_username", "supersedes_id", "updated_at") SELECT old_values."acknowledged_preliminary", old_values."agent_choice_lesions", old_values."attendees", old_values."case_id", old_values."chain_position", old_values."created_at", old_values."decided_at", old_values."decided_by_id", old_values."id", old_values."outside_meeting", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'delete\', old_values."id", old_values."phenotype_snapshot", old_values."previous_digest", old_values."rationale", old_values."recommendation", old_values."response_snapshot", old_values."signed_at", old_values."signed_digest", old_values."signer_username", old_values."supersedes_id", old_values."updated_at" FROM ( SELECT old_values.* FROM old_values  ) AS old_values; RETURN NULL;',
                    hash="c908be18229372128bc88afe18f61f5fa5a48d3a",
                    level="STATEMENT",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_e4cc5",
                    referencing="REFERENCING OLD TABLE AS old_values ",
                    table="decisions_decision",
                    when="AFTER",
                ),
            ),
        ),
        migrations.RunPython(fill_signer_username, migrations.RunPython.noop),
    ]
