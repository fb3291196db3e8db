"""Series of serial studies, their baselines and follow-ups, and new lesions (DOMAIN.md §8).

A series is the studies of one kind in date order: anatomic (modality ``ct`` or ``mri``;
diameters recorded on PET/CT are not used for RECIST), FDG PET and SSTR PET (pre-therapy only,
as in ``pairing``). Its baseline is the study the user picked (``StudyIn.is_baseline``), else the
latest study on or before the start of the patient's most recent treatment line that began after
the series' first study, else the series' first study. Every later study is a follow-up.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from .inputs import PatientIn, StudyIn, TreatmentIn
from .pairing import is_fdg_pet, is_sstr_pet
from .wording import study_kind, treatment_kind

ANATOMIC_SERIES, FDG_SERIES, SSTR_SERIES = "anatomic", "fdg", "sstr"
SERIES_KINDS = (ANATOMIC_SERIES, FDG_SERIES, SSTR_SERIES)
ANATOMIC_MODALITIES = frozenset({"ct", "mri"})

# Where the baseline came from.
BASELINE_USER, BASELINE_TREATMENT, BASELINE_FIRST = "user", "treatment", "first"

SCORED = "scored"


def series_kind(study: StudyIn) -> str | None:
    """The series a study belongs to, or None (post-therapy scans, SPECT, other tracers)."""
    if study.modality in ANATOMIC_MODALITIES:
        return ANATOMIC_SERIES
    if is_fdg_pet(study):
        return FDG_SERIES
    if is_sstr_pet(study):
        return SSTR_SERIES
    return None


def date_order(study: StudyIn) -> tuple[date, int]:
    """Studies sort by date, then id, so that a result never depends on input order."""
    return (study.performed_on, study.id)


class Series(NamedTuple):
    """One series of a patient with its baseline and follow-ups, all in date order."""

    kind: str
    studies: list[StudyIn]
    baseline: StudyIn | None  # None only for an empty series
    baseline_source: str | None  # BASELINE_USER, BASELINE_TREATMENT or BASELINE_FIRST
    treatment: TreatmentIn | None  # the treatment line whose start set the baseline
    follow_ups: list[StudyIn]

    def as_json(self) -> dict[str, object]:
        """The ``baselines`` entry of the response (API.md ``response/``)."""
        baseline = self.baseline
        return {
            "series": self.kind,
            "baseline_study": baseline.id if baseline is not None else None,
            "baseline_performed_on": (
                baseline.performed_on.isoformat() if baseline is not None else None
            ),
            "source": self.baseline_source,
            "treatment": self.treatment.id if self.treatment is not None else None,
            "follow_up_studies": [study.id for study in self.follow_ups],
            "reason": _baseline_reason(self),
        }


def build_series(patient: PatientIn, kind: str) -> Series:
    """The patient's series of ``kind`` (one of ``SERIES_KINDS``) with its baseline (§8)."""
    studies = sorted((s for s in patient.studies if series_kind(s) == kind), key=date_order)
    if not studies:
        return Series(kind, [], None, None, None, [])
    picked = [study for study in studies if study.is_baseline]
    treatment: TreatmentIn | None = None
    if picked:
        baseline, source = picked[-1], BASELINE_USER
    else:
        first_day = studies[0].performed_on
        later = [t for t in patient.treatments if t.started_on > first_day]
        if later:
            treatment = max(later, key=lambda t: (t.started_on, t.id))
            baseline = [s for s in studies if s.performed_on <= treatment.started_on][-1]
            source = BASELINE_TREATMENT
        else:
            baseline, source = studies[0], BASELINE_FIRST
    follow_ups = studies[studies.index(baseline) + 1 :]
    return Series(kind, studies, baseline, source, treatment, follow_ups)


def first_scored_on(patient: PatientIn) -> dict[int, date]:
    """The date of each lesion's first observation in state ``scored``, on any study."""
    first: dict[int, date] = {}
    for study in patient.studies:
        day = study.performed_on
        for obs in study.observations:
            if obs.state == SCORED and (obs.lesion not in first or day < first[obs.lesion]):
                first[obs.lesion] = day
    return first


def new_lesions(first_scored: dict[int, date], baseline: StudyIn, follow_up: StudyIn) -> list[int]:
    """Lesions first scored (on any study) after the baseline date and scored on this follow-up
    (§8 "new lesion"), in id order."""
    after = baseline.performed_on
    return sorted(
        obs.lesion
        for obs in follow_up.observations
        if obs.state == SCORED and first_scored.get(obs.lesion, after) > after
    )


def _baseline_reason(series: Series) -> str:
    baseline = series.baseline
    name = {ANATOMIC_SERIES: "CT/MRI", FDG_SERIES: "FDG PET", SSTR_SERIES: "SSTR PET"}[series.kind]
    if baseline is None:
        return f"No {name} study, so no {name} series."
    kind = study_kind(baseline)
    day = baseline.performed_on.isoformat()
    study = f"The {name} baseline is the {'one' if kind == name else kind} of {day}"
    if series.baseline_source == BASELINE_USER:
        text = f"{study}, picked by a user"
    elif series.baseline_source == BASELINE_TREATMENT and series.treatment is not None:
        line = series.treatment
        text = (
            f"{study}, the latest {name} on or before the start of the most recent treatment "
            f"line ({treatment_kind(line.kind)}, {line.started_on.isoformat()})"
        )
    else:
        text = f"{study}, the first of the series: no treatment line began after it"
    n = len(series.follow_ups)
    return f"{text}; {n} follow-up{'s' if n != 1 else ''}."
