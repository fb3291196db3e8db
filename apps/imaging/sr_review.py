"""What importing an SR into a study would change, row by row, before anything is written
(issue 16: "review before writing"). Reads only.

Each lesion of the report is matched to the patient's lesion with its tracking UID; an unknown
UID is a new lesion (``lesion`` None). Its values are set beside what the study already holds
for that lesion; a different value already there is a conflict for the reader to settle, unless
an earlier SR of the same series wrote it and nobody changed it since: a newer SR of a series
updates what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps

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


def _compare(values: dict[str, Any], current: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {"current": current[name], "imported": value}
        for name, value in values.items()
        if current.get(name) is not None and not _same(current[name], value)
    }


def _written_by_series(report: SrReport, study: ImagingStudy) -> tuple[set[int], bool]:
    """The lesions whose observation on the study was last written by an earlier SR of this
    series (its audit event names the SR), and whether the study row itself was."""
    if not report.series_instance_uid:
        return set(), False
    sops = set(
        study.sr_imports.filter(series_instance_uid=report.series_instance_uid).values_list(
            "sop_instance_uid", flat=True
        )
    )
    if not sops:
        return set(), False

    def by_series(event: Any) -> bool:
        return isinstance(event.pgh_context, dict) and event.pgh_context.get("dicom_sr") in sops

    observation_events = apps.get_model("imaging", "ObservationEvent").objects.filter(
        pgh_obj__study=study
    )
    latest = observation_events.order_by("pgh_obj_id", "-pgh_id").distinct("pgh_obj_id")
    lesions = {event.lesion_id for event in latest if by_series(event)}
    study_event = (
        apps.get_model("imaging", "ImagingStudyEvent")
        .objects.filter(pgh_obj=study)
        .order_by("-pgh_id")
        .first()
    )
    return lesions, study_event is not None and by_series(study_event)


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
                conflicts={} if lesion_id in by_series else _compare(source.values, current),
            )
        )
    current_reference = {name: getattr(study, name) for name in REFERENCE_FIELDS}
    reference = ReviewRow(
        lesion=None,
        source=None,
        values=dict(report.reference),
        current=current_reference,
        conflicts={} if study_by_series else _compare(report.reference, current_reference),
    )
    return Review(rows=rows, reference=reference)
