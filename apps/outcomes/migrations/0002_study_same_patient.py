"""A progression's study belongs to the same patient: a composite foreign key, written in SQL
as Django has none (as imaging 0002 does for observations)."""

from django.db import migrations

FORWARD = """
ALTER TABLE outcomes_followup
  ADD CONSTRAINT followup_study_same_patient FOREIGN KEY (study_id, patient_id)
  REFERENCES imaging_imagingstudy (id, patient_id);
"""

BACKWARD = "ALTER TABLE outcomes_followup DROP CONSTRAINT followup_study_same_patient;"


class Migration(migrations.Migration):
    dependencies = [("outcomes", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
