"""``manage.py check_database`` (run by ``make run`` before migrating): a database that cannot be
used is one clear line with the fix, never a driver traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_DEBUG": "1"}
    return subprocess.run(
        [sys.executable, "manage.py", "check_database"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_reachable_database_passes() -> None:
    result = check("postgres://postgres@127.0.0.1:5432/postgres")
    assert result.returncode == 0, result.stderr
    assert "Database 'postgres' at 127.0.0.1:5432: reachable." in result.stdout


def test_a_missing_database_says_how_to_create_it() -> None:
    result = check("postgres://postgres@127.0.0.1:5432/netboard_no_such_database")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert 'database "netboard_no_such_database" does not exist' in result.stderr
    assert "createdb -h 127.0.0.1 -U postgres netboard_no_such_database" in result.stderr


def test_no_server_says_to_check_the_url_and_the_server() -> None:
    result = check("postgres://postgres@127.0.0.1:1/netboard")  # nothing listens on port 1
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "check DATABASE_URL and that PostgreSQL is running" in result.stderr
