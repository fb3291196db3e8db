"""Sessions (issue 17 §3): an idle timeout (15 minutes) that the pages' background polls do not
hold off, an absolute lifetime (8 hours) however active, signing a user out everywhere (an
administrator's action; a password change, a role change, a deactivation), and the cookie's
flags. Time is moved by rewriting the stamps stored in the session, as the middleware reads
them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client, override_settings

from apps.core.models import SecurityEvent, UserSession
from apps.core.sessions import PASSIVE_URL_NAMES, SEEN, STARTED
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-only"


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stamps(client: Client, *, started_ago: int | None = None, seen_ago: int | None = None) -> None:
    """Move the session's sign-in and last-activity stamps into the past."""
    session = client.session
    now = int(time.time())
    if started_ago is not None:
        session[STARTED] = now - started_ago
    if seen_ago is not None:
        session[SEEN] = now - seen_ago
    session.save()


def seen_at(client: Client) -> int:
    return int(client.session[SEEN])


# --- The idle timeout ----------------------------------------------------------------------------


def test_a_sign_in_stamps_its_session_and_records_the_user_beside_it() -> None:
    user = UserFactory(role="clinician")
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    session = client.session
    assert abs(session[STARTED] - time.time()) < 5
    assert session[SEEN] == session[STARTED]
    assert UserSession.objects.get(session_key=session.session_key).user_id == user.pk
    event = SecurityEvent.objects.get(kind="signin", user_id=user.pk)
    assert event.ip_address == "127.0.0.1"
    assert event.username == user.username


def test_fifteen_minutes_without_activity_sign_out_with_a_message() -> None:
    user = UserFactory(role="clinician")
    client = signed_in(user)
    stamps(client, seen_ago=14 * 60)
    assert client.get("/").status_code == 200  # within the 15 minutes: still signed in
    stamps(client, seen_ago=15 * 60 + 1)
    response = client.get("/meetings/?page=2")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/meetings/%3Fpage%3D2"
    page = client.get(response["Location"])
    assert "Signed out after 15 minutes without activity." in page.content.decode()
    assert "_auth_user_id" not in client.session
    assert not UserSession.objects.filter(user_id=user.pk).exists()
    event = SecurityEvent.objects.get(kind="signout", user_id=user.pk)
    assert event.detail == "Signed out after 15 minutes without activity."


def test_activity_moves_the_last_activity_stamp() -> None:
    client = signed_in(UserFactory(role="clinician"))
    stamps(client, seen_ago=10 * 60)
    before = seen_at(client)
    client.get("/")
    assert seen_at(client) > before + 9 * 60
    stamps(client, seen_ago=10 * 60)  # and so a page every ten minutes never times out
    assert client.get("/").status_code == 200


def test_the_idle_limit_is_a_setting(settings: Any) -> None:
    settings.NETBOARD_SESSION_IDLE_SECONDS = 300
    client = signed_in(UserFactory(role="clinician"))
    stamps(client, seen_ago=301)
    response = client.get("/", follow=True)
    assert "Signed out after 5 minutes without activity." in response.content.decode()


def test_the_background_polls_are_not_activity() -> None:
    assert {"patient-changes", "patient-page-status"} == PASSIVE_URL_NAMES
    patient = PatientFactory()
    client = signed_in(UserFactory(role="clinician"))
    stamps(client, seen_ago=14 * 60)
    before = seen_at(client)
    for url in (f"/patients/{patient.pk}/changes/", f"/patients/{patient.pk}/status/"):
        assert client.get(url, HTTP_HX_REQUEST="true").status_code in (200, 204)
    assert seen_at(client) == before  # polled, still idle
    # ... so an open page times out: its next poll sends the whole page to the login.
    stamps(client, seen_ago=15 * 60 + 1)
    poll = client.get(
        f"/patients/{patient.pk}/changes/?version=1",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/patients/{patient.pk}/",
    )
    assert poll.status_code == 204
    assert poll["HX-Redirect"] == f"/accounts/login/?next=/patients/{patient.pk}/"
    assert "_auth_user_id" not in client.session
    # A page the user opens is activity.
    client = signed_in(UserFactory(role="clinician"))
    stamps(client, seen_ago=14 * 60)
    client.get(f"/patients/{patient.pk}/")
    assert seen_at(client) > before + 13 * 60


def test_a_timed_out_session_at_the_login_page_just_gets_the_login_page() -> None:
    client = signed_in(UserFactory(role="clinician"))
    stamps(client, seen_ago=16 * 60)
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_the_api_with_a_timed_out_session_answers_401_or_403() -> None:
    client = signed_in(UserFactory(role="clinician"))
    assert client.get("/api/v1/patients/").status_code == 200
    stamps(client, seen_ago=16 * 60)
    assert client.get("/api/v1/patients/").status_code in (401, 403)


