"""Limit/offset pagination (API.md) that refuses a malformed limit or offset with a 400 naming
it, instead of silently using the default."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class StrictLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        errors: dict[str, list[str]] = {}
        for name, minimum in ((self.limit_query_param, 1), (self.offset_query_param, 0)):
            raw = request.query_params.get(name)
            if raw is None:
                continue
            if not raw.isdigit() or int(raw) < minimum:
                errors[name] = [f"A whole number of at least {minimum}."]
            elif name == self.limit_query_param and int(raw) > self.max_limit:
                errors[name] = [f"At most {self.max_limit}."]
        if errors:
            raise serializers.ValidationError(errors)
        return super().paginate_queryset(queryset, request, view)
