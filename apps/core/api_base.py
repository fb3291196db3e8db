"""Shared pieces of the clinical API viewsets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.access import record_access


class AccessLoggedViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """A model viewset whose successful reads write access events for the patients shown."""

    access_action = "api_read"

    def patient_ids(self, objects: Iterable[Model]) -> list[int]:
        return [obj.patient_id for obj in objects]  # type: ignore[attr-defined]

    def paginate_queryset(self, queryset: Any) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        self._shown = page if page is not None else list(queryset)
        return page

    def get_object(self) -> Any:
        obj = super().get_object()
        self._shown = [obj]
        return obj

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        shown = getattr(self, "_shown", None)
        if request.method == "GET" and shown and 200 <= response.status_code < 300:
            record_access(request, self.patient_ids(shown), f"{self.access_action}:{self.action}")
        return super().finalize_response(request, response, *args, **kwargs)
