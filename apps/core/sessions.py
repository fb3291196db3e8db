"""Browser sessions: each knows its user, ends after a quiet spell and at an absolute age.

- SESSION_ENGINE = "apps.core.sessions": Django's database sessions, in a table
  (core.UserSession) that also holds the signed-in user's id, so `user_sessions_end` ends every
  session of a user in one statement (an administrator's "Sign out everywhere", a password or
  role change, a deactivation: apps/core/signin.py).
- SessionLimitsMiddleware: a session unused for NETBOARD_SESSION_IDLE_SECONDS, or older than
  SESSION_COOKIE_AGE (DJANGO_SESSION_AGE_SECONDS) since its sign-in whatever its use, is signed
  out. The pages' background polls (PASSIVE_URL_NAMES) are not use: they are answered, and
  timed out, but never keep a session alive, or an open page would never time out.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.http import HttpRequest, HttpResponse

# Session keys of NETboard's own (Django's start with an underscore).
STARTED = "netboard_signed_in_at"  # seconds since the epoch: the sign-in
SEEN = "netboard_seen_at"  # seconds since the epoch: the last request that was not a poll

# Requests a page makes by itself, every few seconds, while it is open: they are not activity.
# templates/patients/_live.html (every 4 s) and templates/patients/_status.html (every 2 s).
PASSIVE_URL_NAMES = frozenset({"patient-changes", "patient-page-status"})

# Refresh the last-activity stamp at most this often (a session write on every request would
# cost a database UPDATE per page): the idle timeout is then exact to within this.
SEEN_RESOLUTION_SECONDS = 60


class SessionStore(DatabaseSessionStore):
    """Django's database session store, writing the signed-in user's id beside the data."""

    @classmethod
    def get_model_class(cls) -> Any:
        from apps.core.models import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        instance = super().create_model_instance(data)
        try:
            instance.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            instance.user_id = None
        return instance


# The session keys deleted during the current request: if the request's own session is among
# them (an administrator who deactivated themselves), it is not written back at the end.
_ended_keys: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "netboard_ended_session_keys", default=None
)


def user_sessions_end(user_id: int) -> int:
    """End every session of the user (they must sign in again everywhere); the number ended.

    A session that changed its key in the same request and belongs to the user again (a user
    who changed their own password: Django keeps them signed in there) is written afresh."""
    from apps.core.models import UserSession

    sessions = UserSession.objects.filter(user_id=user_id)
    keys = set(sessions.values_list("session_key", flat=True))
    if not keys:
        return 0
    UserSession.objects.filter(session_key__in=keys).delete()
    ended = _ended_keys.get()
    if ended is not None:
        ended.update(keys)
    return len(keys)


def session_start(request: HttpRequest) -> None:
    """Stamp a new sign-in's session with its start (the absolute limit counts from it)."""
    now = int(time.time())
    request.session[STARTED] = now
    request.session[SEEN] = now


def _expired_reason(session: Any, now: int) -> str | None:
    started, seen = session.get(STARTED), session.get(SEEN)
    if not isinstance(started, int) or not isinstance(seen, int):
        return None  # a session from before these stamps: stamped now (below)
    if now - started > settings.SESSION_COOKIE_AGE:
        hours = settings.SESSION_COOKIE_AGE / 3600
        return f"Signed out {hours:g} hours after signing in: please sign in again."
    if now - seen > settings.NETBOARD_SESSION_IDLE_SECONDS:
        minutes = settings.NETBOARD_SESSION_IDLE_SECONDS / 60
        return f"Signed out after {minutes:g} minutes without activity."
    return None


class SessionLimitsMiddleware:
    """The idle timeout and the absolute lifetime of a signed-in session (module docstring).

    After AuthenticationMiddleware and before LoginRequiredMiddleware: a session timed out is
    signed out before the login requirement is looked at, so the request goes to the login page
    (with ?next= and a message saying why); an htmx poll gets HX-Redirect instead, so the
    whole page goes there, not the poll's fragment.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from apps.core import signin

        ended = _ended_keys.set(set())
        current = signin.current_request.set(request)
        try:
            response = self.get_response(request)
            session = getattr(request, "session", None)
            deleted = _ended_keys.get() or set()
            if session is not None and session.session_key in deleted:
                # This request's own session was ended (its user signed out everywhere): do not
                # write it back (Django would raise SessionInterrupted), drop its cookie.
                session.flush()
            return response
        finally:
            signin.current_request.reset(current)
            _ended_keys.reset(ended)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        user = getattr(request, "user", None)
        if user is None:
            return None
        if not user.is_authenticated:
            if SESSION_KEY in request.session:
                # The session names a user who is inactive or gone (deactivated by an update
                # that sent no signal, say): end it, so that reactivating the account does not
                # bring it back.
                request.session.flush()
            return None
        session = request.session
        now = int(time.time())
        reason = _expired_reason(session, now)
        if reason is None:
            self._touch(request, session, now)
            return None
        request.netboard_signout_reason = reason  # type: ignore[attr-defined] # for the audit
        logout(request)
        if not getattr(view_func, "login_required", True):
            return None  # the login page itself, the health check: answered as they are
        messages.info(request, reason)
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(status=204)
            response["HX-Redirect"] = self._login_url(self._page_path(request))
            return response
        return redirect_to_login(request.get_full_path())

    @staticmethod
    def _touch(request: HttpRequest, session: Any, now: int) -> None:
        if not isinstance(session.get(STARTED), int):
            session[STARTED] = now  # signed in before these stamps existed: counts from now
            session[SEEN] = now
            return
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in PASSIVE_URL_NAMES:
            return
        resolution = min(SEEN_RESOLUTION_SECONDS, settings.NETBOARD_SESSION_IDLE_SECONDS // 4)
        if now - session[SEEN] >= resolution:
            session[SEEN] = now

    @staticmethod
    def _page_path(request: HttpRequest) -> str:
        """The page an htmx request came from (HX-Current-URL), as a local path."""
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        if current.path.startswith("/") and current.netloc in ("", request.get_host()):
            return current.path + (f"?{current.query}" if current.query else "")
        return "/"

    @staticmethod
    def _login_url(next_path: str) -> str:
        from django.http import QueryDict
        from django.shortcuts import resolve_url

        query = QueryDict(mutable=True)
        query["next"] = next_path
        return f"{resolve_url(settings.LOGIN_URL)}?{query.urlencode(safe='/')}"
