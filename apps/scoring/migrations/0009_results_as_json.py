"""The worker's large results (``phenotype``, ``response``, ``uptake``) in ``json`` columns
rather than ``jsonb`` (apps/scoring/fields.py says why). PostgreSQL converts the stored values
both ways by its own casts."""

from django.db import migrations

import apps.scoring.fields


class Migration(migrations.Migration):
    dependencies = [("scoring", "0008_assessment_summary")]

    operations = [
        migrations.AlterField(
            model_name="phenotypeassessment",
            name="phenotype",
            field=apps.scoring.fields.ResultJSONField(),
        ),
        migrations.AlterField(
            model_name="phenotypeassessment",
            name="response",
            field=apps.scoring.fields.ResultJSONField(default=dict),
        ),
        migrations.AlterField(
            model_name="phenotypeassessment",
            name="uptake",
            field=apps.scoring.fields.ResultJSONField(default=dict),
        ),
    ]
