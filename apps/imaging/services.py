"""Writes to imaging data that span several rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.imaging.models import OBSERVATION_READ_FIELDS, ImagingStudy, Observation, StudyStatus
from apps.patients.services import record_save
from apps.scoring.queue import request_recompute

# What a final read keeps as it is: its observations and these fields of the study. Reopening
# the read (``study_reopen``) is the way to change them.
READ_FIELDS = ("blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv")
FINAL_READ = "This read is final: reopen it (status draft) before changing it."


def study_finish(*, study: ImagingStudy, user: Any) -> ImagingStudy:
    """Finish the study's read: ``final``, with who finished it and when. The assessment is
    recomputed (grades from it are no longer preliminary). Finishing a final read changes
    nothing."""
    with transaction.atomic():
        # The study row FOR NO KEY UPDATE: two readers finishing at once are recorded once, and
        # an observation being written (which takes the row FOR KEY SHARE) is not held back.
        locked = ImagingStudy.objects.select_for_update(no_key=True).get(pk=study.pk)
        if locked.status != StudyStatus.FINAL:
            record_save(
                record=locked,
                values={"status": StudyStatus.FINAL, "finalized_by": user,
                        "finalized_at": timezone.now()},
            )  # fmt: skip
    study.refresh_from_db()
    return study


def study_reopen(*, study: ImagingStudy, user: Any) -> ImagingStudy:
    """Reopen a finished read: ``draft`` again, with who reopened it and when (who finished it
    last stays recorded, as does every change in the audit trail). Reopening a draft changes
    nothing."""
    with transaction.atomic():
        locked = ImagingStudy.objects.select_for_update(no_key=True).get(pk=study.pk)
        if locked.status != StudyStatus.DRAFT:
            record_save(
                record=locked,
                values={"status": StudyStatus.DRAFT, "reopened_by": user,
                        "reopened_at": timezone.now()},
            )  # fmt: skip
    study.refresh_from_db()
    return study


def observations_replace(*, study: ImagingStudy, items: Sequence[dict[str, Any]]) -> None:
    """Make the study's observations exactly ``items`` (validated dicts with a ``lesion``), in
    one transaction: an observation of a lesion already on the study is updated in place (its
    id and history kept), a new lesion gets a new observation, and a lesion left out loses its
    observation. The study's ``updated_at`` moves, so its ETag changes.

    A fixed number of queries whatever the number of items; the recompute is queued once.
    The caller has checked that the read is not final (``FINAL_READ``).
    """
    # No savepoint of its own: a failure here fails the whole request's transaction anyway,
    # and a savepoint is two more round trips.
    with transaction.atomic(savepoint=False):
        existing = {obs.lesion_id: obs for obs in study.observations.all()}
        wanted = {item["lesion"].pk: item for item in items}
        gone = [obs.pk for lesion, obs in existing.items() if lesion not in wanted]
        now = timezone.now()
        changed: list[Observation] = []
        created: list[Observation] = []
        for lesion_id, item in wanted.items():
            values = {field: item.get(field, _default(field)) for field in OBSERVATION_READ_FIELDS}
            obs = existing.get(lesion_id)
            if obs is None:
                created.append(
                    Observation(
                        study=study, lesion_id=lesion_id, patient_id=study.patient_id, **values
                    )
                )
            elif any(getattr(obs, field) != value for field, value in values.items()):
                for field, value in values.items():
                    setattr(obs, field, value)
                obs.updated_at = now
                changed.append(obs)
        if gone:
            Observation.objects.filter(pk__in=gone).delete()
        if changed:
            _update_rows(changed)
        if created:
            Observation.objects.bulk_create(created)
        ImagingStudy.objects.filter(pk=study.pk).update(updated_at=now)
        study.updated_at = now
        request_recompute(study.patient_id)


# Column types for the arrays of _update_rows (an array of NULLs alone has no type).
_TYPES = {
    "state": "varchar",
    "suv_max": "numeric",
    "suv_peak": "numeric",
    "krenning_visual": "smallint",
    "krenning_min": "smallint",
    "krenning_max": "smallint",
    "fdg_visual": "varchar",
    "fdg_vs_sstr": "varchar",
    "long_axis_mm": "numeric",
    "short_axis_mm": "numeric",
    "volume_ml": "numeric",
    "heterogeneous": "boolean",
    "target": "boolean",
    "updated_at": "timestamptz",
}


def _update_rows(observations: list[Observation]) -> None:
    """All changed rows in one ``UPDATE … FROM unnest(…)``: one array per column, so the
    statement has the same 15 parameters whatever the number of rows. Django's bulk_update
    builds a CASE expression per field and row, which PostgreSQL plans slowly (120 ms for 40
    rows of 14 fields); this takes a few milliseconds. The triggers (audit, input version)
    still fire, once for the statement."""
    columns = list(_TYPES)
    arrays = ", ".join(f"%s::{_TYPES[column]}[]" for column in columns)
    sql = (
        f"UPDATE imaging_observation AS o SET {', '.join(f'{c} = v.{c}' for c in columns)} "  # noqa: S608 - fixed names
        f"FROM unnest(%s::bigint[], {arrays}) AS v(id, {', '.join(columns)}) "
        "WHERE o.id = v.id"
    )
    params = [[obs.pk for obs in observations]] + [
        [getattr(obs, column) for obs in observations] for column in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _default(field: str) -> Any:
    return Observation._meta.get_field(field).get_default()
