"""``PhenotypeAssessment.summary``: the phenotype and response without their per-lesion lists,
stored by the worker with them, is all that the pages showing a patient read of the two bodies
(issue 14: the patient page read 490 kB of JSON it did not show)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.test import TestCase

from apps.patients.models import Patient
from apps.patients.page import patient_page_context, timeline_record
from apps.patients.timeline import build_timeline
from apps.scoring import services as scoring
from apps.scoring.models import (
    PhenotypeAssessment,
    assessment_summary,
    latest_timepoint,
    lesion_patterns,
)
from tests.factories import dual_tracer_record

pytestmark = pytest.mark.django_db


def test_the_summary_leaves_out_exactly_the_per_lesion_lists() -> None:
    lesions = [{"lesion": 1, "fdg_score": 3}]
    timepoint = {
        "sstr_study": 1,
        "fdg_study": 2,
        "lesion_scores": lesions,
        "sstr": {"counts": {"3": 1}, "target_lesions": [1]},
        "netpet": {"grade": "P4", "reason": "why", "lesions": lesions, "suitability": "s"},
        "karfis": {"group": "C2", "reason": "because", "lesions": lesions},
        "zidan": None,
        "prrt_support": {"overall": "no_blocking_finding", "findings": [{"lesions": [1]}]},
        "biopsy_target": 1,
    }
    response = {
        "recist": [{"study": 3, "new_lesions": [4]}],
        "sstr": [{"study": 5, "reason": "r", "new_lesions": [6], "lesions": lesions}],
        "notes": [],
    }
    summary = assessment_summary({"timepoints": [timepoint], "thresholds": {}}, response)
    assert summary == {
        "timepoints": [
            {
                "sstr_study": 1,
                "fdg_study": 2,
                "netpet": {"grade": "P4", "reason": "why", "suitability": "s"},
                "karfis": {"group": "C2", "reason": "because"},
                "zidan": None,
                # The findings keep the lesions they name (ids, not per-lesion detail).
                "prrt_support": {"overall": "no_blocking_finding", "findings": [{"lesions": [1]}]},
                "biopsy_target": 1,
            }
        ],
        "agent_choice": None,
        # The latest timepoint's graded lesions, with their NETPET pattern only.
        "lesion_patterns": [{"lesion": 1, "pattern": None}],
        "preliminary": False,
        "draft_studies": [],
        "response": {
            "recist": [{"study": 3, "new_lesions": [4]}],
            "sstr": [{"study": 5, "reason": "r", "new_lesions": [6]}],
            "notes": [],
        },
    }
    assert timepoint["netpet"]["lesions"] == lesions  # the bodies themselves are left alone
    assert assessment_summary(
        {"timepoints": [], "preliminary": True, "draft_studies": [7]}, {}
    ) == {
        "timepoints": [],
        "agent_choice": None,
        "lesion_patterns": [],
        "preliminary": True,
        "draft_studies": [7],
        "response": {"sstr": []},
    }


def _full_bodies_context(patient: Patient) -> dict[str, Any]:
    bodies = scoring.assessment_bodies(patient.pk, fields=("phenotype", "response", "uptake"))
    phenotype, response = bodies["phenotype"], bodies["response"]
    return {
        "latest": latest_timepoint(phenotype),
        "timeline": build_timeline(
            timeline_record(patient.pk, list(patient.studies.all())),
            phenotype,
            response,
            bodies["uptake"],
        ),
        "tables": {key: response[key] for key in ("recist", "percist", "dual_tracer_alerts")},
    }


def _without_lesions(timepoint: dict[str, Any] | None) -> dict[str, Any] | None:
    if timepoint is None:
        return None
    return assessment_summary({"timepoints": [timepoint]}, {})["timepoints"][0]


def test_every_demo_patient_shows_from_its_summary_what_its_whole_bodies_give() -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("load_demo", verbosity=0)
    patients = list(Patient.objects.order_by("mrn"))
    assert len(patients) >= 10
    for patient in patients:
        stored = PhenotypeAssessment.objects.get(patient=patient)
        assert stored.summary == assessment_summary(stored.phenotype, stored.response)
        page, full = patient_page_context(patient), _full_bodies_context(patient)
        assert page["timeline"] == full["timeline"], patient.mrn
        assert page["latest"] == _without_lesions(full["latest"]), patient.mrn
        tables = {key: page["response"][key] for key in full["tables"]}
        assert tables == full["tables"], patient.mrn


def test_the_migration_fills_in_the_summary_of_results_stored_before_it() -> None:
    patient = dual_tracer_record(2, 4, mrn="SUMMARY-1")
    stored = PhenotypeAssessment.objects.get(patient=patient)
    expected = stored.summary
    assert expected["timepoints"]  # something to fill in
    PhenotypeAssessment.objects.filter(patient=patient).update(summary={})
    migration = importlib.import_module("apps.scoring.migrations.0008_assessment_summary")
    migration.fill(django_apps, None)
    assert PhenotypeAssessment.objects.get(patient=patient).summary == expected


def test_the_lesion_patterns_are_the_latest_dual_tracer_timepoints() -> None:
    def timepoint(sstr: int, fdg: int | None, patterns: list[str]) -> dict[str, Any]:
        rows = [{"lesion": n, "pattern": p, "fdg_score": 2} for n, p in enumerate(patterns, 1)]
        return {"sstr_study": sstr, "fdg_study": fdg, "netpet": {"grade": "P3", "lesions": rows}}

    two = [timepoint(1, 2, ["P1", "P1"]), timepoint(3, 4, ["P3", "P5"])]
    assert lesion_patterns({"timepoints": two}) == [
        {"lesion": 1, "pattern": "P3"},
        {"lesion": 2, "pattern": "P5"},
    ]
    # An SSTR PET after the last FDG PET does not hide the last dual-tracer timepoint's.
    later_sstr = [*two, {"sstr_study": 5, "fdg_study": None, "netpet": None}]
    assert lesion_patterns({"timepoints": later_sstr}) == lesion_patterns({"timepoints": two})
    assert lesion_patterns({"timepoints": [later_sstr[-1]]}) == []  # no FDG PET at all
    assert lesion_patterns({"timepoints": []}) == []


def test_the_migration_fills_in_the_lesion_patterns_of_results_stored_before_it() -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("load_demo", verbosity=0)
    expected = dict(PhenotypeAssessment.objects.values_list("patient_id", "summary"))
    assert any(summary["lesion_patterns"] for summary in expected.values())
    assert any(not summary["lesion_patterns"] for summary in expected.values())
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scoring_phenotypeassessment SET summary = summary - 'lesion_patterns'"
        )
    migration = importlib.import_module("apps.scoring.migrations.0010_summary_lesion_patterns")
    migration.fill(django_apps, SimpleNamespace(connection=connection))
    filled = dict(PhenotypeAssessment.objects.values_list("patient_id", "summary"))
    assert filled == expected
