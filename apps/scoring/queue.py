"""Queueing recomputes: after a write (``request_recompute``), for every stale patient (the
sweeper, ``sweep_stale``) and for a whole cohort (``regrade``, after a rules or thresholds
change). See ``apps.scoring.services`` for the flow.

Tasks are looked up by name in the Celery app (``scoring.recompute_patient``,
``scoring.regrade_chunk``; registered when the app is ready, ``ScoringConfig.ready``), so this
module imports no task module: ``apps.scoring.tasks`` imports it. Without a broker (no
CELERY_BROKER_URL, Celery's eager mode) a task runs in the calling process.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.outages import warn_now_and_then
from apps.scoring.models import InputVersion
from apps.scoring.services import (
    pending_window,
    rules_fingerprint,
)

logger = logging.getLogger(__name__)

RECOMPUTE_TASK = "scoring.recompute_patient"
CHUNK_TASK = "scoring.regrade_chunk"


def enqueue_recompute(patient_id: int) -> bool:
    """Mark the patient queued and send the task, unless a recompute is already queued.

    Returns whether a task was sent. Never raises for a broker that is down: the write that
    asked for the recompute is committed, and the sweeper will find the patient stale.
    """
    if _broker_known_down():
        return False  # left stale for the sweeper: no mark to set and take back
    cutoff = timezone.now() - pending_window()
    marked = (
        InputVersion.objects.filter(patient_id=patient_id)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff))
        .update(queued_at=timezone.now())
    )
    return bool(marked) and _send([patient_id]) == 1


# After a failure to reach the broker, this process does not try again for this many seconds:
# writes meanwhile leave their patients stale for the sweeper instead of each waiting for the
# publish retries (about 0.2 s) of a broker that is down.
BROKER_RETRY_SECONDS = 5.0
_broker_unavailable_until = 0.0


def _broker_known_down() -> bool:
    """Whether publishing failed in this process less than BROKER_RETRY_SECONDS ago."""
    return time.monotonic() < _broker_unavailable_until


def _send(patient_ids: list[int], chunk_size: int = 1) -> int:
    """Send the tasks of patients already marked queued: one per patient, or with
    ``chunk_size`` > 1 (a sweep, a regrade) ``scoring.regrade_chunk`` tasks of up to that many
    patients (``_tasks``). At the first failure (the broker is down), take back the marks of the
    patients not sent, so they show ``stale`` and the sweeper picks them up. Returns the number
    of patients sent."""
    global _broker_unavailable_until
    app = current_app
    eager = app.conf.task_always_eager
    if _broker_known_down():
        InputVersion.objects.filter(patient_id__in=patient_ids).update(queued_at=None)
        return 0
    tasks = _tasks(patient_ids, chunk_size)
    sent = 0
    # Many at once (the sweeper): one producer, one broker connection for all of them.
    shared = len(tasks) > 1 and not eager
    with app.producer_or_acquire() if shared else contextlib.nullcontext() as producer:
        for index, ids in enumerate(tasks):
            try:
                if len(ids) == 1:
                    app.tasks[RECOMPUTE_TASK].apply_async((ids[0],), producer=producer)
                else:
                    app.tasks[CHUNK_TASK].apply_async((ids,), producer=producer)
            except Exception as exc:
                # kombu raises several types for an unreachable broker; none may fail the
                # request. (Without a broker the work runs here; its errors land here too.)
                unsent = [pid for rest in tasks[index:] for pid in rest]
                InputVersion.objects.filter(patient_id__in=unsent).update(queued_at=None)
                if eager:
                    logger.warning(
                        "The recompute of patient id %s failed; left stale for the sweeper.",
                        ids[0],
                        exc_info=True,
                    )
                else:
                    _broker_unavailable_until = time.monotonic() + BROKER_RETRY_SECONDS
                    warn_now_and_then(
                        logger,
                        "broker-unavailable",
                        "broker unavailable (%s): recomputes are left stale for the sweeper "
                        "(first: patient id %s)",
                        type(exc).__name__,
                        ids[0],
                    )
                return sent
            sent += len(ids)
    return sent


# A sweep or regrade spreads its patients over at least this many tasks (when it has that many
# patients), so that a few stale patients are computed by several workers at once rather than
# one after the other in a single chunk; beyond it, chunks grow up to NETBOARD_REGRADE_CHUNK.
SPREAD_TASKS = 8


def _tasks(patient_ids: list[int], chunk_size: int) -> list[list[int]]:
    """The patients of each task, in the given order: at most ``chunk_size`` per task, sizes
    differing by one at most, over at least ``SPREAD_TASKS`` tasks when there are enough
    patients (a task of one patient is that patient's own ``recompute_patient``)."""
    count = len(patient_ids)
    if chunk_size <= 1 or count <= 1:
        return [[pid] for pid in patient_ids]
    tasks = max(-(-count // chunk_size), min(count, SPREAD_TASKS))
    size, extra = divmod(count, tasks)
    out, start = [], 0
    for n in range(tasks):
        end = start + size + (1 if n < extra else 0)
        out.append(patient_ids[start:end])
        start = end
    return out


# A key the sweeper keeps in the broker's Redis. Redis loses it with the queued messages when it
# restarts without persistence (or is flushed): then no queued mark has its message any more.
BROKER_SENTINEL = "netboard:sweeper:broker-sentinel"


def _broker_lost_its_messages() -> bool:
    """Whether the broker lost every message since the last sweep: its sentinel key is gone
    (set again now). False when the broker cannot be asked, or there is none."""
    if not settings.CELERY_BROKER_URL:
        return False
    import redis

    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=1, socket_timeout=1
        )
        return bool(client.set(BROKER_SENTINEL, timezone.now().isoformat(), nx=True))
    except redis.RedisError:
        return False


def request_recompute(*patient_ids: int | None) -> None:
    """Queue a recompute of these patients once the current transaction commits (at once
    outside one). Every service that changes a patient's inputs calls it. A rolled-back
    transaction queues nothing; a patient asked for twice in one transaction is sent once, as
    ``enqueue_recompute`` marks it queued with a conditional UPDATE."""
    for patient_id in sorted({pid for pid in patient_ids if pid is not None}):
        transaction.on_commit(functools.partial(enqueue_recompute, patient_id), robust=True)


def sweep_stale(limit: int = 10_000, chunk_size: int | None = None) -> int:
    """Queue every patient whose assessment is not fresh and that has no recent queued mark (at
    most ``limit``, the oldest changes first).

    Marks them all in one statement (skipping rows a worker holds right now), then sends their
    tasks: chunks of up to ``chunk_size`` patients (default NETBOARD_REGRADE_CHUNK), a batch
    recompute each (``assessments_recompute``). Also repairs a missing version row (a patient
    written while the triggers were disabled). When the broker lost its messages (a Redis
    restarted without persistence), every queued mark is lost with them and is not waited for.
    Returns the number of patients sent.
    """
    now = timezone.now()
    lost = _broker_lost_its_messages()
    if lost:
        logger.warning(
            "the broker holds no queued recompute (first sweep, or its Redis restarted or was"
            " flushed): every queued patient is queued again"
        )
    _repair_version_rows()
    marked = _mark_stale(now if lost else now - pending_window(), limit)
    return _send(marked, chunk_size or settings.NETBOARD_REGRADE_CHUNK)


def regrade(chunk_size: int | None = None, batch: int = 10_000) -> tuple[int, int]:
    """Queue every patient whose assessment is not fresh, however many (``manage.py regrade``,
    after a change of the rules or thresholds): sweeps of ``batch`` patients until none is left,
    each sent as chunk tasks. Returns (patients sent, patients left stale: the broker failed)."""
    chunk_size = chunk_size or settings.NETBOARD_REGRADE_CHUNK
    lost = _broker_lost_its_messages()
    _repair_version_rows()
    sent = 0
    while True:
        now = timezone.now()
        # Only the first round may take over lost marks: later rounds would take this one's.
        marked = _mark_stale(now if lost and not sent else now - pending_window(), batch)
        if not marked:
            return sent, 0
        done = _send(marked, chunk_size)
        sent += done
        if done < len(marked):
            return sent, len(marked) - done


def _repair_version_rows() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scoring_inputversion (patient_id, version, changed_at) "
            "SELECT p.id, 1, now() FROM patients_patient p "
            "WHERE NOT EXISTS (SELECT 1 FROM scoring_inputversion v WHERE v.patient_id = p.id) "
            "ON CONFLICT (patient_id) DO NOTHING"
        )


def _mark_stale(queued_before: datetime, limit: int) -> list[int]:
    """Mark queued, in one statement, up to ``limit`` patients that are not fresh and have no
    queued mark since ``queued_before``; their ids in id order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scoring_inputversion SET queued_at = now() WHERE patient_id IN ("
            " SELECT v.patient_id FROM scoring_inputversion v"
            " LEFT JOIN scoring_phenotypeassessment a ON a.patient_id = v.patient_id"
            " WHERE (a.patient_id IS NULL OR a.inputs_version <> v.version"
            "        OR a.rules_fingerprint <> %s)"
            " AND (v.queued_at IS NULL OR v.queued_at < %s)"
            " ORDER BY v.changed_at LIMIT %s FOR UPDATE OF v SKIP LOCKED"
            ") RETURNING patient_id",
            [rules_fingerprint(), queued_before, limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def send_skipped(outcomes: dict[int, str]) -> None:
    """After a chunk: its patients skipped because a write of them was in progress keep their
    queued mark (from the sweep that sent the chunk) and get their own task now, which waits for
    that write."""
    skipped = [pid for pid, outcome in sorted(outcomes.items()) if outcome == "skipped"]
    if skipped:
        _send(skipped)
