from __future__ import annotations

from collections.abc import Iterable

import django_filters
from django.db.models import Model
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.api_base import AccessLoggedViewSet
from apps.core.permissions import require_perms
from apps.patients import services
from apps.patients.models import Biomarker, Pathology, Patient, Treatment
from apps.patients.serializers import (
    BiomarkerSerializer,
    PathologySerializer,
    PatientSerializer,
    TreatmentSerializer,
)
from apps.scoring import queue as scoring_queue
from apps.scoring import services as scoring
from apps.scoring.serializers import PhenotypeSerializer, RecomputeSerializer, ResponseSerializer


class ClinicalRecordViewSet(AccessLoggedViewSet):
    """A viewset of one kind of record of a patient's clinical record: its serializer saves
    through ``apps.patients.services``, and so does a delete here."""

    def perform_destroy(self, instance: Model) -> None:
        services.record_delete(record=instance)


def _owned_filter(model: type[Model], *fields: str) -> type[django_filters.FilterSet]:
    """A filter set for a patient-owned resource: ?patient=, ?mrn= and the given fields."""
    meta = type("Meta", (), {"model": model, "fields": ["patient", *fields]})
    return type(
        f"{model.__name__}Filter",
        (django_filters.FilterSet,),
        {"mrn": django_filters.CharFilter(field_name="patient__mrn"), "Meta": meta},
    )


class PatientViewSet(ClinicalRecordViewSet):
    queryset = Patient.objects.all()
    serializer_class = PatientSerializer
    filterset_fields = ["mrn", "primary_site", "histology", "sex"]

    def patient_ids(self, objects: Iterable[Model]) -> list[int]:
        return [obj.pk for obj in objects]

    @extend_schema(
        summary="The patient's molecular imaging phenotype (docs/clinical-rules.md §2-§6)",
        description=(
            "The last computed assessment with its status. A stale or pending result is still "
            "shown, marked as such; compare `status` before relying on it."
        ),
        responses=PhenotypeSerializer,
    )
    @action(
        detail=True,
        methods=["get"],
        permission_classes=[
            require_perms("patients.view_patient", "scoring.view_phenotypeassessment")
        ],
    )
    def phenotype(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        return Response(scoring.phenotype_body(patient.pk))

    @extend_schema(
        summary="Response over time and theranostic monitoring (docs/clinical-rules.md §7-§9)",
        description=(
            "Baselines per series, RECIST 1.1, PERCIST 1.0, SSTR PET (descriptive), the "
            "dual-tracer grades at every timepoint with their alerts, post-therapy SPECT "
            "concordance, "
            "biomarker series and disease-specific notes. Computed with the phenotype from the "
            "same inputs, so it carries the same `status`."
        ),
        responses=ResponseSerializer,
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="response",
        url_name="response",
        permission_classes=[
            require_perms("patients.view_patient", "scoring.view_phenotypeassessment")
        ],
    )
    def response_over_time(self, request: Request, pk: str | None = None) -> Response:
        # (Not named ``response``: DRF keeps the finalized response in ``self.response``.)
        patient = self.get_object()
        return Response(scoring.response_body(patient.pk))

    @extend_schema(
        summary="Queue a recompute of the patient's assessments",
        description="202 at once; the result turns `fresh` when a worker has run.",
        request=None,
        responses={202: RecomputeSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[
            require_perms("patients.view_patient", "scoring.recompute_phenotypeassessment")
        ],
    )
    def recompute(self, request: Request, pk: str | None = None) -> Response:
        patient = self.get_object()
        scoring_queue.enqueue_recompute(patient.pk)
        body = scoring.phenotype_body(patient.pk)
        return Response(
            {"patient": patient.pk, "status": body["status"]}, status=status.HTTP_202_ACCEPTED
        )


class PathologyViewSet(ClinicalRecordViewSet):
    queryset = Pathology.objects.all()
    serializer_class = PathologySerializer
    filterset_class = _owned_filter(Pathology, "who_grade")


class BiomarkerViewSet(ClinicalRecordViewSet):
    queryset = Biomarker.objects.all()
    serializer_class = BiomarkerSerializer
    filterset_class = _owned_filter(Biomarker, "analyte")


class TreatmentViewSet(ClinicalRecordViewSet):
    queryset = Treatment.objects.prefetch_related("cycles")
    serializer_class = TreatmentSerializer
    filterset_class = _owned_filter(Treatment, "kind")
