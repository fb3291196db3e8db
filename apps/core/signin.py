"""Sign-in security: lockout after repeated failures (django-axes), the security log, and
signing a user out everywhere when their account changes.

Lockout: django-axes with its database handler (attempts live in PostgreSQL, core of every
web process alike). NETBOARD_SIGNIN_FAILURE_LIMIT failures (default 5) for one user name, or
from one client address, each within NETBOARD_SIGNIN_LOCKOUT_SECONDS of the one before (default
15 minutes), lock that name or that address: every further attempt, with the right password
too, is refused with the same page (HTTP 429) whether or not the user exists, until the
lockout has run its time since the last attempt or an administrator unlocks
(`manage.py unlock_user`, the user admin's "Unlock sign-in", the sign-in lockouts admin).
Only sign-in forms are concerned (the login page and the admin's); API tokens are not.

Security log (core.SecurityEvent, append-only): every sign-in, failed sign-in, lockout, unlock,
sign-out (and why: idle, lifetime), and the account changes that end a user's sessions
(password, role, deactivation, the admin's "Sign out everywhere"). Never a password.
"""

from __future__ import annotations

import contextvars
import ipaddress
import math
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.core.models import SecurityEvent, SecurityEventKind

# The request being answered (set by apps.core.sessions.SessionLimitsMiddleware): events
# written from model signals, which have no request, still get the address and the actor.
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "netboard_current_request", default=None
)

LOCKOUT_MESSAGE = (
    "Too many failed sign-ins: try again in {minutes} minutes or ask an administrator to unlock."
)


