"""Queue a recompute of every patient whose assessment is not fresh (what beat does each minute).

Without a broker the recomputes run here, in this process: `make run` calls it at start so that a
laptop without Celery beat never shows stale results after a rules or threshold change.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.scoring.queue import sweep_stale


class Command(BaseCommand):
    help = "Queue a recompute of every patient whose assessment is stale."

    def handle(self, *args: Any, **options: Any) -> None:
        queued = sweep_stale()
        self.stdout.write(f"{queued} patient(s) queued for recompute.")
