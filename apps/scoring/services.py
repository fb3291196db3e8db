"""Computing and storing phenotype assessments (queueing them: ``apps.scoring.queue``).

The flow for one patient:

1. A write to an input commits; a database trigger has raised the patient's ``InputVersion``
   in that same transaction (migration 0002).
2. ``apps.scoring.queue.request_recompute`` (called by every write service) queues the patient
   after commit: ``enqueue_recompute`` marks the patient queued and sends
   ``scoring.recompute_patient(patient_id)``. If the broker is down the mark is taken back and
   the patient stays ``stale`` for the sweeper.
3. A worker runs ``recompute_phenotype``: it locks the patient's version row (the claim: two
   workers never compute one patient at once, and no write to the patient can commit while the
   inputs are read, so the result is exactly that of the version it records), reads the inputs,
   and stores a new result only if the inputs digest or the rules changed.

Many patients at once (a regrade: the rules or thresholds changed, so every result is stale):
the sweeper and ``manage.py regrade`` send ``scoring.regrade_chunk`` tasks of up to
NETBOARD_REGRADE_CHUNK ids, and ``assessments_recompute`` claims, reads and stores a chunk with a
fixed number of queries. Both paths compute a patient's stored fields with ``stored_fields`` and
store them with ``_store``: they cannot disagree.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Json, Jsonb

from apps.scoring.models import (
    InputVersion,
    PhenotypeAssessment,
    assessment_summary,
    latest_grades,
)
from apps.scoring.rules import (
    RULES_VERSION,
    PatientIn,
    Thresholds,
    assess_phenotype,
)
from apps.scoring.rules.response import assess_response
from apps.scoring.rules.uptake import ScoredStudy, score_lesions
from apps.scoring.selectors import patient_rules_input, patients_rules_input, rules_thresholds

logger = logging.getLogger(__name__)

FRESH, PENDING, STALE = "fresh", "pending", "stale"

# The shape of what a worker stores beside the rules' results (2: the per-study ``uptake`` and the
# grades of the latest timepoint; 3: ``preliminary`` and ``draft_studies`` in both bodies).
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


def scored_studies(patient: PatientIn, thresholds: Thresholds) -> dict[int, ScoredStudy]:
    """Every study of the patient that has observations, scored once (§2, ``score_lesions``),
    by study id: what the phenotype grades (``assess_phenotype``) and ``uptake`` stores."""
    return {
        study.id: score_lesions(study, thresholds)
        for study in patient.studies
        if study.observations
    }


def uptake_by_study(scored: dict[int, ScoredStudy]) -> dict[str, Any]:
    """What ``PhenotypeAssessment.uptake`` stores: the §2 uptake grade of every observation, by
    study id and lesion id (strings, as JSON keys are), from ``scored_studies``."""
    return {
        str(study): {
            str(lesion): {
                "score": uptake.score,
                "source": uptake.source,
                "computed": uptake.computed,
                "flags": list(uptake.flags),
            }
            for lesion, uptake in scores.uptakes.items()
        }
        for study, scores in scored.items()
    }


def preliminary_of(patient: PatientIn) -> dict[str, Any]:
    """``preliminary`` and ``draft_studies`` (API.md): whether any study behind the result is a
    read not finished yet (``draft``), and which, in date order. Every study of the patient is
    behind its result (the timepoints, the response over time and the notes read them all)."""
    drafts = [study.id for study in patient.studies if study.draft]
    return {"preliminary": bool(drafts), "draft_studies": drafts}


def stored_fields(
    patient: PatientIn, thresholds: Thresholds, fingerprint: str, digest: str
) -> dict[str, Any]:
    """Everything ``PhenotypeAssessment`` stores for one patient but its ``inputs_version`` and
    ``computed_at``: the one computation of both the single recompute and a regrade's chunk, so
    that the two can never store different rows for the same inputs."""
    reads = preliminary_of(patient)
    scored = scored_studies(patient, thresholds)
    phenotype = {**assess_phenotype(patient, thresholds, scored), **reads}
    response = {**assess_response(patient, thresholds, phenotype), **reads}
    return {
        "phenotype": phenotype,
        "response": response,
        "uptake": uptake_by_study(scored),
        "latest_timepoint": latest_grades(phenotype),
        "summary": assessment_summary(phenotype, response),
        "rules_version": RULES_VERSION,
        "rules_fingerprint": fingerprint,
        "inputs_digest": digest,
    }


# One upsert for many results: one row of VALUES per result (each JSON a parameter of its own,
# parsed by the server one by one), in patient id order, so that the assessments' place in the
# lock order (apps/patients/locks.py) is the same for every chunk. (Not bulk_create: on
# PostgreSQL it sends arrays, which psycopg escapes element by element in Python: 5x slower.)
_STORE_SQL = (
    "INSERT INTO scoring_phenotypeassessment (patient_id, phenotype, response, uptake, "
    "latest_timepoint, summary, rules_version, rules_fingerprint, inputs_digest, "
    "inputs_version, computed_at) VALUES {rows} "
    "ON CONFLICT (patient_id) DO UPDATE SET "
    "phenotype = EXCLUDED.phenotype, response = EXCLUDED.response, uptake = EXCLUDED.uptake, "
    "latest_timepoint = EXCLUDED.latest_timepoint, summary = EXCLUDED.summary, "
    "rules_version = EXCLUDED.rules_version, "
    "rules_fingerprint = EXCLUDED.rules_fingerprint, "
    "inputs_digest = EXCLUDED.inputs_digest, inputs_version = EXCLUDED.inputs_version, "
    "computed_at = EXCLUDED.computed_at"
)
_STORE_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


def _json(value: Any) -> Jsonb:
    """A small result (``summary``, ``latest_timepoint``) as a ``jsonb`` parameter, written by
    orjson: the standard library's encoder took 0.72 of a regrade's 3.9 ms per patient, orjson
    0.10 (bench/bench_recompute.py). The large ones are ``json`` (``_result_json``)."""
    return Jsonb(value, dumps=_orjson_dumps)


def _result_json(value: Any) -> Json:
    """A large result (``phenotype``, ``response``, ``uptake``) as a ``json`` parameter, as its
    column is (apps/scoring/fields.py), written by orjson."""
    return Json(value, dumps=_orjson_dumps)


def _orjson_dumps(value: Any) -> bytes:
    # Integer keys as strings, as the standard library's encoder writes them.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _store(cursor: Any, results: list[tuple[int, int, dict[str, Any]]]) -> None:
    """Upsert ``(patient_id, inputs_version, stored_fields)`` results in one statement."""
    if not results:
        return
    now = timezone.now()
    params: list[Any] = []
    for patient_id, version, fields in sorted(results, key=lambda result: result[0]):
        latest = fields["latest_timepoint"]  # SQL NULL before the first timepoint
        params += [
            patient_id,
            _result_json(fields["phenotype"]),
            _result_json(fields["response"]),
            _result_json(fields["uptake"]),
            None if latest is None else _json(latest),
            _json(fields["summary"]),
            fields["rules_version"],
            fields["rules_fingerprint"],
            fields["inputs_digest"],
            version,
            now,
        ]
    cursor.execute(_STORE_SQL.format(rows=", ".join([_STORE_ROW] * len(results))), params)


def _confirm(cursor: Any, confirmed: list[tuple[int, int]]) -> None:
    """Move the stored results of these ``(patient_id, version)`` to the version they were just
    found valid for (same inputs digest), in one statement."""
    if not confirmed:
        return
    confirmed = sorted(confirmed)
    cursor.execute(
        "UPDATE scoring_phenotypeassessment a SET inputs_version = c.version"
        " FROM unnest(%s::bigint[], %s::bigint[]) AS c(patient_id, version)"
        " WHERE a.patient_id = c.patient_id",
        [[patient_id for patient_id, _ in confirmed], [version for _, version in confirmed]],
    )


# For the transaction that stores results: no wait for the commit's flush (see
# recompute_phenotype), and the ~50 kB of JSON per patient compressed with lz4 rather than pglz
# (a third of the time of storing it), where the server has lz4. One statement.
_STORE_SETTINGS_SQL = (
    "SELECT set_config('synchronous_commit', 'off', true), "
    "set_config('default_toast_compression', "
    "CASE WHEN 'lz4' = ANY(enumvals) THEN 'lz4' ELSE 'pglz' END, true) "
    "FROM pg_settings WHERE name = 'default_toast_compression'"
)


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
        # for that flush halves the time of a recompute. (And lz4 for the results' TOAST.)
        cursor.execute(_STORE_SETTINGS_SQL)
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
            _confirm(cursor, [(patient_id, version)])
            return "confirmed"
        _store(
            cursor, [(patient_id, version, stored_fields(patient, thresholds, fingerprint, digest))]
        )
        return "written"


# The claim of a regrade's chunk, in one statement: the patient rows FOR KEY SHARE in id order,
# then their version rows in id order (apps/patients/locks.py), each SKIP LOCKED: a chunk never
# waits for a write in progress (nor can it deadlock with a write of several patients); the
# patients it skips are queued on their own (``assessments_recompute``). Per patient asked for:
# whether its row was taken, the version claimed (NULL if not), the stored result's version,
# fingerprint and digest, and whether it has a version row and exists at all.
_CLAIM_CHUNK_SQL = """
WITH patient AS (
  SELECT id FROM patients_patient WHERE id = ANY(%(ids)s::bigint[])
  ORDER BY id FOR KEY SHARE SKIP LOCKED
), held AS (
  SELECT patient_id FROM scoring_inputversion WHERE patient_id IN (SELECT id FROM patient)
  ORDER BY patient_id FOR NO KEY UPDATE SKIP LOCKED
), claim AS (
  UPDATE scoring_inputversion v SET queued_at = NULL FROM held
  WHERE v.patient_id = held.patient_id RETURNING v.patient_id, v.version
)
SELECT i.id, p.id IS NOT NULL, c.version, a.inputs_version, a.rules_fingerprint, a.inputs_digest,
  EXISTS (SELECT 1 FROM scoring_inputversion x WHERE x.patient_id = i.id),
  EXISTS (SELECT 1 FROM patients_patient x WHERE x.id = i.id)
