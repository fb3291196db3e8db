"""API.md ``follow-ups/`` and ``analytics/survival/``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import django_filters
from django.db.models import Model
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.access import record_access
from apps.core.api_base import AccessLoggedViewSet
from apps.core.permissions import require_perms
from apps.outcomes import analytics, services
from apps.outcomes.analytics_schema import SurvivalPendingSerializer, SurvivalSerializer
from apps.outcomes.models import FollowUp
from apps.outcomes.selectors import progression_suggestions
from apps.outcomes.serializers import FollowUpSerializer, ProgressionSuggestionSerializer
from apps.outcomes.survival import ENDPOINTS, GROUPINGS, INDEXES, SurvivalQuery
from apps.patients.models import Patient, PrimarySite, WhoGrade


class FollowUpFilter(django_filters.FilterSet):
    mrn = django_filters.CharFilter(field_name="patient__mrn")
    occurred_after = django_filters.DateFilter(field_name="occurred_on", lookup_expr="gte")
    occurred_before = django_filters.DateFilter(field_name="occurred_on", lookup_expr="lte")

    class Meta:
        model = FollowUp
        fields = ["patient", "kind", "basis", "study"]


class SuggestionQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    patient = serializers.PrimaryKeyRelatedField(
        queryset=Patient.objects.all(), help_text="The patient (id)."
    )


class FollowUpViewSet(AccessLoggedViewSet):
    """Follow-up records; writes go through ``apps.outcomes.services`` (the serializer's save
    and the delete below)."""

    queryset = FollowUp.objects.all()
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter

    def perform_destroy(self, instance: Model) -> None:
        services.follow_up_delete(follow_up=instance)  # type: ignore[arg-type]

    @extend_schema(
        summary="Progressions NETboard's response assessment suggests, for a user to confirm",
        description=(
            "Every follow-up study of the patient that the stored response classes RECIST `PD` "
            "or PERCIST `PMD`, less those a progression record already names, with the date "
            "and basis to record (`POST follow-ups/` with `kind: progression`). Nothing is "
            "written."
        ),
        parameters=[SuggestionQuerySerializer],
        responses=ProgressionSuggestionSerializer(many=True),
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        filter_backends=[],
        permission_classes=[
            require_perms(
                "outcomes.view_followup",
                "patients.view_patient",
                "scoring.view_phenotypeassessment",
            )
        ],
    )
    def suggestions(self, request: Request) -> Response:
        query = SuggestionQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        patient = query.validated_data["patient"]
        record_access(request, [patient.pk], "api_read:follow_up_suggestions")
        return Response(progression_suggestions(patient.pk))


class SurvivalQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    endpoint = serializers.ChoiceField(
        choices=ENDPOINTS,
        default="os",
        help_text="os: overall survival (to death); pfs: progression-free survival (to the "
        "first progression after the index date, or death).",
    )
    grouping = serializers.ChoiceField(
        choices=GROUPINGS,
        default="netpet",
        help_text="netpet: P1, P2-P4, P5 (as the NETPET validation grouped them); "
        "netpet_grades: every NETPET grade; karfis: C1-C3; zidan: 1-4. Each with "
        "not_classifiable.",
    )
    index = serializers.ChoiceField(
        choices=INDEXES,
        default="first_dual_tracer",
        help_text="Time zero: the first dual-tracer timepoint, or the start of the first "
        "177Lu-DOTATATE treatment (patients who never started PRRT are excluded).",
    )
    primary_site = serializers.ChoiceField(
        choices=PrimarySite.choices, required=False, help_text="Only patients with this primary."
    )
    who_grade = serializers.ChoiceField(
        choices=WhoGrade.choices,
        required=False,
        help_text="Only patients whose latest pathology report has this WHO grade.",
    )
    received_prrt = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only patients with a 177Lu-DOTATATE treatment; false: only those without.",
    )
    version = serializers.RegexField(
        r"^[0-9a-f]{32}$",
        required=False,
        help_text="The version a 202 answer named (in its status_url): poll with it to get "
        "the figures of that computation.",
    )


def _status_url(request: Request, query: SurvivalQuery, version: str) -> str:
    params = {k: v for k, v in query.as_dict().items() if v is not None}
    params = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
    return request.build_absolute_uri(
        request.path + "?" + urlencode({**params, "version": version})
    )


class SurvivalView(APIView):
    """``GET /api/v1/analytics/survival/`` (API.md, Analytics)."""

    permission_classes = [require_perms("outcomes.view_survival")]

    @extend_schema(
        operation_id="analytics_survival",
        summary="Kaplan-Meier survival of the cohort by dual-tracer grade, with a log-rank test",
        description=(
            "Overall or progression-free survival from the chosen index date, per group of the "
            "chosen grading (the grade at the index date, from the stored assessments): n, "
            "events, median with its 95% confidence interval (lifelines), the curve as "
            "[days, survival] steps, numbers at risk, and a log-rank test across the classified "
            "groups (null below NETBOARD_SURVIVAL_MIN_GROUP patients in a group). Censored at "
            "the last date known alive (the latest last contact or progression). Computed by a "
            "worker and cached by the cohort's input version: when no result for the cohort as "
            "it is now is cached, the answer is 202 with `Retry-After` and a `status_url` "
            "(also in `Location`) to poll; 200 once ready. Without a worker, it is computed in "
            "the request. The choices (index dates, exclusions, censoring) are in docs/api.md."
        ),
        parameters=[SurvivalQuerySerializer],
        responses={
            200: SurvivalSerializer,
            202: OpenApiResponse(
                SurvivalPendingSerializer, description="Being computed: poll status_url."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        # A plain dict: as a QueryDict, a missing boolean would read as false (DRF's form rule).
        params = SurvivalQuerySerializer(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(params.validated_data)
        version = data.pop("version", None)
        query = SurvivalQuery(**data)
        result = analytics.survival_status(query, version=version)
        if result.status == "ready":
            return Response(result.figures)
        url = _status_url(request, query, result.version)
        return Response(
            {
                "status": "pending",
                "endpoint": query.endpoint,
                "grouping": query.grouping,
                "index": query.index,
                "filters": query.filters,
                "version": result.version,
                "status_url": url,
            },
            status=status.HTTP_202_ACCEPTED,
            headers={
                "Retry-After": str(analytics.RETRY_AFTER_SECONDS),
                "Location": url,
            },
        )
