"""Writes to imaging data that span several rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pghistory
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import serializers

from apps.imaging.dicom_sr import SrRefused, SrReport, read_report
from apps.imaging.models import (
    OBSERVATION_READ_FIELDS,
    ImagingStudy,
    Lesion,
    LesionSite,
    Observation,
    StructuredReportImport,
    StudyStatus,
)
from apps.imaging.sr_review import Review, ReviewRow, review_import, shown
from apps.patients.services import record_save
from apps.scoring.queue import request_recompute

# What a final read keeps as it is: its observations and these fields of the study. Reopening
# the read (``study_reopen``) is the way to change them.
READ_FIELDS = ("blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv")
FINAL_READ = "This read is final: reopen it (status draft) before changing it."
# An SR import creates lesions and observations and changes the study's reference values.
SR_IMPORT_PERMISSIONS = [
    "imaging.add_lesion",
    "imaging.add_observation",
    "imaging.change_observation",
    "imaging.change_imagingstudy",
]


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
    _write_observations(study, items, remove_others=True)


def observations_merge(*, study: ImagingStudy, items: Sequence[dict[str, Any]]) -> None:
    """Write ``items`` (complete, validated rows) for their lesions as ``observations_replace``
    does, leaving the study's other observations as they are (an SR import)."""
    _write_observations(study, items, remove_others=False)


def _write_observations(
    study: ImagingStudy, items: Sequence[dict[str, Any]], *, remove_others: bool
) -> None:
    # No savepoint of its own: a failure here fails the whole request's transaction anyway,
    # and a savepoint is two more round trips.
    with transaction.atomic(savepoint=False):
        existing = {obs.lesion_id: obs for obs in study.observations.all()}
        wanted = {item["lesion"].pk: item for item in items}
        gone = [
            obs.pk for lesion, obs in existing.items() if remove_others and lesion not in wanted
        ]
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


@dataclass(frozen=True)
class SrImportResult:
    review: Review
    written: bool  # False: a review only (``commit`` false), or nothing to change
    already_imported: bool = False


def _refusal(message: str, field_name: str = "file") -> serializers.ValidationError:
    return serializers.ValidationError({field_name: [message]})


def _check_identity(report: SrReport, study: ImagingStudy) -> None:
    """The SR is of the study's patient and, where both say, of the study itself."""
    mrn = study.patient.mrn
    if report.patient_id != mrn:
        raise _refusal(
            f"This SR is of patient ID {report.patient_id or '(none)'}; this study's patient has "
            f"MRN {mrn}. Nothing was imported."
        )
    uid = report.study_instance_uid
    if uid and study.study_instance_uid and uid != study.study_instance_uid:
        raise _refusal(
            f"This SR is of Study Instance UID {uid}; this study is {study.study_instance_uid}."
        )
    if uid and not study.study_instance_uid:
        other = ImagingStudy.objects.filter(study_instance_uid=uid).exclude(pk=study.pk).first()
        if other is not None:
            raise _refusal(
                f"This SR is of the {other.get_tracer_display()} {other.get_modality_display()} "
                f"of {other.performed_on.isoformat()} (Study Instance UID {uid}), not this study."
            )


def _newer_import(report: SrReport, study: ImagingStudy) -> StructuredReportImport | None:
    """An SR of the same series already imported that is newer than this one, if any."""
    if not report.series_instance_uid:
        return None
    for earlier in study.sr_imports.filter(series_instance_uid=report.series_instance_uid):
        if (
            report.instance_number is not None
            and earlier.instance_number is not None
            and earlier.instance_number > report.instance_number
        ):
            return earlier
        when = _aware(report.content_datetime)
        if (
            report.instance_number == earlier.instance_number
            and when is not None
            and earlier.content_datetime is not None
            and earlier.content_datetime > when
        ):
            return earlier
    return None


def _aware(moment: datetime | None) -> datetime | None:
    # DICOM dates and times carry no zone: stored as if UTC, compared only within one series.
    return moment.replace(tzinfo=UTC) if moment is not None else None


