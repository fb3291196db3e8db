from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from apps.demo.cohort import COHORT
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


def test_demo_shows_every_grade_a_relapse_and_no_provisional_results() -> None:
    from apps.scoring.rules import assess_phenotype
    from apps.scoring.selectors import patient_rules_input, rules_thresholds

    call_command("load_demo", no_users=True, stdout=StringIO())
    netpet, karfis, zidan = set(), set(), set()
    by_mrn = {}
    for patient in Patient.objects.all():
        result = assess_phenotype(patient_rules_input(patient.pk), rules_thresholds())
        by_mrn[patient.mrn] = result["timepoints"]
        for timepoint in result["timepoints"]:
            assert not timepoint["provisional"], (patient.mrn, timepoint)
            if timepoint["fdg_study"] is not None:
                netpet.add(timepoint["netpet"]["grade"])
                karfis.add(timepoint["karfis"]["group"])
                zidan.add(timepoint["zidan"]["group"])
    assert {"P0", "P1", "P2a", "P2b", "P3a", "P3b", "P4a", "P4b", "P5"} <= netpet
    assert {"C1", "C2", "C3"} <= karfis
    assert {"1", "2", "3", "4"} <= zidan
    # The Fig. 4 patient: P2b at baseline, relapse P5 with the new liver-dome lesion.
    baseline, relapse = by_mrn["DEMO-0010"]
    assert (baseline["netpet"]["grade"], baseline["karfis"]["group"]) == ("P2b", "C2")
    assert (relapse["netpet"]["grade"], relapse["karfis"]["group"]) == ("P5", "C3")
    dome = Patient.objects.get(mrn="DEMO-0010").lesions.get(label="Liver dome (new)")
    assert relapse["biopsy_target"] == dome.pk
    # The SSTR PET without an FDG PET in the window has no grades, and says why.
    (alone,) = by_mrn["DEMO-0011"]
    assert alone["fdg_study"] is None and alone["netpet"]["grade"] is None
    assert "fdg_pet_missing" in [f["code"] for f in alone["prrt_support"]["findings"]]


def test_demo_ppgl_patients_show_the_agent_choice_the_worker_stored() -> None:
    """DOMAIN.md §11 on the demo's PPGL patients, as the worker stored it: DEMO-0014 (the seed's
    Fig. 8) needs both agents; DEMO-0015, an SDHB carrier with a negative 123I-MIBG scan,
    177Lu-DOTATATE with the cluster 1A note; the non-PPGL patients have none."""
    from django.test import TestCase

    from apps.scoring.services import phenotype_body

    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("load_demo", no_users=True, stdout=StringIO())
    bodies = {p.mrn: phenotype_body(p.pk) for p in Patient.objects.all()}
    assert {mrn for mrn, body in bodies.items() if body["agent_choice"] is not None} == {
        "DEMO-0013",
        "DEMO-0014",
        "DEMO-0015",
    }
    assert all(body["status"] == "fresh" for body in bodies.values())

    tandem_patient = Patient.objects.get(mrn="DEMO-0014")
    lesion = {lesion.label: lesion.pk for lesion in tandem_patient.lesions.all()}
    tandem = bodies["DEMO-0014"]["agent_choice"]
    assert tandem["suggestion"] == "tandem"
    assert tandem["rest_suggestion"] is None
    assert tandem["mibg_study"] == tandem_patient.studies.get(tracer="i124_mibg").pk
    assert (tandem["lutathera_covers_all"], tandem["mibg_covers_all"]) == (False, False)
    assert tandem["covered_by_sstr"] == sorted(
        [lesion["T7 vertebra"], lesion["Hepatic dome 1"], lesion["Hepatic dome 2"]]
    )
    assert tandem["covered_by_mibg"] == sorted(
        [lesion["T7 vertebra"], lesion["Hepatic dome 1"], lesion["Left upper quadrant soft tissue"]]
    )
    assert tandem["uncovered"] == [] and tandem["provisional"] is False
    assert "tandem 177Lu-DOTATATE and 131I-MIBG" in tandem["reason"]
    assert "SDHB" not in tandem["reason"]

    sdhb_patient = Patient.objects.get(mrn="DEMO-0015")
    sdhb = bodies["DEMO-0015"]["agent_choice"]
    assert sdhb["suggestion"] == "lu177_dotatate"
    assert sdhb["mibg_study"] == sdhb_patient.studies.get(tracer="i123_mibg").pk
    assert (sdhb["lutathera_covers_all"], sdhb["mibg_covers_all"]) == (True, False)
    assert sdhb["covered_by_sstr"] == sorted(sdhb_patient.lesions.values_list("pk", flat=True))
    assert sdhb["covered_by_mibg"] == [] and sdhb["uncovered"] == []
    assert "PPGL cluster 1A (SDHx): SDHB carriers are often MIBG-negative" in sdhb["reason"]
    assert "eligible" not in sdhb["reason"].lower()

    # DEMO-0013 (cluster 1A, MIBG-poor SPECT/CT) reads the same way.
    assert bodies["DEMO-0013"]["agent_choice"]["suggestion"] == "lu177_dotatate"
