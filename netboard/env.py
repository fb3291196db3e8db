"""Typed readers for environment variables.

Every setting comes from the environment. A bad value stops start-up
with an ImproperlyConfigured error that names the variable, so an operator never has to guess.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    value = _raw(name, environ)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"{name} is required but not set.")
        return default
    return value


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, environ)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}."
    )


def env_int(
    name: str, default: int, minimum: int = 0, environ: Mapping[str, str] | None = None
) -> int:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number; got {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {number}.")
    return number


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, environ)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_json_object(name: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    value = _raw(name, environ)
    if value is None:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {exc.msg} at {exc.pos}.") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f'{name} must be a JSON object such as {{"ki67_high": 55}}.')
    return parsed


def parse_database_url(name: str, url: str) -> dict[str, Any]:
    """Turn ``postgres://user:pass@host:port/db?opt=v`` into a Django DATABASES entry.

    A socket directory may be given as ``?host=/path`` (the embedded server listens on a socket).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"{name} must be a postgres:// URL (NETboard runs on PostgreSQL only); "
            f"got scheme {parts.scheme or '(none)'!r}."
        )
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise ImproperlyConfigured(f"{name} must name a database, e.g. postgres://host:5432/db.")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port.") from None
    options = dict(parse_qsl(parts.query))
    host = unquote(parts.hostname or "") or options.pop("host", "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": options,
    }


def check_redis_url(name: str, url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name} must be a redis:// or rediss:// URL; got {url!r}.")
    return url


# A DICOM UID prefix: numeric components without leading zeros, separated by dots, ending in one.
_UID_ROOT = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\.")
# Room left for the derived part of a 64-character UID.
UID_ROOT_MAX_LENGTH = 40


def env_uid_root(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A DICOM UID root (``1.2.826.0.1.3680043.10.1234.``), or None when not set."""
    value = _raw(name, environ)
    if value is None:
        return None
    if not _UID_ROOT.fullmatch(value) or len(value) > UID_ROOT_MAX_LENGTH:
        raise ImproperlyConfigured(
            f"{name} must be a DICOM UID root: digits in dot-separated components without "
            f"leading zeros, ending with a dot, at most {UID_ROOT_MAX_LENGTH} characters "
            f"(e.g. 1.2.826.0.1.3680043.10.1234.); got {value!r}."
        )
    return value
