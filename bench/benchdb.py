"""A fresh, migrated database of its own for a benchmark (shared by the bench scripts)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fresh_database(url: str, env: Mapping[str, str]) -> None:
    """Drop and create the database of ``url`` (postgres://…/name), then migrate it."""
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(
        server.replace("postgres://", "postgresql://") + "/postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=dict(env),
        check=True,
    )


def api_bench_env(database_url: str, redis_url: str) -> dict[str, str]:
    """Install and return the environment of an in-process API benchmark: production settings
    (DJANGO_DEBUG=0: debug mode records every SQL statement, which is not what a hospital
    system talks to), its own database, and a Redis broker as in production (a write queues its
    recompute and returns; no worker runs, the queue is emptied at the end)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
    }
    os.environ.clear()
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netboard.settings")
    return env


def unthrottled_rest_framework() -> dict[str, object]:
    """The project's REST_FRAMEWORK setting without rate limits, for a bench that times requests
    (override_settings): no throttle classes, and no rate for any scope, for a view that read
    its throttle classes at import (DRF reads them when the view class is made)."""
    from django.conf import settings

    rest: dict[str, object] = dict(settings.REST_FRAMEWORK)
    rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
    rest["DEFAULT_THROTTLE_CLASSES"] = []
    rest["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(rates)
    return rest