FROM unnest(%(ids)s::bigint[]) AS i(id)
LEFT JOIN patient p ON p.id = i.id
LEFT JOIN claim c ON c.patient_id = i.id
LEFT JOIN scoring_phenotypeassessment a ON a.patient_id = c.patient_id
ORDER BY i.id
"""


def assessments_recompute(*, patient_ids: Iterable[int]) -> dict[int, str]:
    """Compute and store the phenotypes of many patients (a regrade's chunk); idempotent.

    The same results, stored fields and freshness rules as ``recompute_phenotype`` for each
    patient, with a fixed number of queries whatever the chunk's size: one claim, one read of
    every claimed patient's inputs, one statement storing every new result and one confirming
    the unchanged ones (and one creating missing version rows, when some are missing).
    Returns each patient's outcome: ``written``, ``confirmed``, ``unchanged``, ``gone``, or
    ``skipped`` (a write of the patient was in progress: the caller, ``apps.scoring.queue``,
    sends it its own task, which waits for that write).
    """
    ids = sorted({int(patient_id) for patient_id in patient_ids})
    if not ids:
        return {}
    thresholds = rules_thresholds()
    fingerprint = rules_fingerprint(thresholds)
    outcomes: dict[int, str] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_STORE_SETTINGS_SQL)  # as in recompute_phenotype
        cursor.execute(_CLAIM_CHUNK_SQL, {"ids": ids})
        claimed: dict[int, tuple[int, Any, Any, Any]] = {}
        missing: list[int] = []
        for pid, locked, version, *stored, has_version, exists in cursor.fetchall():
            if version is not None:
                claimed[pid] = (version, *stored)
            elif not exists:
                outcomes[pid] = "gone"
            elif locked and not has_version:
                missing.append(pid)
            else:
                outcomes[pid] = "skipped"
        if missing:
            # A patient written while the triggers were off: as recompute_phenotype does. One
            # created meanwhile by a trigger is held by that write: skipped.
            cursor.execute(
                "INSERT INTO scoring_inputversion (patient_id, version, changed_at) "
                "SELECT id, 1, now() FROM unnest(%s::bigint[]) AS m(id) "
                "ON CONFLICT (patient_id) DO NOTHING RETURNING patient_id, version",
                [missing],
            )
            for pid, version in cursor.fetchall():
                claimed[pid] = (version, None, None, None)
            outcomes.update((pid, "skipped") for pid in missing if pid not in claimed)
        todo = []
        for pid, (version, stored_version, stored_fingerprint, _digest) in claimed.items():
            if stored_version == version and stored_fingerprint == fingerprint:
                outcomes[pid] = "unchanged"
            else:
                todo.append(pid)
        inputs = patients_rules_input(todo)
        confirmed: list[tuple[int, int]] = []
        results: list[tuple[int, int, dict[str, Any]]] = []
        for pid in todo:
            version, _, _, stored_digest = claimed[pid]
            patient = inputs[pid]  # held FOR KEY SHARE: cannot have been deleted
            digest = inputs_digest(patient, fingerprint)
            if stored_digest == digest:
                confirmed.append((pid, version))
                outcomes[pid] = "confirmed"
            else:
                results.append(
                    (pid, version, stored_fields(patient, thresholds, fingerprint, digest))
                )
                outcomes[pid] = "written"
        _confirm(cursor, confirmed)
        _store(cursor, results)
    return outcomes


# --- Reading ----------------------------------------------------------------------------------


def phenotype_body(patient_id: int) -> dict[str, Any]:
    """The body of API.md ``GET patients/{id}/phenotype/``: the stored result (possibly not
    fresh, and then saying so) with ``patient``, ``status`` and ``computed_at``. Before the first
    computation the timepoints list is empty and the status is ``pending`` or ``stale``."""
    return assessment_bodies(patient_id, ("phenotype",))["phenotype"]


# The bodies before the first computation: every list empty.
EMPTY_PHENOTYPE: dict[str, Any] = {
    "rules_version": None,
    "thresholds": None,
    "timepoints": [],
    "agent_choice": None,
    "preliminary": False,
    "draft_studies": [],
}
EMPTY_RESPONSE: dict[str, Any] = {
    "rules_version": None,
    "thresholds": None,
    "preliminary": False,
    "draft_studies": [],
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


_EMPTY: dict[str, dict[str, Any]] = {
    "phenotype": EMPTY_PHENOTYPE,
    "response": EMPTY_RESPONSE,
    "uptake": {},  # by study id: no study scored yet
    "summary": {
        "timepoints": [],
        "agent_choice": None,
        "lesion_patterns": [],
        "preliminary": False,
        "draft_studies": [],
        "response": EMPTY_RESPONSE,
    },  # fmt: skip
}


# Keys a result stored under earlier rules lacks: the §11 agent choice (rules version 4). Such a
# result is stale (the rules changed) until a worker recomputes it, and says so; until then it
# is served with ``agent_choice`` null, so that every body has every key of API.md.
_ADDED_KEYS: dict[str, dict[str, Any]] = {
    "phenotype": {"agent_choice": None},
    "summary": {"agent_choice": None},
}


def response_body(patient_id: int) -> dict[str, Any]:
    """The body of API.md ``GET patients/{id}/response/`` (DOMAIN.md §7-§9), with the same
    ``status`` as the phenotype: both are computed together from the same inputs."""
    return assessment_bodies(patient_id, ("response",))["response"]


def assessment_bodies(
    patient_id: int, fields: tuple[str, ...] = ("phenotype", "response")
) -> dict[str, dict[str, Any]]:
    """The phenotype and response bodies of one patient from one read of the
    stored assessment, each with ``patient``, ``status`` and ``computed_at``. With
    ``fields=()`` only that header is read (the status line polls it): no result JSON.
    ``inputs``: ``{"version"}``, the version of the patient's inputs the status was judged
    against (0 before the first write), which the pages showing the patient poll for changes."""
    version = InputVersion.objects.filter(patient_id=patient_id).first()
    assessments = PhenotypeAssessment.objects.filter(patient_id=patient_id)
    unread = {"phenotype", "response", "uptake", "latest_timepoint", "summary"} - set(fields)
    assessment = assessments.defer(*sorted(unread)).first()
    header: dict[str, Any] = {
        "patient": patient_id,
        "status": status_of(version, assessment, rules_fingerprint()),
        "computed_at": assessment.computed_at.isoformat() if assessment else None,
        "rules_version": assessment.rules_version if assessment else None,
    }
    bodies = {"header": header, "inputs": {"version": version.version if version else 0}}
    for field in fields:
        stored = getattr(assessment, field) if assessment is not None else None
        # A result stored before the response existed has an empty one: not yet computed.
        bodies[field] = {**header, **_ADDED_KEYS.get(field, {}), **(stored or _EMPTY[field])}
    return bodies
