"""Two-factor sign-in (issue 17 §1): enrolment at the first sign-in of a required role, a code
at every sign-in, recovery codes that work once, wrong codes counted by the lockout, a session
that skipped the second factor signed out, an administrator's audited reset.

Codes are computed with pyotp from the key the enrolment page shows: an implementation
independent of django-otp's, so a wrong key, period or digit count in the page would fail."""

from __future__ import annotations

import re
import time
from io import StringIO
from typing import Any

import pyotp
import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core import mfa
from apps.core.models import SecurityEvent, UserSession
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-only"
LOGIN = "/accounts/login/"
CODE = "/accounts/login/code/"
ENROL = "/accounts/two-factor/enrol/"
SETTINGS = "/accounts/two-factor/"


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.NETBOARD_MFA_REQUIRED_ROLES = ["clinician", "admin", "staff"]
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the wait between codes is tested on its own
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def clinician(username: str = "carol") -> Any:
    return UserFactory(username=username, role="clinician", is_staff=False)


def reader(username: str = "rita") -> Any:
    return UserFactory(username=username, role="reader", is_staff=False)


def sign_in(client: Client, username: str, next_url: str = "") -> Any:
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(LOGIN, data, REMOTE_ADDR="10.0.0.1")


def key_from_page(html: str) -> str:
    match = re.search(r'<code class="otp-key" id="otp-key">([A-Z2-7 ]+)</code>', html)
    assert match, "the enrolment page shows the key as text"
    return match.group(1).replace(" ", "")


def enrol(client: Client, username: str) -> tuple[str, list[str]]:
    """Sign in for the first time and enrol: the key and the recovery codes."""
    assert sign_in(client, username).url == CODE
    assert client.get(CODE).url == ENROL
    key = key_from_page(client.get(ENROL).content.decode())
    page = client.post(ENROL, {"code": pyotp.TOTP(key).now()})
    assert page.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", page.content.decode())
    return key, codes


def signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def kinds(username: str) -> list[str]:
    return list(
        SecurityEvent.objects.filter(username=username)
        .exclude(kind="role_changed")
        .order_by("id")
        .values_list("kind", flat=True)
    )


def used_up(key: str) -> str:
    """A code of the next 30-second step: TOTP refuses a code of a step already used."""
    return pyotp.TOTP(key).at(time.time() + 30)


def test_a_role_that_need_not_enrol_signs_in_with_the_password_alone(client: Client) -> None:
    reader()
    response = sign_in(client, "rita")
    assert response.status_code == 302 and response.url == "/"
    assert signed_in(client)
    event = SecurityEvent.objects.get(username="rita", kind="signin")
    assert event.detail == "password only"


def test_first_sign_in_of_a_required_role_enrols_then_signs_in(client: Client) -> None:
    clinician()
    response = sign_in(client, "carol", next_url="/meetings/")
    assert response.url == CODE
    assert not signed_in(client), "the password alone does not sign in"
    page = client.get(ENROL)
    html = page.content.decode()
    assert "<svg" in html and "Set up two-factor sign-in" in html
    key = key_from_page(html)
    # the key in the QR code is the key shown as text
    device = TOTPDevice.objects.get(user__username="carol")
    assert not device.confirmed
    assert f"secret={key}" in device.config_url and "issuer=NETboard" in device.config_url

    wrong = client.post(ENROL, {"code": "000000" if pyotp.TOTP(key).now() != "000000" else "1"})
    assert wrong.status_code == 400
    assert "did not match" in wrong.content.decode()
    assert key_from_page(wrong.content.decode()) == key, "the same key after a wrong code"

    done = client.post(ENROL, {"code": pyotp.TOTP(key).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]+)</code></li>", done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'href="/meetings/"' in done.content.decode(), "Continue goes where they were going"
    assert signed_in(client)
    device.refresh_from_db()
    assert device.confirmed
    assert kinds("carol") == ["mfa_enrolled", "signin"]
    assert SecurityEvent.objects.get(username="carol", kind="signin").detail == (
        "authenticator app (enrolled)"
    )


def test_every_later_sign_in_asks_for_the_current_code(client: Client) -> None:
    clinician()
    key, _ = enrol(client, "carol")
    client.post("/accounts/logout/")
    assert sign_in(client, "carol").url == CODE
    page = client.get(CODE)
    assert page.status_code == 200 and "Two-factor sign-in" in page.content.decode()
    assert not signed_in(client)
    response = client.post(CODE, {"code": used_up(key)})
    assert response.status_code == 302 and response.url == "/"
    assert signed_in(client)
    assert kinds("carol")[-1] == "signin"
    assert SecurityEvent.objects.filter(username="carol", kind="signin").latest("id").detail == (
        "authenticator app"
    )


