"""Real processes for end-to-end tests: a web server and Celery workers on Redis, sharing the
test database and committing for real (used by the worker tests and the browser flow).

Tests of one pytest process share one Redis database; each xdist process has its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

from apps.core.tokens import api_token_create

ROOT = Path(__file__).resolve().parents[1]
# One Redis database per xdist process (gw0 -> 10, gw1 -> 11, ...), so that a worker started
# by one test process never takes the messages of another's.
_XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
# Each xdist worker has its own Redis database; NETBOARD_TEST_REDIS_DB moves the block of four
# (default 10-13) so that two test runs on one machine do not flush each other's broker.
_REDIS_BASE = int(os.environ.get("NETBOARD_TEST_REDIS_DB", "10"))
BROKER = f"redis://127.0.0.1:6379/{_REDIS_BASE + _XDIST_INDEX % 4}"
DEAD_BROKER = "redis://127.0.0.1:1/0"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Api:
    """A hospital system talking HTTP to a live server with a token."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - local http
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Token {self.key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        status, data = self.call("POST", path, body)
        assert status == 201, data
        return dict(data)

    def phenotype(self, patient: int) -> dict[str, Any]:
        status, data = self.call("GET", f"/api/v1/patients/{patient}/phenotype/")
        assert status == 200, data
        return dict(data)


def write_dual_tracer_patient(api: Api, mrn: str) -> dict[str, Any]:
    """Three liver lesions: Krenning 4 on Ga-68 DOTATATE, FDG-negative (NETPET P1)."""
    patient = api.post(
        "/api/v1/patients/",
        {
            "mrn": mrn,
            "family_name": "Worker",
            "given_name": "Test",
            "birth_date": "1961-02-03",
            "sex": "female",
            "primary_site": "pancreas",
            "histology": "net",
        },
    )
    sstr = api.post(
        "/api/v1/studies/",
        {
            "patient": patient["id"],
            "performed_on": "2024-03-01",
            "modality": "pet_ct",
            "tracer": "ga68_dotatate",
            "blood_pool_suv": "1.5",
            "liver_suv": "6.0",
            "spleen_suv": "18.0",
        },
    )
    fdg = api.post(
        "/api/v1/studies/",
        {
            "patient": patient["id"],
            "performed_on": "2024-03-08",
            "modality": "pet_ct",
            "tracer": "f18_fdg",
            "blood_pool_suv": "1.6",
            "liver_suv": "2.2",
        },
    )
    observations: dict[str, list[int]] = {"sstr": [], "fdg": []}
    for n in range(3):
        lesion = api.post(
            "/api/v1/lesions/", {"patient": patient["id"], "label": f"Liver {n}", "site": "liver"}
        )
        observations["sstr"].append(
            api.post(
                "/api/v1/observations/",
                {
                    "study": sstr["id"],
                    "lesion": lesion["id"],
                    "suv_max": "25.0",
                    "krenning_visual": 4,
                    "long_axis_mm": "31",
                },
            )["id"]
        )
        observations["fdg"].append(
            api.post(
                "/api/v1/observations/",
                {
                    "study": fdg["id"],
                    "lesion": lesion["id"],
                    "suv_max": "1.9",
                    "fdg_visual": "negative",
                    "long_axis_mm": "31",
                },
            )["id"]
        )
    return {"patient": patient["id"], **observations}


def fresh(api: Api, patient: int) -> dict[str, Any] | None:
    body = api.phenotype(patient)
    return body if body["status"] == "fresh" else None


class Stack:
    """Subprocesses sharing the test database; stopped at the end of the test."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        name = connection.settings_dict["NAME"]
        self.database_url = f"postgres://postgres@127.0.0.1:5432/{name}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": BROKER,
            "CELERY_BROKER_URL": BROKER,
            "DJANGO_DEBUG": "1",
            # A killed worker's message comes back after 6 s (tasks may run 5 s at most).
            "CELERY_TASK_TIME_LIMIT": "5",
            "CELERY_VISIBILITY_TIMEOUT": "6",
            "NETBOARD_SWEEP_SECONDS": "1",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def spawn(self, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{len(self.processes)}-{args[1]}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - fixed interpreter and arguments
            [sys.executable, *args],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the worker and its pool children
        )
        self.processes.append(process)
        return process

    def web(self, *, gunicorn: int = 0, **env: str) -> Api:
        """``manage.py runserver``, or with ``gunicorn=N`` gunicorn with N worker processes as
        in production (requests of several clients then run in parallel processes)."""
        port = free_port()
        if gunicorn:
            args = ["-m", "gunicorn", "netboard.wsgi:application", "--bind", f"127.0.0.1:{port}"]
            self.spawn([*args, "--workers", str(gunicorn)], **env)
        else:
            self.spawn(["manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], **env)
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                with urllib.request.urlopen(base + "/health/", timeout=2) as response:  # noqa: S310
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(up, what="web server")
        _token, key = api_token_create(name=f"his-{port}", role="reader")
        return Api(base, key)

    def worker(self, *extra: str, **env: str) -> subprocess.Popen[bytes]:
        return self.spawn(
            [
                "-m",
                "celery",
                "-A",
                "netboard",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                *extra,
            ],
            **env,
        )

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        """SIGKILL to the whole process group: no warm shutdown, nothing acknowledged."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}"
            for path in sorted(self.logs.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    redis.Redis.from_url(BROKER).flushdb()
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Stack(logs)
    try:
        yield running
    finally:
        running.stop()
        print(running.log_tails())
        redis.Redis.from_url(BROKER).flushdb()


class RedisServer:
    """A Redis server of the test's own on a free port, to stop and start again mid-test
    (keeping nothing on disk, as in docker-compose.yml)."""

    def __init__(self, logs: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.logs)],
            stdout=(self.logs / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for(self.answers, timeout=20, what="redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
