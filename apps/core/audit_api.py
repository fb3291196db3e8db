"""``GET /api/v1/audit/`` (API.md): who changed what and when, from the database-trigger history
(pghistory). Auditors only; never writable. Reading it writes access events, since history rows
hold patient data."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from pghistory.models import Events
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.access import record_access
from apps.core.permissions import require_perms

# API resource name -> model label as pghistory stores it.
RESOURCES = {
    "patients": "patients.Patient",
    "pathology": "patients.Pathology",
    "biomarkers": "patients.Biomarker",
    "treatments": "patients.Treatment",
    "cycles": "patients.TreatmentCycle",
    "lesions": "imaging.Lesion",
    "studies": "imaging.ImagingStudy",
    "observations": "imaging.Observation",
    "meetings": "decisions.Meeting",
    "cases": "decisions.Case",
    "decisions": "decisions.Decision",
    "follow-ups": "outcomes.FollowUp",
}
_RESOURCE_OF = {label: name for name, label in RESOURCES.items()}


def _event_model(label: str) -> type[models.Model]:
    return apps.get_model(f"{label}Event")


def patient_events(patient_id: int) -> Any:
    """Every history event of the patient's records (unordered).

    Rows carrying the patient's id, and the patient row
    itself), plus the records that reach the patient through a parent: cycles through their
    treatment and decisions through their case, including parents deleted since (their ids
    come from the parents' own history).
    """
    treatment_ids = list(
        _event_model("patients.Treatment")
        ._default_manager.filter(patient_id=patient_id)
        .values_list("pgh_obj_id", flat=True)
        .distinct()
    )
    case_ids = list(
        _event_model("decisions.Case")
        ._default_manager.filter(patient_id=patient_id)
        .values_list("pgh_obj_id", flat=True)
        .distinct()
    )
    rule = Q(pgh_data__contains={"patient_id": patient_id}) | Q(
        pgh_obj_model="patients.Patient", pgh_obj_id=str(patient_id)
    )
    if treatment_ids:
        rule |= Q(pgh_obj_model="patients.TreatmentCycle", pgh_data__treatment_id__in=treatment_ids)
    if case_ids:
        rule |= Q(pgh_obj_model="decisions.Decision", pgh_data__case_id__in=case_ids)
    tracked = [_event_model(label) for label in RESOURCES.values()]
    events = Events.objects.across(*tracked)  # type: ignore[attr-defined]
    return events.filter(rule)


class AuditEntrySerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField(source="pgh_slug", help_text="Unique id of this history entry.")
    at = serializers.DateTimeField(source="pgh_created_at", help_text="When the change committed.")
    resource = serializers.SerializerMethodField(help_text="The API resource changed.")
    object_id = serializers.CharField(source="pgh_obj_id", help_text="The record changed.")
    operation = serializers.CharField(source="pgh_label", help_text="insert, update or delete.")
    user = serializers.SerializerMethodField(help_text="User id (null: a script or the system).")
    username = serializers.SerializerMethodField(help_text="Login or api:<system> of the writer.")
    source = serializers.SerializerMethodField(
        help_text="api (REST or FHIR), web (the browser pages), admin or a command."
    )
    request_id = serializers.SerializerMethodField(help_text="X-Request-ID of the writing request.")
    changes = serializers.JSONField(
        source="pgh_diff",
        allow_null=True,
        help_text="For an update: {field: [before, after]} for each changed field.",
    )
    data = serializers.JSONField(
        source="pgh_data", help_text="The row after the change (before it, for a delete)."
    )

    def get_resource(self, event: Events) -> str:
        return _RESOURCE_OF.get(event.pgh_obj_model, event.pgh_obj_model)

    def _written_by(self, event: Events, key: str) -> Any:
        return (event.pgh_context or {}).get(key)

    def get_user(self, event: Events) -> int | None:
        value = self._written_by(event, "user")
        return int(value) if value is not None else None

    def get_username(self, event: Events) -> str:
        return str(self._written_by(event, "username") or "")

    def get_source(self, event: Events) -> str:
        return str(self._written_by(event, "source") or "")

    def get_request_id(self, event: Events) -> str:
        return str(self._written_by(event, "request_id") or "")


class AuditViewSet(viewsets.GenericViewSet):  # type: ignore[type-arg]
    serializer_class = AuditEntrySerializer
    permission_classes = [require_perms("core.view_accessevent")]
    filter_backends: list[Any] = []

    @extend_schema(
        summary="Change history of one record or of one patient's records",
        parameters=[
            OpenApiParameter(
                "object",
                str,
                description="`<resource>:<id>`, e.g. `observations:55` (resources: "
                + ", ".join(RESOURCES)
                + ").",
            ),
            OpenApiParameter(
                "patient", int, description="Every change to the records of this patient."
            ),
        ],
    )
    def list(self, request: Request) -> Response:
        target = request.query_params.get("object")
        patient = request.query_params.get("patient")
        if bool(target) == bool(patient):
            raise serializers.ValidationError(
                {"object": ["Give either object=<resource>:<id> or patient=<id>."]}
            )
        if target:
            resource, _, object_id = target.partition(":")
            if resource not in RESOURCES or not object_id.isdigit():
                raise serializers.ValidationError(
                    {
                        "object": [
                            f"Use <resource>:<id> with a resource among {', '.join(RESOURCES)}."
                        ]
                    }
                )
            events = Events.objects.filter(pgh_obj_model=RESOURCES[resource], pgh_obj_id=object_id)
        else:
            if not str(patient).isdigit():
                raise serializers.ValidationError({"patient": ["A patient id (a whole number)."]})
            events = patient_events(int(str(patient)))
        page = self.paginate_queryset(events.order_by("pgh_created_at", "pgh_slug"))
        shown = page if page is not None else list(events)
        patients = {
            int(e.pgh_obj_id)
            if e.pgh_obj_model == "patients.Patient"
            else e.pgh_data.get("patient_id")
            for e in shown
        }
        record_access(request, [p for p in patients if p is not None], "api_read:audit")
        data = AuditEntrySerializer(shown, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)
