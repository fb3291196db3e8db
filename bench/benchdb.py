"""A fresh, migrated database of its own for a benchmark (shared by the bench scripts)."""

from __future__ import annotations

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
