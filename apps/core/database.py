"""What a request does when PostgreSQL fails it (issue 13): never a 500 or a traceback.

- **PostgreSQL unreachable** (refused, restarting, the connection lost): ``503`` with
  ``Retry-After`` — a problem document for the API, an OperationOutcome for FHIR, a short page
  for the browser. ``/health/`` answers for itself (its own 503 with the details).
- **A deadlock or serialization failure** (``40P01``/``40001``): the request is run once more
  when that is safe — its transaction was rolled back as a whole (no transaction still open
  around it) and its body is in memory, so nothing was sent or kept. If it fails again, 503 with
  ``Retry-After: 1``. The retry is a second line only: transactions take a patient's rows in one
  order (apps/patients/locks.py), so a deadlock should not happen at all; each retry is logged.

The outage is logged at most once a minute per process, with the error's class and SQLSTATE only.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from apps.core.outages import warn_now_and_then
from apps.core.problems import problem_body

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# SQLSTATEs after which running the same transaction again can succeed.
CONFLICTS = {"40P01": "deadlock", "40001": "serialization failure"}
RETRY_AFTER_CONFLICT = 1
RETRY_AFTER_UNAVAILABLE = 5
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
_VIEW = "_netboard_view"
_RETRIED = "_netboard_retried"


def sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc.__cause__, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, DATABASE_ERRORS) and sqlstate(exc) in CONFLICTS


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 in the caller's language, with ``Retry-After``; logged without any data."""
    conflict = is_conflict(exc)
    if conflict:
        detail = "The request met a concurrent change of the same records. Send it again."
    else:
        detail = (
            "The database is not available right now; nothing was changed. "
            "Try again in a few seconds."
        )
        warn_now_and_then(
            logger,
            "database-unavailable",
            "database unavailable: %s sqlstate=%s request_id=%s",
            type(exc).__name__,
            sqlstate(exc) or "-",
            getattr(request, "request_id", "-"),
        )
    retry_after = RETRY_AFTER_CONFLICT if conflict else RETRY_AFTER_UNAVAILABLE
    if request.path.startswith("/fhir/"):
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "transient", "diagnostics": detail}],
        }
        response = HttpResponse(json.dumps(body), content_type="application/fhir+json")
    elif request.path.startswith("/api/"):
        response = HttpResponse(
            json.dumps(problem_body(503, detail, type_slug="unavailable")),
            content_type="application/problem+json",
        )
    else:
        # Rendered without the request: the context processors would ask the database for the
        # user. The page needs no one.
        response = HttpResponse(render_to_string("503.html", {"detail": detail}))
    response.status_code = 503
    response["Retry-After"] = str(retry_after)
    # Logged above (at most once a minute), not once more per request by django.request.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseErrorMiddleware:
    """Turns PostgreSQL failures into a 503 (or one retry of a deadlocked request).

    It connects first, before anything else of the request runs: an unreachable database is
    answered here, in every mode (DEBUG included). This costs nothing — the request's first
    query would connect, or check its kept connection, at this point anyway. A failure later
    in the view reaches ``process_exception``; one in another middleware reaches
    ``apps.core.views.server_error`` (Django's 500 handler), which answers the same 503.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != "/health/":  # the health check reports the database itself
            try:
                connection.ensure_connection()
            except DATABASE_ERRORS as exc:
                return unavailable_response(request, exc)
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        setattr(request, _VIEW, (view_func, view_args, view_kwargs))
        if request.method not in _SAFE_METHODS and not request.content_type.startswith(
            "multipart/"
        ):
            # Keep the body (at most NETBOARD_MAX_BODY_BYTES, refused above that) so a retried
            # view can read it again. Uploads stream and are not retried.
            # A body it cannot read (too large, cut off) is the view's to report (413, 400).
            with contextlib.suppress(Exception):
                request.body  # noqa: B018 - reads and keeps it
        return None

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, DATABASE_ERRORS):
            return None
        if is_conflict(exc) and _can_retry(request):
            setattr(request, _RETRIED, True)
            logger.warning(
                "request_id=%s %s (%s): retrying the request once",
                getattr(request, "request_id", "-"),
                CONFLICTS[sqlstate(exc) or ""],
                sqlstate(exc),
            )
            view_func, view_args, view_kwargs = getattr(request, _VIEW)
            try:
                return view_func(request, *view_args, **view_kwargs)
            except DATABASE_ERRORS as again:
                exc = again
        return unavailable_response(request, exc)


def _can_retry(request: HttpRequest) -> bool:
    """Safe to run the view again: not retried yet, no transaction left open around it (its
    own was rolled back whole), and its body still readable."""
    return (
        hasattr(request, _VIEW)
        and not getattr(request, _RETRIED, False)
        and not connection.in_atomic_block
        and (hasattr(request, "_body") or not getattr(request, "_read_started", False))
    )
