from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from apps.decisions.models import Case, Meeting
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients import services
from apps.patients.models import Pathology, Patient, Treatment


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-only")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        self.save()


class ClinicalRecordFactory(factory.django.DjangoModelFactory):
    """Records of a patient's clinical record are created as every write path creates them:
    through ``apps.patients.services.record_save``, which queues the patient's recompute when
    the transaction commits."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: type[Any], *args: Any, **kwargs: Any) -> Any:
        return services.record_save(record=model_class(*args, **kwargs))


class PatientFactory(ClinicalRecordFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"TEST-{n:05d}")
    family_name = factory.Sequence(lambda n: f"TEST-Family{n}")
    given_name = "Test"
    birth_date = date(1960, 1, 1)
    sex = "female"
    primary_site = "pancreas"
    histology = "net"


class PathologyFactory(ClinicalRecordFactory):
    class Meta:
        model = Pathology

    patient = factory.SubFactory(PatientFactory)
    reported_on = date(2024, 1, 1)
    who_grade = "G2"
    ki67_percent = Decimal("10")


class TreatmentFactory(ClinicalRecordFactory):
    class Meta:
        model = Treatment

    patient = factory.SubFactory(PatientFactory)
    kind = "prrt_lu177_dotatate"
    started_on = date(2024, 2, 1)


class LesionFactory(ClinicalRecordFactory):
    class Meta:
        model = Lesion

    patient = factory.SubFactory(PatientFactory)
    label = factory.Sequence(lambda n: f"Lesion {n}")
    site = "liver"


class StudyFactory(ClinicalRecordFactory):
    class Meta:
        model = ImagingStudy

    patient = factory.SubFactory(PatientFactory)
    performed_on = date(2024, 3, 1)
    modality = "pet_ct"
    tracer = "ga68_dotatate"
    blood_pool_suv = Decimal("1.5")
    liver_suv = Decimal("6.0")
    spleen_suv = Decimal("18.0")


class ObservationFactory(ClinicalRecordFactory):
    class Meta:
        model = Observation

    study = factory.SubFactory(StudyFactory)
    lesion = factory.SubFactory(LesionFactory, patient=factory.SelfAttribute("..study.patient"))
    state = "scored"
    suv_max = Decimal("12.0")


class MeetingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meeting

    held_on = date(2024, 6, 1)
    title = "NET MDT"


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    meeting = factory.SubFactory(MeetingFactory)
    patient = factory.SubFactory(PatientFactory)
    question = "Suitable for PRRT?"


def dual_tracer_record(
    pairs: int, lesions: int, *, mrn: str, label: str = "Lesion {n:02d}"
) -> Patient:
    """A patient with ``pairs`` SSTR PET + FDG PET pairs (two days apart, every 90 days) and
    ``lesions`` lesions scored on every study, written in bulk, with the assessment computed
    and stored (``fresh``). Every score of both scales appears: SUVmax from 1 to 40 on SSTR,
    1 to 12 on FDG."""
    from datetime import timedelta

    from apps.scoring.services import recompute_phenotype

    patient = Patient.objects.create(mrn=mrn, family_name="Record", primary_site="pancreas")
    studies = []
    for t in range(pairs):
        day = date(2022, 1, 3) + timedelta(days=90 * t)
        studies += [
            ImagingStudy(
                patient=patient,
                performed_on=day,
                modality="pet_ct",
                tracer="ga68_dotatate",
                tracer_class="SSTR",
                blood_pool_suv=Decimal("1.5"),
                liver_suv=Decimal("6.0"),
                spleen_suv=Decimal("18.0"),
            ),
            ImagingStudy(
                patient=patient,
                performed_on=day + timedelta(days=2),
                modality="pet_ct",
                tracer="f18_fdg",
                tracer_class="FDG",
                blood_pool_suv=Decimal("1.8"),
                liver_suv=Decimal("2.5"),
            ),
        ]
    studies = ImagingStudy.objects.bulk_create(studies)
    rows = Lesion.objects.bulk_create(
        Lesion(patient=patient, label=label.format(n=n), site="liver") for n in range(lesions)
    )
    Observation.objects.bulk_create(
        Observation(
            study=study,
            lesion=lesion,
            patient=patient,
            state="scored",
            suv_max=Decimal(1 + (n * 7 + i) % (40 if study.tracer_class == "SSTR" else 12)),
            long_axis_mm=Decimal("20.0"),
        )
        for i, study in enumerate(studies)
        for n, lesion in enumerate(rows)
    )
    if recompute_phenotype(patient.pk) != "written":
        raise AssertionError("the record's assessment was not written")
    return patient


def three_liver_lesions(patient: Patient, fdg_visual: str = "negative") -> Patient:
    """On the patient: three liver lesions, Krenning 4 on an SSTR PET (2024-03-01) and FDG as
    given on an FDG PET nine days later (SUVmax 1.0; negative: NETPET P1)."""
    sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    fdg = StudyFactory(
        patient=patient,
        performed_on=date(2024, 3, 10),
        tracer="f18_fdg",
        spleen_suv=None,
        liver_suv=Decimal("2.0"),
    )
    for n in range(3):
        lesion = LesionFactory(patient=patient, label=f"L{n}")
        ObservationFactory(study=sstr, lesion=lesion, krenning_visual=4, long_axis_mm=30)
        ObservationFactory(study=fdg, lesion=lesion, suv_max=Decimal("1.0"), fdg_visual=fdg_visual)
    return patient
