"""A whole NETboard stack of its own, for the load test (bench_load.py) and the soak
(bench_soak.py): a fresh PostgreSQL database, a Redis server started here on a free port (never
the shared 6379), gunicorn, Celery workers and beat, all pointed at them.

    with Stack("netboard_load") as stack:
        stack.start(web_workers=3, celery_workers=2)
        ...  # stack.base is the web server's URL; Django is set up in this process too
    # every child process stopped (also on Ctrl-C, SIGTERM or an exception), database dropped

Logs go to a temporary directory (gunicorn.log, access.log, worker-N.log at INFO so that task
retries show, beat.log, redis.log): kept when the run failed or BENCH_KEEP_LOGS=1, removed
otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


class Api:
    """A hospital system on HTTP with a token (plain urllib: one request at a time)."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, parsed JSON body or text, headers with lower-case names); status 0 for a
        connection failure."""
        request = urllib.request.Request(  # noqa: S310 - the stack's own loopback server
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Token {self.key}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, _parse(response.read()), _lower(response.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, _parse(exc.read()), _lower(exc.headers)
        except OSError as exc:  # refused, reset, timed out
            return 0, f"{type(exc).__name__}: {exc}", {}


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _parse(raw: bytes) -> Any:
    text = raw.decode(errors="replace")
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


class Stack:
    """The processes of one run; ``stop`` (or leaving the ``with`` block) ends them all."""

    def __init__(self, database: str, *, sweep_seconds: int = 2) -> None:
        self.database = database
        self.database_url = f"{POSTGRES}/{database}"
        self.logs = Path(tempfile.mkdtemp(prefix=f"{database}-"))
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.failed = False
        self._previous_sigterm: Any = None
        # Inherited settings of the caller's shell must not point anywhere else.
        inherited = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "NETBOARD_", "CELERY_", "DATABASE_", "REDIS_"))
        }
        self.env = {
            **inherited,
            "DJANGO_SETTINGS_MODULE": "netboard.settings",
            "DJANGO_DEBUG": "1",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CELERY_BROKER_URL": self.redis_url,
            "NETBOARD_SWEEP_SECONDS": str(sweep_seconds),
            # The limits of one system or user would stop a load test long before the server.
            "NETBOARD_API_RATE_TOKEN": "1000000/min",
            "NETBOARD_API_RATE_USER": "1000000/min",
            "PYTHONUNBUFFERED": "1",
        }

    # --- lifetime ------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(f"stopped by signal {signum}")

        self._previous_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None and kind is not SystemExit:
            self.failed = True
        if isinstance(value, SystemExit) and value.code not in (0, None):
            self.failed = True
        try:
            self.stop()
        finally:
            self.drop_database()
            signal.signal(signal.SIGTERM, self._previous_sigterm or signal.SIG_DFL)
            if self.failed or os.environ.get("BENCH_KEEP_LOGS") == "1":
                print(f"logs kept in {self.logs}", flush=True)
            else:
                shutil.rmtree(self.logs, ignore_errors=True)

    def start(self, *, web_workers: int = 3, celery_workers: int = 2, beat: bool = True) -> None:
        """Redis, a fresh migrated database, Django in this process, then the servers."""
        print(f"stack: logs in {self.logs}", flush=True)
        self.spawn(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port)]
            + ["--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(self.logs)],
        )
        wait_for(self._redis_answers, 20, "redis-server")
        os.environ.clear()
        os.environ.update(self.env)
        sys.path.insert(0, str(ROOT))
        from benchdb import fresh_database

        fresh_database(self.database_url, self.env)
        import django

        django.setup()
        self.spawn(
            "gunicorn",
            [str(BIN / "gunicorn"), "netboard.wsgi:application"]
            + ["--workers", str(web_workers), "--bind", f"127.0.0.1:{self.port}"]
            + ["--access-logfile", str(self.logs / "access.log")],
        )
        for n in range(1, celery_workers + 1):
            self.spawn(
                f"worker-{n}",
                [str(BIN / "celery"), "-A", "netboard", "worker", "--pool=prefork"]
                + ["--concurrency=1", "--loglevel=INFO", "-n", f"{self.database}-{n}@%h"]
                + ["--without-heartbeat", "--without-gossip", "--without-mingle"],
            )
        if beat:
            self.spawn(
                "beat",
                [str(BIN / "celery"), "-A", "netboard", "beat", "--loglevel=WARNING"]
                + ["--schedule", str(self.logs / "celerybeat-schedule")],
            )
        wait_for(self._web_answers, 60, "gunicorn")
        if celery_workers:
            wait_for(lambda: self._workers_answering() >= celery_workers, 60, "celery workers")
        print(
            f"stack: gunicorn ({web_workers} workers) at {self.base}, {celery_workers} celery "
            f"worker(s){' and beat' if beat else ''}, redis on port {self.redis_port}, "
            f"database {self.database}",
            flush=True,
        )

    def spawn(self, name: str, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - fixed programs and arguments
            args,
            cwd=ROOT,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group (gunicorn and celery children too)
        )
        log.close()
        self.processes.append((name, process))
        return process

    def run(self, name: str, args: list[str], timeout: float, **env: str) -> int:
        """A process that ends by itself (stopped with the rest if this is interrupted)."""
        process = self.spawn(name, args, **env)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            code = process.wait(timeout=10)
        self.processes.remove((name, process))
        return code

    def stop(self) -> None:
        """SIGTERM to every process group, newest first; SIGKILL after 20 s."""
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                _signal_group(process, signal.SIGTERM)
        for _name, process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)  # not reaped yet: still its group
                process.wait(timeout=10)
        self.processes.clear()

    def drop_database(self) -> None:
        import psycopg

        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up yet
            pass
        try:
            with psycopg.connect(_libpq(f"{POSTGRES}/postgres"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        except psycopg.Error as exc:
            print(f"could not drop database {self.database}: {exc}", flush=True)

    def alive(self) -> list[str]:
        """Names of the processes that died (empty while all run)."""
        return [name for name, process in self.processes if process.poll() is not None]

    # --- checks --------------------------------------------------------------------------------

    def _redis_answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.redis_url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            return False

    def _web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/health/", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    def _workers_answering(self) -> int:
        from netboard.celery import app

        return len(app.control.ping(timeout=1.0) or [])

    def deadlocks(self) -> int:
        """PostgreSQL's count of deadlocks detected in this database (pg_stat_database).

        Backends report their counters when they go idle (at most once a second) or exit, so
        read it after the processes have stopped, or after a pause, for the final figure."""
        import psycopg

        with psycopg.connect(_libpq(self.database_url), autocommit=True) as conn:
            row = conn.execute(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()
        return int(row[0]) if row else 0

    def statuses(self) -> Counter[str]:
        """The status of every patient's assessment, by apps.scoring.services.status_of."""
        from django.db import connection

        from apps.patients.models import Patient
        from apps.scoring.models import InputVersion, PhenotypeAssessment
        from apps.scoring.services import rules_fingerprint, status_of

        fingerprint = rules_fingerprint()
        versions = {v.patient_id: v for v in InputVersion.objects.all()}
        assessments = {
            a.patient_id: a
            for a in PhenotypeAssessment.objects.only(
                "patient_id", "inputs_version", "rules_fingerprint"
            )
        }
        counts = Counter(
            status_of(versions.get(pk), assessments.get(pk), fingerprint)
            for pk in Patient.objects.values_list("pk", flat=True)
        )
        connection.close()  # nothing held between polls
        return counts

    def wait_fresh(
        self, timeout: float = 30, since: float | None = None
    ) -> tuple[float | None, Counter[str]]:
        """Seconds from ``since`` (a time.monotonic(), default now) until every assessment is
        fresh (None if not within ``timeout``), and the statuses last seen."""
        start = time.monotonic() if since is None else since
        while True:
            counts = self.statuses()
            elapsed = time.monotonic() - start
            if set(counts) <= {"fresh"}:
                return elapsed, counts
            if elapsed > timeout:
                return None, counts
            time.sleep(0.25)

    def log_excerpts(self, limit: int = 10) -> str:
        """The tracebacks of every log (each distinct one once, with its count, library frames
        left out) and its deadlock and serialization-failure lines, to show with a failed run."""
        out: list[str] = []
        for path in sorted(self.logs.glob("*.log")):
            if path.name == "access.log":
                continue
            text = path.read_text(errors="replace")
            counts: Counter[str] = Counter()
            first: dict[str, str] = {}
            for key, block in _tracebacks(text):
                counts[key] += 1
                first.setdefault(key, block)
            conflicts = [
                line
                for line in text.splitlines()
                if re.search(r"deadlock|serialization failure|could not serialize", line, re.I)
                and _STAMP.match(line)
            ]
            if not counts and not conflicts:
                continue
            out.append(f"--- {path.name}")
            for key, count in counts.most_common(limit):
                out.append(f"[traceback seen {count}x in the log]\n{first[key]}")
            if conflicts:
                out.append(f"{len(conflicts)} log line(s) on deadlocks/serialization failures:")
                out.extend(line[:400] for line in conflicts[:limit])
        return "\n".join(out)

    def verdict(self, failures: list[str], success: str) -> int:
        """The end of a run: the server logs' tracebacks and deadlock lines, then FAILED with
        the reasons (exit status 1, logs kept) or OK (0)."""
        excerpts = self.log_excerpts()
        if excerpts:
            print("\nfrom the server logs:\n" + excerpts)
        if failures:
            self.failed = True
            print("\nFAILED: " + "; ".join(failures))
            return 1
        print("\nOK: " + success)
        return 0


