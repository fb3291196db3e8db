"""Computing, storing and queueing phenotype assessments (issue 3).

The flow for one patient:

1. A write to an input commits; a database trigger has raised the patient's ``InputVersion``
   in that same transaction (migration 0002).
2. ``request_recompute`` (called by the signal receivers, and by any service that writes in
   bulk) queues the patient once per transaction, after commit: ``enqueue_recompute`` marks the
   patient queued and sends ``scoring.recompute_patient(patient_id)``. If the broker is down the
   mark is taken back and the patient stays ``stale`` for the sweeper.
3. A worker runs ``recompute_phenotype``: it locks the patient's version row (the claim: two
   workers never compute one patient at once, and no write to the patient can commit while the
   inputs are read, so the result is exactly that of the version it records), reads the inputs,
   and stores a new result only if the inputs digest or the rules changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from apps.core.outages import warn_now_and_then
from apps.scoring.models import InputVersion, PhenotypeAssessment, latest_timepoint
from apps.scoring.rules import (
    RULES_VERSION,
    PatientIn,
    Thresholds,
    assess_phenotype,
    score_study,
)
from apps.scoring.rules.response import assess_response
from apps.scoring.selectors import patient_rules_input, rules_thresholds

logger = logging.getLogger(__name__)

FRESH, PENDING, STALE = "fresh", "pending", "stale"

# The shape of what a worker stores beside the rules' results (3: the per-study ``uptake`` and the
# ``latest_timepoint``).
# Raising it makes every stored assessment stale, as a rules change does, so all are stored
# again in the new shape; the API's ``rules_version`` does not change.
STORED_FORMAT = 3


def rules_fingerprint(thresholds: Thresholds | None = None) -> str:
    """Identifies the rules in force: ``RULES_VERSION`` and the site's thresholds. A change of
    either makes every stored assessment stale."""
    thresholds = thresholds or rules_thresholds()
    payload = json.dumps(
        {
            "rules_version": RULES_VERSION,
            "thresholds": thresholds.as_dict(),
            "stored_format": STORED_FORMAT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def inputs_digest(patient: PatientIn, fingerprint: str) -> str:
    """SHA-256 of everything the rules read for one patient, and of the rules in force.

    The inputs are frozen dataclasses of str, int, bool, Decimal and date, in the fixed order of
    the selector's queries, so their ``repr`` is a canonical text of them.
    """
    return hashlib.sha256(f"{fingerprint}\n{patient!r}".encode()).hexdigest()


def pending_window() -> timedelta:
    """How long a queued mark means ``pending``: a message is delivered, or redelivered after a
    lost worker, within the visibility timeout plus one task run. After that the mark is
    considered lost and the sweeper queues the patient again."""
    return timedelta(seconds=settings.CELERY_VISIBILITY_TIMEOUT + settings.CELERY_TASK_TIME_LIMIT)


def status_of(
    version: InputVersion | None,
    assessment: PhenotypeAssessment | None,
    fingerprint: str,
    now: datetime | None = None,
) -> str:
    """``fresh`` when the stored result was computed from the current inputs under the current
    rules; ``pending`` when a recompute is queued (and the mark is recent); ``stale`` otherwise."""
    if (
        version is not None
        and assessment is not None
        and assessment.inputs_version == version.version
        and assessment.rules_fingerprint == fingerprint
    ):
        return FRESH
    now = now or timezone.now()
    if version is not None and version.queued_at and version.queued_at > now - pending_window():
        return PENDING
    return STALE


# --- Computing --------------------------------------------------------------------------------


def uptake_by_study(patient: PatientIn, thresholds: Thresholds) -> dict[str, Any]:
    """What ``PhenotypeAssessment.uptake`` stores: the §2 uptake grade of every observation, by
    study id and lesion id (strings, as JSON keys are)."""
    return {
        str(study.id): {
            str(lesion): {
                "score": uptake.score,
                "source": uptake.source,
                "computed": uptake.computed,
                "flags": list(uptake.flags),
            }
            for lesion, uptake in score_study(study, thresholds).items()
        }
        for study in patient.studies
        if study.observations
    }


def recompute_phenotype(patient_id: int) -> str:
    """Compute and store the phenotype of one patient; idempotent.

    Returns what happened: ``written`` (a new result), ``confirmed`` (same inputs and rules as
    the stored result: only the version it is valid for moves), ``unchanged`` (nothing to do) or
    ``gone`` (no such patient).
    """
    thresholds = rules_thresholds()
    fingerprint = rules_fingerprint(thresholds)
    with transaction.atomic(), connection.cursor() as cursor:
        # A stored result can always be computed again from the inputs: if the server crashes
        # before this commit reaches the disk, the patient is simply stale again. Not waiting
        # for that flush halves the time of a recompute.
        cursor.execute("SET LOCAL synchronous_commit = off")
        # The claim. Updating the version row locks it, which also holds back any write to this
        # patient's inputs (their trigger updates this row) until the result is stored: the
        # inputs read below are exactly those of `version`. Clearing the queued mark here means
        # a write that commits while this runs queues a new recompute.
        # Lock order (apps/patients/locks.py): the patient row first, FOR KEY SHARE, as the
        # result's foreign-key check will at COMMIT; then the version row; then the result.
        cursor.execute(
            "WITH patient AS (SELECT id FROM patients_patient WHERE id = %s FOR KEY SHARE),"
            " claim AS (UPDATE scoring_inputversion SET queued_at = NULL"
            " WHERE patient_id = (SELECT id FROM patient) RETURNING version)"
            " SELECT claim.version, a.inputs_version, a.rules_fingerprint, a.inputs_digest"
            " FROM claim LEFT JOIN scoring_phenotypeassessment a ON a.patient_id = %s",
            [patient_id, patient_id],
        )
        row = cursor.fetchone()
        if row is None:
            # No version row: a patient written while the triggers were off, or none at all.
            cursor.execute(
                "INSERT INTO scoring_inputversion (patient_id, version, changed_at) "
                "SELECT id, 1, now() FROM patients_patient WHERE id = %s "
                "ON CONFLICT (patient_id) DO UPDATE SET queued_at = NULL RETURNING version",
                [patient_id],
            )
            created = cursor.fetchone()
            if created is None:
                return "gone"
            row = (created[0], None, None, None)
        version, stored_version, stored_fingerprint, stored_digest = row
        if stored_version == version and stored_fingerprint == fingerprint:
            return "unchanged"
        patient = patient_rules_input(patient_id)
        digest = inputs_digest(patient, fingerprint)
        if stored_digest == digest:
            cursor.execute(
                "UPDATE scoring_phenotypeassessment SET inputs_version = %s WHERE patient_id = %s",
                [version, patient_id],
            )
            return "confirmed"
        phenotype = assess_phenotype(patient, thresholds)
        cursor.execute(
            "INSERT INTO scoring_phenotypeassessment (patient_id, result, response, uptake, "
            "latest_timepoint, rules_version, rules_fingerprint, inputs_digest, inputs_version, "
            "computed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (patient_id) DO UPDATE SET "
            "result = EXCLUDED.result, response = EXCLUDED.response, uptake = EXCLUDED.uptake, "
            "latest_timepoint = EXCLUDED.latest_timepoint, "
            "rules_version = EXCLUDED.rules_version, "
            "rules_fingerprint = EXCLUDED.rules_fingerprint, "
            "inputs_digest = EXCLUDED.inputs_digest, inputs_version = EXCLUDED.inputs_version, "
            "computed_at = EXCLUDED.computed_at",
            [
                patient_id,
                Jsonb(phenotype),
                Jsonb(assess_response(patient, thresholds, phenotype)),
                Jsonb(uptake_by_study(patient, thresholds)),
                _jsonb_or_null(latest_timepoint(phenotype)),
                RULES_VERSION,
                fingerprint,
                digest,
                version,
                timezone.now(),
            ],
        )
        return "written"


def _jsonb_or_null(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


# --- Queueing ---------------------------------------------------------------------------------


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


def _send(patient_ids: list[int]) -> int:
    """Send one task per patient already marked queued. At the first failure (the broker is
    down), take back the marks of the patients not sent, so they show ``stale`` and the sweeper
    picks them up. Returns the number sent."""
    global _broker_unavailable_until
    from apps.scoring.tasks import recompute_patient

    app = recompute_patient.app
    eager = app.conf.task_always_eager
    if _broker_known_down():
        InputVersion.objects.filter(patient_id__in=patient_ids).update(queued_at=None)
        return 0
    # Many at once (the sweeper): one producer, one broker connection for all of them.
    shared = len(patient_ids) > 1 and not eager
    with app.producer_or_acquire() if shared else contextlib.nullcontext() as producer:
        for index, patient_id in enumerate(patient_ids):
            try:
                recompute_patient.apply_async((patient_id,), producer=producer)
            except Exception as exc:
                # kombu raises several types for an unreachable broker; none may fail the
                # request. (Without a broker the task runs here; its errors land here too.)
                InputVersion.objects.filter(patient_id__in=patient_ids[index:]).update(
                    queued_at=None
                )
                if eager:
                    logger.warning(
                        "The recompute of patient id %s failed; left stale for the sweeper.",
                        patient_id,
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
                        patient_id,
                    )
                return index
    return len(patient_ids)


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


class _PendingRecomputes:
    """The patients to queue when the current transaction commits (one task per patient)."""

    def __init__(self) -> None:
        self.patient_ids: set[int] = set()
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        for patient_id in sorted(self.patient_ids):
            enqueue_recompute(patient_id)


def request_recompute(*patient_ids: int | None) -> None:
    """Queue a recompute of these patients once the current transaction commits.

    Called for every write that changes a patient's inputs. Within one transaction, all calls
    share one after-commit callback, so saving 40 observations queues the patient once. A
    rolled-back transaction queues nothing.
    """
    ids = {pid for pid in patient_ids if pid is not None}
    if not ids:
        return
    pending = None
    if connection.in_atomic_block:
        # Django drops the callbacks of a rolled-back transaction or savepoint from this list,
        # so finding ours here means it will still run.
        for _savepoints, callback, _robust in connection.run_on_commit:
            if isinstance(callback, _PendingRecomputes) and not callback.ran:
                pending = callback
                break
    if pending is None:
        pending = _PendingRecomputes()
        pending.patient_ids |= ids
        transaction.on_commit(pending, robust=True)
    else:
        pending.patient_ids |= ids


def sweep_stale(limit: int = 10_000) -> int:
    """Queue every patient whose assessment is not fresh and that has no recent queued mark.

    Marks them all in one statement (skipping rows a worker holds right now), then sends the
    tasks. Also repairs a missing version row (a patient written while the triggers were
    disabled). When the broker lost its messages (a Redis restarted without persistence), every
    queued mark is lost with them and is not waited for. Returns the number of tasks sent.
    """
    now = timezone.now()
    lost = _broker_lost_its_messages()
    if lost:
        logger.warning(
            "the broker holds no queued recompute (first sweep, or its Redis restarted or was"
            " flushed): every queued patient is queued again"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scoring_inputversion (patient_id, version, changed_at) "
            "SELECT p.id, 1, now() FROM patients_patient p "
            "WHERE NOT EXISTS (SELECT 1 FROM scoring_inputversion v WHERE v.patient_id = p.id) "
            "ON CONFLICT (patient_id) DO NOTHING"
        )
        cursor.execute(
            "UPDATE scoring_inputversion SET queued_at = now() WHERE patient_id IN ("
            " SELECT v.patient_id FROM scoring_inputversion v"
            " LEFT JOIN scoring_phenotypeassessment a ON a.patient_id = v.patient_id"
            " WHERE (a.patient_id IS NULL OR a.inputs_version <> v.version"
            "        OR a.rules_fingerprint <> %s)"
            " AND (v.queued_at IS NULL OR v.queued_at < %s)"
            " ORDER BY v.changed_at LIMIT %s FOR UPDATE OF v SKIP LOCKED"
            ") RETURNING patient_id",
            [rules_fingerprint(), now if lost else now - pending_window(), limit],
        )
        marked = sorted(row[0] for row in cursor.fetchall())
    return _send(marked)


# --- Reading ----------------------------------------------------------------------------------


def phenotype_body(patient_id: int) -> dict[str, Any]:
    """The body of API.md ``GET patients/{id}/phenotype/``: the stored result (possibly not
    fresh, and then saying so) with ``patient``, ``status`` and ``computed_at``. Before the first
    computation the timepoints list is empty and the status is ``pending`` or ``stale``."""
    return assessment_bodies(patient_id, ("result",))["result"]


# The bodies before the first computation: every list empty.
EMPTY_PHENOTYPE: dict[str, Any] = {"rules_version": None, "thresholds": None, "timepoints": []}
EMPTY_RESPONSE: dict[str, Any] = {
    "rules_version": None,
    "thresholds": None,
    "baselines": [],
    "recist": [],
    "percist": [],
    "sstr": [],
    "dual_tracer": [],
    "dual_tracer_alerts": [],
    "theranostic": [],
    "biomarkers": [],
    "notes": [],
}


_EMPTY = {"result": EMPTY_PHENOTYPE, "response": EMPTY_RESPONSE}


def response_body(patient_id: int) -> dict[str, Any]:
    """The body of API.md ``GET patients/{id}/response/`` (DOMAIN.md §7-§9), with the same
    ``status`` as the phenotype: both are computed together from the same inputs."""
    return assessment_bodies(patient_id, ("response",))["response"]


def assessment_bodies(
    patient_id: int, fields: tuple[str, ...] = ("result", "response")
) -> dict[str, dict[str, Any]]:
    """The phenotype (``result``) and response bodies of one patient from one read of the
    stored assessment, each with ``patient``, ``status`` and ``computed_at``. With
    ``fields=()`` only that header is read (the status line polls it): no result JSON."""
    version = InputVersion.objects.filter(patient_id=patient_id).first()
    assessments = PhenotypeAssessment.objects.filter(patient_id=patient_id)
    unread = {"result", "response", "uptake", "latest_timepoint"} - set(fields)
    assessment = assessments.defer(*sorted(unread)).first()
    header: dict[str, Any] = {
        "patient": patient_id,
        "status": status_of(version, assessment, rules_fingerprint()),
        "computed_at": assessment.computed_at.isoformat() if assessment else None,
        "rules_version": assessment.rules_version if assessment else None,
    }
    bodies = {"header": header}
    for field in fields:
        stored = getattr(assessment, field) if assessment is not None else None
        # A result stored before the response existed has an empty one: not yet computed.
        bodies[field] = {**header, **(stored or _EMPTY[field])}
    return bodies
