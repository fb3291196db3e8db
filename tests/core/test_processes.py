"""Both ways to run NETboard, with real processes: the embedded PostgreSQL of `make run`, and a
Celery worker on Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.core.cache.backends.redis import RedisCache

from apps.core.tasks import ping_broker
from apps.demo.cohort import COHORT

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(args: list[str], env: dict[str, str], timeout: int = 300) -> str:
    result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local http
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_embedded_postgres_start_migrate_load_demo_serve_stop(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    base_env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    url = run(["-m", "netboard.embedded_pg", "start", "--pgdata", str(pgdata)], base_env)
    env = {**base_env, "DATABASE_URL": url.strip().splitlines()[-1], "DJANGO_DEBUG": "1"}
    server = None
    try:
        run(["manage.py", "migrate", "--noinput"], env)
        loaded = run(["manage.py", "load_demo"], env)
        assert f"{len(COHORT)} patient(s) created" in loaded
        assert f"{len(COHORT)} with synthetic follow-up records" in loaded
        port = free_port()
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                status, body = fetch(f"http://127.0.0.1:{port}/health/")
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, body
        assert '"database": "ok"' in body and '"broker": "eager"' in body
        status, page = fetch(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200 and "Sign in" in page
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        stopped = run(["-m", "netboard.embedded_pg", "stop", "--pgdata", str(pgdata)], base_env)
    log = pgdata / "log"  # the server's own log (embedded_postgres starts it with -l)
    assert stopped.strip() == "stopped", (
        log.read_text(errors="replace")[-3000:] if log.exists() else "no log"
    )
    assert not (pgdata / "postmaster.pid").exists()


def test_a_real_worker_runs_tasks_from_redis() -> None:
    broker = "redis://127.0.0.1:6379/14"
    env = {**os.environ, "REDIS_URL": broker, "CELERY_BROKER_URL": broker}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "netboard",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        nonce = uuid.uuid4().hex
        Celery("probe", broker=broker).send_task(ping_broker.name, args=[nonce])
        cache = RedisCache(broker, {})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cache.get(f"netboard:ping:{nonce}") is None:
            time.sleep(0.2)
        assert cache.get(f"netboard:ping:{nonce}") == "pong"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
