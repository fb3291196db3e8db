"""Passwords (issue 17 §4): Django's validators with a minimum of 12 characters and the
common-password list; the published demo password signs in only while DJANGO_DEBUG=1, and no
one may choose it."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from apps.core.models import SecurityEvent
from apps.core.passwords import DEMO_PASSWORDS
from apps.demo.management.commands.load_demo import DEMO_PASSWORD
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]


def codes(password: str, user: Any = None) -> set[str]:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {error.code for error in exc.error_list}
    return set()


def test_eleven_characters_are_refused_twelve_accepted() -> None:
    assert codes("Kp7#vQ2!xLm") == {"password_too_short"}
    assert codes("Kp7#vQ2!xLmZ") == set()


def test_a_common_password_is_refused_however_long() -> None:
    assert codes("password1234") == {"password_too_common"}
    assert codes("justinbieber") == {"password_too_common"}


def test_the_other_validators_are_still_there() -> None:
    assert "password_entirely_numeric" in codes("839201746352")
    user = get_user_model()(username="florence.nightingale")
    assert "password_too_similar" in codes("florence.nightingale", user)


def test_the_demo_password_cannot_be_chosen() -> None:
    assert codes(DEMO_PASSWORD) == {"password_demo"}


def test_the_demo_password_is_the_one_load_demo_sets() -> None:
    assert DEMO_PASSWORD in DEMO_PASSWORDS


@pytest.mark.django_db
def test_the_admin_refuses_a_short_password() -> None:
    user = UserFactory()
    admin = Client()
    admin.force_login(UserFactory(username="pw-admin", is_superuser=True))
    response = admin.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": "Kp7#vQ2!xLm", "password2": "Kp7#vQ2!xLm"},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()


def demo_sign_in() -> Any:
    return Client().post(
        "/accounts/login/", {"username": "demo-clinician", "password": DEMO_PASSWORD}
    )


@pytest.mark.django_db
def test_without_debug_the_demo_password_signs_in_to_nothing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("load_demo", "--users", stdout=StringIO())
    settings.NETBOARD_DEMO_SIGNIN = False  # as with DJANGO_DEBUG=0 (below)
    response = demo_sign_in()
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    failed = SecurityEvent.objects.get(kind="signin_failed", username="demo-clinician")
    assert failed.user_id is not None
    # Nor does it work for any other account that was given it.
    other = UserFactory(username="careless")
    other.set_password(DEMO_PASSWORD)
    other.save()
    response = Client().post(
        "/accounts/login/", {"username": "careless", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 200
    # With DJANGO_DEBUG=1 the demo users sign in.
    settings.NETBOARD_DEMO_SIGNIN = True
    assert demo_sign_in().status_code == 302


def test_demo_sign_in_follows_django_debug_at_start_up() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NETBOARD_"))}
    production = {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "x7#pQ2!vL9@mR4$tW8^zK1&cN6*bH3(fJ5)dG0-sA2+eY7=uI9",
        "DJANGO_ALLOWED_HOSTS": "netboard.hospital.example",
    }
    code = "from django.conf import settings as s; print(s.NETBOARD_DEMO_SIGNIN)"

    def run(env: dict[str, str]) -> str:
        result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
            cwd=ROOT,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return result.stdout.strip() or result.stderr

    assert run(production) == "False"
    assert run({"DJANGO_DEBUG": "1"}) == "True"
