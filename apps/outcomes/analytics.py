"""Survival analyses on request, computed by a worker and cached by the cohort's input version
(issue 18, part 3): the one entry point for the API and the analytics page.

``survival_status(query)`` answers at once:

- ``ready`` with the figures when a result for the cohort as it is now (its input version,
  ``apps.outcomes.selectors.VERSION_SQL``) is in the cache;
- otherwise ``pending``: the computation is queued (``outcomes.survival``, its arguments the
  query's parameters and a version string, never patient data; once per query and version,
  however many clients poll), and the caller polls again with the ``version`` it was given. A
  result stored for that version is served even if the data changed since (it is labelled
  with the version it was computed from), so a busy cohort cannot keep a poller waiting.

It computes in the calling process instead, and answers ``ready``, when a worker's result could
not reach the caller or there is no worker: without a broker (Celery's eager mode), with a cache
that is not shared (no REDIS_URL: a per-process memory cache), and while Redis (cache or broker)
is unavailable. A cohort of 10,000 patients takes well under a second (bench/bench_survival.py),
so a request can afford it; what the worker saves is that requests do not each pay it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from apps.core.outages import warn_now_and_then
from apps.outcomes.selectors import input_version
from apps.outcomes.survival import SurvivalQuery, survival_figures

logger = logging.getLogger(__name__)

TASK = "outcomes.survival"
# Bump when the figures of the same data change (a new field, another choice): results cached
# by an earlier release are then not served.
COMPUTATION = "1"
# A result is kept a day; a new input version makes it unreachable anyway.
RESULT_SECONDS = 24 * 3600
# Clients are asked to poll again after this many seconds.
RETRY_AFTER_SECONDS = 2
# After the broker failed, this process computes in the request for this many seconds instead
# of trying it again (as apps.scoring.queue does for recomputes).
BROKER_RETRY_SECONDS = 5.0
_broker_unavailable_until = 0.0


def _pending_seconds() -> int:
    """How long a queued computation is waited for before it is queued again: a lost message
    comes back after the visibility timeout, then runs for up to the time limit."""
    return int(settings.CELERY_VISIBILITY_TIMEOUT + settings.CELERY_TASK_TIME_LIMIT)


@dataclass(frozen=True)
class SurvivalStatus:
    status: str  # "ready" or "pending"
    version: str  # the version the figures are of, or the one being computed
    figures: dict[str, Any] | None = None


def _key(query: SurvivalQuery, version: str) -> str:
    minimum = settings.NETBOARD_SURVIVAL_MIN_GROUP
    digest = hashlib.sha256(query.token().encode()).hexdigest()[:32]
    return f"netboard:survival:{COMPUTATION}:{minimum}:{version}:{digest}"


def _pending_key(query: SurvivalQuery, version: str) -> str:
    return _key(query, version) + ":pending"


def _computed_here() -> bool:
    """Whether a worker's result could not reach this process, or no worker runs."""
    if current_app.conf.task_always_eager:
        return True
    return isinstance(caches["default"], LocMemCache | DummyCache)


def compute_and_store(query: SurvivalQuery, asked_version: str | None = None) -> dict[str, Any]:
    """Compute the figures and cache them under the version they were computed from (and under
    ``asked_version``, the one a poller waits for, when the data changed since it asked)."""
    figures = survival_figures(query)
    versions = {figures["version"], asked_version} - {None}
    for version in versions:
        cache.set(_key(query, str(version)), figures, RESULT_SECONDS)
    if asked_version is not None:
        cache.delete(_pending_key(query, asked_version))
    return figures


def survival_status(query: SurvivalQuery, version: str | None = None) -> SurvivalStatus:
    """The figures of ``query`` if they are ready, else queue their computation (see the
    module's docstring). ``version``: the one a previous ``pending`` answer named."""
    if version:
        cached = cache.get(_key(query, version))
        if cached is not None:
            return SurvivalStatus("ready", cached["version"], cached)
        if cache.get(_pending_key(query, version)) is not None:
            return SurvivalStatus("pending", version)
        # Unknown, expired or lost: start again from the data as it is now.
    current = input_version()
    cached = cache.get(_key(query, current))
    if cached is not None:
        return SurvivalStatus("ready", cached["version"], cached)
    if _computed_here() or time.monotonic() < _broker_unavailable_until:
        figures = compute_and_store(query)
        return SurvivalStatus("ready", figures["version"], figures)
    pending = _pending_key(query, current)
    if not cache.add(pending, time.time(), _pending_seconds()):
        if cache.get(pending) is not None:
            return SurvivalStatus("pending", current)  # queued by an earlier request
        # The cache answers nothing (Redis is down): no worker's result could reach us.
        figures = compute_and_store(query)
        return SurvivalStatus("ready", figures["version"], figures)
    if not _send(query, current):
        cache.delete(pending)
        figures = compute_and_store(query)
        return SurvivalStatus("ready", figures["version"], figures)
    return SurvivalStatus("pending", current)


def _send(query: SurvivalQuery, version: str) -> bool:
    global _broker_unavailable_until
    try:
        current_app.tasks[TASK].apply_async((query.as_dict(), version))
    except Exception as exc:
        # kombu raises several types for an unreachable broker; none may fail the request.
        _broker_unavailable_until = time.monotonic() + BROKER_RETRY_SECONDS
        warn_now_and_then(
            logger,
            "survival-broker-unavailable",
            "broker unavailable (%s): survival analyses are computed in the request",
            type(exc).__name__,
        )
        return False
    return True


def forget_pending(query: SurvivalQuery, version: str) -> None:
    """After a failed computation: the next poll queues it again."""
    cache.delete(_pending_key(query, version))