# --- The absolute lifetime -----------------------------------------------------------------------


def test_eight_hours_after_signing_in_the_session_ends_however_active() -> None:
    user = UserFactory(role="clinician")
    client = signed_in(user)
    stamps(client, started_ago=8 * 3600 - 60, seen_ago=30)
    assert client.get("/").status_code == 200
    stamps(client, started_ago=8 * 3600 + 1, seen_ago=5)  # active a moment ago
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    page = client.get(response["Location"])
    assert "Signed out 8 hours after signing in" in page.content.decode()
    assert SecurityEvent.objects.filter(
        kind="signout", user_id=user.pk, detail__startswith="Signed out 8 hours"
    ).exists()


def test_the_absolute_lifetime_is_the_session_age_setting(settings: Any) -> None:
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.SESSION_SAVE_EVERY_REQUEST is False
    settings.SESSION_COOKIE_AGE = 3600
    client = signed_in(UserFactory(role="clinician"))
    stamps(client, started_ago=3601, seen_ago=1)
    assert client.get("/").status_code == 302


def test_a_session_from_before_the_stamps_is_stamped_and_goes_on() -> None:
    client = signed_in(UserFactory(role="clinician"))
    session = client.session
    del session[STARTED]
    del session[SEEN]
    session.save()
    assert client.get("/").status_code == 200
    assert abs(client.session[STARTED] - time.time()) < 5


# --- Sign out everywhere -------------------------------------------------------------------------


def two_browsers(user: Any) -> tuple[Client, Client]:
    one, other = signed_in(user), signed_in(user)
    assert one.get("/").status_code == other.get("/").status_code == 200
    assert UserSession.objects.filter(user_id=user.pk).count() == 2
    return one, other


def signed_out(client: Client) -> bool:
    response = client.get("/")
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def admin_client() -> Client:
    return signed_in(UserFactory(username="the-admin", is_superuser=True))


def events_after(mark: int, user: Any) -> Any:
    return SecurityEvent.objects.filter(user_id=user.pk, id__gt=mark).order_by("id")


def last_event_id() -> int:
    return SecurityEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_deactivation_signs_the_user_out_everywhere() -> None:
    user = UserFactory(role="clinician")
    bystander = signed_in(UserFactory(role="clinician"))
    one, other = two_browsers(user)
    mark = last_event_id()
    user.is_active = False
    user.save()
    assert signed_out(one) and signed_out(other)
    assert not signed_out(bystander)
    assert list(events_after(mark, user).values_list("kind", "detail")) == [
        ("deactivated", ""),
        ("signout_everywhere", "deactivated; 2 session(s) ended"),
    ]


def test_a_bulk_deactivation_refuses_the_users_sessions_until_reactivated() -> None:
    """A queryset ``update(is_active=False)`` sends no signal, so nothing ends the sessions
    then; but each request re-reads the user, an inactive one is refused, and the session it
    came with is ended: reactivating the account does not bring it back."""
    user = UserFactory(role="clinician")
    one, other = two_browsers(user)
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert signed_out(one) and signed_out(other)
    assert not UserSession.objects.filter(user_id=user.pk).exists()  # both ended
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    assert signed_out(one) and signed_out(other)


