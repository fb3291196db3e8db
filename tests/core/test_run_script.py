"""`make run` (scripts/run.sh) serves on HOST:PORT and refuses a bad PORT in one line, before
it starts or touches anything (`--print-address` stops after reading them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Were the script to go on past the address (it did before `--print-address`), it would stop at
# its first database step instead of starting a server.
UNUSABLE_DATABASE = "postgres://nobody@127.0.0.1:1/none"


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"HOST", "PORT"} and "NETBOARD_" not in k
    }
    return subprocess.run(
        ["bash", "scripts/run.sh", "--print-address"],  # noqa: S607 - bash from PATH
        cwd=ROOT,
        env={
            **clean,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}",
            "DATABASE_URL": UNUSABLE_DATABASE,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "address"),
    [
        ({}, "127.0.0.1:8000"),
        ({"PORT": "8123", "HOST": "0.0.0.0"}, "0.0.0.0:8123"),  # noqa: S104 - the case under test
        ({"PORT": "65535"}, "127.0.0.1:65535"),
        ({"HOST": "::"}, "[::]:8000"),
        ({"NETBOARD_HOST": "10.0.0.5", "NETBOARD_PORT": "9000"}, "10.0.0.5:9000"),
        ({"HOST": "10.0.0.6", "NETBOARD_HOST": "10.0.0.5", "PORT": "81"}, "10.0.0.6:81"),
    ],
)
def test_the_address_comes_from_host_and_port(env: dict[str, str], address: str) -> None:
    result = run_script(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == address + "\n"


@pytest.mark.parametrize("port", ["0", "65536", "99999", "80a", "abc", "-1", "8 0", "08000"])
def test_a_bad_port_stops_with_one_line(port: str) -> None:
    result = run_script({"PORT": port})
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr == f"PORT must be a whole number from 1 to 65535; got '{port}'.\n"
