from django.db import migrations


class Migration(migrations.Migration):
    """The stored phenotype body is named as what it holds (issue 14)."""

    dependencies = [("scoring", "0006_assessment_stored_reads")]

    operations = [
        migrations.RenameField(
            model_name="phenotypeassessment", old_name="result", new_name="phenotype"
        ),
    ]
