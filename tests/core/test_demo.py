from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from apps.core.demo import COHORT
from apps.patients.models import Patient

pytestmark = pytest.mark.django_db


def table_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in {"patients", "imaging", "decisions", "auth"}
    }


def test_load_demo_is_idempotent() -> None:
    call_command("load_demo", users=True, stdout=StringIO())
    first = table_counts()
    call_command("load_demo", users=True, stdout=StringIO())
    assert table_counts() == first  # includes the history tables: nothing was written at all
    assert first["patients.Patient"] == len(COHORT) >= 12
    assert first["patients.PatientEvent"] == len(COHORT)


def test_demo_names_are_clearly_fake() -> None:
    call_command("load_demo", no_users=True, stdout=StringIO())
    assert all(p.family_name.startswith("DEMO-") for p in Patient.objects.all())
    assert all(p.mrn.startswith("DEMO-") for p in Patient.objects.all())


def test_demo_has_post_therapy_spect_and_ct_follow_up() -> None:
    call_command("load_demo", no_users=True, stdout=StringIO())
    fig4 = Patient.objects.get(mrn="DEMO-0010")
    spects = fig4.studies.filter(post_therapy=True, tracer="lu177_dotatate")
    assert sorted(spects.values_list("cycle_number", flat=True)) == [1, 2, 3, 4]
    assert fig4.studies.filter(modality="ct").count() == 4
