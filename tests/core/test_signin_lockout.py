"""Sign-in lockout (issue 17 §2), against the real store: django-axes' attempts in PostgreSQL.

Five failures for one user name, or from one address, lock it: the sixth attempt is refused
even with the right password, with the same page whether or not the user exists. The lock runs
out after the lockout time (the stored attempt time is moved back, not slept through), or an
administrator lifts it. Every failure, lockout and unlock is in the security log."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils import timezone

from apps.core.models import SecurityEvent
from apps.core.signin import client_address
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"
LOGIN = "/accounts/login/"
LOCKED = "Too many failed sign-ins: try again in 15 minutes or ask an administrator to unlock."


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    """A fast hasher: these tests sign in a hundred times (PBKDF2 costs ~1 s per attempt)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def kinds(username: str) -> list[str]:
    return list(
        SecurityEvent.objects.filter(username=username)
        .order_by("id")
        .values_list("kind", flat=True)
    )


def test_five_failures_for_a_user_name_refuse_the_sixth_even_with_the_right_password(
    client: Client,
) -> None:
    UserFactory(username="ada")
    # From five different addresses: the user name alone counts.
    for n in range(5):
        response = sign_in(client, "ada", "wrong-password", address=f"10.0.1.{n}")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    refused = sign_in(client, "ada", PASSWORD, address="10.0.2.1")
    assert refused.status_code == 429
    assert LOCKED in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # Someone else from the same addresses is not locked.
    UserFactory(username="grace")
    assert sign_in(client, "grace", PASSWORD, address="10.0.1.4").status_code == 302

    assert kinds("ada") == ["signin_failed"] * 5 + ["lockout", "signin_failed"]
    failures = SecurityEvent.objects.filter(username="ada", kind="signin_failed")
    assert {event.ip_address for event in failures} == {f"10.0.1.{n}" for n in range(5)} | {
        "10.0.2.1"
    }
    assert failures.order_by("id").last().detail == "refused: locked out"  # type: ignore[union-attr]
    lockout = SecurityEvent.objects.get(username="ada", kind="lockout")
    assert lockout.detail == "5 failures; locked for 15 minutes"


def test_five_failures_from_one_address_lock_the_address_for_every_user_name(
    client: Client,
) -> None:
    UserFactory(username="linus")
    for n in range(5):
        assert sign_in(client, f"guess{n}", "wrong-password").status_code in (200, 429)
    refused = sign_in(client, "linus", PASSWORD)
    assert refused.status_code == 429
    assert LOCKED in refused.content.decode()
    # From another address the same user signs in.
    assert sign_in(client, "linus", PASSWORD, address="10.0.9.9").status_code == 302
    assert SecurityEvent.objects.filter(kind="lockout", ip_address="10.0.0.1").count() == 1


def test_fewer_failures_lock_nothing_and_a_sign_in_forgets_them(client: Client) -> None:
    UserFactory(username="barbara")
    for _ in range(4):
        assert sign_in(client, "barbara", "wrong-password").status_code == 200
    assert sign_in(client, "barbara", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="barbara").exists()  # reset on success
    assert kinds("barbara") == ["signin_failed"] * 4 + ["signin"]


def _without_tokens(html: str) -> str:
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'id="id_username"[^>]*value="[^"]*"', 'id="id_username" value=""', html)


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client: Client) -> None:
    UserFactory(username="known")
    known = sign_in(client, "known", "wrong-password", address="10.0.3.1")
    unknown = sign_in(Client(), "nobody-here", "wrong-password", address="10.0.3.2")
    assert known.status_code == unknown.status_code == 200
    assert _without_tokens(known.content.decode()) == _without_tokens(unknown.content.decode())
    assert "did not match" in known.content.decode()
    # Locked out, both again the same.
    for _ in range(5):
        known = sign_in(client, "known", "wrong-password", address="10.0.4.1")
        unknown = sign_in(client, "nobody-here", "wrong-password", address="10.0.4.2")
    assert known.status_code == unknown.status_code == 429
    assert _without_tokens(known.content.decode()) == _without_tokens(unknown.content.decode())
    # The failed attempt names what was typed; the user's id only when there is such a user.
    assert SecurityEvent.objects.filter(username="nobody-here", user_id=None).exists()
    assert SecurityEvent.objects.filter(username="known").exclude(user_id=None).exists()


