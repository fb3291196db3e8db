from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from rest_framework import exceptions, serializers

from apps.core.api_base import AccessLoggedViewSet
from apps.decisions import services
from apps.decisions.models import Decision, Meeting
from apps.decisions.serializers import DecisionSerializer, MeetingSerializer


class DecisionConflict(exceptions.APIException):
    status_code = 409
    default_detail = "This decision is signed and cannot be changed."
    default_code = "decision_signed"


class DecisionSuperseded(exceptions.APIException):
    status_code = 409
    default_detail = "The decision named in supersedes was superseded meanwhile."
    default_code = "decision_superseded"


class MeetingFilter(django_filters.FilterSet):
    held_after = django_filters.DateFilter(field_name="held_on", lookup_expr="gte")
    held_before = django_filters.DateFilter(field_name="held_on", lookup_expr="lte")
    patient = django_filters.NumberFilter(field_name="cases__patient", distinct=True)

    class Meta:
        model = Meeting
        fields = ["held_on"]


class DecisionFilter(django_filters.FilterSet):
    patient = django_filters.NumberFilter(field_name="case__patient")
    mrn = django_filters.CharFilter(field_name="case__patient__mrn")

    class Meta:
        model = Decision
        fields = ["case", "recommendation"]


class MeetingViewSet(AccessLoggedViewSet):
    queryset = Meeting.objects.prefetch_related("cases")
    serializer_class = MeetingSerializer
    filterset_class = MeetingFilter

    def patient_ids(self, objects: Iterable[Model]) -> list[int]:
        return [case.patient_id for meeting in objects for case in meeting.cases.all()]


class DecisionViewSet(AccessLoggedViewSet):
    queryset = Decision.objects.select_related("case")
    serializer_class = DecisionSerializer
    filterset_class = DecisionFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def patient_ids(self, objects: Iterable[Model]) -> list[int]:
        return [decision.case.patient_id for decision in objects]

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        data = serializer.validated_data
        # The snapshot is the assessment as the API shows it now (GET patients/{id}/phenotype/
        # and response/), taken by the service under its locks.
        try:
            serializer.instance = services.decision_record(
                case=data["case"],
                recommendation=data["recommendation"],
                rationale=data["rationale"],
                attendees=data.get("attendees", ""),
                outside_meeting=data.get("outside_meeting", False),
                decided_by=self.request.user,  # type: ignore[arg-type]
                supersedes=data.get("supersedes"),
            )
        except services.DecisionConflict as exc:
            raise DecisionSuperseded() from exc
        except DjangoValidationError as exc:
            # The service's refusals (e.g. superseding a decision of another case) name their
            # field: a 400 problem document with ``errors`` per field, never a 500.
            raise serializers.ValidationError(exc.message_dict) from exc
        self._etag_object = serializer.instance

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        changes: dict[str, Any] = dict(serializer.validated_data)
        try:
            serializer.instance = services.decision_update(decision=serializer.instance, **changes)
            self._etag_object = serializer.instance
        except services.DecisionSignedError as exc:
            raise DecisionConflict() from exc
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc

    def perform_destroy(self, instance: Decision) -> None:
        try:
            services.decision_delete(decision=instance)
        except services.DecisionSignedError as exc:
            raise DecisionConflict() from exc