def test_deactivation_in_the_admin_signs_out_and_names_the_administrator() -> None:
    user = UserFactory(username="to-deactivate", role="clinician")
    one, other = two_browsers(user)
    admin = admin_client()
    page = admin.get(f"/admin/auth/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.update(
        {
            "is_active": "",
            "is_staff": "on",
            "groups": [g.pk for g in user.groups.all()],
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2024-01-01",
            "date_joined_1": "00:00:00",
        }
    )
    response = admin.post(f"/admin/auth/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert signed_out(one) and signed_out(other)
    event = SecurityEvent.objects.get(kind="deactivated", user_id=user.pk)
    assert event.actor == "the-admin"


def test_a_role_change_signs_the_user_out_everywhere() -> None:
    user = UserFactory(role="reader")
    one, other = two_browsers(user)
    user.groups.add(Group.objects.get(name="clinician"))
    assert signed_out(one) and signed_out(other)
    event = SecurityEvent.objects.get(kind="role_changed", user_id=user.pk, detail__contains=",")
    assert event.detail == "roles now: clinician, reader"
    # Taking a role away, or from the group's side, as well.
    one, _ = two_browsers(user)
    Group.objects.get(name="reader").user_set.remove(user)
    assert signed_out(one)
    one, _ = two_browsers(user)
    Group.objects.get(name="clinician").user_set.clear()
    assert signed_out(one)
    assert SecurityEvent.objects.filter(
        kind="role_changed", user_id=user.pk, detail="roles now: none"
    ).exists()


def test_a_password_change_by_an_administrator_signs_the_user_out_everywhere() -> None:
    user = UserFactory(role="clinician")
    one, other = two_browsers(user)
    admin = admin_client()
    mark = last_event_id()
    response = admin.post(
        f"/admin/auth/user/{user.pk}/password/",
        {"password1": "a-new-long-passphrase-7", "password2": "a-new-long-passphrase-7"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert signed_out(one) and signed_out(other)
    assert not signed_out(admin)
    assert [(e.kind, e.actor) for e in events_after(mark, user)] == [
        ("password_changed", "the-admin"),
        ("signout_everywhere", "the-admin"),
    ]


def test_changing_ones_own_password_keeps_this_session_and_ends_the_others() -> None:
    user = UserFactory(role="clinician", username="changes-own")
    this, other = two_browsers(user)
    response = this.post(
        "/admin/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-passphrase-8",
            "new_password2": "another-long-passphrase-8",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert signed_out(other)
    assert not signed_out(this)  # Django keeps the session that changed it (a new key)
    assert UserSession.objects.filter(user_id=user.pk).count() == 1
    assert SecurityEvent.objects.filter(kind="password_changed", user_id=user.pk).exists()


def test_a_rehash_at_sign_in_is_no_password_change(settings: Any) -> None:
    user = UserFactory(role="clinician")  # an MD5 hash (the fixture's hasher)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.ScryptPasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    client = Client()
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("scrypt$")  # upgraded at sign-in
    assert not SecurityEvent.objects.filter(kind="password_changed", user_id=user.pk).exists()
    assert not signed_out(client)


def test_the_admin_action_signs_out_everywhere() -> None:
    user = UserFactory(role="clinician")
    one, other = two_browsers(user)
    admin = admin_client()
    response = admin.post(
        "/admin/auth/user/", {"action": "sign_out_everywhere", "_selected_action": [user.pk]}
    )
    assert response.status_code == 302
    assert signed_out(one) and signed_out(other)
    assert not signed_out(admin)
    event = SecurityEvent.objects.get(kind="signout_everywhere", user_id=user.pk)
    assert event.actor == "the-admin"
    assert event.detail == "administrator's action; 2 session(s) ended"


def test_an_administrator_signing_themselves_out_everywhere_gets_an_answer() -> None:
    admin_user = UserFactory(username="self-admin", is_superuser=True)
    admin = signed_in(admin_user)
    elsewhere = signed_in(admin_user)
    response = admin.post(
        "/admin/auth/user/",
        {"action": "sign_out_everywhere", "_selected_action": [admin_user.pk]},
    )
    assert response.status_code == 302  # not SessionInterrupted (400)
    assert signed_out(admin) and signed_out(elsewhere)


def test_sign_out_is_recorded() -> None:
    user = UserFactory(role="clinician")
    client = signed_in(user)
    assert client.post("/accounts/logout/").status_code == 302
    assert SecurityEvent.objects.filter(kind="signout", user_id=user.pk, detail="").exists()


# --- The cookie ----------------------------------------------------------------------------------


def session_cookie(client: Client, user: Any) -> Any:
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return response.cookies["sessionid"]


def test_the_session_cookie_is_httponly_and_samesite_lax() -> None:
    cookie = session_cookie(Client(), UserFactory())
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"] == ""  # DJANGO_DEBUG=1 (development over plain http)
    header = cookie.output()
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header


def test_in_production_the_session_and_csrf_cookies_are_secure() -> None:
    with override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True):
        client = Client()
        login_page = client.get("/accounts/login/")
        assert login_page.cookies["csrftoken"]["secure"] is True
        cookie = session_cookie(client, UserFactory())
    header = cookie.output()
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header


def test_production_settings_switch_the_secure_flags_on() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.SESSION_COOKIE_SAMESITE, s.NETBOARD_SESSION_IDLE_SECONDS, s.SESSION_COOKIE_AGE)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NETBOARD_"))}
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "x7#pQ2!vL9@mR4$tW8^zK1&cN6*bH3(fJ5)dG0-sA2+eY7=uI9",
            "DJANGO_ALLOWED_HOSTS": "netboard.hospital.example",
        }
    )
    result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.split() == ["True", "True", "True", "Lax", "900", "28800"], result.stderr
