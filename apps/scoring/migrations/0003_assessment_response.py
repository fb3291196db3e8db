from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0002_input_triggers"),
    ]

    operations = [
        migrations.AddField(
            model_name="phenotypeassessment",
            name="response",
            field=models.JSONField(default=dict),
        ),
    ]
