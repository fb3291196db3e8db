"""Rate limits (issue 4): per API token, per signed-in user, and for unauthenticated attempts.
Exceeding one answers 429 with ``Retry-After`` (a problem document). Counters live in the
cache: Redis when REDIS_URL is set (shared by all web processes), else per process."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle as _DrfSimpleRateThrottle

from apps.core.models import ApiToken


class SimpleRateThrottle(_DrfSimpleRateThrottle):
    """Reads its rate when used, not at import (DRF's default), so settings changes apply."""

    def get_rate(self) -> str | None:
        rate: str | None = api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        return rate


class TokenRateThrottle(SimpleRateThrottle):
    """Each integrating system (its token) has its own budget: NETBOARD_API_RATE_TOKEN."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class UserRateThrottle(SimpleRateThrottle):
    """Each signed-in person (browser session) has a budget: NETBOARD_API_RATE_USER."""

    scope = "user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class AnonymousRateThrottle(SimpleRateThrottle):
    """Attempts with a wrong API key, per client address: NETBOARD_API_RATE_ANON (counted by
    apps.core.auth, since DRF runs throttles only after authentication)."""

    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
