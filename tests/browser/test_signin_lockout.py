"""The sign-in lockout in Chromium (issue 17 §2): five wrong passwords typed into the real login
form, and the page says the sign-in is locked; the right password is then refused too, until an
administrator unlocks."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from apps.core.models import SecurityEvent
from tests.factories import UserFactory

from .conftest import ARTIFACTS
from .keyboard import TEST_PASSWORD, type_sign_in

pytestmark = pytest.mark.django_db(transaction=True)

LOCKED = "Too many failed sign-ins: try again in 15 minutes or ask an administrator to unlock."


def test_five_wrong_passwords_lock_the_sign_in(
    live_server: Any, chromium_page: Any, settings: Any
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="locked-clinician", role="clinician")
    page, base = chromium_page, live_server.url

    for attempt in range(4):
        type_sign_in(page, base, "locked-clinician", f"wrong-password-{attempt}")
        expect(page.locator("p.error")).to_have_text(
            "Your username and password did not match. Please try again."
        )
    type_sign_in(page, base, "locked-clinician", "wrong-password-4")
    expect(page.locator("p.error[role=alert]")).to_have_text(LOCKED)
    page.screenshot(path=str(ARTIFACTS / "signin-locked.png"), full_page=True)

    # The right password now: refused all the same, and the form is there to try later.
    type_sign_in(page, base, "locked-clinician", TEST_PASSWORD)
    expect(page.locator("p.error[role=alert]")).to_have_text(LOCKED)
    assert page.url.startswith(base + "/accounts/login/")
    expect(page.locator("#id_username")).to_be_visible()

    # An administrator unlocks: the right password signs in.
    call_command("unlock_user", "locked-clinician", "--address", "127.0.0.1", stdout=StringIO())
    type_sign_in(page, base, "locked-clinician", TEST_PASSWORD)
    assert page.url == base + "/"
    expect(page.get_by_role("button", name="Sign out locked-clinician")).to_be_visible()

    assert list(
        SecurityEvent.objects.filter(username="locked-clinician")
        .exclude(kind="role_changed")
        .order_by("id")
        .values_list("kind", flat=True)
    ) == ["signin_failed"] * 5 + ["lockout", "signin_failed", "unlock", "signin"]
