"""``PhenotypeAssessment.summary.lesion_patterns`` (``apps.scoring.models.lesion_patterns``: each
lesion's NETPET pattern at the latest timepoint, which the timeline shows), filled in for the
results already stored, in one statement from their own phenotype: the latest timepoint is the
last with an FDG PET (``latest_timepoint``; when none has one, no lesion is graded on both and
the list is empty), and its ``netpet.lesions`` rows give ``lesion`` and ``pattern`` in order."""

from typing import Any

from django.db import migrations

FILL_SQL = """
UPDATE scoring_phenotypeassessment a SET summary = a.summary || jsonb_build_object(
  'lesion_patterns', coalesce((
    SELECT jsonb_agg(
             jsonb_build_object('lesion', row -> 'lesion', 'pattern', row -> 'pattern')
             ORDER BY m)
    FROM (SELECT t FROM json_array_elements(a.phenotype -> 'timepoints') WITH ORDINALITY
            AS e(t, n)
          WHERE json_typeof(t -> 'fdg_study') = 'number' ORDER BY n DESC LIMIT 1) latest,
         json_array_elements(CASE WHEN json_typeof(latest.t -> 'netpet' -> 'lesions') = 'array'
                                  THEN latest.t -> 'netpet' -> 'lesions' ELSE '[]' END)
           WITH ORDINALITY AS x(row, m)
  ), '[]'::jsonb))
WHERE NOT a.summary ? 'lesion_patterns'
  AND json_typeof(a.phenotype -> 'timepoints') = 'array'
"""


def fill(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FILL_SQL)


class Migration(migrations.Migration):
    dependencies = [("scoring", "0009_results_as_json")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