def test_a_wrong_code_is_a_failed_sign_in_and_five_lock_the_user_name(client: Client) -> None:
    clinician()
    key, _ = enrol(client, "carol")
    client.post("/accounts/logout/")
    sign_in(client, "carol")
    current = pyotp.TOTP(key)
    wrong = next(c for c in ("111111", "222222", "333333") if not current.verify(c, valid_window=1))
    response = client.post(CODE, {"code": wrong})
    assert response.status_code == 400
    assert "did not match" in response.content.decode()
    assert not signed_in(client)
    assert kinds("carol")[-1] == "mfa_failed"
    for _ in range(4):
        response = client.post(CODE, {"code": wrong})
    assert response.status_code == 429, "the fifth wrong code locks, like five wrong passwords"
    assert "Too many failed sign-ins" in response.content.decode()
    # locked: the right password and the right code are refused now
    assert sign_in(client, "carol").status_code == 429
    assert kinds("carol").count("mfa_failed") == 5
    assert "lockout" in kinds("carol")
    assert not signed_in(client)


def test_the_device_makes_each_wrong_code_wait_longer(client: Client, settings: Any) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    clinician()
    key, _ = enrol(client, "carol")
    client.post("/accounts/logout/")
    sign_in(client, "carol")
    client.post(CODE, {"code": "12345"})  # wrong (5 digits)
    refused = client.post(CODE, {"code": used_up(key)})
    assert refused.status_code == 400
    assert re.search(r"Too many wrong codes: wait \d+ seconds", refused.content.decode())
    assert not signed_in(client)


def test_a_recovery_code_signs_in_once(client: Client) -> None:
    clinician()
    _, codes = enrol(client, "carol")
    client.post("/accounts/logout/")
    sign_in(client, "carol")
    response = client.post(CODE, {"code": codes[3].upper()[:4] + "-" + codes[3][4:]})
    assert response.status_code == 302, "case and a dash as printed do not matter"
    assert signed_in(client)
    assert StaticToken.objects.filter(device__user__username="carol").count() == 9
    used = SecurityEvent.objects.get(username="carol", kind="recovery_code_used")
    assert used.detail == "9 left"
    assert codes[3] not in used.detail
    client.post("/accounts/logout/")
    sign_in(client, "carol")
    again = client.post(CODE, {"code": codes[3]})
    assert again.status_code == 400
    assert not signed_in(client)


def test_no_code_or_key_is_written_to_the_security_log(client: Client) -> None:
    clinician()
    key, codes = enrol(client, "carol")
    client.post("/accounts/logout/")
    sign_in(client, "carol")
    client.post(CODE, {"code": codes[0]})
    logged = " ".join(SecurityEvent.objects.values_list("detail", flat=True))
    assert key not in logged and not any(code in logged for code in codes)


def test_a_pending_sign_in_runs_out(client: Client) -> None:
    clinician()
    key, _ = enrol(client, "carol")
    client.post("/accounts/logout/")
    sign_in(client, "carol")
    session = client.session
    session[mfa.PENDING] = {
        **session[mfa.PENDING],
        "at": int(time.time()) - mfa.PENDING_SECONDS - 1,
    }
    session.save()
    response = client.post(CODE, {"code": used_up(key)})
    assert response.status_code == 302 and response.url.startswith(LOGIN)
    assert not signed_in(client)


def test_the_code_page_without_a_password_first_goes_back_to_sign_in(client: Client) -> None:
    assert client.get(CODE).url.startswith(LOGIN)
    assert client.get(ENROL).url.startswith(LOGIN)


def test_the_session_key_changes_after_the_password(client: Client) -> None:
    clinician()
    client.get(LOGIN)
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    sign_in(client, "carol")
    assert client.cookies["sessionid"].value != before


def test_a_session_that_skipped_the_second_factor_is_signed_out(client: Client) -> None:
    """Signed in before the role required it (force_login: no second factor)."""
    client.force_login(clinician())
    page = client.get("/")
    assert page.status_code == 302 and page.url.startswith(LOGIN)
    assert client.get("/api/v1/patients/").status_code == 401
    assert SecurityEvent.objects.get(username="carol", kind="signout").detail == (
        "two-factor sign-in required"
    )


