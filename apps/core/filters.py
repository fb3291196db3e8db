"""The API's filter backend: django-filter, skipped when the request filters nothing."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request

# Query parameters that are not filters (limit/offset pagination, API.md).
NOT_FILTERS = frozenset({"limit", "offset"})


class FilterBackend(DjangoFilterBackend):
    """django-filter builds and validates a filter set on every request, a millisecond even when
    no filter is given (a page of patients, a single study by id). With no query parameter but
    pagination's there is nothing to filter or to refuse, so the queryset is returned as is.
    Any other parameter, a filter or not, goes through django-filter as before."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        if NOT_FILTERS.issuperset(request.query_params):
            return queryset
        return super().filter_queryset(request, queryset, view)
