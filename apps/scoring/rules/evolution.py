"""Dual-tracer evolution: the §4 grades at every dual-tracer timepoint and the alerts that compare
each timepoint with the one before (DOMAIN.md §8 "Dual-tracer evolution").

Works on the phenotype result (``assess_phenotype``), which already holds every timepoint's
grades and each lesion's effective scores, and on the patient's observations for the long axes.
Readings of DOMAIN.md where it leaves room:

- "FDG-positive" in ``fdg_resolved`` and ``fdg_growing_low_sstr`` is above background (FDG grade
  ≥ 2, the §3 NETPET/Karfis threshold); "an SSTR-positive lesion persists" is a lesion at
  Krenning ≥ 2 on this timepoint's SSTR PET.
- The long axis of a lesion at a timepoint is the one recorded on its SSTR PET, else on its
  FDG PET, else on the CT or MRI closest in date to the SSTR PET within ``pairing_window_days``
  (ties: the earlier, then the lower id): diameters are measured on CT/MRI (§8 series) when the
  PET reads carry none.
- A lesion with none of these has no measured size, and a sum over it is not measured: it
  never counts as 0 mm. Growth of the FDG-positive Krenning 0-2 disease is then not claimed
  (the alert needs the lesions to have appeared instead), and when the Krenning 3-4 disease is
  not measured the alert says so rather than "did not grow".
- Only timepoints with an FDG PET are dual-tracer timepoints; the others are left out.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .inputs import JSON, PatientIn
from .scale import ABOVE_BACKGROUND, ABOVE_LIVER
from .series import ANATOMIC_MODALITIES
from .wording import LesionNames, is_are

NEW_FDG_POSITIVE_SSTR_NEGATIVE = "new_fdg_positive_sstr_negative"
FDG_RESOLVED = "fdg_resolved"
FDG_GROWING_LOW_SSTR = "fdg_growing_low_sstr"
# DOMAIN.md §8: "grew by ≥ 20%". A definition of the alert, not a site setting.
GROWTH_PERCENT = Decimal(20)
_ZERO = Decimal(0)
_TENTH = Decimal("0.1")


def _is_discordant(sstr_score: int, fdg_score: int) -> bool:
    """SSTR-negative and FDG-positive under either §3 threshold set (as in §6): P5 (background)
    or Zidan group 4 (liver)."""
    return (sstr_score < ABOVE_BACKGROUND <= fdg_score) or (sstr_score < ABOVE_LIVER <= fdg_score)


def dual_tracer_evolution(
    phenotype: JSON, patient: PatientIn, names: LesionNames
) -> tuple[list[JSON], list[JSON]]:
    """The grades at every dual-tracer timepoint in date order, and the alerts (§8).

    The CT/MRI window is the ``pairing_window_days`` the phenotype was computed with.
    """
    window = int(phenotype["thresholds"]["pairing_window_days"])
    axes = _LongAxes(patient, window)
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
            alerts.extend(_alerts(previous, current, names, window))
        previous = current
    return grades, alerts


class _Sum:
    """A summed long axis over some lesions; ``unmeasured`` are those without a size."""

    def __init__(self) -> None:
        self.total = _ZERO
        self.lesions: list[int] = []
        self.unmeasured: list[int] = []

    def add(self, lesion: int, axis: Decimal | None) -> None:
        self.lesions.append(lesion)
        if axis is None:
            self.unmeasured.append(lesion)
        else:
            self.total += axis

    @property
    def measured(self) -> bool:
        return not self.unmeasured

    def shown(self) -> str:
        """``"84.0 mm"``, or ``"none"`` when no lesion is in the sum."""
        if not self.lesions:
            return "none"
        return f"{self.total.quantize(_TENTH, rounding=ROUND_HALF_UP)} mm"


class _Timepoint:
    """What the alerts read off one dual-tracer timepoint."""

    def __init__(self, timepoint: JSON, axes: _LongAxes) -> None:
        self.sstr_study: int = timepoint["sstr_study"]
        self.fdg_study: int = timepoint["fdg_study"]
        self.discordant: list[int] = []
        self.fdg_positive: list[int] = []
        self.sstr_positive: list[int] = []
        self.adequate_sstr = _Sum()  # Krenning >= 3 lesions
        self.low_sstr_fdg_positive = _Sum()  # FDG-positive lesions at Krenning <= 2
        for row in timepoint["lesion_scores"]:
            lesion, s_score, f_score = row["lesion"], row["sstr_score"], row["fdg_score"]
            if f_score is not None and f_score >= ABOVE_BACKGROUND:
                self.fdg_positive.append(lesion)
            if s_score is not None and s_score >= ABOVE_BACKGROUND:
                self.sstr_positive.append(lesion)
            if s_score is None or f_score is None:
                continue
            if _is_discordant(s_score, f_score):
                self.discordant.append(lesion)
            if s_score >= ABOVE_LIVER:
                self.adequate_sstr.add(lesion, axes.at(self.sstr_study, self.fdg_study, lesion))
            elif f_score >= ABOVE_BACKGROUND:
                self.low_sstr_fdg_positive.add(
                    lesion, axes.at(self.sstr_study, self.fdg_study, lesion)
                )


def _alerts(
    previous: _Timepoint, current: _Timepoint, names: LesionNames, window: int
) -> list[JSON]:
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
    growing = _growing_low_sstr(previous, current, names, window)
    if growing is not None:
        alerts.append(growing)
    return alerts


def _growing_low_sstr(
    previous: _Timepoint, current: _Timepoint, names: LesionNames, window: int
) -> JSON | None:
    """``fdg_growing_low_sstr``: FDG-positive Krenning 0-2 disease appeared, or grew by at least
    ``GROWTH_PERCENT`` in summed long axis, while the Krenning 3-4 disease did not grow. A
    growth is never read from missing sizes; Krenning 3-4 disease without a measured size is
    said to be so, never "did not grow"."""
    low_before, low_now = previous.low_sstr_fdg_positive, current.low_sstr_fdg_positive
    high_before, high_now = previous.adequate_sstr, current.adequate_sstr
    appeared = bool(low_now.lesions) and not low_before.lesions
    grew = (
        low_before.measured
        and low_now.measured
        and low_now.total > low_before.total
        and low_now.total >= low_before.total * (1 + GROWTH_PERCENT / 100)
    )
    if not (appeared or grew):
        return None
    high_measured = high_before.measured and high_now.measured
    if high_measured and high_now.total > high_before.total:
        return None
    lesions = low_now.lesions
    what = (
        "appeared"
        if appeared
        else f"grew from {low_before.shown()} to {low_now.shown()} (summed long axis)"
    )
    text = f"FDG-positive lesions with Krenning 0-2 ({names.many(lesions)}) {what}"
    if not high_measured:
        unmeasured = sorted(set(high_before.unmeasured) | set(high_now.unmeasured))
        text += (
            " while the size of the Krenning 3-4 disease is not measured "
            f"({names.many(unmeasured)}: no long axis on the PETs or on a CT or MRI within "
            f"{window} days), so whether it grew is not known: consider a change to "
            "chemotherapy if it did not grow."
        )
    elif not high_before.lesions and not high_now.lesions:
        text += (
            " with no Krenning 3-4 disease at either timepoint: consider a change to chemotherapy."
        )
    else:
        text += (
            f" while Krenning 3-4 disease did not grow ({high_before.shown()} to "
            f"{high_now.shown()}): consider a change to chemotherapy."
        )
    return _alert(FDG_GROWING_LOW_SSTR, current, lesions, text)


def _alert(code: str, timepoint: _Timepoint, lesions: list[int], text: str) -> JSON:
    return {
        "code": code,
        "study": timepoint.sstr_study,
        "fdg_study": timepoint.fdg_study,
        "lesions": lesions,
        "text": text,
    }


class _LongAxes:
    """The long axis of a lesion at a timepoint: on its SSTR PET, else its FDG PET, else the
    closest CT or MRI within ``window`` days of the SSTR PET (ties: the earlier, then the lower
    id); None when none of them records one."""

    def __init__(self, patient: PatientIn, window: int) -> None:
        self._window = window
        self._dates = {study.id: study.performed_on for study in patient.studies}
        self._on_study: dict[tuple[int, int], Decimal] = {}
        self._anatomic: dict[int, list[tuple[date, int, Decimal]]] = {}
        for study in patient.studies:
            anatomic = study.modality in ANATOMIC_MODALITIES
            for obs in study.observations:
                if obs.long_axis_mm is None:
                    continue
                self._on_study[(study.id, obs.lesion)] = obs.long_axis_mm
                if anatomic:
                    self._anatomic.setdefault(obs.lesion, []).append(
                        (study.performed_on, study.id, obs.long_axis_mm)
                    )

    def at(self, sstr_study: int, fdg_study: int, lesion: int) -> Decimal | None:
        for study in (sstr_study, fdg_study):
            axis = self._on_study.get((study, lesion))
            if axis is not None:
                return axis
        day = self._dates[sstr_study]
        near = [
            (abs((performed_on - day).days), performed_on, study, axis)
            for performed_on, study, axis in self._anatomic.get(lesion, [])
            if abs((performed_on - day).days) <= self._window
        ]
        return min(near)[3] if near else None
