"""The Redis cache, failing open (issue 13).

PostgreSQL is the source of truth; the cache only holds rate-limit counters and the patient
page's rendered sections. With Redis down, every cache call acts as on an empty cache that
keeps nothing — a miss, a write that is dropped — so rate limits let requests through and
pages are rendered afresh. After a failure this process leaves Redis alone for
``RETRY_SECONDS`` (no request waits on a dead server meanwhile), then tries again. The outage
is logged at most once a minute.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from apps.core.outages import warn_now_and_then

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
# The errors of a Redis that cannot be reached, or is still loading its data after a restart.
UNAVAILABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _fail_open(fallback: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run the client call; while Redis is unavailable, answer ``fallback(*args)`` instead."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: FailOpenRedisCacheClient, *args: Any, **kwargs: Any) -> Any:
            if time.monotonic() < self.unavailable_until:
                return fallback(*args, **kwargs)
            try:
                return method(self, *args, **kwargs)
            except UNAVAILABLE as exc:
                self.unavailable_until = time.monotonic() + RETRY_SECONDS
                warn_now_and_then(
                    logger,
                    "cache-unavailable",
                    "cache unavailable (%s): rate limits and the page cache are off until "
                    "Redis answers again",
                    type(exc).__name__,
                )
                return fallback(*args, **kwargs)

        return call

    return decorate


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def _false(*args: Any, **kwargs: Any) -> bool:
    return False


class FailOpenRedisCacheClient(RedisCacheClient):
    unavailable_until = 0.0

    @_fail_open(lambda key, default: default)
    def get(self, key: Any, default: Any) -> Any:
        return super().get(key, default)

    @_fail_open(lambda keys: {})
    def get_many(self, keys: Any) -> dict[Any, Any]:
        return super().get_many(keys)  # type: ignore[no-any-return]

    @_fail_open(_false)
    def has_key(self, key: Any) -> bool:
        return super().has_key(key)  # type: ignore[no-any-return]

    @_fail_open(_false)
    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        return super().add(key, value, timeout)  # type: ignore[no-any-return]

    @_fail_open(_nothing)
    def set(self, key: Any, value: Any, timeout: Any) -> None:
        super().set(key, value, timeout)

    @_fail_open(_nothing)
    def set_many(self, data: Any, timeout: Any) -> None:
        super().set_many(data, timeout)

    @_fail_open(_false)
    def touch(self, key: Any, timeout: Any) -> bool:
        return super().touch(key, timeout)  # type: ignore[no-any-return]

    @_fail_open(_false)
    def delete(self, key: Any) -> bool:
        return super().delete(key)  # type: ignore[no-any-return]

    @_fail_open(_nothing)
    def delete_many(self, keys: Any) -> None:
        super().delete_many(keys)

    # A counter that cannot be kept counts from nothing.
    @_fail_open(lambda key, delta: delta)
    def incr(self, key: Any, delta: int) -> int:
        return super().incr(key, delta)  # type: ignore[no-any-return]

    @_fail_open(_false)
    def clear(self) -> bool:
        return super().clear()  # type: ignore[no-any-return]


class FailOpenRedisCache(RedisCache):
    """Django's Redis cache backend with the client above."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = FailOpenRedisCacheClient