def test_a_verified_session_is_let_through(client: Client) -> None:
    clinician()
    enrol(client, "carol")
    assert client.get("/api/v1/patients/").status_code == 200
    assert client.get("/").status_code == 200


def test_staff_must_enrol_for_the_admin_and_the_admin_signs_in_through_netboard(
    client: Client,
) -> None:
    UserFactory(username="sam", is_staff=True)  # no role; may use the admin
    response = client.get("/admin/login/?next=/admin/core/securityevent/")
    assert response.status_code == 302
    assert response.url.startswith(LOGIN) and "next=/admin/core/securityevent/" in response.url
    assert sign_in(client, "sam").url == CODE


def test_anyone_may_enrol_and_then_gives_a_code(client: Client) -> None:
    reader()
    sign_in(client, "rita")
    page = client.get(SETTINGS)
    assert "Off: you sign in with your password only." in page.content.decode()
    key = key_from_page(client.get(ENROL).content.decode())
    done = client.post(ENROL, {"code": pyotp.TOTP(key).now()})
    assert len(re.findall(r"<li><code>", done.content.decode())) == 10
    assert "On: an authenticator app since" in client.get(SETTINGS).content.decode()
    client.post("/accounts/logout/")
    assert sign_in(client, "rita").url == CODE


def test_new_recovery_codes_need_a_current_code_and_replace_the_old(client: Client) -> None:
    clinician()
    key, old = enrol(client, "carol")
    refused = client.post(SETTINGS, {"code": "000001"})
    assert refused.status_code == 400
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(old)
    page = client.post(SETTINGS, {"code": used_up(key)})
    new = re.findall(r"<li><code>([a-z2-7]+)</code></li>", page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)
    assert kinds("carol")[-1] == "recovery_codes_renewed"


def test_an_administrator_resets_a_lost_device_audited(client: Client) -> None:
    carol = clinician()
    enrol(client, "carol")
    assert UserSession.objects.filter(user_id=carol.pk).exists()
    UserFactory(username="boss", is_superuser=True)
    admin = Client()
    enrol(admin, "boss")  # staff: enrolled and verified like anyone else
    response = admin.post(
        "/admin/auth/user/",
        {"action": "reset_two_factor", "_selected_action": [carol.pk]},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=carol).exists()
    assert not StaticToken.objects.filter(device__user=carol).exists()
    assert not UserSession.objects.filter(user_id=carol.pk).exists(), "signed out everywhere"
    reset = SecurityEvent.objects.get(username="carol", kind="mfa_reset")
    assert reset.actor == "boss" and reset.detail == "by boss"
    # the next sign-in enrols again
    fresh = Client()
    assert sign_in(fresh, "carol").url == CODE
    assert fresh.get(CODE).url == ENROL


def test_reset_two_factor_command() -> None:
    carol = clinician()
    TOTPDevice.objects.create(user=carol, name="Authenticator app", confirmed=True)
    out = StringIO()
    call_command("reset_two_factor", "carol", stdout=out)
    assert "reset (1 device(s) removed)" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=carol).exists()
    assert SecurityEvent.objects.get(kind="mfa_reset").detail == "by manage.py reset_two_factor"
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("reset_two_factor", "nobody")


def test_mfa_required_roles_read_from_the_groups(settings: Any) -> None:
    settings.NETBOARD_MFA_REQUIRED_ROLES = ["clinician"]
    assert mfa.must_enrol(clinician())
    assert not mfa.must_enrol(reader())
    assert not mfa.must_enrol(UserFactory(username="sam", is_staff=True))
    settings.NETBOARD_MFA_REQUIRED_ROLES = ["staff"]
    assert mfa.must_enrol(UserFactory(username="sam", is_staff=True))
    settings.NETBOARD_MFA_REQUIRED_ROLES = []
    assert not mfa.must_enrol(clinician())
    assert Group.objects.filter(name="clinician").exists()


def test_a_signed_in_session_cannot_swap_the_authenticator(client: Client) -> None:
    clinician()
    key, _ = enrol(client, "carol")
    first = TOTPDevice.objects.get(user__username="carol", confirmed=True)
    response = client.get(ENROL)
    assert response.status_code == 302 and response.url == SETTINGS
    assert client.post(ENROL, {"code": pyotp.TOTP(key).now()}).url == SETTINGS
    assert list(TOTPDevice.objects.filter(user__username="carol")) == [first]
    assert "ask an administrator" in client.get(SETTINGS).content.decode()
