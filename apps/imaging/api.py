from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.imaging import services
from apps.imaging.dicom_sr import SrRefused, read_report
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


# An import creates lesions and observations and changes the study's reference values.
SR_IMPORT_PERMISSIONS = [
    "imaging.add_lesion",
    "imaging.add_observation",
    "imaging.change_observation",
    "imaging.change_imagingstudy",
]


class SrImportSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The multipart body of an SR import (the schema's description of it)."""

    file = serializers.ListField(
        child=serializers.FileField(), help_text="One or more DICOM SR (TID 1500) files."
    )
    on_conflict = serializers.ChoiceField(
        choices=["current", "imported"],
        required=False,
        help_text="Where the study already holds a different value: keep it (`current`) or take "
        "the SR's (`imported`). Without it, a conflict is a 400 naming the row and field.",
    )


def review_data(result: services.SrImportResult) -> dict[str, Any]:
    """API.md's review: per lesion its NETboard lesion (null: new), tracking, site and values,
    and the conflicts with what the study holds."""
    review = result.review
    return {
        "written": result.written,
        "already_imported": result.already_imported,
        "lesions": [
            {
                "lesion": row.lesion,
                "tracking_uid": row.source.tracking_uid if row.source else None,
                "tracking_identifier": row.source.tracking_identifier if row.source else None,
                "finding_site": {
                    "code": str(row.source.finding_site.value),
                    "scheme": row.source.finding_site.scheme,
                    "meaning": row.source.finding_site.meaning,
                    "site": row.source.site,
                }
                if row.source and row.source.finding_site
                else None,
                "values": row.values,
                "conflicts": row.conflicts,
            }
            for row in review.rows
        ],
        "reference": {"values": review.reference.values, "conflicts": review.reference.conflicts},
    }


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

    @extend_schema(
        summary="Import DICOM SR (TID 1500) measurement reports into the study",
        description=(
            "Multipart, field `file` (one or more SR files). Lesions are matched by tracking UID "
            "(new ones are created with their tracking and finding site); values go through the "
            "same validation as the grid; the audit of every value written names the SR's SOP "
            "Instance UID. `?commit=false` returns the review without writing. Importing the "
            "same SR again changes nothing. A file that is not DICOM, not an SR, not TID 1500, "
            "of another patient, or with a value in an unknown unit is a 400 naming the problem, "
            "and nothing is written."
        ),
        request={"multipart/form-data": SrImportSerializer},
        parameters=[OpenApiParameter("commit", bool, description="false: review only")],
        responses={200: dict},
    )
    @action(detail=True, methods=["post"], url_path="dicom-sr", parser_classes=[MultiPartParser])
    def import_sr(self, request: Request, pk: str | None = None) -> Response:
        return self._atomic(lambda: self._import_sr(request))

    def _import_sr(self, request: Request) -> Response:
        if not request.user.has_perms(SR_IMPORT_PERMISSIONS):
            raise PermissionDenied("Importing measurements needs a reader's permissions.")
        study = self.get_object()  # locked, If-Match checked
        body = SrImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        commit = request.query_params.get("commit", "true").lower() not in {"false", "0", "no"}
        reports = []
        for number, upload in enumerate(body.validated_data["file"]):
            try:
                reports.append((number, read_report(upload.read())))
            except SrRefused as refused:
                raise serializers.ValidationError(
                    {f"file.{number}": [f"{upload.name}: {refused.message}"]}
                ) from refused
        # Older documents of a series first, so that files sent in any order import alike.
        reports.sort(key=lambda item: (item[1].instance_number or 0, str(item[1].content_datetime)))
        results = []
        for number, report in reports:
            try:
                result = services.sr_import(
                    study=study,
                    report=report,
                    user=request.user,
                    commit=commit,
                    on_conflict=body.validated_data.get("on_conflict"),
                )
            except serializers.ValidationError as exc:
                detail = exc.detail if isinstance(exc.detail, dict) else {"file": exc.detail}
                raise serializers.ValidationError(
                    {f"file.{number}.{name}": value for name, value in detail.items()}
                ) from exc
            results.append({"file": number, **review_data(result)})
        study.refresh_from_db()
        self._etag_object = study
        return Response({"study": study.pk, "reports": results})


class ObservationViewSet(ClinicalRecordViewSet):
    queryset = Observation.objects.select_related("study")
    serializer_class = ObservationSerializer
    filterset_class = ObservationFilter

    def perform_destroy(self, instance: Observation) -> None:
        if instance.study.status == StudyStatus.FINAL:
            raise serializers.ValidationError({"study": [services.FINAL_READ]})
        super().perform_destroy(instance)
