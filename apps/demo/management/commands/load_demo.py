from typing import Any

import pghistory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from apps.core.roles import ROLES
from apps.demo.cohort import COHORT, FOLLOW_UPS, DemoPatient, as_date, as_decimal
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.outcomes.models import FollowUp
from apps.outcomes.services import follow_up_record
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle
from apps.scoring.queue import request_recompute

DEMO_PASSWORD = "netboard-demo"  # noqa: S105 - published demo password, local use only
_OBSERVATION_DECIMALS = {"suv_max", "suv_peak", "long_axis_mm", "short_axis_mm", "volume_ml"}


class Command(BaseCommand):
    help = (
        "Load the synthetic demo cohort (fake names, MRNs DEMO-*). Idempotent: patients that "
        "exist are left as they are. Demo users (demo-<role>, password netboard-demo) are made "
        "only with DJANGO_DEBUG=1 or --users."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", action="store_true", help="create demo users")
        parser.add_argument("--no-users", action="store_true", help="never create demo users")

    def handle(self, *args: Any, **options: Any) -> None:
        with pghistory.context(source="load_demo"):
            created = sum(load_patient(spec) for spec in COHORT)
            followed = load_follow_ups()
            want_users = (options["users"] or settings.DEBUG) and not options["no_users"]
            users = load_users() if want_users else 0
        self.stdout.write(
            f"Demo cohort: {created} patient(s) created, {len(COHORT) - created} already "
            f"present; {followed} with synthetic follow-up records; {users} demo user(s) created."
        )


@transaction.atomic
def load_follow_ups() -> int:
    """The synthetic outcome records of the demo patients that have none yet (a cohort loaded
    by an earlier release gets them too); the number of patients given them."""
    given = 0
    for patient in Patient.objects.filter(mrn__in=FOLLOW_UPS, follow_ups__isnull=True):
        for kind, day, detail in FOLLOW_UPS[patient.mrn]:
            values = {"patient": patient, "kind": kind, "occurred_on": as_date(day)}
            if kind == "progression":
                values["basis"] = detail
            elif kind == "death":
                values["cause"] = detail
            follow_up_record(follow_up=FollowUp(), values=values)
        given += 1
    return given


@transaction.atomic
def load_patient(spec: DemoPatient) -> bool:
    if Patient.objects.filter(mrn=spec.mrn).exists():
        return False
    patient = Patient.objects.create(
        mrn=spec.mrn,
        family_name=spec.family_name,
        given_name=spec.given_name,
        sex=spec.sex,
        birth_date=as_date(spec.birth_date),
        primary_site=spec.primary_site,
        histology=spec.histology,
        height_cm=as_decimal(spec.height_cm),
        weight_kg=as_decimal(spec.weight_kg),
        ppgl_cluster=spec.ppgl_cluster,
    )
    for report in spec.pathology:
        Pathology.objects.create(
            patient=patient,
            reported_on=as_date(report["reported_on"]),
            who_grade=report.get("who_grade"),
            ki67_percent=as_decimal(report.get("ki67_percent")),
            differentiation=report.get("differentiation"),
            specimen_site=report.get("specimen_site", ""),
        )
    Biomarker.objects.bulk_create(
        Biomarker(
            patient=patient,
            analyte=analyte,
            value=as_decimal(value),
            unit=unit,
            measured_on=as_date(day),
        )
        for analyte, value, unit, day in spec.biomarkers
    )
    prrt = None
    for course in spec.treatments:
        treatment = Treatment.objects.create(
            patient=patient,
            kind=course["kind"],
            regimen=course.get("regimen", ""),
            started_on=as_date(course["started_on"]),
            ended_on=as_date(course["ended_on"]) if course.get("ended_on") else None,
        )
        TreatmentCycle.objects.bulk_create(
            TreatmentCycle(
                treatment=treatment, number=n, given_on=as_date(day), activity_gbq=as_decimal(gbq)
            )
            for n, day, gbq in course.get("cycles", [])
        )
        if treatment.kind == "prrt_lu177_dotatate":
            prrt = treatment
    lesions = {
        key: Lesion.objects.create(
            patient=patient, label=label, site=site, nodal=nodal, is_primary="primary" in label
        )
        for key, (label, site, nodal) in spec.lesions.items()
    }
    for study_spec in spec.studies:
        study = ImagingStudy.objects.create(
            patient=patient,
            performed_on=as_date(study_spec.performed_on),
            tracer=study_spec.tracer,
            modality=study_spec.modality,
            post_therapy=study_spec.post_therapy,
            treatment=prrt if study_spec.cycle else None,
            cycle_number=study_spec.cycle,
            status="final",
            finalized_at=timezone.now(),  # finished by the demo's loader, not by a user
            accession_number=f"{spec.mrn}-{study_spec.key}",
            **{name: as_decimal(value) for name, value in study_spec.refs.items()},
        )
        observations = []
        for key, values in study_spec.obs.items():
            fields = {"suv_max": values} if isinstance(values, str) else dict(values)
            for name in _OBSERVATION_DECIMALS & fields.keys():
                fields[name] = as_decimal(fields[name])
            observations.append(
                Observation(study=study, lesion=lesions[key], patient=patient, **fields)
            )
        Observation.objects.bulk_create(observations)
    request_recompute(patient.pk)  # bulk inserts: the database triggers raised its version
    return True


def load_users() -> int:
    user_model = get_user_model()
    created = 0
    for role in ROLES:
        user, was_created = user_model.objects.get_or_create(
            username=f"demo-{role}", defaults={"is_staff": True, "first_name": "Demo"}
        )
        if was_created:
            user.set_password(DEMO_PASSWORD)
            user.is_superuser = role == "admin"
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            created += 1
    return created
