from __future__ import annotations

from typing import Any

import django_filters
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import idempotency
from apps.core.access import record_access
from apps.core.permissions import require_perms
from apps.imaging import services
from apps.imaging.dicom_sr_export import file_response
from apps.imaging.models import (
    ImagingStudy,
    Lesion,
    Modality,
    Observation,
    StudyStatus,
    Tracer,
)
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


class SrAnyStudySerializer(SrImportSerializer):
    """The multipart body of ``POST dicom-sr/``: the files of one study, and what to use where
    the SR does not say which study it is."""

    study = serializers.IntegerField(
        required=False,
        help_text="An existing study of the patient to import into when no study has the SR's "
        "Study Instance UID (the SR then gives it its UID).",
    )
    performed_on = serializers.DateField(
        required=False, help_text="A new study's date, when the SR has no Study Date."
    )
    modality = serializers.ChoiceField(
        choices=Modality.choices,
        required=False,
        help_text="A new study's modality, when the SR's image library does not say.",
    )
    tracer = serializers.ChoiceField(
        choices=Tracer.choices,
        required=False,
        help_text="A new study's tracer, when the SR's image library does not say "
        "(Radiopharmaceutical agent, TID 1607).",
    )


class DicomSrViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    """``POST /api/v1/dicom-sr/``: import SR files, finding or creating their study."""

    queryset = ImagingStudy.objects.none()
    serializer_class = SrAnyStudySerializer
    parser_classes = [MultiPartParser]
    permission_classes = [
        require_perms(*services.SR_IMPORT_PERMISSIONS, "imaging.add_imagingstudy")
    ]

    @extend_schema(
        summary="Import DICOM SR (TID 1500) files, finding or creating their study",
        description=(
            "The patient is found by MRN (the SR's Patient ID; an unknown one is a 400). The "
            "study is the patient's study with the SR's Study Instance UID, else `study` when "
            "sent, else a new study with the SR's date, modality and tracer (from its image "
            "library), or `performed_on`, `modality`, `tracer` where the SR does not say. "
            "All files must be of one study. Otherwise as `POST studies/{id}/dicom-sr/`: "
            "`?commit=false` reviews without writing (and creates no study), the same SR "
            "again changes nothing, a refusal is a 400 naming the problem with nothing written."
        ),
        request={"multipart/form-data": SrAnyStudySerializer},
        parameters=[OpenApiParameter("commit", bool, description="false: review only")],
        responses={200: dict, 201: dict},
    )
    def create(self, request: Request) -> Response:
        return idempotency.run_once(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        body = SrAnyStudySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        commit = request.query_params.get("commit", "true").lower() not in {"false", "0", "no"}
        files = [(upload.name, upload.read()) for upload in data["file"]]
        imported = services.sr_import_any_study(
            reports=services.sr_read_files(files),
            user=request.user,
            commit=commit,
            study_id=data.get("study"),
            new_study={k: data[k] for k in ("performed_on", "modality", "tracer") if k in data},
            on_conflict=data.get("on_conflict"),
        )
        if imported.study is not None:
            record_access(request, [imported.study.patient_id], "api_write:dicom_sr")
        reports = [{"file": number, **review_data(result)} for number, result in imported.results]
        return Response(
            {
                "study": imported.study.pk if imported.study is not None else None,
                "study_created": imported.created,
                "reports": reports,
            },
            status=201 if imported.created and commit else 200,
        )


class LesionViewSet(ClinicalRecordViewSet):
    queryset = Lesion.objects.all()
    serializer_class = LesionSerializer
    filterset_class = LesionFilter


class DicomRenderer(BaseRenderer):
    """``Accept: application/dicom`` on the SR export. A refusal is still problem+json (the
    problem handler sets its content type), so anything but the file's bytes renders as JSON."""

    media_type = "application/dicom"
    format = "dcm"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data, "application/json", renderer_context)


class StudyViewSet(ClinicalRecordViewSet):
    queryset = ImagingStudy.objects.prefetch_related("observations")
    serializer_class = StudySerializer
    filterset_class = StudyFilter

    def get_renderers(self) -> list[BaseRenderer]:
        if self.action == "export_sr":
            return [JSONRenderer(), DicomRenderer()]
        return super().get_renderers()

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

    @extend_schema(
        summary="The study's read as a DICOM SR (TID 1500, Comprehensive 3D SR)",
        description=(
            "One image-level measurement group per lesion (tracking UID and identifier, finding "
            "site, SUVmax, SUVpeak, diameters, volume, visual score), the study's reference "
            "uptake as reference regions, and the patient's phenotype grades (NETPET, Karfis, "
            "Zidan) in NETboard's coding scheme `99NETBOARD`. Importing it into another NETboard "
            "gives the same read."
        ),
        responses={(200, "application/dicom"): bytes},
    )
    @import_sr.mapping.get
    def export_sr(self, request: Request, pk: str | None = None) -> HttpResponse:
        return file_response(self.get_object())

    def _import_sr(self, request: Request) -> Response:
        if not request.user.has_perms(services.SR_IMPORT_PERMISSIONS):
            raise PermissionDenied("Importing measurements needs a reader's permissions.")
        study = self.get_object()  # locked, If-Match checked
        body = SrImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        commit = request.query_params.get("commit", "true").lower() not in {"false", "0", "no"}
        files = [(upload.name, upload.read()) for upload in body.validated_data["file"]]
        results = services.sr_import_files(
            study=study,
            reports=services.sr_read_files(files),
            user=request.user,
            commit=commit,
            on_conflict=body.validated_data.get("on_conflict"),
        )
        reports = [{"file": number, **review_data(result)} for number, result in results]
        study.refresh_from_db()
        self._etag_object = study
        return Response({"study": study.pk, "reports": reports})


class ObservationViewSet(ClinicalRecordViewSet):
    queryset = Observation.objects.select_related("study")
    serializer_class = ObservationSerializer
    filterset_class = ObservationFilter

    def perform_destroy(self, instance: Observation) -> None:
        if instance.study.status == StudyStatus.FINAL:
            raise serializers.ValidationError({"study": [services.FINAL_READ]})
        super().perform_destroy(instance)
