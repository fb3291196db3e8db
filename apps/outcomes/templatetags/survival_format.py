"""Numbers of the survival page: days as months, p-values."""

from __future__ import annotations

from typing import Any

from django import template

from apps.outcomes.plot import months as days_to_months

register = template.Library()


@register.filter
def months(days: Any) -> str:
    """Days as months with one decimal (a median of 700 days: "23.0")."""
    return f"{days_to_months(float(days)):.1f}"


@register.filter
def months_or(days: Any, missing: str) -> str:
    """As ``months``, or the given word when there is no value (a limit not reached)."""
    return missing if days is None else months(days)


@register.filter
def p_value(p: Any) -> str:
    """Two significant digits; very small values in scientific notation (4.2e-05)."""
    value = float(p)
    return f"{value:.2g}" if value >= 0.001 else f"{value:.1e}"
