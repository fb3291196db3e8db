"""Read a patient's clinical record into the plain inputs of the rules (DESIGN.md: selectors
return data with their joins done; a fixed number of queries whatever the record's size)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch

from apps.imaging.models import ImagingStudy, Observation
from apps.patients.models import Patient
from apps.scoring.rules import (
    BiomarkerIn,
    CycleIn,
    LesionIn,
    ObservationIn,
    PathologyIn,
    PatientIn,
    StudyIn,
    Thresholds,
    TreatmentIn,
)


def rules_thresholds() -> Thresholds:
    return Thresholds.from_overrides(settings.NETBOARD_RULES)


def _observation(obs: Observation) -> ObservationIn:
    return ObservationIn(
        lesion=obs.lesion_id,
        state=obs.state,
        suv_max=obs.suv_max,
        suv_peak=obs.suv_peak,
        krenning_visual=obs.krenning_visual,
        krenning_min=obs.krenning_min,
        krenning_max=obs.krenning_max,
        fdg_visual=obs.fdg_visual,
        fdg_vs_sstr=obs.fdg_vs_sstr,
        long_axis_mm=obs.long_axis_mm,
        short_axis_mm=obs.short_axis_mm,
        heterogeneous=obs.heterogeneous,
        target=obs.target,
    )


def _study(study: ImagingStudy) -> StudyIn:
    return StudyIn(
        id=study.pk,
        performed_on=study.performed_on,
        tracer=study.tracer,
        tracer_class=study.tracer_class,
        modality=study.modality,
        post_therapy=study.post_therapy,
        blood_pool_suv=study.blood_pool_suv,
        liver_suv=study.liver_suv,
        liver_suv_sd=study.liver_suv_sd,
        spleen_suv=study.spleen_suv,
        treatment=study.treatment_id,
        cycle_number=study.cycle_number,
        observations=tuple(_observation(obs) for obs in study.observations.all()),
    )


def patient_rules_input(patient_id: int) -> PatientIn:
    """The whole record of one patient as rules input, in at most eight queries."""
    patient = Patient.objects.prefetch_related(
        "lesions",
        Prefetch("studies", queryset=ImagingStudy.objects.prefetch_related("observations")),
        "pathology",
        "treatments__cycles",
        "biomarkers",
    ).get(pk=patient_id)
    return PatientIn(
        id=patient.pk,
        primary_site=patient.primary_site,
        histology=patient.histology,
        sex=patient.sex,
        height_cm=patient.height_cm,
        weight_kg=patient.weight_kg,
        ppgl_cluster=patient.ppgl_cluster,
        lesions=tuple(
            LesionIn(id=x.pk, label=x.label, site=x.site, nodal=x.nodal, is_primary=x.is_primary)
            for x in patient.lesions.all()
        ),
        studies=tuple(_study(study) for study in patient.studies.all()),
        pathology=tuple(
            PathologyIn(
                reported_on=p.reported_on,
                who_grade=p.who_grade,
                ki67_percent=p.ki67_percent,
                differentiation=p.differentiation,
            )
            for p in patient.pathology.all()
        ),
        treatments=tuple(
            TreatmentIn(
                id=t.pk,
                kind=t.kind,
                started_on=t.started_on,
                ended_on=t.ended_on,
                cycles=tuple(
                    CycleIn(number=c.number, given_on=c.given_on, activity_gbq=c.activity_gbq)
                    for c in t.cycles.all()
                ),
            )
            for t in patient.treatments.all()
        ),
        biomarkers=tuple(
            BiomarkerIn(analyte=b.analyte, value=b.value, measured_on=b.measured_on, unit=b.unit)
            for b in patient.biomarkers.all()
        ),
    )
