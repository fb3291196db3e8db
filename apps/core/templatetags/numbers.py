"""``{{ value|suv }}`` and ``{{ value|mm }}``: numbers at clinical precision (apps/core/numbers.py),
"—" for nothing."""

from __future__ import annotations

from typing import Any

from django import template

from apps.core import numbers

register = template.Library()


@register.filter
def suv(value: Any) -> str:
    return numbers.suv(value) or "—"


@register.filter
def mm(value: Any) -> str:
    return numbers.mm(value) or "—"
