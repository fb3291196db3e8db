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


@register.simple_tag
def decision_integrity(decision: Any) -> Any:
    """``{% decision_integrity decision as integrity %}``: whether a signed decision is unchanged
    since signing (``apps.decisions.integrity.decision_integrity``; ``None`` for a draft)."""
    from apps.decisions.integrity import decision_integrity as check

    if decision is None or (decision.signed_at is None and decision.chain_position is None):
        return None
    return check(decision)