def run_main(main: Callable[[], int]) -> None:
    """``sys.exit(main())``, and a plain line for Ctrl-C (the stack has cleaned up by then)."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted: every process stopped, the database dropped")


_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d |\[\d{4}-)")


def _tracebacks(text: str) -> list[tuple[str, str]]:
    """Each traceback of a log (chained ones together) with the log line before it, as
    (a key that equal tracebacks share, the text without library frames)."""
    lines = text.splitlines()
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("Traceback (most recent call last)"):
            i += 1
            continue
        head = lines[i - 1] if i else ""
        end = i + 1
        while end < len(lines) and not _STAMP.match(lines[end]):
            following = lines[end + 1] if end + 1 < len(lines) else ""
            if lines[end].strip() and following.startswith("Traceback (most recent"):
                break  # the plain log line that introduces the next traceback
            end += 1
        if end < len(lines) and end - 1 > i and lines[end].endswith(" " + lines[end - 1]):
            end -= 1  # Django's own plain copy of the next log line (DEBUG=1)
        block = _without_library_frames(lines[i:end])
        key = re.sub(r"\d+", "N", "\n".join(line for line in block if not line.startswith(" ")))
        head = re.sub(r"request_id=\w+", "request_id=…", head)
        found.append((key, "\n".join([head, *block])))
        i = end
    return found


def _without_library_frames(lines: list[str]) -> list[str]:
    out: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith('  File "'):
            skipping = "site-packages" in line or "/lib/python3" in line
            if skipping:
                if out[-1:] != ["  … (library frames)"]:
                    out.append("  … (library frames)")
                continue
        elif skipping and line.startswith("    "):
            continue
        else:
            skipping = False
        out.append(line)
    return out


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)
