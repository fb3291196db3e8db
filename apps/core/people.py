"""How NETboard names a person on a page: the full name, else the user name (the reader of a
study, the signer of a decision: ``apps.decisions.display.person_name``)."""

from __future__ import annotations

from typing import Any


def display_name(user: Any, nobody: str = "—") -> str:
    """The user's full name, else their user name; ``nobody`` when there is no user."""
    if user is None:
        return nobody
    get_full_name = getattr(user, "get_full_name", None)  # AnonymousUser has none
    full = (get_full_name() or "").strip() if callable(get_full_name) else ""
    return full or str(user.get_username()) or nobody
