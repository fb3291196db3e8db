"""Survival of the board's own cohort by dual-tracer grade (issue 18): Kaplan-Meier curves of
overall and progression-free survival per group, with medians, their 95 % confidence intervals,
numbers at risk, and a log-rank test across the groups (API.md ``analytics/survival/``).

The estimator and the test are lifelines' (``KaplanMeierFitter``, ``median_survival_times``,
``multivariate_logrank_test``); nothing here estimates survival by hand. This module takes the
cohort as one statement reads it (``apps.outcomes.selectors.survival_cohort``), turns each
patient into a (group, days, event) triple, and shapes what lifelines returns.
``survival_figures(query)`` is the whole computation, for the task, the API and the page alike
(apps/outcomes/analytics.py caches it).

The choices (docs/api.md, "Survival analytics"):

- **Index date.** ``first_dual_tracer``: the date of the patient's first dual-tracer timepoint
  in the stored assessment (a pre-therapy SSTR PET with a paired FDG PET), the later of its two
  studies' dates (the day both grades exist). A patient without one is not dropped: the index is
  the first SSTR PET timepoint, else the diagnosis (the earliest pathology report), and the
  patient is ``not_classifiable``; without any of these the patient is excluded and counted
  (``no_index_date``). ``prrt_start``: the start of the first 177Lu-DOTATATE treatment; patients
  who never started PRRT are excluded and counted (``no_prrt``).
- **Grade at the index date**: the grades of that dual-tracer timepoint; for ``prrt_start``, of
  the last dual-tracer timepoint completed on or before the PRRT start (``not_classifiable``
  without one). Grades are the stored assessment's, as the worker stored them.
- **Endpoints.** OS: index to death. PFS: index to the first progression after the index date,
  or death, whichever comes first (a progression on or before the index date is the disease at
  the index, not an event). Without an event a patient is censored at the last date known alive:
  the latest last contact or progression record. A patient with no follow-up record is excluded
  (``no_follow_up``), as is one whose follow-up ends on or before the index date without an
  event (``no_follow_up_after_index``) and one whose death is dated before the index date
  (``death_before_index``).
- **Filters**: ``primary_site`` (the patient's), ``who_grade`` (of the latest pathology report),
  ``received_prrt`` (any 177Lu-DOTATATE treatment, at any date).
- **Log-rank** across the classified groups (``not_classifiable`` is shown, not tested); null
  when fewer than two of them have patients or any has fewer than NETBOARD_SURVIVAL_MIN_GROUP.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.utils import timezone

from apps.outcomes.selectors import survival_cohort

ENDPOINTS = ("os", "pfs")
GROUPINGS = ("netpet", "netpet_grades", "karfis", "zidan")
INDEXES = ("first_dual_tracer", "prrt_start")
NOT_CLASSIFIABLE = "not_classifiable"
PRRT = "prrt_lu177_dotatate"

# The groups of each grouping, in the order they are listed. NETPET groups as the validation
# (Chan et al. 2023) grouped them; P0 (negative on both) has a group of its own when present.
GROUPS = {
    "netpet": ("P0", "P1", "P2-P4", "P5", NOT_CLASSIFIABLE),
    "netpet_grades": ("P0", "P1", "P2a", "P2b", "P3a", "P3b", "P4a", "P4b", "P5", NOT_CLASSIFIABLE),
    "karfis": ("C1", "C2", "C3", NOT_CLASSIFIABLE),
    "zidan": ("1", "2", "3", "4", NOT_CLASSIFIABLE),
}
_NETPET_GROUP = {"P0": "P0", "P1": "P1", "P2": "P2-P4", "P3": "P2-P4", "P4": "P2-P4", "P5": "P5"}
EXCLUSIONS = (
    "no_prrt",
    "no_index_date",
    "no_follow_up",
    "no_follow_up_after_index",
    "death_before_index",
)
INDEX_SOURCES = ("first_dual_tracer", "first_sstr_pet", "diagnosis", "prrt_start")
# Numbers at risk are given at multiples of the first of these steps (days: a week, a month,
# a quarter, half a year, one, two, four years) that keeps them to at most this many.
_AT_RISK_STEPS = (7, 14, 28, 56, 91, 182, 365, 730, 1461, 2922)
_AT_RISK_TICKS = 10


@dataclass(frozen=True)
class SurvivalQuery:
    """One analysis: API.md's query parameters. Plain values only (a task's argument)."""

    endpoint: str = "os"
    grouping: str = "netpet"
    index: str = "first_dual_tracer"
    primary_site: str | None = None
    who_grade: str | None = None
    received_prrt: bool | None = None

    def __post_init__(self) -> None:
        if (
            self.endpoint not in ENDPOINTS
            or self.grouping not in GROUPINGS
            or self.index not in INDEXES
        ):
            raise ValueError(f"not a survival query: {self}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def filters(self) -> dict[str, Any]:
        return {
            "primary_site": self.primary_site,
            "who_grade": self.who_grade,
            "received_prrt": self.received_prrt,
        }

    def token(self) -> str:
        """The query as a stable string (cache keys)."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class _Timepoint:
    on: date  # the day both grades exist: the later of the two studies
    dual: bool
    netpet: str | None
    karfis: str | None
    zidan: str | None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _timepoints(raw: Sequence[Sequence[Any]] | None) -> list[_Timepoint]:
    out = []
    for sstr_on, fdg_on, netpet, karfis, zidan in raw or ():
        sstr_day, fdg_day = _day(sstr_on), _day(fdg_on)
        if sstr_day is None:
            continue
        on = max(sstr_day, fdg_day) if fdg_day is not None else sstr_day
        out.append(_Timepoint(on, fdg_day is not None, netpet, karfis, zidan))
    return out


