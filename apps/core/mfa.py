"""Two-factor sign-in with django-otp: an authenticator app (TOTP, RFC 6238) and single-use
recovery codes.

Who: users in a role of NETBOARD_MFA_REQUIRED_ROLES ("staff" is anyone who may use the Django
admin) must enrol at their first sign-in; anyone who has enrolled gives a code at every
sign-in, required or not. API tokens stay single-factor (machine credentials).

The sign-in (apps/core/mfa_views.py):
1. The login page checks the password (django-axes' lockout first). A user who needs a second
   factor is *not* signed in yet: the session (its key renewed) holds a pending sign-in, the
   user's id, backend and the time, valid for PENDING_SECONDS.
2. The code page takes a code from the authenticator app or a recovery code. A wrong code is a
   failed sign-in for the lockout (django-axes counts it like a wrong password) and a
   `mfa_failed` security event; each also doubles the device's wait before the next try
   (django-otp's throttling). The right one signs the user in (Django's login), the session
   marked verified by django-otp (`request.user.is_verified()`).
   A user who must enrol and has no authenticator yet gets the enrolment page instead: a QR
   code and the key as text, confirmed with a first code; then the recovery codes, once.
3. MfaRequiredMiddleware signs out a session whose user must use two factors but whose
   session has not (signed in before the requirement applied to them).

Lost device: an administrator resets the user's two-factor sign-in (`mfa_reset`: the user
admin's action or `manage.py reset_two_factor`), which signs them out everywhere; they enrol
again at their next sign-in. Every enrolment, wrong code, recovery code used, renewal and reset
is a security event. Never a code or a key in the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, logout
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.core.middleware import is_json_api_view
from apps.core.models import SecurityEventKind
from apps.core.signin import record, sign_out_everywhere

STAFF = "staff"  # the pseudo-role of NETBOARD_MFA_REQUIRED_ROLES: users who may use the admin
PENDING = "netboard_mfa_pending"  # session key of a sign-in waiting for its second factor
PENDING_SECONDS = 10 * 60
RECOVERY_CODE_COUNT = 10
AUTHENTICATOR = "Authenticator app"
RECOVERY = "Recovery codes"


# --- Who needs a second factor --------------------------------------------------------------------


def must_enrol(user: Any) -> bool:
    """Whether the user's role requires two-factor sign-in (NETBOARD_MFA_REQUIRED_ROLES)."""
    required = set(settings.NETBOARD_MFA_REQUIRED_ROLES)
    if not required or user.pk is None:
        return False
    if STAFF in required and (user.is_staff or user.is_superuser):
        return True
    return user.groups.filter(name__in=required).exists()


def authenticator(user: Any) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def needs_second_factor(user: Any) -> bool:
    """Required by role, or enrolled (a code or a recovery code can be asked for)."""
    if must_enrol(user):
        return True
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists() or (
        StaticToken.objects.filter(device__user=user, device__confirmed=True).exists()
    )


# --- The pending sign-in --------------------------------------------------------------------------


def pending_start(request: HttpRequest, user: Any, next_url: str) -> None:
    """The password was right: remember who, under a new session key, until the code."""
    request.session.cycle_key()  # no session fixation across the first factor
    request.session[PENDING] = {
        "user": user.pk,
        "backend": user.backend,
        "at": int(time.time()),
        "next": next_url,
    }


def pending_user(request: HttpRequest) -> tuple[Any, dict[str, Any]] | None:
    """The user of the pending sign-in and its record, or None (none, or expired)."""
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or int(time.time()) - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    user = get_user_model()._default_manager.filter(pk=pending.get("user"), is_active=True).first()
    if user is None:
        request.session.pop(PENDING, None)
        return None
    user.backend = pending["backend"]
    return user, pending


def pending_clear(request: HttpRequest) -> None:
    request.session.pop(PENDING, None)


# --- Codes ----------------------------------------------------------------------------------------


def clean_code(value: str) -> str:
    """What was typed, without the spaces and dashes apps and printouts put in codes."""
    return "".join(ch for ch in value.strip().lower() if ch not in " -")


def code_verify(user: Any, code: str) -> tuple[Any, str] | None:
    """The device that accepts the code and what it was ("authenticator app", "recovery code"),
    or None. A recovery code works once (django-otp deletes it). Wrong codes are counted by
    each device (django-otp's throttling: 1 s, 2 s, 4 s… before the next is looked at)."""
    code = clean_code(code)
    if not code:
        return None
    with transaction.atomic():
        if code.isdigit():
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return device, "authenticator app"
        for device in StaticDevice.objects.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(code):
                return device, "recovery code"
    return None


def wait_seconds(user: Any) -> int:
    """Seconds until the user's devices look at another code (django-otp's throttling), 0 when
    they would now."""
    waits = []
    for model in (TOTPDevice, StaticDevice):
        for device in model.objects.filter(user=user, confirmed=True):
            allowed, data = device.verify_is_allowed()
            if not allowed and data and data.get("locked_until"):
                waits.append((data["locked_until"] - timezone.now()).total_seconds())
    return max(0, int(max(waits, default=0) + 0.999))


# --- Enrolment, renewal, reset (one service each) -------------------------------------------------


def enrolment_device(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator being enrolled (the same one across reloads of the page,
    so the QR code the user scanned stays valid)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR, confirmed=False)
    return device


def _recovery_codes_new(user: Any) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def mfa_enrol(*, user: Any, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the authenticator being enrolled with its first code; its recovery codes (shown
    once), or None when the code is wrong. Replaces any earlier authenticator of the user."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
    if not device.verify_token(clean_code(code)):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_new(user)
    record(SecurityEventKind.MFA_ENROLLED, username=user.get_username(), user_id=user.pk)
    return codes


@transaction.atomic
def recovery_codes_renew(*, user: Any) -> list[str]:
    """New recovery codes (the old ones stop working); shown once."""
    codes = _recovery_codes_new(user)
    record(SecurityEventKind.RECOVERY_CODES_RENEWED, username=user.get_username(), user_id=user.pk)
    return codes


@transaction.atomic
def mfa_reset(*, user: Any, by: str = "") -> int:
    """Lost device: remove the user's authenticator and recovery codes and sign them out
    everywhere; they enrol again at their next sign-in. The number of devices removed."""
    removed = TOTPDevice.objects.filter(user=user).delete()[0]
    removed += StaticDevice.objects.filter(user=user).delete()[0]
    record(
        SecurityEventKind.MFA_RESET,
        username=user.get_username(),
        user_id=user.pk,
        detail=f"by {by}" if by else "",
    )
    sign_out_everywhere(user, "two-factor reset")
    return removed


def recovery_code_used(user: Any) -> None:
    record(
        SecurityEventKind.RECOVERY_CODE_USED,
        username=user.get_username(),
        user_id=user.pk,
        detail=f"{recovery_codes_left(user)} left",
    )


# --- The middleware -------------------------------------------------------------------------------


class MfaRequiredMiddleware:
    """Sign out a signed-in session that should have passed the second factor and has not (it
    began before the user's role required it, or before this release); the login page then
    asks for the code. After OTPMiddleware and LoginRequiredMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None
        if not must_enrol(user):
            return None
        request.netboard_signout_reason = "two-factor sign-in required"  # type: ignore[attr-defined]
        logout(request)
        if not getattr(view_func, "login_required", True):
            return None  # the login page, the health check: answered as they are
        if is_json_api_view(view_func):
            return None  # signed out: DRF answers 401
        messages.info(request, "Two-factor sign-in is now required: please sign in again.")
        return redirect_to_login(request.get_full_path())
