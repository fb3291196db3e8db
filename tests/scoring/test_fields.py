"""``ResultJSONField`` (apps/scoring/fields.py): the large results in ``json`` columns keep what
was written, exactly, through the ORM and through the worker's own statement."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from apps.scoring import services as scoring
from apps.scoring.models import PhenotypeAssessment
from apps.scoring.selectors import patient_rules_input, rules_thresholds
from tests.factories import PatientFactory, dual_tracer_record

pytestmark = pytest.mark.django_db

# What a jsonb column would change: key order and duplicates aside, big integers stay exact in
# both; these must come back as they went in.
TRICKY = {
    "z": 1,
    "a": {"suv": 12.5, "ratio": 1.0, "big": 1e20, "tiny": 1e-7, "neg_zero": -0.0},
    "huge_int": 2**70,
    "text": "Krenning ≥ 3 — ü",
    "lists": [[3, 2.0, "x"], {"b": None, "a": True}],
    "empty": {},
}


def _column_types() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'scoring_phenotypeassessment'"
        )
        return dict(cursor.fetchall())


def test_the_large_results_are_json_columns_and_the_queried_ones_jsonb() -> None:
    types = _column_types()
    assert {name: types[name] for name in ("phenotype", "response", "uptake")} == {
        "phenotype": "json",
        "response": "json",
        "uptake": "json",
    }
    assert types["summary"] == types["latest_timepoint"] == "jsonb"


def test_an_orm_write_reads_back_exactly_with_its_key_order() -> None:
    patient = PatientFactory()
    PhenotypeAssessment.objects.create(
        patient=patient,
        phenotype=TRICKY,
        response={"w": 3.25, "v": [1e16]},
        uptake={"12": {"3": {"score": 4}}},
        rules_version="test",
        rules_fingerprint="test",
        inputs_digest="test",
        inputs_version=1,
        computed_at=timezone.now(),
    )
    stored = PhenotypeAssessment.objects.get(patient=patient)
    assert stored.phenotype == TRICKY
    assert list(stored.phenotype) == list(TRICKY)  # jsonb would sort the keys by length
    assert isinstance(stored.phenotype["huge_int"], int)
    assert stored.response == {"w": 3.25, "v": [1e16]}
    assert PhenotypeAssessment.objects.filter(patient=patient).values_list(
        "uptake", flat=True
    ).get() == {"12": {"3": {"score": 4}}}


def test_the_workers_statement_stores_what_the_rules_returned() -> None:
    patient = dual_tracer_record(2, 3, mrn="FIELDS-1")  # computed and stored by the worker's path
    thresholds = rules_thresholds()
    fingerprint = scoring.rules_fingerprint(thresholds)
    inputs = patient_rules_input(patient.pk)
    computed = scoring.stored_fields(
        inputs, thresholds, fingerprint, scoring.inputs_digest(inputs, fingerprint)
    )
    stored = PhenotypeAssessment.objects.get(patient=patient)
    assert stored.inputs_digest == scoring.inputs_digest(inputs, fingerprint)
    for field in ("phenotype", "response", "uptake"):
        assert getattr(stored, field) == computed[field], field
    assert list(stored.phenotype) == list(computed["phenotype"])  # in the rules' key order
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT json_typeof(phenotype), json_typeof(uptake) FROM scoring_phenotypeassessment "
            "WHERE patient_id = %s",
            [patient.pk],
        )
        assert cursor.fetchone() == ("object", "object")
