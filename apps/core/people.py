"""How NETboard names a person on a page: the full name, else the user name."""

from __future__ import annotations

from typing import Any


def display_name(user: Any, nobody: str = "—") -> str:
    """The user's full name, else their user name; ``nobody`` when there is no user."""
    if user is None:
        return nobody
    return user.get_full_name() or user.get_username()
