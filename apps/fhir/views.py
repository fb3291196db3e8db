"""FHIR R4 endpoints (API.md "FHIR R4"). Same authentication, roles, access log and rate limits
as the JSON API; answers are ``application/fhir+json``, errors OperationOutcome resources."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.access import record_access
from apps.core.permissions import require_perms
from apps.fhir.export import everything
from apps.fhir.importer import FhirInputError, import_transaction, operation_outcome
from apps.patients.models import Patient


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class FhirJSONParser(JSONParser):
    media_type = "application/fhir+json"


class FhirView(APIView):
    renderer_classes = [FhirJSONRenderer, JSONRenderer]
    parser_classes = [FhirJSONParser, JSONParser]

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        body = response.data if isinstance(response.data, dict) else {}
        detail = body.get("detail") or body.get("title") or "Request refused."
        outcome = Response(operation_outcome([("", str(detail))]), status=response.status_code)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if header in response:
                outcome[header] = response[header]
        return outcome


class PatientEverything(FhirView):
    permission_classes = [require_perms("patients.view_patient", "imaging.view_observation")]

    @extend_schema(
        summary="FHIR R4: everything about one patient",
        description="A Bundle (searchset) of the Patient, BodyStructure per lesion, ImagingStudy, "
        "an Observation per lesion per study, an Observation per phenotype grade and the "
        "phenotype DiagnosticReport.",
        responses={200: OpenApiResponse(description="FHIR R4 Bundle (application/fhir+json)")},
    )
    def get(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(Patient, pk=pk)
        record_access(request, [patient.pk], "fhir_read:everything")
        base = request.build_absolute_uri("/fhir/R4/")
        return Response(everything(patient, base))


class Transaction(FhirView):
    permission_classes = [
        require_perms(
            "patients.add_patient", "imaging.add_lesion", "imaging.add_imagingstudy",
            "imaging.add_observation",
        )
    ]  # fmt: skip

    @extend_schema(
        summary="FHIR R4: import a transaction Bundle",
        description="Patient, BodyStructure (lesions), ImagingStudy and lesion Observations, "
        "written in one transaction with the same rules as the JSON API; any invalid entry and "
        "nothing is written (400 OperationOutcome naming the entries).",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiResponse(description="transaction-response Bundle")},
    )
    def post(self, request: Request) -> Response:
        try:
            result = import_transaction(request.data, request)
        except FhirInputError as exc:
            return Response(operation_outcome(exc.issues), status=status.HTTP_400_BAD_REQUEST)
        return Response(result, status=status.HTTP_200_OK)


class UnknownEndpoint(FhirView):
    """Any other URL under /fhir/R4/: 404 as an OperationOutcome (after authentication)."""

    permission_classes = [IsAuthenticated]
    schema = None  # not an endpoint: left out of the OpenAPI schema

    def _not_found(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound("No such FHIR endpoint.")

    get = post = put = patch = delete = _not_found
