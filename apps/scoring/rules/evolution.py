"""Dual-tracer evolution: the §4 grades at every dual-tracer timepoint and the alerts that compare
each timepoint with the one before (DOMAIN.md §8 "Dual-tracer evolution").

Works on the phenotype result (``assess_phenotype``), which already holds every timepoint's
grades and each lesion's effective scores, and on the patient's observations for the long axes.
Readings of DOMAIN.md where it leaves room:

- "FDG-positive" in ``fdg_resolved`` and ``fdg_growing_low_sstr`` is above background (FDG grade
  ≥ 2, the §3 NETPET/Karfis threshold); "an SSTR-positive lesion persists" is a lesion at
  Krenning ≥ 2 on this timepoint's SSTR PET.
- The long axis of a lesion at a timepoint is the one recorded on its SSTR PET, else on its
  FDG PET; a lesion with neither adds 0 mm.
- Only timepoints with an FDG PET are dual-tracer timepoints; the others are left out.
"""

from __future__ import annotations

from decimal import Decimal

from .inputs import JSON, PatientIn
from .scale import ABOVE_BACKGROUND, ABOVE_LIVER
from .wording import LesionNames, is_are

NEW_FDG_POSITIVE_SSTR_NEGATIVE = "new_fdg_positive_sstr_negative"
FDG_RESOLVED = "fdg_resolved"
FDG_GROWING_LOW_SSTR = "fdg_growing_low_sstr"
# DOMAIN.md §8: "grew by ≥ 20%". A definition of the alert, not a site setting.
GROWTH_PERCENT = Decimal(20)
_ZERO = Decimal(0)


def _is_discordant(sstr_score: int, fdg_score: int) -> bool:
    """SSTR-negative and FDG-positive under either §3 threshold set (as in §6): P5 (background)
    or Zidan group 4 (liver)."""
    return (sstr_score < ABOVE_BACKGROUND <= fdg_score) or (sstr_score < ABOVE_LIVER <= fdg_score)


def dual_tracer_evolution(
    phenotype: JSON, patient: PatientIn, names: LesionNames
) -> tuple[list[JSON], list[JSON]]:
    """The grades at every dual-tracer timepoint in date order, and the alerts (§8)."""
    axes = _long_axes(patient)
    grades: list[JSON] = []
    alerts: list[JSON] = []
    previous: _Timepoint | None = None
    for timepoint in phenotype["timepoints"]:
        if timepoint["fdg_study"] is None:
            continue
        current = _Timepoint(timepoint, axes)
        grades.append(
            {
                "sstr_study": timepoint["sstr_study"],
                "fdg_study": timepoint["fdg_study"],
                "sstr_performed_on": timepoint["sstr_performed_on"],
                "fdg_performed_on": timepoint["fdg_performed_on"],
                "netpet": timepoint["netpet"]["grade"],
                "karfis": timepoint["karfis"]["group"],
                "zidan": timepoint["zidan"]["group"],
                "provisional": timepoint["provisional"],
                "biopsy_target": timepoint["biopsy_target"],
            }
        )
        if previous is not None:
            alerts.extend(_alerts(previous, current, names))
        previous = current
    return grades, alerts


class _Timepoint:
    """What the alerts read off one dual-tracer timepoint."""

    def __init__(self, timepoint: JSON, axes: dict[tuple[int, int], Decimal]) -> None:
        self.sstr_study: int = timepoint["sstr_study"]
        self.fdg_study: int = timepoint["fdg_study"]
        self.discordant: list[int] = []
        self.fdg_positive: list[int] = []
        self.sstr_positive: list[int] = []
        self.low_sstr_fdg_positive = _ZERO  # summed long axis, mm
        self.adequate_sstr = _ZERO  # summed long axis of Krenning >= 3 lesions, mm
        self.low_sstr_fdg_positive_lesions: list[int] = []
        for row in timepoint["lesion_scores"]:
            lesion, s_score, f_score = row["lesion"], row["sstr_score"], row["fdg_score"]
            if f_score is not None and f_score >= ABOVE_BACKGROUND:
                self.fdg_positive.append(lesion)
            if s_score is not None and s_score >= ABOVE_BACKGROUND:
                self.sstr_positive.append(lesion)
            if s_score is None or f_score is None:
                continue
            axis = (
                axes.get((self.sstr_study, lesion)) or axes.get((self.fdg_study, lesion)) or _ZERO
            )
            if _is_discordant(s_score, f_score):
                self.discordant.append(lesion)
            if s_score >= ABOVE_LIVER:
                self.adequate_sstr += axis
            elif f_score >= ABOVE_BACKGROUND:
                self.low_sstr_fdg_positive += axis
                self.low_sstr_fdg_positive_lesions.append(lesion)


def _alerts(previous: _Timepoint, current: _Timepoint, names: LesionNames) -> list[JSON]:
    alerts: list[JSON] = []
    before = set(previous.discordant)
    new = [lesion for lesion in current.discordant if lesion not in before]
    if new:
        alerts.append(
            _alert(
                NEW_FDG_POSITIVE_SSTR_NEGATIVE,
                current,
                new,
                f"{names.many(new)} {is_are(len(new))} SSTR-negative and FDG-positive now but "
                "not at the previous timepoint: possible dedifferentiation; consider biopsy; "
                "PRRT retreatment unsuitable; local therapy if limited.",
            )
        )
    if previous.fdg_positive and not current.fdg_positive and current.sstr_positive:
        alerts.append(
            _alert(
                FDG_RESOLVED,
                current,
                previous.fdg_positive,
                f"The FDG-positive lesions of the previous timepoint "
                f"({names.many(previous.fdg_positive)}) are no longer FDG-positive while "
                "SSTR-positive disease persists: favourable.",
            )
        )
    low_before, low_now = previous.low_sstr_fdg_positive, current.low_sstr_fdg_positive
    grew = low_now > low_before and low_now >= low_before * (1 + GROWTH_PERCENT / 100)
    appeared = bool(current.low_sstr_fdg_positive_lesions) and not (
        previous.low_sstr_fdg_positive_lesions
    )
    if (grew or appeared) and current.adequate_sstr <= previous.adequate_sstr:
        lesions = current.low_sstr_fdg_positive_lesions
        alerts.append(
            _alert(
                FDG_GROWING_LOW_SSTR,
                current,
                lesions,
                "FDG-positive lesions with Krenning 0-2 "
                + (
                    "appeared"
                    if appeared
                    else f"grew from {low_before} mm to {low_now} mm (summed long axis)"
                )
                + f" ({names.many(lesions)}) while Krenning 3-4 disease did not grow "
                f"({previous.adequate_sstr} mm to {current.adequate_sstr} mm): consider a change "
                "to chemotherapy.",
            )
        )
    return alerts


def _alert(code: str, timepoint: _Timepoint, lesions: list[int], text: str) -> JSON:
    return {
        "code": code,
        "study": timepoint.sstr_study,
        "fdg_study": timepoint.fdg_study,
        "lesions": lesions,
        "text": text,
    }


def _long_axes(patient: PatientIn) -> dict[tuple[int, int], Decimal]:
    """The long axis of every observation that has one, by (study, lesion)."""
    return {
        (study.id, obs.lesion): obs.long_axis_mm
        for study in patient.studies
        for obs in study.observations
        if obs.long_axis_mm is not None
    }
