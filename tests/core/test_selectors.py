from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from apps.patients.models import Patient
from apps.scoring.selectors import patient_rules_input

pytestmark = pytest.mark.django_db


def test_reading_a_patient_for_the_rules_takes_the_same_queries_whatever_its_size(
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    call_command("load_demo", no_users=True, stdout=StringIO())
    small = Patient.objects.get(mrn="DEMO-0001")  # 2 studies
    large = Patient.objects.get(mrn="DEMO-0010")  # 12 studies, 5 lesions, 2 treatments
    for patient in (small, large):
        with django_assert_max_num_queries(8):
            data = patient_rules_input(patient.pk)
        assert len(data.studies) == patient.studies.count()
    # CT 4 + 4 + 4 + 5, SSTR 4 + 5, FDG 4 + 5, four SPECTs of 4 lesions
    assert sum(len(s.observations) for s in patient_rules_input(large.pk).studies) == 51
