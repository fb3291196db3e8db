"""Template filters of the meeting pages: ``{% load decisions_display %}``."""

from __future__ import annotations

from typing import Any

from django import template

from apps.decisions.display import person_name as _person_name

register = template.Library()


@register.filter
def person_name(user: Any) -> str:
    """The signer or author of a decision as every page names them
    (``apps.decisions.display.person_name``: full name, else user name)."""
    return _person_name(user)
