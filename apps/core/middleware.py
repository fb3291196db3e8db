"""Request id, authentication everywhere, and the audit context of every write."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import middleware as auth_middleware
from django.http import HttpRequest, HttpResponse
from pghistory.middleware import HistoryMiddleware
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.views import APIView

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Tag each request with an id (the caller's X-Request-ID when well-formed)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Every page needs a login, except views marked `login_not_required` (login, health).

    API views authenticate in DRF (token or session) and answer 401/403 as problem documents
    instead of redirecting, so they are passed through here; DRF's default permission class
    refuses anonymous callers.
    """

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        if is_json_api_view(view_func):
            return None  # JSON API: DRF answers 401 (HTML pages such as the API docs redirect)
        return super().process_view(request, view_func, view_args, view_kwargs)


def is_json_api_view(view_func: Callable[..., Any]) -> bool:
    """A DRF view answering JSON (not an HTML page such as the API docs)."""
    view_class = getattr(view_func, "cls", None)
    return (
        isinstance(view_class, type)
        and issubclass(view_class, APIView)
        and not any(issubclass(r, TemplateHTMLRenderer) for r in view_class.renderer_classes)
    )


class AuditContextMiddleware(HistoryMiddleware):
    """Every history row written during a request carries who, which request and from where."""

    def get_context(self, request: HttpRequest) -> dict[str, Any]:
        user = getattr(request, "user", None)
        authenticated = bool(user is not None and user.is_authenticated)
        return {
            "user": user.pk if authenticated else None,
            "username": user.get_username() if authenticated else None,
            "request_id": getattr(request, "request_id", None),
            "method": request.method,
            "path": request.path,
            "source": "api" if request.path.startswith(("/api/", "/fhir/")) else "web",
        }


class BodyLimitMiddleware:
    """Refuse a body over NETBOARD_MAX_BODY_BYTES with 413 before reading it (a problem
    document for API clients). Bodies without a Content-Length are still capped by Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE when read, which the API answers with 413 too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings

        from apps.core.problems import problem_response

        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            detail = (
                f"The request body is {length} bytes; this server accepts at most {limit} "
                "(NETBOARD_MAX_BODY_BYTES). Send fewer records per request."
            )
            if request.path.startswith(("/api/", "/fhir/")):
                return problem_response(413, detail)
            return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
