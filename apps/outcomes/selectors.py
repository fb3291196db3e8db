"""Reads of follow-up records for the pages and the API, and of the cohort for the survival
analytics (apps/outcomes/survival.py)."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from apps.outcomes.models import FollowUp, FollowUpKind, ProgressionBasis
from apps.scoring.models import PhenotypeAssessment

# The response categories that mean progression (API.md ``response/``), and the basis each one
# suggests.
_PROGRESSION = (
    ("recist", "PD", ProgressionBasis.RECIST),
    ("percist", "PMD", ProgressionBasis.PERCIST),
)


def progression_suggestions(patient_id: int) -> list[dict[str, Any]]:
    """Progressions NETboard's own response assessment points at, for a user to confirm (issue
    18: "filled in from NETboard's own response categories as a suggestion the user confirms"):
    every follow-up study the stored response classes RECIST ``PD`` or PERCIST ``PMD``, as
    ``{"study", "occurred_on", "basis", "category"}`` in date order, less the studies a
    progression record of the patient already names. Nothing is written."""
    response = (
        PhenotypeAssessment.objects.filter(patient_id=patient_id)
        .values_list("response", flat=True)
        .first()
    ) or {}
    recorded = set(
        FollowUp.objects.filter(
            patient_id=patient_id, kind=FollowUpKind.PROGRESSION, study__isnull=False
        ).values_list("study_id", flat=True)
    )
    suggestions = [
        {
            "study": entry["study"],
            "occurred_on": entry.get("performed_on"),
            "basis": basis.value,
            "category": category,
        }
        for series, category, basis in _PROGRESSION
        for entry in response.get(series) or []
        if entry.get("category") == category and entry.get("study") not in recorded
    ]
    return sorted(suggestions, key=lambda s: (s["occurred_on"] or "", s["study"], s["basis"]))


# A fingerprint of everything the analysis reads, computed by the database in the snapshot it
# reads (so a result is cached under the version of exactly the data it was computed from): per
# table the number of rows and a sum of a hash of the columns read. Any insert, update or delete
# of those columns changes it (up to hash collisions); a change of anything else (a patient's
# name, an observation) does not. Assessments are represented by their inputs digest, which
# changes whenever a stored result does (it covers the inputs, the rules version and thresholds).
# A full scan of five narrow tables: a few milliseconds for 10,000 patients.
VERSION_SQL = """
md5(concat_ws('|',
  (SELECT count(*) || ':' || coalesce(sum(hashtext(
     f.id || ':' || f.patient_id || ':' || f.updated_at::text)::bigint), 0)
   FROM outcomes_followup f),
  (SELECT count(*) || ':' || coalesce(sum(hashtext(p.id || ':' || p.primary_site)::bigint), 0)
   FROM patients_patient p),
  (SELECT count(*) || ':' || coalesce(sum(hashtext(
     x.id || ':' || x.patient_id || ':' || x.reported_on || ':' || coalesce(x.who_grade, '')
   )::bigint), 0) FROM patients_pathology x),
  (SELECT count(*) || ':' || coalesce(sum(hashtext(
     t.id || ':' || t.patient_id || ':' || t.started_on)::bigint), 0)
   FROM patients_treatment t WHERE t.kind = 'prrt_lu177_dotatate'),
  (SELECT count(*) || ':' || coalesce(sum(hashtext(
     a.patient_id || ':' || a.inputs_digest)::bigint), 0)
   FROM scoring_phenotypeassessment a)
))
"""


def input_version() -> str:
    """The cohort's input version now (see VERSION_SQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + VERSION_SQL)
        return str(cursor.fetchone()[0])


# One statement (one snapshot) reads the version and every patient of the cohort as one JSON
# text: [patient id, first PRRT start, diagnosis date, timepoints, death, progressions, last
# contact], the timepoints as [sstr date, fdg date, NETPET grade, Karfis group, Zidan group] in
# the assessment's order. The timepoints come from the stored summary (the phenotype without
# its per-lesion lists, a tenth of its size), else from the phenotype.
_COHORT_SQL = """
SELECT {version}, (
  SELECT coalesce(json_agg(json_build_array(
    p.id, prrt.started_on, diagnosis.reported_on, tp.timepoints,
    f.death, f.progressions, f.last_contact)), '[]')::text
  FROM patients_patient p
  LEFT JOIN (SELECT patient_id, min(started_on) AS started_on FROM patients_treatment
             WHERE kind = 'prrt_lu177_dotatate' GROUP BY patient_id) prrt
    ON prrt.patient_id = p.id
  LEFT JOIN (SELECT patient_id, min(reported_on) AS reported_on FROM patients_pathology
             GROUP BY patient_id) diagnosis
    ON diagnosis.patient_id = p.id
  LEFT JOIN (SELECT DISTINCT ON (patient_id) patient_id, who_grade FROM patients_pathology
             ORDER BY patient_id, reported_on DESC, id DESC) latest
    ON latest.patient_id = p.id
  LEFT JOIN (SELECT patient_id,
               min(occurred_on) FILTER (WHERE kind = 'death') AS death,
               array_agg(occurred_on ORDER BY occurred_on)
                 FILTER (WHERE kind = 'progression') AS progressions,
               max(occurred_on) FILTER (WHERE kind = 'last_contact') AS last_contact
             FROM outcomes_followup GROUP BY patient_id) f
    ON f.patient_id = p.id
  LEFT JOIN scoring_phenotypeassessment a ON a.patient_id = p.id
  LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(
             t->>'sstr_performed_on', t->>'fdg_performed_on', t->'netpet'->>'grade',
             t->'karfis'->>'group', t->'zidan'->>'group') ORDER BY n) AS timepoints
    FROM jsonb_array_elements(
      CASE WHEN jsonb_typeof(a.summary->'timepoints') = 'array' THEN a.summary->'timepoints'
           WHEN json_typeof(a.phenotype->'timepoints') = 'array'
             THEN (a.phenotype->'timepoints')::jsonb
           ELSE '[]'::jsonb END) WITH ORDINALITY AS e(t, n)
  ) tp ON true
  WHERE {where}
)
"""


def survival_cohort(
    *, primary_site: str | None, who_grade: str | None, received_prrt: bool | None
) -> tuple[str, list[list[Any]]]:
    """The cohort's input version and, for every patient matching the filters, its row (see
    _COHORT_SQL), read in one statement: the version is exactly that of the rows."""
    where, params = ["true"], []
    if primary_site is not None:
        where.append("p.primary_site = %s")
        params.append(primary_site)
    if who_grade is not None:
        where.append("latest.who_grade = %s")
        params.append(who_grade)
    if received_prrt is not None:
        where.append(f"prrt.started_on IS {'NOT ' if received_prrt else ''}NULL")
    sql = _COHORT_SQL.format(version=VERSION_SQL, where=" AND ".join(where))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        version, rows = cursor.fetchone()
    return str(version), json.loads(rows)