def group_of(grouping: str, timepoint: _Timepoint | None) -> str:
    """The patient's group from the grades of the timepoint at the index date (None: no
    dual-tracer timepoint there)."""
    if timepoint is None or not timepoint.dual:
        return NOT_CLASSIFIABLE
    if grouping == "netpet":
        return _NETPET_GROUP.get((timepoint.netpet or "")[:2], NOT_CLASSIFIABLE)
    value = {"netpet_grades": timepoint.netpet, "karfis": timepoint.karfis}.get(
        grouping, timepoint.zidan
    )
    return value if value in GROUPS[grouping] else NOT_CLASSIFIABLE


def _index(
    query: SurvivalQuery, prrt_start: date | None, diagnosed: date | None, tps: list[_Timepoint]
) -> tuple[date, str, _Timepoint | None] | str:
    """(index date, where it comes from, the timepoint whose grades count) or the exclusion."""
    dual = [t for t in tps if t.dual]
    if query.index == "prrt_start":
        if prrt_start is None:
            return "no_prrt"
        before = [t for t in dual if t.on <= prrt_start]
        return prrt_start, "prrt_start", before[-1] if before else None
    if dual:
        return dual[0].on, "first_dual_tracer", dual[0]
    if tps:
        return tps[0].on, "first_sstr_pet", None
    if diagnosed is not None:
        return diagnosed, "diagnosis", None
    return "no_index_date"


def _outcome(
    endpoint: str,
    index: date,
    death: date | None,
    progressions: Iterable[date],
    last_contact: date | None,
) -> tuple[int, bool] | str:
    """(days from the index date, whether an event ended them) or the exclusion."""
    progressions = sorted(progressions)
    if death is not None and death < index:
        return "death_before_index"
    events = [death] if death is not None else []
    if endpoint == "pfs":
        events += [p for p in progressions if p > index][:1]
    if events:
        return (min(events) - index).days, True
    alive = [d for d in (*progressions, last_contact) if d is not None]
    if not alive:
        return "no_follow_up"
    days = (max(alive) - index).days
    return (days, False) if days > 0 else "no_follow_up_after_index"


@dataclass
class _Subjects:
    durations: dict[str, list[int]]
    events: dict[str, list[bool]]
    excluded: Counter[str]
    sources: Counter[str]
    patients: int


def subjects(query: SurvivalQuery, rows: Iterable[Sequence[Any]]) -> _Subjects:
    """Each patient of the cohort as a (group, days, event), or counted as excluded."""
    out = _Subjects({}, {}, Counter(), Counter(), 0)
    for _pid, prrt_start, diagnosed, raw_tps, death, progressions, last_contact in rows:
        out.patients += 1
        found = _index(query, _day(prrt_start), _day(diagnosed), _timepoints(raw_tps))
        if isinstance(found, str):
            out.excluded[found] += 1
            continue
        index, source, timepoint = found
        outcome = _outcome(
            query.endpoint,
            index,
            _day(death),
            (date.fromisoformat(p) for p in progressions or ()),
            _day(last_contact),
        )
        if isinstance(outcome, str):
            out.excluded[outcome] += 1
            continue
        group = group_of(query.grouping, timepoint)
        out.sources[source] += 1
        out.durations.setdefault(group, []).append(outcome[0])
        out.events.setdefault(group, []).append(outcome[1])
    return out


