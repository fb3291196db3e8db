"""RFC 9457 problem details for every API error (application/problem+json)."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://netboard.invalid/problems/"

_TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Permission denied",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem(
    status_code: int,
    detail: str,
    *,
    errors: dict[str, Any] | None = None,
    type_slug: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = problem_body(status_code, detail, errors=errors, type_slug=type_slug)
    return Response(body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_body(
    status_code: int,
    detail: str,
    *,
    errors: dict[str, Any] | None = None,
    type_slug: str | None = None,
) -> dict[str, Any]:
    return {
        "type": PROBLEM_BASE + (type_slug or str(status_code)),
        "title": _TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "errors": errors or {},
    }


def problem_response(status_code: int, detail: str) -> HttpResponse:
    """The same document outside DRF (Django's error handlers, middleware)."""
    body = json.dumps(problem_body(status_code, detail))
    return HttpResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state of the record."
    default_code = "conflict"


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is larger than this server accepts."
    default_code = "body_too_large"


def _field_errors(data: Any) -> dict[str, Any]:
    if isinstance(data, dict):
        return {
            key: value if isinstance(value, list | dict) else [value] for key, value in data.items()
        }
    if isinstance(data, list):
        return {"non_field_errors": data}
    return {"non_field_errors": [data]}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        # Raised on to apps.core.database.DatabaseErrorMiddleware: one retry of a deadlocked
        # request, else 503 with Retry-After.
        return None
    if isinstance(exc, RequestDataTooBig):
        exc = BodyTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes "
            "(NETBOARD_MAX_BODY_BYTES); send fewer records per request."
        )
    # Django's RestrictedError and ProtectedError are IntegrityErrors: test them first.
    if isinstance(exc, RestrictedError | ProtectedError):
        exc = Conflict(
            "Other records depend on this one (e.g. post-therapy scans on a treatment); "
            "change or remove them first."
        )
    elif isinstance(exc, IntegrityError):
        # A database rule refused the write: bad input the serializers did not catch. Name the
        # rule; never answer 500 for it.
        cause = exc.__cause__
        rule = getattr(getattr(cause, "diag", None), "constraint_name", None) or "a data rule"
        logger.warning("database refused a write: %s", rule)
        exc = exceptions.ValidationError(
            {"non_field_errors": [f"The database refused this change ({rule})."]}
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        # Unexpected: log the class and request id only (never data), answer a clean 500.
        request = context.get("request")
        logger.exception(
            "unhandled API error %s request_id=%s",
            type(exc).__name__,
            getattr(request, "request_id", "-") if request is not None else "-",
        )
        return problem(500, "An unexpected error occurred; it has been logged.")
    headers = {
        key: value
        for key, value in response.items()
        if key in {"Retry-After", "WWW-Authenticate", "Allow"}
    }
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        return problem(
            response.status_code,
            "The request has invalid fields: " + ", ".join(sorted(errors)) + ".",
            errors=errors,
            type_slug="validation",
            headers=headers,
        )
    detail = response.data.get("detail") if isinstance(response.data, dict) else None
    return problem(
        response.status_code,
        str(detail) if detail else _TITLES.get(response.status_code, "Error"),
        headers=headers,
    )
