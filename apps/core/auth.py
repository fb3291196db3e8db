"""`Authorization: Token <key>` for hospital systems (API.md conventions)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pghistory
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from apps.core.models import ApiToken, token_digest

# Touch last_used_at at most this often: a write on every request would cost more than auth.
_LAST_USED_RESOLUTION = timedelta(minutes=5)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: Token <key>.")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        token = (
            ApiToken.objects.active()
            .select_related("user")
            .filter(digest=token_digest(key))
            .first()
        )
        if token is None or not token.user.is_active:
            _count_failed_attempt(request)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.expires_at is not None and token.expires_at <= now:
            _count_failed_attempt(request)
            raise exceptions.AuthenticationFailed(
                f"Token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC; ask for a new one."
            )
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        pghistory.context(api_system=token.name, user=token.user_id, username=token.user.username)
        request._request.api_system = token.name  # read by access logging
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def _count_failed_attempt(request: Request) -> None:
    """Wrong keys count against the client address (NETBOARD_API_RATE_ANON): guessing keys gets
    429 with Retry-After. DRF checks throttles only after authentication succeeds, hence here."""
    from apps.core.throttles import AnonymousRateThrottle

    throttle = AnonymousRateThrottle()
    if not throttle.allow_request(request, None):
        raise exceptions.Throttled(wait=throttle.wait())