def _chosen(
    row: ReviewRow,
    index: int | str,
    choices: Mapping[str, str],
    on_conflict: str | None,
    refusals: dict[str, list[str]],
) -> dict[str, Any]:
    """The values to write for one row (``index``: its number, or ``reference``): the imported
    ones, except where the reader kept what the study holds (``current``: for a conflict, or to
    leave out a value the grid refuses). Each unsettled conflict is added to ``refusals``,
    naming the row and field, so that the reader sees all of them at once."""
    values = {
        name: value
        for name, value in row.changes.items()
        if choices.get(f"{index}.{name}") != "current"
    }
    for name in row.conflicts:
        choice = choices.get(f"{index}.{name}", on_conflict)
        if choice == "current":
            values.pop(name, None)
        elif choice != "imported":
            current = shown(name, row.conflicts[name]["current"])
            imported = shown(name, row.conflicts[name]["imported"])
            refusals[f"{index}.{name}"] = [
                f"The study holds {current} and the SR {imported}: choose one (current or "
                "imported)."
            ]
    return values


def _site_refusal(row: ReviewRow, index: int, choices: Mapping[str, str]) -> str | None:
    """Why a new lesion's site cannot be taken (None: it can)."""
    source = row.source
    assert source is not None  # noqa: S101 - a lesion row always has its group
    if (choices.get(f"{index}.site") or source.site) in LesionSite.values:
        return None
    shown = str(source.finding_site) if source.finding_site else "none"
    return f"The SR's finding site ({shown}) is not one NETboard maps: choose the lesion's site."


def _settled(
    review: Review, choices: Mapping[str, str], on_conflict: str | None
) -> tuple[list[tuple[int, ReviewRow, dict[str, Any]]], dict[str, Any]]:
    """The values to write of each row and of the reference uptake, with the reader's choices;
    every choice still to make refused at once (each conflict, each unmapped site), naming
    its row and field."""
    refusals: dict[str, list[str]] = {}
    rows = [
        (index, row, _chosen(row, index, choices, on_conflict, refusals))
        for index, row in enumerate(review.rows)
    ]
    for index, row, _values in rows:
        site = _site_refusal(row, index, choices) if row.lesion is None else None
        if site is not None:
            refusals[f"{index}.site"] = [site]
    reference = _chosen(review.reference, "reference", choices, on_conflict, refusals)
    if refusals:
        raise serializers.ValidationError(refusals)
    return rows, reference


def _new_lesion(
    row: ReviewRow, index: int, study: ImagingStudy, choices: Mapping[str, str], taken: set[str]
) -> Lesion:
    """A new lesion of the row (its site checked by ``_site_refusal``), not saved yet."""
    source = row.source
    assert source is not None  # noqa: S101 - a lesion row always has its group
    site = choices.get(f"{index}.site") or source.site
    label = (
        choices.get(f"{index}.label", "").strip()
        or source.tracking_identifier
        or f"SR lesion {index + 1}"
    )[:100]
    base, n = label[:90], 2
    while label in taken:
        label, n = f"{base} ({n})", n + 1
    taken.add(label)
    lesion = Lesion(patient_id=study.patient_id, label=label, site=site)
    lesion.tracking_uid = source.tracking_uid or ""
    lesion.tracking_identifier = (source.tracking_identifier or "")[:64]
    return lesion  # saved by the caller, with the others, in one statement


