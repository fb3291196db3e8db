"""PhenotypeAssessment.summary (the bodies without their per-lesion lists, which the patient
pages read), filled in for the results already stored from their own bodies."""

from typing import Any

from django.db import migrations, models


def fill(apps: Any, schema_editor: Any) -> None:
    from apps.scoring.models import assessment_summary

    assessments = apps.get_model("scoring", "PhenotypeAssessment")
    for assessment in assessments.objects.only("patient_id", "phenotype", "response").iterator(
        chunk_size=200
    ):
        assessment.summary = assessment_summary(assessment.phenotype, assessment.response or {})
        assessment.save(update_fields=["summary"])


class Migration(migrations.Migration):
    dependencies = [("scoring", "0007_rename_result_phenotype")]

    operations = [
        migrations.AddField(
            model_name="phenotypeassessment",
            name="summary",
            field=models.JSONField(default=dict),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
