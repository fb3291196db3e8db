"""The input-version triggers of 0002, statement-level: one version bump per statement and patient.

A row-level trigger raised the patient's version once per row, so a complete read of 40
observations updated the same version row 40 times (most of the write's time). These triggers
see the statement's rows in transition tables and raise each patient touched once, still in the
same transaction as the write, whatever path the write takes. PostgreSQL allows transition
tables only on single-event triggers, hence one trigger per operation.
"""

import importlib

from django.db import migrations

# Tables whose rows carry the patient in a column: (table, column holding the patient id).
PATIENT_TABLES = [
    ("patients_patient", "id"),
    ("patients_pathology", "patient_id"),
    ("patients_biomarker", "patient_id"),
    ("patients_treatment", "patient_id"),
    ("imaging_lesion", "patient_id"),
    ("imaging_imagingstudy", "patient_id"),
    ("imaging_observation", "patient_id"),
]
OPERATIONS = {
    "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows"),
    "update": ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows"),
}


def _patients_of(rows: str, column: str) -> str:
    """The patients of a transition table's rows (a treatment cycle through its treatment)."""
    if column == "treatment_id":
        return (
            f"SELECT t.patient_id FROM {rows} r JOIN patients_treatment t ON t.id = r.treatment_id"  # noqa: S608 - fixed names
        )
    return f"SELECT r.{column} FROM {rows} r"  # noqa: S608 - fixed names


def _function(table: str, column: str) -> str:
    # One function per table (the column differs); the branches run by TG_OP, so a branch that
    # names a transition table the trigger lacks is never planned.
    return f"""
CREATE FUNCTION scoring_rows_changed_{table}() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM scoring_bump_inputs(ARRAY({_patients_of("new_rows", column)}));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM scoring_bump_inputs(ARRAY({_patients_of("old_rows", column)}));
  ELSE
    PERFORM scoring_bump_inputs(ARRAY(
      {_patients_of("old_rows", column)} UNION {_patients_of("new_rows", column)}
    ));
  END IF;
  RETURN NULL;
END $$;
"""


def _tables() -> list[tuple[str, str, list[str]]]:
    """(table, patient column, operations) for every input table."""
    tables = [
        (table, column, ["update"] if table == "patients_patient" else list(OPERATIONS))
        for table, column in PATIENT_TABLES
    ]
    tables.append(("patients_treatmentcycle", "treatment_id", list(OPERATIONS)))
    return tables


def _forward() -> str:
    statements = []
    for table, column, operations in _tables():
        statements.append(f"DROP TRIGGER scoring_inputs_changed ON {table};")
        statements.append(_function(table, column))
        for operation in operations:
            event, referencing = OPERATIONS[operation]
            statements.append(
                f"CREATE TRIGGER scoring_inputs_{operation} AFTER {event} ON {table} "
                f"{referencing} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION scoring_rows_changed_{table}();"
            )
    statements.append(
        "DROP FUNCTION scoring_inputs_changed(); DROP FUNCTION scoring_cycle_changed();"
    )
    return "\n".join(statements)


def _backward() -> str:
    """Back to 0002's row-level triggers: drop these, then run 0002's SQL again (it creates its
    functions afresh, so the two it shares with this one are dropped first)."""
    row_level = importlib.import_module("apps.scoring.migrations.0002_input_triggers")
    statements = []
    for table, _column, operations in _tables():
        for operation in operations:
            statements.append(f"DROP TRIGGER scoring_inputs_{operation} ON {table};")
        statements.append(f"DROP FUNCTION scoring_rows_changed_{table}();")
    statements.append(
        "DROP TRIGGER scoring_patient_created ON patients_patient;"
        " DROP FUNCTION scoring_patient_created(); DROP FUNCTION scoring_bump_inputs(bigint[]);"
    )
    statements.append(row_level._forward())
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("scoring", "0003_assessment_response")]

    operations = [migrations.RunSQL(_forward(), _backward())]