def test_the_lock_runs_out_after_the_lockout_time(client: Client) -> None:
    UserFactory(username="edsger")
    for _ in range(5):
        sign_in(client, "edsger", "wrong-password")
    assert sign_in(client, "edsger", PASSWORD, address="10.0.5.1").status_code == 429
    # The attempts as they are stored, sixteen minutes older.
    earlier = timezone.now() - timedelta(minutes=16)
    assert AccessAttempt.objects.filter(username="edsger").update(attempt_time=earlier) >= 1
    assert sign_in(client, "edsger", PASSWORD, address="10.0.5.1").status_code == 302


def test_a_lock_still_within_its_time_holds(client: Client) -> None:
    UserFactory(username="donald")
    for _ in range(5):
        sign_in(client, "donald", "wrong-password")
    earlier = timezone.now() - timedelta(minutes=14)
    AccessAttempt.objects.filter(username="donald").update(attempt_time=earlier)
    assert sign_in(client, "donald", PASSWORD, address="10.0.5.2").status_code == 429


def test_unlock_user_command_lets_the_user_in_and_is_logged(client: Client) -> None:
    UserFactory(username="margaret")
    for n in range(5):
        sign_in(client, "margaret", "wrong-password", address=f"10.0.6.{n}")
    assert sign_in(client, "margaret", PASSWORD).status_code == 429
    out = StringIO()
    call_command("unlock_user", "margaret", stdout=out)
    assert "Unlocked user 'margaret'" in out.getvalue()
    assert sign_in(client, "margaret", PASSWORD).status_code == 302
    unlock = SecurityEvent.objects.get(kind="unlock", username="margaret")
    assert "by manage.py unlock_user" in unlock.detail
    assert unlock.user_id is not None


def test_unlock_user_command_unlocks_an_address(client: Client) -> None:
    UserFactory(username="alan")
    for n in range(5):
        sign_in(client, f"guess{n}", "wrong-password", address="10.0.7.7")
    assert sign_in(client, "alan", PASSWORD, address="10.0.7.7").status_code == 429
    call_command("unlock_user", "--address", "10.0.7.7", stdout=StringIO())
    assert sign_in(client, "alan", PASSWORD, address="10.0.7.7").status_code == 302
    assert SecurityEvent.objects.filter(kind="unlock", detail__contains="10.0.7.7").exists()
    with pytest.raises(CommandError):
        call_command("unlock_user", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("unlock_user", "--address", "not-an-address", stdout=StringIO())


def _locked_admin_client() -> tuple[Client, Any]:
    admin_user = UserFactory(username="the-admin", is_superuser=True)
    admin = Client()
    admin.force_login(admin_user)
    return admin, admin_user


def test_the_user_admin_unlock_action_lets_the_user_in(client: Client) -> None:
    user = UserFactory(username="frances")
    for n in range(5):
        sign_in(client, "frances", "wrong-password", address=f"10.0.8.{n}")
    assert sign_in(client, "frances", PASSWORD).status_code == 429
    admin, _ = _locked_admin_client()
    response = admin.post(
        "/admin/auth/user/", {"action": "unlock_sign_in", "_selected_action": [user.pk]}
    )
    assert response.status_code == 302
    assert sign_in(client, "frances", PASSWORD).status_code == 302
    unlock = SecurityEvent.objects.get(kind="unlock", username="frances")
    assert unlock.actor == "the-admin"


def test_the_lockouts_admin_lists_attempts_and_unlocks_them(client: Client) -> None:
    UserFactory(username="katherine")
    for _ in range(5):
        sign_in(client, "katherine", "wrong-password", address="10.0.10.1")
    admin, _ = _locked_admin_client()
    listing = admin.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "katherine" in listing.content.decode()
    ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    admin.post("/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": ids})
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, "katherine", PASSWORD, address="10.0.10.1").status_code == 302
    events = SecurityEvent.objects.filter(kind="unlock", actor="the-admin")
    assert {e.username for e in events} == {"katherine", ""}  # the name, and the address
    # No plain delete: every unlock goes through the logged action.
    assert admin.get(f"/admin/axes/accessattempt/{ids[0]}/delete/").status_code in (302, 403)


