"""Raise input versions in the lock order every transaction follows (issue 13): the patient row
first (FOR KEY SHARE, the lock a foreign-key check takes), then its version row, each in id
order.

Before, a write raised the version row at the end of its statement and took the patient row
only at COMMIT (the deferred foreign-key check of an observation, a lesion, an assessment...),
while a write that changes a patient's key (its MRN) or deletes it holds the patient row first:
two such transactions could wait on each other. Taking the patient row here, before the version
row, puts every writer in the order the recompute's claim uses (apps.scoring.services). Holding
FOR KEY SHARE blocks nobody but a key change or a delete of that patient, which wait anyway at
the foreign-key check.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION scoring_bump_inputs(patient_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM patients_patient WHERE id = ANY (patient_ids) ORDER BY id FOR KEY SHARE;
  UPDATE scoring_inputversion SET version = version + 1, changed_at = now()
   WHERE patient_id IN (
     SELECT patient_id FROM scoring_inputversion WHERE patient_id = ANY (patient_ids)
      ORDER BY patient_id FOR NO KEY UPDATE
   );
END $$;
"""

# 0002's function, as 0004 left it.
BACKWARD = """
CREATE OR REPLACE FUNCTION scoring_bump_inputs(patient_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
  UPDATE scoring_inputversion
     SET version = version + 1, changed_at = now()
   WHERE patient_id = ANY (patient_ids);
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("scoring", "0004_statement_input_triggers")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
