from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core.database import DATABASE_ERRORS, unavailable_response
from apps.core.problems import problem_response
from apps.core.templatetags.grading import grading_document

logger = logging.getLogger(__name__)


def _database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down" for the health check
        logger.warning("health: database unavailable (%s)", type(exc).__name__)
        return "down"
    return "ok"


def _broker_status() -> str:
    if not settings.CELERY_BROKER_URL:
        return "eager"  # no broker configured: tasks run in-process
    import redis

    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
    except redis.RedisError as exc:
        logger.warning("health: broker unavailable (%s)", type(exc).__name__)
        return "down"
    return "ok"


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 while the database answers; 503 when it does not. The broker is reported, since
    scoring falls back to queued recomputes that the sweeper replays once it is back."""
    database = _database_status()
    broker = _broker_status()
    status = 200 if database == "ok" else 503
    return JsonResponse(
        {
            "status": "ok" if status == 200 else "unavailable",
            "database": database,
            "broker": broker,
        },
        status=status,
    )


def _machine_client(request: HttpRequest) -> bool:
    """API and FHIR clients get problem documents, never an HTML page."""
    return request.path.startswith(("/api/", "/fhir/"))


def permission_denied(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if _machine_client(request):
        return problem_response(403, "You do not have permission to do this.")
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    if _machine_client(request):
        return problem_response(404, "There is no such resource or endpoint.")
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception: a database failure outside a view (the
    # session read in a middleware, say) is a 503 too (apps.core.database).
    failure = sys.exc_info()[1]
    if isinstance(failure, DATABASE_ERRORS):
        return unavailable_response(request, failure)
    if _machine_client(request):
        return problem_response(500, "An unexpected error occurred; it has been logged.")
    return render(request, "500.html", status=500)


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for on their own: the site's icon (pages link it)."""
    return redirect(static("favicon.svg"), permanent=True)


@require_GET
def help_grading(request: HttpRequest) -> HttpResponse:
    """The "How NETboard grades" page: docs/clinical-rules.md, the rules exactly as NETboard
    applies them, rendered inside the site (login required, like every page)."""
    return render(request, "help/grading.html", {"document": grading_document()})
