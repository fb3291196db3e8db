"""Connect to the database of DATABASE_URL, or say in one line what is wrong and how to fix it
(``make run`` calls this before migrating, instead of a driver traceback)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection


class Command(BaseCommand):
    help = "Check that the database of DATABASE_URL can be reached, with a clear error if not."

    def handle(self, *args: Any, **options: Any) -> None:
        settings = connection.settings_dict
        host, port = settings.get("HOST") or "", settings.get("PORT") or 5432
        where = (
            f"the socket in {host or '/var/run/postgresql'}"
            if host[:1] in ("", "/")
            else f"{host}:{port}"
        )
        name = settings["NAME"]
        try:
            connection.ensure_connection()
        except OperationalError as exc:
            reason = " ".join(str(exc).split()).rstrip(".") or type(exc).__name__
            if f'database "{name}" does not exist' in reason:
                hint = (
                    f"create it (createdb -h {settings.get('HOST') or 'localhost'} "
                    f"-U {settings.get('USER') or 'postgres'} {name}), or leave DATABASE_URL "
                    "unset to use the embedded PostgreSQL"
                )
            else:
                hint = "check DATABASE_URL and that PostgreSQL is running"
            raise CommandError(
                f"Cannot use the database {name!r} at {where}: {reason}"
                f"{'' if reason.endswith('?') else '.'} To fix: {hint}."
            ) from exc
        self.stdout.write(f"Database {name!r} at {where}: reachable.")
