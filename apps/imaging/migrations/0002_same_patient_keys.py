"""Composite foreign keys: an observation's study and lesion, and a study's treatment, belong
to the same patient. Django has no composite foreign keys, so they are written in SQL."""

from django.db import migrations

FORWARD = """
ALTER TABLE imaging_observation
  ADD CONSTRAINT observation_study_same_patient FOREIGN KEY (study_id, patient_id)
  REFERENCES imaging_imagingstudy (id, patient_id) ON UPDATE CASCADE;
ALTER TABLE imaging_observation
  ADD CONSTRAINT observation_lesion_same_patient FOREIGN KEY (lesion_id, patient_id)
  REFERENCES imaging_lesion (id, patient_id);
ALTER TABLE imaging_imagingstudy
  ADD CONSTRAINT study_treatment_same_patient FOREIGN KEY (treatment_id, patient_id)
  REFERENCES patients_treatment (id, patient_id);
"""

BACKWARD = """
ALTER TABLE imaging_observation DROP CONSTRAINT observation_study_same_patient;
ALTER TABLE imaging_observation DROP CONSTRAINT observation_lesion_same_patient;
ALTER TABLE imaging_imagingstudy DROP CONSTRAINT study_treatment_same_patient;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("imaging", "0001_initial"),
        ("patients", "0001_initial"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
