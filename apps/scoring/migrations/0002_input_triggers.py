"""Triggers that raise a patient's input version in the transaction of every change to its inputs.

Written in SQL (not signals) so that no write path can miss them: ORM saves, bulk operations,
queryset updates, the admin and raw SQL all go through the database. A row that moves from one
patient to another raises both patients' versions. A new patient gets its version row at once.
"""

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

FUNCTIONS = """
CREATE FUNCTION scoring_bump_inputs(patient_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
  UPDATE scoring_inputversion
     SET version = version + 1, changed_at = now()
   WHERE patient_id = ANY (patient_ids);
$$;

-- TG_ARGV[0] names the column that holds the patient id.
CREATE FUNCTION scoring_inputs_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[] := '{}';
BEGIN
  IF TG_OP <> 'INSERT' THEN
    ids := ids || (to_jsonb(OLD) ->> TG_ARGV[0])::bigint;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    ids := ids || (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
  END IF;
  PERFORM scoring_bump_inputs(ids);
  RETURN NULL;
END $$;

-- A treatment cycle reaches its patient through its treatment.
CREATE FUNCTION scoring_cycle_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[] := '{}';
BEGIN
  IF TG_OP <> 'INSERT' THEN
    ids := ids || ARRAY(SELECT patient_id FROM patients_treatment WHERE id = OLD.treatment_id);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    ids := ids || ARRAY(SELECT patient_id FROM patients_treatment WHERE id = NEW.treatment_id);
  END IF;
  PERFORM scoring_bump_inputs(ids);
  RETURN NULL;
END $$;

CREATE FUNCTION scoring_patient_created() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO scoring_inputversion (patient_id, version, changed_at)
  VALUES (NEW.id, 1, now()) ON CONFLICT (patient_id) DO NOTHING;
  RETURN NULL;
END $$;
"""


def _forward() -> str:
    statements = [FUNCTIONS]
    for table, column in PATIENT_TABLES:
        operations = "UPDATE" if table == "patients_patient" else "INSERT OR UPDATE OR DELETE"
        statements.append(
            f"CREATE TRIGGER scoring_inputs_changed AFTER {operations} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION scoring_inputs_changed('{column}');"
        )
    statements.append(
        "CREATE TRIGGER scoring_inputs_changed AFTER INSERT OR UPDATE OR DELETE "
        "ON patients_treatmentcycle FOR EACH ROW EXECUTE FUNCTION scoring_cycle_changed();"
    )
    statements.append(
        "CREATE TRIGGER scoring_patient_created AFTER INSERT ON patients_patient "
        "FOR EACH ROW EXECUTE FUNCTION scoring_patient_created();"
    )
    # Patients that exist before this migration get their row now.
    statements.append(
        "INSERT INTO scoring_inputversion (patient_id, version, changed_at) "
        "SELECT id, 1, now() FROM patients_patient ON CONFLICT (patient_id) DO NOTHING;"
    )
    return "\n".join(statements)


def _backward() -> str:
    tables = [table for table, _ in PATIENT_TABLES] + ["patients_treatmentcycle"]
    drops = [f"DROP TRIGGER IF EXISTS scoring_inputs_changed ON {table};" for table in tables]
    drops.append("DROP TRIGGER IF EXISTS scoring_patient_created ON patients_patient;")
    drops.append(
        "DROP FUNCTION scoring_inputs_changed(); DROP FUNCTION scoring_cycle_changed();"
        " DROP FUNCTION scoring_patient_created(); DROP FUNCTION scoring_bump_inputs(bigint[]);"
    )
    return "\n".join(drops)


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
        ("patients", "0001_initial"),
        ("imaging", "0002_same_patient_keys"),
    ]

    operations = [migrations.RunSQL(_forward(), _backward())]
