"""Words a clinician can read aloud (issue 15 §4): no text the rules compute names a study, a
lesion or a treatment by its internal id.

Studies are named by kind and date ("the SSTR PET of 2024-03-05", "at baseline (CT of
2023-11-02)"), lesions by their label, treatments by kind and start date; the ids stay in the
structured fields (``study``, ``lesions``, ...) that API.md fixes. Checked over every worked case
of tests/data/cases, over the demo cohort as the database hands it to the rules, and over
generated histories that reach every branch of the response wording.
"""

from __future__ import annotations

import dataclasses
import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings

from apps.patients.models import Patient
from apps.scoring.rules import PatientIn, Thresholds, assess_phenotype
from apps.scoring.rules.response import assess_response
from apps.scoring.selectors import patient_rules_input, rules_thresholds
from tests.scoring.rules.builders import patient_from_case, strings
from tests.scoring.rules.test_response import histories

CASES_DIR = Path(__file__).resolve().parents[1] / "data" / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.json"))

# An internal id in a sentence: "study 40", "(study 6)", "lesion 7", "treatment 12".
INTERNAL_ID = re.compile(r"\bstudy \d+\b|\(study \d+\)|\blesion \d+\b|\btreatment \d+\b", re.I)


def labelled(patient: PatientIn) -> PatientIn:
    """The patient with a label on every lesion, as every stored lesion has one (the database
    refuses a blank label: ``lesion_label_not_blank``)."""
    return dataclasses.replace(
        patient,
        lesions=tuple(
            dataclasses.replace(lesion, label=lesion.label or f"Site {chr(65 + n % 26)}{n // 26}")
            for n, lesion in enumerate(patient.lesions)
        ),
    )


def ids_in_text(result: Any) -> list[str]:
    return [text for text in strings(result) if INTERNAL_ID.search(text)]


def both(patient: PatientIn, thresholds: Thresholds) -> dict[str, Any]:
    phenotype = assess_phenotype(patient, thresholds)
    return {"phenotype": phenotype, "response": assess_response(patient, thresholds, phenotype)}


def test_the_pattern_catches_what_it_is_for() -> None:
    for text in ("on study 40", "at baseline (study 6)", "lesion 7 is new", "(treatment 12, x)"):
        assert INTERNAL_ID.search(text), text
    for text in (
        "the SSTR PET of 2024-03-05",
        "at baseline (CT of 2023-11-02)",
        "Liver 1 (seg VII)",
    ):
        assert not INTERNAL_ID.search(text), text


@pytest.mark.parametrize("path", CASE_FILES, ids=[path.name for path in CASE_FILES])
def test_no_internal_id_in_the_texts_of_the_worked_cases(path: Path) -> None:
    cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    assert cases
    for case in cases:
        result = both(labelled(patient_from_case(case)), Thresholds())
        assert result["phenotype"]["timepoints"] or path.name != "phenotype.json"
        assert ids_in_text(result) == [], case["title"]


@pytest.mark.django_db
def test_no_internal_id_in_the_texts_of_the_demo_cohort() -> None:
    call_command("load_demo", no_users=True, stdout=StringIO())
    thresholds = rules_thresholds()
    texts = 0
    for patient in Patient.objects.order_by("mrn"):
        result = both(patient_rules_input(patient.pk), thresholds)
        texts += len(strings(result))
        assert ids_in_text(result) == [], patient.mrn
    assert texts > 1000  # the cohort does produce texts to check


@pytest.mark.django_db
def test_the_demo_relapse_names_its_studies_and_measures_sizes_on_ct() -> None:
    """DEMO-0010 (the seed's Fig. 4): the relapse's FDG-positive, Krenning 1 liver-dome lesion
    raises ``fdg_growing_low_sstr``. Its PETs carry no diameters; the CTs next to them do
    (42 + 35 + 28 + 22 = 127 mm on 2021-01-20, 29 + 22 + 19 + 14 = 84 mm on 2023-03-20), so
    the text gives those sums, not "0 mm to 0 mm"."""
    call_command("load_demo", no_users=True, stdout=StringIO())
    patient = Patient.objects.get(mrn="DEMO-0010")
    result = both(patient_rules_input(patient.pk), rules_thresholds())
    response = result["response"]
    (growing,) = [a for a in response["dual_tracer_alerts"] if a["code"] == "fdg_growing_low_sstr"]
    assert "0 mm to 0 mm" not in growing["text"]
    assert "did not grow (127.0 mm to 84.0 mm)" in growing["text"]
    assert "(Liver dome (new))" in growing["text"]
    first = response["theranostic"][0]
    assert first["reason"].startswith(
        "Cycle 1 post-therapy 177Lu-DOTATATE SPECT/CT of 2021-04-06 against the SSTR PET of "
        "2021-02-22: "
    )
    assert "(177Lu-DOTATATE PRRT started 2021-04-05)" in first["note"]


PROPERTY = settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@PROPERTY
@given(histories())
def test_no_internal_id_in_the_texts_of_generated_histories(patient: PatientIn) -> None:
    """CT follow-ups, SPECTs linked to a treatment line (or to one not in the record), SSAs
    between scans, picked baselines, PERCIST with and without SUVpeak: every wording branch."""
    assert ids_in_text(both(labelled(patient), Thresholds())) == []
