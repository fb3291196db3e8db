from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from apps.patients.models import Patient, TreatmentCycle
from apps.scoring.rules import (
    BiomarkerIn,
    CycleIn,
    LesionIn,
    ObservationIn,
    PathologyIn,
    PatientIn,
    StudyIn,
    TreatmentIn,
)
from apps.scoring.selectors import patient_rules_input
from tests.factories import ObservationFactory, PatientFactory, TreatmentFactory

pytestmark = pytest.mark.django_db


def test_reading_a_patient_for_the_rules_takes_one_query_whatever_its_size(
    django_assert_max_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    call_command("load_demo", no_users=True, stdout=StringIO())
    small = Patient.objects.get(mrn="DEMO-0001")  # 2 studies
    large = Patient.objects.get(mrn="DEMO-0010")  # 12 studies, 5 lesions, 2 treatments
    for patient in (small, large):
        with django_assert_max_num_queries(1):
            data = patient_rules_input(patient.pk)
        assert len(data.studies) == patient.studies.count()
    # CT 4 + 4 + 4 + 5, SSTR 4 + 5, FDG 4 + 5, four SPECTs of 4 lesions
    assert sum(len(s.observations) for s in patient_rules_input(large.pk).studies) == 51


def orm_reference(patient_id: int) -> PatientIn:
    """The same record read the plain ORM way, field by field from model instances."""
    p = Patient.objects.get(pk=patient_id)
    studies = p.studies.order_by("performed_on", "id")
    return PatientIn(
        id=p.pk,
        primary_site=p.primary_site,
        histology=p.histology,
        sex=p.sex,
        height_cm=p.height_cm,
        weight_kg=p.weight_kg,
        ppgl_cluster=p.ppgl_cluster,
        lesions=tuple(
            LesionIn(x.pk, x.label, x.site, x.nodal, x.is_primary) for x in p.lesions.order_by("id")
        ),
        studies=tuple(
            StudyIn(
                s.pk, s.performed_on, s.tracer, s.tracer_class, s.modality, s.post_therapy,
                s.blood_pool_suv, s.liver_suv, s.liver_suv_sd, s.spleen_suv, s.treatment_id,
                s.cycle_number,
                observations=tuple(
                    ObservationIn(
                        o.lesion_id, o.state, o.suv_max, o.suv_peak, o.krenning_visual,
                        o.krenning_min, o.krenning_max, o.fdg_visual, o.fdg_vs_sstr,
                        o.long_axis_mm, o.short_axis_mm, o.heterogeneous, o.target,
                    )
                    for o in s.observations.order_by("lesion_id")
                ),
                draft=s.status == "draft",
            )
            for s in studies
        ),
        pathology=tuple(
            PathologyIn(x.reported_on, x.who_grade, x.ki67_percent, x.differentiation)
            for x in p.pathology.order_by("-reported_on", "-id")
        ),
        treatments=tuple(
            TreatmentIn(
                t.pk, t.kind, t.started_on, t.ended_on,
                cycles=tuple(
                    CycleIn(c.number, c.given_on, c.activity_gbq)
                    for c in t.cycles.order_by("number")
                ),
            )
            for t in p.treatments.order_by("started_on", "id")
        ),
        biomarkers=tuple(
            BiomarkerIn(b.analyte, b.value, b.measured_on, b.unit)
            for b in p.biomarkers.order_by("analyte", "measured_on", "id")
        ),
    )  # fmt: skip


def test_the_one_query_read_equals_the_orm_read_value_for_value() -> None:
    """Including the text of every Decimal (its scale), which the inputs digest hashes."""
    call_command("load_demo", no_users=True, stdout=StringIO())
    patient = PatientFactory(height_cm=Decimal("171.5"), weight_kg=Decimal("68.25"))
    treatment = TreatmentFactory(patient=patient, ended_on=date(2024, 9, 1))
    TreatmentCycle.objects.create(treatment=treatment, number=1, given_on=date(2024, 3, 1))
    TreatmentCycle.objects.create(
        treatment=treatment, number=2, given_on=date(2024, 5, 1), activity_gbq=Decimal("7.40")
    )
    ObservationFactory(
        study__patient=patient, suv_max=Decimal("25"), suv_peak=Decimal("0.001"), target=True
    )
    for pk in Patient.objects.values_list("pk", flat=True):
        assert repr(patient_rules_input(pk)) == repr(orm_reference(pk))


def test_an_unknown_patient_raises_does_not_exist() -> None:
    with pytest.raises(Patient.DoesNotExist):
        patient_rules_input(987654321)
