"""What importing an SR into a study would change, row by row, before anything is written
(issue 16: "review before writing"). Reads only.

Each lesion of the report is matched to the patient's lesion with its tracking UID; an unknown
UID is a new lesion (``lesion`` None). Its values are set beside what the study already holds
for that lesion; a different value already there is a conflict for the reader to settle, unless
an earlier SR of the same series wrote that value and nobody changed it since (field by field:
a hand edit of one value of a row leaves the row's other values the series' own): a newer SR
of a series updates what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps

from apps.core import numbers
from apps.imaging.dicom_sr import SrLesion, SrReport
from apps.imaging.models import ImagingStudy, Lesion, Observation

# What an SR can set on an observation, and on the study (its reference uptake): a row's
# ``current`` holds all of them, so the review shows what the study holds beside a value the SR
# does not carry too.
OBSERVATION_FIELDS = (
    "suv_max",
    "suv_peak",
    "krenning_visual",
    "fdg_visual",
    "long_axis_mm",
    "short_axis_mm",
    "volume_ml",
)
REFERENCE_FIELDS = ("blood_pool_suv", "liver_suv", "spleen_suv")
# How the review and its messages show each value: SUVs to one decimal, lengths in whole mm
# (apps.core.numbers), scores and the rest as they are.
_SHOW: dict[str, Callable[[Any], str]] = {
    "suv_max": numbers.suv,
    "suv_peak": numbers.suv,
    "long_axis_mm": numbers.mm,
    "short_axis_mm": numbers.mm,
    **dict.fromkeys(REFERENCE_FIELDS, numbers.suv),
}


def shown(name: str, value: Any) -> str:
    """A value of field ``name`` as the review shows it ("" for none)."""
    if value is None or value == "":
        return ""
    return _SHOW.get(name, str)(value)


@dataclass(frozen=True)
class ReviewRow:
    """One lesion of the report: the NETboard lesion it lands on (None: a new one), the
    imported values, what the study holds now, and the fields where the two differ."""

    lesion: int | None
    source: SrLesion | None  # None for the study's reference uptake
    values: dict[str, Any]
    current: dict[str, Any] = field(default_factory=dict)
    conflicts: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def changes(self) -> dict[str, Any]:
        """The imported values that would change the study (new or different)."""
        return {k: v for k, v in self.values.items() if not _same(self.current.get(k), v)}


@dataclass(frozen=True)
class Review:
    rows: list[ReviewRow]
    reference: ReviewRow  # the study's reference uptake (``lesion`` None, ``source`` None)

    @property
    def conflicted(self) -> bool:
        return bool(self.reference.conflicts) or any(row.conflicts for row in self.rows)

    @property
    def unchanged(self) -> bool:
        return not self.reference.changes and all(
            row.lesion is not None and not row.changes for row in self.rows
        )


def _same(current: Any, imported: Any) -> bool:
    if isinstance(current, Decimal) and isinstance(imported, Decimal):
        return current == imported  # 24.000 stored is 24 imported
    return bool(current == imported)


def _compare(
    values: dict[str, Any], current: dict[str, Any], by_series: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The conflicts: a value the study holds, different from the imported one, that is not
    what an earlier SR of the series wrote there (``by_series``): a value entered by hand."""
    return {
        name: {"current": current[name], "imported": value}
        for name, value in values.items()
        if current.get(name) is not None
        and not _same(current[name], value)
        and not (name in by_series and _same(current[name], by_series[name]))
    }


def _written_by_series(
    report: SrReport, study: ImagingStudy
) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """The values an earlier SR of this series wrote that nobody has changed since, from the
    audit trail (the events of an import name its SR): by lesion for its observation on the
    study, and for the study's reference uptake."""
    if not report.series_instance_uid:
        return {}, {}
    sops = set(
        study.sr_imports.filter(series_instance_uid=report.series_instance_uid).values_list(
            "sop_instance_uid", flat=True
        )
    )
    if not sops:
        return {}, {}
    observation_events = (
        apps.get_model("imaging", "ObservationEvent")
        .objects.filter(pgh_obj__study=study)
        .order_by("pgh_obj_id", "pgh_id")
    )
    lesions: dict[int, dict[str, Any]] = {}
    for events in _by_object(observation_events):
        owned = _series_owned(events, OBSERVATION_FIELDS, sops)
        if owned:
            lesions[events[-1].lesion_id] = owned
    study_events = (
        apps.get_model("imaging", "ImagingStudyEvent")
        .objects.filter(pgh_obj=study)
        .order_by("pgh_id")
    )
    return lesions, _series_owned(list(study_events), REFERENCE_FIELDS, sops)


def _by_object(events: Any) -> list[list[Any]]:
    """Audit events ordered by object, then in order: one list per object."""
    groups: dict[int, list[Any]] = {}
    for event in events:
        groups.setdefault(event.pgh_obj_id, []).append(event)
    return list(groups.values())


def _series_owned(events: list[Any], fields: tuple[str, ...], sops: set[str]) -> dict[str, Any]:
    """Of one object's audit events in order, the fields whose last change was written by one
    of the SRs ``sops`` (with that value): a later change by anyone else takes a field back; a
    field an SR left as it was (a value typed before it) is never the SR's."""
    owned: dict[str, Any] = {}
    before: Any = None
    for event in events:
        context = event.pgh_context if isinstance(event.pgh_context, dict) else {}
        by_series = context.get("dicom_sr") in sops
        for name in fields:
            value = getattr(event, name)
            if before is not None and _same(getattr(before, name), value):
                continue
            if before is None and value is None:
                continue
            if by_series:
                owned[name] = value
            else:
                owned.pop(name, None)
        before = event
    return owned


def review_import(*, report: SrReport, study: ImagingStudy) -> Review:
    """The review of importing ``report`` into ``study`` (whose patient the caller has checked
    against the report's Patient ID)."""
    uids = [lesion.tracking_uid for lesion in report.lesions if lesion.tracking_uid]
    by_uid = {
        lesion.tracking_uid: lesion.pk
        for lesion in Lesion.objects.filter(patient_id=study.patient_id, tracking_uid__in=uids)
    }
    observations = {obs.lesion_id: obs for obs in Observation.objects.filter(study=study)}
    by_series, study_by_series = _written_by_series(report, study)
    rows = []
    for source in report.lesions:
        lesion_id = by_uid.get(source.tracking_uid) if source.tracking_uid else None
        obs = observations.get(lesion_id) if lesion_id is not None else None
        current = {name: getattr(obs, name) for name in OBSERVATION_FIELDS} if obs else {}
        rows.append(
            ReviewRow(
                lesion=lesion_id,
                source=source,
                values=dict(source.values),
                current=current,
                conflicts=_compare(source.values, current, by_series.get(lesion_id, {})),
            )
        )
    current_reference = {name: getattr(study, name) for name in REFERENCE_FIELDS}
    reference = ReviewRow(
        lesion=None,
        source=None,
        values=dict(report.reference),
        current=current_reference,
        conflicts=_compare(report.reference, current_reference, study_by_series),
    )
    return Review(rows=rows, reference=reference)