def test_an_auditor_reads_the_security_log_in_the_admin(client: Client) -> None:
    sign_in(client, "someone", "wrong-password")
    auditor = UserFactory(username="the-auditor", role="auditor")
    reader = UserFactory(username="the-reader", role="reader")
    as_auditor, as_reader = Client(), Client()
    as_auditor.force_login(auditor)
    as_reader.force_login(reader)
    page = as_auditor.get("/admin/core/securityevent/")
    assert page.status_code == 200
    assert "someone" in page.content.decode()
    assert as_reader.get("/admin/core/securityevent/").status_code == 403
    event = SecurityEvent.objects.filter(username="someone").first()
    assert event is not None
    change = as_auditor.post(f"/admin/core/securityevent/{event.pk}/change/", {"username": "x"})
    assert change.status_code in (200, 403)
    event.refresh_from_db()
    assert event.username == "someone"


def test_no_password_is_ever_stored(client: Client) -> None:
    UserFactory(username="hedy")
    for _ in range(5):
        sign_in(client, "hedy", "a-secret-wrong-one")
    sign_in(client, "hedy", PASSWORD)
    for attempt in AccessAttempt.objects.all():
        assert "a-secret-wrong-one" not in attempt.post_data + attempt.get_data
        assert PASSWORD not in attempt.post_data
    for event in SecurityEvent.objects.all():
        assert "a-secret-wrong-one" not in f"{event.detail} {event.username}"


def test_the_api_token_is_not_concerned(client: Client, token_client: Any) -> None:
    for n in range(5):
        sign_in(client, f"guess{n}", "wrong-password", address="127.0.0.1")
    # The address is locked for the sign-in form, not for a hospital system's token.
    assert token_client("reader").get("/api/v1/patients/").status_code == 200


def test_the_admin_login_is_locked_too(client: Client) -> None:
    """The admin signs in through NETboard's login (apps/core/mfa_views.admin_login): its own
    password-only form is not reachable, so the lockout covers it."""
    UserFactory(username="ken", is_superuser=True)
    posted = client.post("/admin/login/", {"username": "ken", "password": PASSWORD})
    assert posted.status_code == 302 and posted.url.startswith(LOGIN)
    assert "_auth_user_id" not in client.session, "the admin's form signs no one in"
    for _ in range(5):
        sign_in(client, "ken", "wrong-password")
    response = client.get("/admin/login/?next=/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(LOGIN)
    refused = sign_in(client, "ken", PASSWORD)
    assert refused.status_code == 429
    assert LOCKED in refused.content.decode()


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "10.1.1.1", "203.0.113.9", "10.1.1.1"),  # no proxy: the header is the client's
        (1, "10.1.1.1", "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        (2, "10.1.1.1", "198.51.100.1, 203.0.113.9, 10.1.1.2", "203.0.113.9"),
        (1, "10.1.1.1", "", "10.1.1.1"),
        (1, "10.1.1.1", "not-an-address", "10.1.1.1"),
    ],
)
def test_client_address_trusts_only_the_configured_proxies(
    rf: Any, proxies: int, remote: str, forwarded: str, expected: str
) -> None:
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(NETBOARD_TRUSTED_PROXIES=proxies):
        assert client_address(request) == expected


def test_behind_a_proxy_the_lockout_is_per_forwarded_address(client: Client) -> None:
    UserFactory(username="niklaus")
    with override_settings(NETBOARD_TRUSTED_PROXIES=1):
        for n in range(5):
            client.post(
                LOGIN,
                {"username": f"guess{n}", "password": "wrong"},
                REMOTE_ADDR="10.9.9.9",
                HTTP_X_FORWARDED_FOR="203.0.113.50",
            )
        other = client.post(
            LOGIN,
            {"username": "niklaus", "password": PASSWORD},
            REMOTE_ADDR="10.9.9.9",
            HTTP_X_FORWARDED_FOR="203.0.113.51",
        )
    assert other.status_code == 302  # a colleague behind the same proxy is not locked
    assert SecurityEvent.objects.filter(kind="lockout", ip_address="203.0.113.50").exists()


def test_the_lockout_settings_are_in_force() -> None:
    from django.conf import settings

    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"
    assert settings.AUTHENTICATION_BACKENDS[0] == "apps.core.backends.LockoutBackend"
    assert Group.objects.filter(name="auditor").exists()


def test_a_sign_in_without_a_request_still_checks_the_password() -> None:
    """Django's test Client.login calls authenticate() without a request: no address to lock,
    so the lockout check passes it on (axes' own backend would raise ValueError)."""
    UserFactory(username="no-request")
    client = Client()
    assert client.login(username="no-request", password=PASSWORD) is True
    assert Client().login(username="no-request", password="wrong-password") is False
    assert SecurityEvent.objects.filter(kind="signin_failed", username="no-request").exists()