def sr_import(
    *,
    study: ImagingStudy,
    report: SrReport,
    user: Any,
    commit: bool = True,
    choices: Mapping[str, str] | None = None,
    on_conflict: str | None = None,
) -> SrImportResult:
    """Import one TID 1500 report into ``study``: review it and, with ``commit``, write what it
    changes in one transaction. New lesions are created with their tracking; observations go
    through the API's observation serializer (the grid's validation and ``record_save``); the
    study's reference uptake is set; every audit event of the write carries the SR's SOP
    Instance UID (``dicom_sr`` in the audit context). Raises ``ValidationError`` naming the
    problem, with nothing written."""
    # The serializers import this module.
    from apps.imaging.serializers import ObservationReadItemSerializer, StudySerializer

    choices = choices or {}
    _check_identity(report, study)
    review = review_import(report=report, study=study)
    if study.sr_imports.filter(sop_instance_uid=report.sop_instance_uid).exists():
        return SrImportResult(review=review, written=False, already_imported=True)
    newer = _newer_import(report, study)
    if newer is not None:
        raise _refusal(
            f"A newer SR of this series is already imported (instance {newer.instance_number}, "
            f"SOP Instance UID {newer.sop_instance_uid}): this older one changes nothing."
        )
    if not commit:
        return SrImportResult(review=review, written=False)
    if study.status == StudyStatus.FINAL:
        raise _refusal(FINAL_READ, "study")
    rows, reference = _settled(review, choices, on_conflict)
    refusals: dict[str, list[str]] = {}
    with transaction.atomic(), pghistory.context(dicom_sr=report.sop_instance_uid):
        # The patient's labels, once: a new lesion takes its Tracking Identifier, numbered if taken.
        taken = set(
            Lesion.objects.filter(patient_id=study.patient_id).values_list("label", flat=True)
        )
        observations = {obs.lesion_id: obs for obs in Observation.objects.filter(study=study)}
        new = {
            index: _new_lesion(row, index, study, choices, taken)
            for index, row, _values in rows
            if row.lesion is None
        }
        Lesion.objects.bulk_create(new.values())  # one statement; the audit triggers still fire
        named = [
            row.lesion
            for _index, row, _values in rows
            if row.lesion is not None and row.source is not None and row.source.tracking_identifier
        ]
        # A lesion tracked before its SR gave it an identifier takes the identifier.
        for lesion in Lesion.objects.filter(pk__in=named, tracking_identifier=""):
            source = next(row.source for _i, row, _v in rows if row.lesion == lesion.pk)
            assert source is not None and source.tracking_identifier  # noqa: S101 - filtered above
            Lesion.objects.filter(pk=lesion.pk).update(
                tracking_identifier=source.tracking_identifier[:64]
            )
        lesions = {
            lesion.pk: lesion
            for lesion in Lesion.objects.filter(patient_id=study.patient_id).order_by()
        }
        # The complete read's item serializer: the grid's validation, no query per row.
        reader = ObservationReadItemSerializer(
            context={"user": user, "study": study, "lesions": lesions}
        )
        items = []
        for index, row, values in rows:
            if not values:
                continue
            lesion_id = new[index].pk if index in new else row.lesion
            existing = observations.get(lesion_id)  # type: ignore[arg-type]
            # The whole row as it will be: what the study holds, with the SR's values over it.
            held = (
                {name: getattr(existing, name) for name in OBSERVATION_READ_FIELDS}
                if existing
                else {}
            )
            data = {**_as_data(held), **_as_data(values), "lesion": lesion_id}
            try:
                items.append(reader.run_validation(data))
            except serializers.ValidationError as exc:
                detail = (
                    exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
                )
                # Every row's refusals at once; the transaction writes nothing of them.
                refusals.update({f"{index}.{name}": msgs for name, msgs in detail.items()})
        if refusals:
            raise serializers.ValidationError(refusals)
        observations_merge(study=study, items=items)
        if reference:
            # Through the study's serializer: a negative or oversized SUV is a 400, not a 500.
            checked = StudySerializer(
                instance=study, data=_as_data(reference), partial=True, context={"user": user}
            )
            if not checked.is_valid():
                raise serializers.ValidationError(
                    {f"reference.{name}": messages for name, messages in checked.errors.items()}
                )
            record_save(record=study, values=checked.validated_data)
        if study.study_instance_uid == "" and report.study_instance_uid:
            record_save(record=study, values={"study_instance_uid": report.study_instance_uid})
        StructuredReportImport.objects.create(
            study=study,
            sop_instance_uid=report.sop_instance_uid,
            series_instance_uid=report.series_instance_uid,
            instance_number=report.instance_number,
            content_datetime=_aware(report.content_datetime),
            imported_by=user if getattr(user, "pk", None) else None,
            lesions=len(review.rows),
        )
    return SrImportResult(review=review, written=True)


def sr_read_files(files: Sequence[tuple[str, bytes]]) -> list[tuple[int, SrReport]]:
    """Parse uploaded SR files (name, bytes), each numbered by its place in the upload; a file
    that cannot be read is refused as ``file.{n}``, naming it. Older documents of a series come
    first, so that files sent in any order import alike."""
    reports = []
    for number, (name, data) in enumerate(files):
        try:
            reports.append((number, read_report(data)))
        except SrRefused as refused:
            raise _refusal(f"{name}: {refused.message}", f"file.{number}") from refused
    reports.sort(key=lambda item: (item[1].instance_number or 0, str(item[1].content_datetime)))
    return reports


def sr_import_files(
    *,
    study: ImagingStudy,
    reports: Sequence[tuple[int, SrReport]],
    user: Any,
    commit: bool = True,
    choices: Mapping[int, Mapping[str, str]] | None = None,
    on_conflict: str | None = None,
) -> list[tuple[int, SrImportResult]]:
    """Import the files of one upload (``sr_read_files``) into ``study``, all or nothing: the
    study is locked, each file goes through ``sr_import`` with the reader's choices for it
    (``choices[n]``), and a refusal names ``file.{n}.<row>.<field>``."""
    results = []
    with transaction.atomic():
        study = ImagingStudy.objects.select_for_update(no_key=True).get(pk=study.pk)
        for number, report in reports:
            try:
                result = sr_import(
                    study=study,
                    report=report,
                    user=user,
                    commit=commit,
                    choices=(choices or {}).get(number),
                    on_conflict=on_conflict,
                )
            except serializers.ValidationError as exc:
                detail = exc.detail if isinstance(exc.detail, dict) else {"file": exc.detail}
                raise serializers.ValidationError(
                    {f"file.{number}.{name}": value for name, value in detail.items()}
                ) from exc
            results.append((number, result))
    return results


