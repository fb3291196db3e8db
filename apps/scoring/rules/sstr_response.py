"""SSTR PET series: descriptive change from baseline (DOMAIN.md §8, "SSTR PET (descriptive)").

There are no validated response criteria for SSTR PET, so a follow-up gets no category
(``"category": None``): only, per lesion, the change in SUVmax, TLR and Krenning score from the
baseline, the new SSTR-avid lesions, the lesions no longer seen, the ``ssa_started_between``
alert and a fixed caution that SUV changes must be read with CT/MRI.

Readings of DOMAIN.md:

- A lesion takes part when it has an observation on both the baseline and the follow-up and
  neither is *not evaluable*. *Not seen* counts as SUVmax 0 and Krenning 0 (§2.1). An
  ungradable observation (scored, no score) still takes part with its SUVmax and TLR; its
  Krenning score and Krenning change are None.
- TLR is ``SUVmax / liver SUVmean`` of the same study; None when the study has no positive liver
  value or the lesion no SUVmax.
- A **new SSTR-avid lesion** is a §8 new lesion (``series.new_lesions``: first scored on any
  study after the baseline date and scored on this follow-up) whose Krenning score on this
  follow-up is at least ``ABOVE_BACKGROUND`` (2, above blood-pool background, §3). A new lesion
  at Krenning 0-1, or ungradable, is not listed.
- A lesion **no longer seen** (``vanished_lesions``) is *scored* on the baseline and *not seen*
  on this follow-up.
- ``ssa_started_between``: a treatment of kind ``ssa`` started strictly after the previous study
  of the series (the one just before this follow-up: the baseline or an earlier study, also one
  before the baseline) and on or before this follow-up.
- "Rose" and "fell" in the reason compare the exact Decimal SUVmax values (and the Krenning
  scores); the numbers shown are rounded half up for display only (SUVmax, TLR and their changes
  to 2 decimals, percentages to 1).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from math import floor
from typing import Final

from .inputs import JSON, ObservationIn, PatientIn, StudyIn, Thresholds, TreatmentIn
from .scale import ABOVE_BACKGROUND, NOT_EVALUABLE, NOT_SEEN, SCORED
from .series import Series, new_lesions
from .uptake import DECIMAL_CONTEXT, Uptake, score_study
from .wording import LesionNames, count, study_kind, study_name

SSA: Final = "ssa"
SSA_STARTED_BETWEEN: Final = "ssa_started_between"
CAUTION: Final = (
    "Changes in SSTR PET uptake (SUV) have not correlated consistently with outcome; read them "
    "together with the anatomical changes on CT or MRI."
)

_ZERO: Final = Decimal(0)


def _shown(value: float | None, scale: float) -> float | None:
    """A display value rounded half up to ``1 / scale`` (display only: every comparison in this
    module is made on the exact Decimals)."""
    return None if value is None else floor(value * scale + 0.5) / scale


def _liver_inverse(study: StudyIn) -> float | None:
    """``1 / liver SUVmean`` of a study for its TLRs, or None without a positive liver value."""
    liver = study.liver_suv
    return None if liver is None or liver <= 0 else 1.0 / float(liver)


class _Lesion:
    """One lesion on both studies: the exact changes the reason counts, and its JSON row.

    Display values are worked in floats of the SUVmax (as the NETPET TLRs are); which way SUVmax
    and Krenning moved is decided on the Decimals and ints.
    """

    __slots__ = ("json", "krenning_change", "lesion", "suv_change")

    def __init__(
        self,
        lesion: int,
        before: ObservationIn,
        after: ObservationIn,
        scores: tuple[int | None, int | None],
        liver_inverses: tuple[float | None, float | None],
    ) -> None:
        suv_before, suv_after = _suv(before), _suv(after)
        shown_before, shown_after = _float(suv_before), _float(suv_after)
        score_before, score_after = scores
        self.lesion = lesion
        self.suv_change = (
            None
            if suv_before is None or suv_after is None
            else DECIMAL_CONTEXT.subtract(suv_after, suv_before)
        )
        self.krenning_change = (
            None if score_before is None or score_after is None else score_after - score_before
        )
        # Display values, rounded half up: floor(x * 100 + 0.5) / 100 (2 decimals).
        change = change_shown = percent = None
        if shown_before is not None and shown_after is not None:
            change = shown_after - shown_before
            change_shown = floor(change * 100.0 + 0.5) / 100.0
            if suv_before:  # (a Decimal, so an exact test for 0)
                percent = floor(change * 1000.0 / shown_before + 0.5) / 10.0
        inverse_before, inverse_after = liver_inverses
        tlr_before = tlr_after = tlr_change = None
        if shown_before is not None and inverse_before is not None:
            tlr_before = shown_before * inverse_before
        if shown_after is not None and inverse_after is not None:
            tlr_after = shown_after * inverse_after
            if tlr_before is not None:
                tlr_change = floor((tlr_after - tlr_before) * 100.0 + 0.5) / 100.0
        self.json: JSON = {
            "lesion": lesion,
            "baseline_state": before.state,
            "follow_up_state": after.state,
            "baseline_suv_max": _shown(shown_before, 100.0),
            "follow_up_suv_max": _shown(shown_after, 100.0),
            "suv_max_change": change_shown,
            "suv_max_change_percent": percent,
            "baseline_tlr": _shown(tlr_before, 100.0),
            "follow_up_tlr": _shown(tlr_after, 100.0),
            "tlr_change": tlr_change,
            "baseline_krenning": score_before,
            "follow_up_krenning": score_after,
            "krenning_change": self.krenning_change,
        }


def _suv(obs: ObservationIn) -> Decimal | None:
    """SUVmax, 0 when not seen (§2.1)."""
    return _ZERO if obs.state == NOT_SEEN else obs.suv_max


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _score(uptake: Uptake | None) -> int | None:
    return None if uptake is None else uptake.score


def _ssa_between(
    treatments: tuple[TreatmentIn, ...], previous: StudyIn, follow_up: StudyIn
) -> list[TreatmentIn]:
    after, until = previous.performed_on, follow_up.performed_on
    return sorted(
        (t for t in treatments if t.kind == SSA and after < t.started_on <= until),
        key=lambda t: (t.started_on, t.id),
    )


def _ssa_alert(started: list[TreatmentIn], previous: StudyIn, follow_up: StudyIn) -> JSON:
    days = ", ".join(t.started_on.isoformat() for t in started)
    text = (
        f"A long-acting somatostatin analogue was started ({days}) after the previous "
        f"{study_kind(previous)} ({previous.performed_on.isoformat()}) and on or before this "
        f"one ({follow_up.performed_on.isoformat()}): altered biodistribution may change uptake, "
        "and pseudoprogression is possible."
    )
    return {"code": SSA_STARTED_BETWEEN, "text": text, "treatments": [t.id for t in started]}


def sstr_series(
    patient: PatientIn, series: Series, thresholds: Thresholds, first_scored: dict[int, date]
) -> list[JSON]:
    """One descriptive entry per follow-up of the SSTR PET series, in date order (§8).

    ``series`` is ``build_series(patient, "sstr")`` (or the series with a user-picked baseline),
    ``first_scored`` is ``first_scored_on(patient)``. No baseline or no follow-up gives ``[]``.
    Every list in an entry is in lesion-id order, so the result does not depend on the order of
    the studies or observations in the input.
    """
    baseline = series.baseline
    if baseline is None or not series.follow_ups:
        return []
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions if lesion.label})
    base_obs = {obs.lesion: obs for obs in baseline.observations}
    base_inverse = _liver_inverse(baseline)
    base_scores = score_study(baseline, thresholds)
    # The follow-ups are the last studies of the series; each one's previous study is the one
    # just before it in the series (the baseline, or an earlier follow-up).
    previous_studies = series.studies[-len(series.follow_ups) - 1 : -1]
    entries = []
    for previous, follow_up in zip(previous_studies, series.follow_ups, strict=True):
        scores = score_study(follow_up, thresholds)
        inverses = (base_inverse, _liver_inverse(follow_up))
        lesions: list[_Lesion] = []
        vanished: list[int] = []
        for after in sorted(follow_up.observations, key=lambda o: o.lesion):
            before = base_obs.get(after.lesion)
            if before is None or NOT_EVALUABLE in (before.state, after.state):
                continue
            pair_scores = (_score(base_scores.get(after.lesion)), _score(scores.get(after.lesion)))
            lesions.append(_Lesion(after.lesion, before, after, pair_scores, inverses))
            if before.state == SCORED and after.state == NOT_SEEN:
                vanished.append(after.lesion)
        avid = [
            lesion
            for lesion in new_lesions(first_scored, baseline, follow_up)
            if (score := _score(scores.get(lesion))) is not None and score >= ABOVE_BACKGROUND
        ]
        started = _ssa_between(patient.treatments, previous, follow_up)
        rose = [x.lesion for x in lesions if x.suv_change is not None and x.suv_change > 0]
        fell = [x.lesion for x in lesions if x.suv_change is not None and x.suv_change < 0]
        entries.append(
            {
                "study": follow_up.id,
                "baseline_study": baseline.id,
                "previous_study": previous.id,
                "performed_on": follow_up.performed_on.isoformat(),
                "category": None,
                "lesions": [x.json for x in lesions],
                "suv_max_rose_lesions": rose,
                "suv_max_fell_lesions": fell,
                "new_lesions": avid,
                "vanished_lesions": vanished,
                "alerts": [_ssa_alert(started, previous, follow_up)] if started else [],
                "caution": CAUTION,
                "reason": _reason(baseline, lesions, rose, fell, avid, vanished, names),
            }
        )
    return entries


def _reason(
    baseline: StudyIn,
    lesions: list[_Lesion],
    rose: list[int],
    fell: list[int],
    new: list[int],
    vanished: list[int],
    names: LesionNames,
) -> str:
    parts = [f"Against the baseline {study_name(baseline)}"]
    compared = sum(1 for x in lesions if x.suv_change is not None)
    if not lesions:
        parts.append("no lesion is observed on both studies")
    elif not compared:
        parts.append(f"none of {count(len(lesions), 'lesion')} observed on both has SUVmax on both")
    else:
        parts.append(
            f"SUVmax rose in {len(rose)} and fell in {len(fell)} of "
            f"{count(compared, 'lesion')} measured on both studies"
        )
        up = sum(1 for x in lesions if x.krenning_change is not None and x.krenning_change > 0)
        down = sum(1 for x in lesions if x.krenning_change is not None and x.krenning_change < 0)
        parts.append(f"Krenning score rose in {up} and fell in {down}")
    new_text = count(len(new), "new SSTR-avid lesion")
    parts.append(f"{new_text} ({names.many(new)})" if new else new_text)
    gone_text = f"{count(len(vanished), 'lesion')} no longer seen"
    parts.append(f"{gone_text} ({names.many(vanished)})" if vanished else gone_text)
    return f"{parts[0]}: {'; '.join(parts[1:])}."