def _valid_address(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address. Behind NETBOARD_TRUSTED_PROXIES proxies (default 0: none, the
    connection's own address), the address the outermost trusted proxy saw, from the right of
    X-Forwarded-For: the entries left of it are whatever the client sent and are not trusted.
    The same rule as the API's rate limits (DRF's NUM_PROXIES is set to the same number)."""
    remote = _valid_address(request.META.get("REMOTE_ADDR"))
    proxies = settings.NETBOARD_TRUSTED_PROXIES
    if not proxies:
        return remote
    forwarded = [a for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if not forwarded:
        return remote
    return _valid_address(forwarded[-min(proxies, len(forwarded))]) or remote


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.NETBOARD_SIGNIN_LOCKOUT_SECONDS / 60))


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page again, empty, saying why, with 429."""
    context = {
        "form": AuthenticationForm(request),
        "locked_out": LOCKOUT_MESSAGE.format(minutes=lockout_minutes()),
        "next": request.POST.get("next", request.GET.get("next", "")),
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(settings.NETBOARD_SIGNIN_LOCKOUT_SECONDS)
    return response


def record(
    kind: str,
    *,
    username: str = "",
    user_id: int | None = None,
    detail: str = "",
    request: HttpRequest | None = None,
) -> SecurityEvent:
    """Write one security event; the address, request id and actor from the request (or the
    request being answered), when there is one. The actor is the signed-in person acting on
    someone else's account (an administrator), blank when they act on their own."""
    request = request if request is not None else current_request.get()
    address, request_id, actor = None, "", ""
    if request is not None:
        address = client_address(request)
        request_id = getattr(request, "request_id", "")
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.pk != user_id:
            actor = user.get_username()
    return SecurityEvent.objects.create(
        kind=kind,
        username=username[:150],
        user_id=user_id,
        ip_address=address,
        actor=actor[:150],
        detail=detail[:255],
        request_id=request_id[:64],
    )


# --- Django's and axes' sign-in signals --------------------------------------------------------


def on_signed_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    from apps.core.sessions import session_start

    if request is None:
        return
    if hasattr(request, "session"):
        session_start(request)
    record(
        SecurityEventKind.SIGNIN,
        username=user.get_username(),
        user_id=user.pk,
        detail=getattr(request, "netboard_signin_factor", "password only"),
        request=request,
    )


def on_signed_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is None:
        return  # signing out without being signed in: nothing happened
    record(
        SecurityEventKind.SIGNOUT,
        username=user.get_username(),
        user_id=user.pk,
        detail=getattr(request, "netboard_signout_reason", ""),
        request=request,
    )


def on_signin_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """A failed sign-in; and, when it is the failure that locks, the lockout after it. Runs
    after axes' own receiver (connected on import of axes.signals, before this one), which
    counted the failure and said whether it locks (`on_locked_out`)."""
    user_model = get_user_model()
    typed = str(credentials.get(user_model.USERNAME_FIELD) or "")
    user_id = (
        user_model._default_manager.filter(**{user_model.USERNAME_FIELD: typed})
        .values_list("pk", flat=True)
        .first()
        if typed
        else None
    )
    refused = getattr(request, "netboard_locked_refused", False)
    wrong_code = getattr(request, "netboard_wrong_code", False)  # apps/core/mfa_views.py
    record(
        SecurityEventKind.MFA_FAILED if wrong_code else SecurityEventKind.SIGNIN_FAILED,
        username=typed,
        user_id=user_id,
        detail="refused: locked out" if refused else "",
        request=request,
    )
    lockout = getattr(request, "netboard_lockout", None)
    if lockout is not None:
        record(SecurityEventKind.LOCKOUT, username=typed, user_id=user_id, detail=lockout)


def on_locked_out(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """axes' signal that a failure locks a user name or an address: noted on the request for
    `on_signin_failed`, which writes it after the failure. Attempts refused while locked
    (which extend the lockout) are failed sign-ins "refused: locked out", not new lockouts."""
    if request is None or getattr(request, "netboard_locked_refused", False):
        return
    failures = getattr(request, "axes_failures_since_start", None)
    request.netboard_lockout = (  # type: ignore[attr-defined]
        f"{failures} failures; locked for {lockout_minutes()} minutes"
    )


# --- Unlock ------------------------------------------------------------------------------------


def signin_unlock(
    *, username: str | None = None, ip_address: str | None = None, by: str = ""
) -> int:
    """Lift the lockout of a user name and/or a client address (their recorded failures are
    forgotten); the number of attempt records removed. Recorded as an `unlock` event."""
    from axes.utils import reset

    if not username and not ip_address:
        raise ValueError("signin_unlock needs a username or an address")
    removed = reset(username=username, ip=ip_address)
    user_id = None
    if username:
        user_model = get_user_model()
        user_id = (
            user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username})
            .values_list("pk", flat=True)
            .first()
        )
    parts = [f"address {ip_address}"] if ip_address else []
    parts.append(f"{removed} attempt record(s) removed")
    if by:
        parts.append(f"by {by}")
    record(
        SecurityEventKind.UNLOCK, username=username or "", user_id=user_id, detail="; ".join(parts)
    )
    return removed


# --- Sign out everywhere -------------------------------------------------------------------------


def sign_out_everywhere(user: Any, reason: str, *, always_record: bool = False) -> int:
    """End every session of the user; the number ended. Recorded when any was ended (the
    change that caused it is an event of its own), or always (the admin's action)."""
    from apps.core.sessions import user_sessions_end

    ended = user_sessions_end(user.pk)
    if ended or always_record:
        record(
            SecurityEventKind.SIGNOUT_EVERYWHERE,
            username=user.get_username(),
            user_id=user.pk,
            detail=f"{reason}; {ended} session(s) ended",
        )
    return ended


_BEFORE = "_netboard_before_save"


def before_user_save(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """Keep the stored password hash and active flag, to see after the save what changed.
    Saves of other fields only (last_login at every sign-in) cost nothing."""
    if instance.pk is None or kwargs.get("raw"):
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    stored = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    setattr(instance, _BEFORE, stored)


def after_user_save(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    stored = instance.__dict__.pop(_BEFORE, None)
    if created or stored is None:
        return
    # A new password (set_password, or "no usable password"), not a rehash of the same one at
    # sign-in (Django's check_password upgrading the hasher clears _password before saving).
    # A first password for a user made without one (stored "") is no change.
    password_set = getattr(instance, "_password", None) is not None
    if stored["password"] not in ("", instance.password) and (
        password_set or not instance.has_usable_password()
    ):
        record(
            SecurityEventKind.PASSWORD_CHANGED,
            username=instance.get_username(),
            user_id=instance.pk,
        )
        sign_out_everywhere(instance, "password changed")
    if stored["is_active"] and not instance.is_active:
        record(SecurityEventKind.DEACTIVATED, username=instance.get_username(), user_id=instance.pk)
        sign_out_everywhere(instance, "deactivated")


def on_groups_changed(
    sender: Any,
    instance: Any,
    action: str,
    reverse: bool,
    pk_set: set[int] | None,
    **kwargs: Any,
) -> None:
    """A change of a user's groups is a change of role: they sign in again everywhere."""
    user_model = get_user_model()
    if action == "pre_clear" and reverse:
        # group.user_set.clear(): which users, asked before they are gone.
        instance._netboard_cleared = list(instance.user_set.values_list("pk", flat=True))
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if reverse:
        ids = (
            instance.__dict__.pop("_netboard_cleared", [])
            if action == "post_clear"
            else sorted(pk_set or ())
        )
        users = list(user_model._default_manager.filter(pk__in=ids))
    else:
        if action != "post_clear" and not pk_set:
            return
        users = [instance]
    for user in users:
        roles = ", ".join(sorted(user.groups.values_list("name", flat=True)))
        record(
            SecurityEventKind.ROLE_CHANGED,
            username=user.get_username(),
            user_id=user.pk,
            detail=f"roles now: {roles or 'none'}",
        )
        sign_out_everywhere(user, "role changed")


def connect() -> None:
    """Connect the receivers (CoreConfig.ready)."""
    # axes.signals connects axes' receivers on import: they run before these.
    from axes.signals import user_locked_out
    from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
    from django.db.models.signals import m2m_changed, post_save, pre_save

    user_model = get_user_model()
    user_logged_in.connect(on_signed_in, dispatch_uid="netboard_signed_in")
    user_logged_out.connect(on_signed_out, dispatch_uid="netboard_signed_out")
    user_login_failed.connect(on_signin_failed, dispatch_uid="netboard_signin_failed")
    user_locked_out.connect(on_locked_out, dispatch_uid="netboard_locked_out")
    pre_save.connect(before_user_save, sender=user_model, dispatch_uid="netboard_user_pre")
    post_save.connect(after_user_save, sender=user_model, dispatch_uid="netboard_user_post")
    m2m_changed.connect(
        on_groups_changed, sender=user_model.groups.through, dispatch_uid="netboard_user_groups"
    )
