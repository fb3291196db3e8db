"""Warnings about an outage (PostgreSQL, Redis), written at most once a minute per process
rather than once per request."""

from __future__ import annotations

import logging
import threading
import time

_lock = threading.Lock()
# key -> (monotonic time of the last warning written, warnings left out since)
_last: dict[str, tuple[float, int]] = {}


def warn_now_and_then(
    logger: logging.Logger, key: str, message: str, *args: object, every: float = 60.0
) -> bool:
    """Log ``message`` as a warning unless one with the same ``key`` was logged in the last
    ``every`` seconds by this process; a warning that is written says how many were left out.
    Returns whether it was written."""
    now = time.monotonic()
    with _lock:
        last, left_out = _last.get(key, (float("-inf"), 0))
        if now - last < every:
            _last[key] = (last, left_out + 1)
            return False
        _last[key] = (now, 0)
    suffix = f" ({left_out} more like it in the last {every:.0f} s not logged)" if left_out else ""
    logger.warning(message + suffix, *args)
    return True


def forget_warnings() -> None:
    """For tests: every key may warn again at once."""
    with _lock:
        _last.clear()
