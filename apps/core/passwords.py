"""Passwords: the published demo password signs in only while DJANGO_DEBUG=1.

`make run` (DJANGO_DEBUG=1) makes demo users (demo-<role>) with a password printed in the README
(apps/demo). With DJANGO_DEBUG=0, NETBOARD_DEMO_SIGNIN is False and the sign-in backend refuses
that password for every account (apps/core/backends.py), so demo users a database kept from a
trial, or an account someone gave the published password, cannot be signed in to. No one may
choose it as a password either (DemoPasswordValidator), in development or not.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare

# apps/demo/management/commands/load_demo.py DEMO_PASSWORD (a test keeps the two equal).
DEMO_PASSWORDS = ("netboard-demo",)


def is_demo_password(password: str | None) -> bool:
    if not password:
        return False
    return any(constant_time_compare(password, demo) for demo in DEMO_PASSWORDS)


class DemoPasswordValidator:
    """Refuse the published demo password as anyone's chosen password."""

    def validate(self, password: str, user: Any = None) -> None:
        if is_demo_password(password):
            raise ValidationError(
                "This password is the published demo password; choose another.",
                code="password_demo",
            )

    def get_help_text(self) -> str:
        return "Your password can't be the demo password."