def _number(value: Any) -> float | None:
    """A finite float, or None for lifelines' inf (not reached) and NaN."""
    number = float(value)
    return number if math.isfinite(number) else None


def _days(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else round(number, 1)


def _at_risk_ticks(longest: int) -> list[int]:
    step = next((s for s in _AT_RISK_STEPS if longest // s < _AT_RISK_TICKS), _AT_RISK_STEPS[-1])
    return list(range(0, longest + 1, step))


def _group_figures(
    group: str, durations: list[int], events: list[bool], ticks: list[int]
) -> dict[str, Any]:
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter().fit(durations, event_observed=events, label=group)
    median_ci = median_survival_times(kmf.confidence_interval_)
    survival = kmf.survival_function_.iloc[:, 0]
    bands = kmf.confidence_interval_
    curve, band, last = [], [], None
    for position, (day, value) in enumerate(survival.items()):
        # The steps: where the curve drops, and its start and end.
        if value != last or position == len(survival) - 1:
            curve.append([int(day), round(float(value), 6)])
            low, high = bands.iloc[position]
            band.append([int(day), _rounded(low), _rounded(high)])
            last = value
    table = kmf.event_table
    censored = [[int(day), int(n)] for day, n in table["censored"].items() if n]
    return {
        "group": group,
        "n": len(durations),
        "events": int(sum(events)),
        "median_days": _days(kmf.median_survival_time_),
        "ci_low_days": _days(median_ci.iloc[0, 0]),
        "ci_high_days": _days(median_ci.iloc[0, 1]),
        "curve": curve,
        "curve_ci": band,
        "censored": censored,
        "at_risk": [[tick, sum(1 for d in durations if d >= tick)] for tick in ticks],
    }


def _rounded(value: Any) -> float | None:
    number = _number(value)
    return None if number is None else round(number, 6)


def _logrank(
    groups: Mapping[str, tuple[list[int], list[bool]]], minimum: int
) -> tuple[dict[str, Any] | None, str | None]:
    tested = {g: v for g, v in groups.items() if g != NOT_CLASSIFIABLE}
    if len(tested) < 2:
        return None, "A log-rank test needs two or more classified groups with patients."
    small = sorted(g for g, (durations, _) in tested.items() if len(durations) < minimum)
    if small:
        return None, (
            f"Too few patients for a test: {', '.join(small)} "
            f"{'has' if len(small) == 1 else 'have'} fewer than {minimum} "
            "(NETBOARD_SURVIVAL_MIN_GROUP)."
        )
    from lifelines.statistics import multivariate_logrank_test

    durations, labels, events = [], [], []
    for group, (days, observed) in tested.items():
        durations += days
        events += observed
        labels += [group] * len(days)
    result = multivariate_logrank_test(durations, labels, events)
    chi2, p = _number(result.test_statistic), _number(result.p_value)
    if chi2 is None or p is None:
        return None, "No event in the groups tested: nothing to compare."
    return {"chi2": chi2, "df": int(result.degrees_of_freedom), "p": p}, None


def survival_figures(query: SurvivalQuery) -> dict[str, Any]:
    """The figures of one analysis (API.md ``analytics/survival/``), with the input version
    they were computed from."""
    version, rows = survival_cohort(**query.filters)
    found = subjects(query, rows)
    order = GROUPS[query.grouping]
    listed = [g for g in order if g in found.durations]
    longest = max((max(d) for d in found.durations.values()), default=0)
    ticks = _at_risk_ticks(longest)
    minimum = settings.NETBOARD_SURVIVAL_MIN_GROUP
    logrank, note = _logrank({g: (found.durations[g], found.events[g]) for g in listed}, minimum)
    return {
        "status": "ready",
        "endpoint": query.endpoint,
        "grouping": query.grouping,
        "index": query.index,
        "filters": query.filters,
        "min_group_size": minimum,
        "patients": found.patients,
        "analysed": sum(len(d) for d in found.durations.values()),
        "excluded": {reason: found.excluded[reason] for reason in EXCLUSIONS},
        "index_sources": {source: found.sources[source] for source in INDEX_SOURCES},
        "groups": [_group_figures(g, found.durations[g], found.events[g], ticks) for g in listed],
        "logrank": logrank,
        "logrank_note": note,
        "version": version,
        "computed_at": timezone.now().isoformat(),
    }
