from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("scoring", "0005_bump_inputs_lock_order")]

    operations = [
        migrations.AddField(
            model_name="phenotypeassessment",
            name="uptake",
            field=models.JSONField(default=dict),
        ),
        migrations.AddField(
            model_name="phenotypeassessment",
            name="latest_timepoint",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
