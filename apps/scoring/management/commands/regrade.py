"""Recompute every patient whose assessment is not fresh, in chunks (after a change of the rules
or of NETBOARD_RULES): the whole cohort is queued at once as ``scoring.regrade_chunk`` tasks of
NETBOARD_REGRADE_CHUNK patients, each loaded, computed and stored in bulk by a worker.

Beat's sweeper does the same, at most 10,000 patients a sweep; this command queues them all now.
Without a broker the chunks run here, in this process.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.scoring.queue import regrade


class Command(BaseCommand):
    help = "Queue every patient whose assessment is stale, in chunks recomputed in bulk."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--chunk",
            type=int,
            default=settings.NETBOARD_REGRADE_CHUNK,
            help="patients per task (default NETBOARD_REGRADE_CHUNK: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        chunk = options["chunk"]
        if chunk < 1:
            raise CommandError("--chunk must be at least 1.")
        sent, left = regrade(chunk_size=chunk)
        self.stdout.write(f"{sent} patient(s) queued for recompute in chunks of up to {chunk}.")
        if left:
            raise CommandError(f"the broker failed: {left} patient(s) left stale for the sweeper.")