@dataclass(frozen=True)
class SrStudyResult:
    study: ImagingStudy | None  # None: a review that would create the study
    created: bool  # the study was (or, in a review, would be) created from the SR
    results: list[tuple[int, SrImportResult]]


def _one(reports: Sequence[tuple[int, SrReport]], attribute: str, what: str) -> str:
    """The value all files of one request share (Patient ID, Study Instance UID)."""
    (first_number, first), *others = reports
    for number, report in others:
        if getattr(report, attribute) != getattr(first, attribute):
            raise _refusal(
                f"File {number} is of {what} {getattr(report, attribute) or '(none)'}, file "
                f"{first_number} of {getattr(first, attribute) or '(none)'}: send one study's "
                "reports per request.",
                f"file.{number}",
            )
    return str(getattr(first, attribute))


def _from_sr(report: SrReport, given: Mapping[str, Any]) -> dict[str, Any]:
    """A new study's date, modality and tracer: the SR's (and its image library's) where it says,
    else what the sender gave; both saying different things is refused, naming the field."""
    from_sr = {
        "performed_on": report.study_date,
        "modality": report.modality,
        "tracer": report.tracer,
    }
    values: dict[str, Any] = {}
    for name, value in from_sr.items():
        sent = given.get(name)
        if value is not None and sent not in (None, "") and str(sent) != str(value):
            raise _refusal(f"The SR says {value}; the request says {sent}.", name)
        chosen = value if value is not None else sent
        if chosen in (None, ""):
            raise _refusal(
                f"The SR does not say the study's {name.replace('_', ' ')}: send it with the file.",
                name,
            )
        values[name] = chosen.isoformat() if hasattr(chosen, "isoformat") else chosen
    return values


def sr_import_any_study(
    *,
    reports: Sequence[tuple[int, SrReport]],
    user: Any,
    commit: bool = True,
    study_id: int | None = None,
    new_study: Mapping[str, Any] | None = None,
    on_conflict: str | None = None,
) -> SrStudyResult:
    """Import one study's SR files, finding the study: the patient by MRN (the SR's Patient
    ID), the study by its Study Instance UID, else the study the sender named (``study_id``),
    else a new one with the SR's date, modality and tracer (``new_study`` where the SR says
    none). All in one transaction; a review (``commit`` false) creates nothing."""
    from apps.imaging.serializers import StudySerializer
    from apps.patients.models import Patient

    mrn = _one(reports, "patient_id", "Patient ID")
    uid = _one(reports, "study_instance_uid", "Study Instance UID")
    patient = Patient.objects.filter(mrn=mrn).first()
    if patient is None:
        raise _refusal(
            f"No patient has MRN {mrn or '(none)'} (the SR's Patient ID): create the patient "
            "first, or correct the Patient ID.",
            "file.0",
        )
    with transaction.atomic():
        study = ImagingStudy.objects.filter(patient=patient, study_instance_uid=uid).first()
        created = False
        if study is None and study_id is not None:
            study = ImagingStudy.objects.filter(pk=study_id).first()
            if study is None or study.patient_id != patient.pk:
                raise _refusal(
                    f"Study {study_id} is not a study of the patient with MRN {mrn}.", "study"
                )
        if study is None:
            fields = _from_sr(reports[0][1], new_study or {})
            serializer = StudySerializer(
                data={**fields, "patient": patient.pk, "study_instance_uid": uid},
                context={"user": user},
            )
            if not serializer.is_valid():
                raise serializers.ValidationError(serializer.errors)
            study, created = serializer.save(), True
        results = sr_import_files(
            study=study, reports=reports, user=user, commit=commit, on_conflict=on_conflict
        )
        if created and not commit:
            transaction.set_rollback(True)  # a review creates nothing
    return SrStudyResult(
        study=None if created and not commit else study, created=created, results=results
    )


def _as_data(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as a serializer's input (numbers as strings, as the API receives them)."""
    return {
        name: str(value) if isinstance(value, Decimal) else value for name, value in values.items()
    }
