from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from apps.imaging import services
from apps.imaging.models import ImagingStudy, Lesion, Observation, StudyStatus
from apps.imaging.serializers import (
    LesionSerializer,
    ObservationReadItemSerializer,
    ObservationSerializer,
    StudySerializer,
)
from apps.patients.api import ClinicalRecordViewSet


class StudyFilter(django_filters.FilterSet):
    performed_after = django_filters.DateFilter(field_name="performed_on", lookup_expr="gte")
    performed_before = django_filters.DateFilter(field_name="performed_on", lookup_expr="lte")
    mrn = django_filters.CharFilter(field_name="patient__mrn")

    class Meta:
        model = ImagingStudy
        fields = ["patient", "tracer", "tracer_class", "modality", "post_therapy", "status"]


class LesionFilter(django_filters.FilterSet):
    mrn = django_filters.CharFilter(field_name="patient__mrn")

    class Meta:
        model = Lesion
        fields = ["patient", "site", "nodal", "is_primary"]


class ObservationFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="patient_id")
    mrn = django_filters.CharFilter(field_name="patient__mrn")
    tracer_class = django_filters.ChoiceFilter(
        field_name="study__tracer_class",
        choices=ImagingStudy._meta.get_field("tracer_class").choices,
    )
    performed_after = django_filters.DateFilter(field_name="study__performed_on", lookup_expr="gte")
    performed_before = django_filters.DateFilter(
        field_name="study__performed_on", lookup_expr="lte"
    )

    class Meta:
        model = Observation
        fields = ["study", "lesion", "state", "target"]


class LesionViewSet(ClinicalRecordViewSet):
    queryset = Lesion.objects.all()
    serializer_class = LesionSerializer
    filterset_class = LesionFilter


class StudyViewSet(ClinicalRecordViewSet):
    queryset = ImagingStudy.objects.prefetch_related("observations")
    serializer_class = StudySerializer
    filterset_class = StudyFilter

    @extend_schema(
        summary="Replace the study's observations with a complete read",
        description=(
            "The body is the whole list of observations of this study, one per lesion. In one "
            "transaction: observations of lesions already on the study are updated (ids kept), "
            "new lesions are added, lesions left out are removed. If any item is invalid nothing "
            "is written and the problem's `errors` name the item index and field, e.g. "
            "`3.suv_max`. Send `If-Match` with the study's ETag to refuse a concurrent change."
        ),
        request=ObservationReadItemSerializer(many=True),
        responses=ObservationSerializer(many=True),
    )
    @action(detail=True, methods=["put"], url_path="observations")
    def replace_observations(self, request: Request, pk: str | None = None) -> Response:
        return self._atomic(lambda: self._replace_observations(request))

    def _replace_observations(self, request: Request) -> Response:
        study = self.get_object()  # locked, If-Match checked
        if study.status == StudyStatus.FINAL:
            raise serializers.ValidationError({"study": [services.FINAL_READ]})
        if not isinstance(request.data, list):
            raise serializers.ValidationError(
                {"non_field_errors": ["Send the complete read as a JSON list of observations."]}
            )
        lesions = {
            lesion.pk: lesion
            for lesion in Lesion.objects.filter(patient=study.patient_id).order_by()
        }
        context = {**self.get_serializer_context(), "study": study, "lesions": lesions}
        # One item serializer for all items: its fields are built once, not once per item.
        reader = ObservationReadItemSerializer(context=context)
        errors: dict[str, Any] = {}
        items: list[dict[str, Any]] = []
        for index, data in enumerate(request.data):
            try:
                items.append(reader.run_validation(data))
            except serializers.ValidationError as exc:
                detail = (
                    exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
                )
                for field, messages in detail.items():
                    errors[f"{index}.{field}"] = messages
                items.append({})
        seen: dict[int, int] = {}
        for index, item in enumerate(items):
            if not item:
                continue
            lesion_id = item["lesion"].pk
            if lesion_id in seen:
                errors[f"{index}.lesion"] = [
                    f"Lesion {lesion_id} is already in item {seen[lesion_id]}: one per lesion."
                ]
            seen[lesion_id] = index
        if errors:
            raise serializers.ValidationError(errors)
        services.observations_replace(study=study, items=items)
        self._etag_object = study
        # The study is the one in hand (its new updated_at included), not a copy per row.
        observations = list(Observation.objects.filter(study=study))
        for observation in observations:
            observation.study = study
        return Response(ObservationSerializer(observations, many=True, context=context).data)


class ObservationViewSet(ClinicalRecordViewSet):
    queryset = Observation.objects.select_related("study")
    serializer_class = ObservationSerializer
    filterset_class = ObservationFilter

    def perform_destroy(self, instance: Observation) -> None:
        if instance.study.status == StudyStatus.FINAL:
            raise serializers.ValidationError({"study": [services.FINAL_READ]})
        super().perform_destroy(instance)
