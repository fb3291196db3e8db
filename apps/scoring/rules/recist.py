"""RECIST 1.1 on the anatomic (CT/MRI) series (DOMAIN.md §8, "RECIST 1.1").

Targets are the baseline observations marked ``target``; with none marked, the largest measurable
lesions, at most 2 per site and 5 in all (ties: lower lesion id). A marked selection that breaks a
rule gives no category but an error naming the rule. Each follow-up's sum of target diameters
(long axis, short axis for lymph nodes; a target not seen counts 0 mm) is compared with the nadir
for PD and with the baseline for PR. Every comparison is exact, in ``Decimal``; numbers become
floats only for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, NamedTuple

from .inputs import JSON, LesionIn, ObservationIn, PatientIn, StudyIn, Thresholds
from .scale import NOT_SEEN, SCORED
from .series import Series, new_lesions
from .wording import LesionNames, count, study_name

# Fixed RECIST 1.1 definitions, not site settings (those are in ``Thresholds``).
MAX_TARGETS: Final = 5
MAX_TARGETS_PER_SITE: Final = 2
NORMAL_NODE_SHORT_AXIS_MM: Final = Decimal("10")  # a node under 10 mm short axis is normal

# Categories.
CR: Final = "CR"
PR: Final = "PR"
SD: Final = "SD"
PD: Final = "PD"
NE: Final = "NE"

# Where the targets came from.
TARGETS_MARKED: Final = "marked"
TARGETS_PICKED: Final = "picked"

# Selection errors, in the order they are checked.
TOO_MANY_TARGETS: Final = "too_many_targets"
TOO_MANY_PER_SITE: Final = "too_many_per_site"
TARGET_NOT_MEASURABLE: Final = "target_not_measurable"

# Which diameter a target is summed by.
LONG_AXIS: Final = "long_axis"
SHORT_AXIS: Final = "short_axis"

_HUNDRED = Decimal(100)
_TENTH = Decimal("0.1")


class TargetSelection(NamedTuple):
    """The target lesions of a baseline (lesion ids in id order) and where they came from.

    ``error`` is set only for a marked selection that breaks a rule; ``targets`` then holds the
    marked lesions as they were marked.
    """

    targets: list[int]
    source: str  # TARGETS_MARKED or TARGETS_PICKED
    error: dict[str, str] | None


def _lesion(lesions: Mapping[int, LesionIn], lesion: int) -> LesionIn:
    """The lesion; one missing from the record counts as non-nodal, site "other"."""
    found = lesions.get(lesion)
    return found if found is not None else LesionIn(id=lesion)


def _diameter(obs: ObservationIn, lesion: LesionIn) -> Decimal | None:
    """The diameter RECIST sums: the short axis of a node, else the long axis."""
    return obs.short_axis_mm if lesion.nodal else obs.long_axis_mm


def _axis_name(lesion: LesionIn) -> str:
    return "short axis" if lesion.nodal else "long axis"


def _minimum(lesion: LesionIn, thresholds: Thresholds) -> Decimal:
    return thresholds.recist_nodal_mm if lesion.nodal else thresholds.recist_measurable_mm


def _measurable(obs: ObservationIn, lesion: LesionIn, thresholds: Thresholds) -> Decimal | None:
    """The lesion's measure when it is measurable at baseline, else None."""
    measure = _diameter(obs, lesion)
    if obs.state != SCORED or measure is None or measure < _minimum(lesion, thresholds):
        return None
    return measure


def _mm(value: Decimal) -> Decimal:
    return value.quantize(_TENTH, rounding=ROUND_HALF_UP)


def _text(value: Decimal) -> str:
    """A setting as written: ``10``, ``2.5``."""
    return f"{value.normalize():f}"


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(_mm(value))


def _all_names(names: LesionNames, lesions: Sequence[int]) -> str:
    """Every lesion named (an error must name them all, unlike ``LesionNames.many``)."""
    named = [names.one(lesion) for lesion in lesions]
    if len(named) <= 1:
        return "".join(named)
    return f"{', '.join(named[:-1])} and {named[-1]}"


def _site(site: str) -> str:
    return site.replace("_", " ")


def select_targets(
    baseline: StudyIn, lesions: Mapping[int, LesionIn], thresholds: Thresholds
) -> TargetSelection:
    """The baseline's target lesions (DOMAIN.md §8): marked ones, checked, else picked."""
    names = LesionNames({lesion.id: lesion.label for lesion in lesions.values()})
    marked = {obs.lesion: obs for obs in baseline.observations if obs.target}
    if marked:
        ids = sorted(marked)
        return TargetSelection(
            ids, TARGETS_MARKED, _selection_error(ids, marked, lesions, thresholds, names)
        )
    candidates = sorted(
        (
            (-measure, obs.lesion)
            for obs in baseline.observations
            for measure in (_measurable(obs, _lesion(lesions, obs.lesion), thresholds),)
            if measure is not None
        ),
    )
    picked: list[int] = []
    per_site: dict[str, int] = {}
    for _, lesion_id in candidates:
        site = _lesion(lesions, lesion_id).site
        if per_site.get(site, 0) >= MAX_TARGETS_PER_SITE:
            continue
        per_site[site] = per_site.get(site, 0) + 1
        picked.append(lesion_id)
        if len(picked) == MAX_TARGETS:
            break
    return TargetSelection(sorted(picked), TARGETS_PICKED, None)


def _selection_error(
    ids: list[int],
    marked: Mapping[int, ObservationIn],
    lesions: Mapping[int, LesionIn],
    thresholds: Thresholds,
    names: LesionNames,
) -> dict[str, str] | None:
    """The first RECIST rule a marked selection breaks, or None."""
    if len(ids) > MAX_TARGETS:
        return {
            "rule": TOO_MANY_TARGETS,
            "message": (
                f"{len(ids)} lesions are marked as targets ({_all_names(names, ids)}), but "
                f"RECIST 1.1 allows at most {MAX_TARGETS}."
            ),
        }
    by_site: dict[str, list[int]] = {}
    for lesion_id in ids:
        by_site.setdefault(_lesion(lesions, lesion_id).site, []).append(lesion_id)
    crowded = [
        (site, group)
        for site, group in sorted(by_site.items())
        if len(group) > MAX_TARGETS_PER_SITE
    ]
    if crowded:
        where = " and ".join(
            f"{len(group)} on the {_site(site)} ({_all_names(names, group)})"
            for site, group in crowded
        )
        return {
            "rule": TOO_MANY_PER_SITE,
            "message": (
                f"Targets are marked {where}, but RECIST 1.1 allows at most "
                f"{MAX_TARGETS_PER_SITE} per site."
            ),
        }
    unmeasurable = [
        f"{names.one(lesion_id)} ({_why_not_measurable(marked[lesion_id], lesion, thresholds)})"
        for lesion_id in ids
        for lesion in (_lesion(lesions, lesion_id),)
        if _measurable(marked[lesion_id], lesion, thresholds) is None
    ]
    if unmeasurable:
        listed = (
            unmeasurable[0]
            if len(unmeasurable) == 1
            else f"{', '.join(unmeasurable[:-1])} and {unmeasurable[-1]}"
        )
        return {
            "rule": TARGET_NOT_MEASURABLE,
            "message": (
                f"Marked target{'s' if len(unmeasurable) > 1 else ''} {listed} "
                f"{'is' if len(unmeasurable) == 1 else 'are'} not measurable: RECIST 1.1 needs a "
                f"scored long axis of at least {_text(thresholds.recist_measurable_mm)} mm, or a "
                f"short axis of at least {_text(thresholds.recist_nodal_mm)} mm for a lymph node."
            ),
        }
    return None


def _why_not_measurable(obs: ObservationIn, lesion: LesionIn, thresholds: Thresholds) -> str:
    if obs.state != SCORED:
        return f"{obs.state.replace('_', ' ')} at baseline"
    measure = _diameter(obs, lesion)
    if measure is None:
        return f"no {_axis_name(lesion)} recorded"
    return f"{_axis_name(lesion)} {_mm(measure)} mm, under {_text(_minimum(lesion, thresholds))} mm"


class _Target(NamedTuple):
    lesion: LesionIn
    baseline_mm: Decimal | None


class _Reading(NamedTuple):
    """A target on one follow-up: its diameter, or why there is none."""

    mm: Decimal | None
    state: str | None
    missing: str | None  # why the target has no usable diameter here


def _read(obs: ObservationIn | None, lesion: LesionIn) -> _Reading:
    if obs is None:
        return _Reading(None, None, "no observation")
    if obs.state == NOT_SEEN:
        return _Reading(Decimal(0), obs.state, None)
    if obs.state != SCORED:
        return _Reading(None, obs.state, obs.state.replace("_", " "))
    measure = _diameter(obs, lesion)
    if measure is None:
        return _Reading(None, obs.state, f"no {_axis_name(lesion)} recorded")
    return _Reading(measure, obs.state, None)


def recist_series(
    patient: PatientIn, series: Series, thresholds: Thresholds, first_scored: dict[int, date]
) -> list[JSON]:
    """One RECIST 1.1 result per follow-up of the anatomic ``series``, in date order.

    ``series`` is ``build_series(patient, "anatomic")`` and ``first_scored`` is
    ``first_scored_on(patient)``. Empty when the series has no baseline or no follow-up.
    """
    baseline = series.baseline
    if baseline is None or not series.follow_ups:
        return []
    lesions = {lesion.id: lesion for lesion in patient.lesions}
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions})
    selection = select_targets(baseline, lesions, thresholds)
    at_baseline = {obs.lesion: obs for obs in baseline.observations}
    targets = [
        _Target(
            lesion, _diameter(at_baseline[lesion_id], lesion) if lesion_id in at_baseline else None
        )
        for lesion_id in selection.targets
        for lesion in (_lesion(lesions, lesion_id),)
    ]
    valid = selection.error is None and bool(targets)
    baseline_sum = _sum(t.baseline_mm for t in targets) if valid else None
    nadir = baseline_sum
    nadir_study: StudyIn | None = baseline if valid else None
    results = []
    for follow_up in series.follow_ups:
        on_study = {obs.lesion: obs for obs in follow_up.observations}
        readings = [_read(on_study.get(t.lesion.id), t.lesion) for t in targets]
        total = _sum(r.mm for r in readings) if valid else None
        new = new_lesions(first_scored, baseline, follow_up)
        context = _Context(
            names, thresholds, baseline, follow_up, targets, readings, new, total, baseline_sum
        )
        category, reason = _categorise(context, selection, nadir, nadir_study)
        results.append(
            {
                "study": follow_up.id,
                "baseline_study": baseline.id,
                "performed_on": follow_up.performed_on.isoformat(),
                "baseline_performed_on": baseline.performed_on.isoformat(),
                "category": category,
                "error": dict(selection.error) if selection.error is not None else None,
                "target_source": selection.source,
                "targets": [_target_json(t, r) for t, r in zip(targets, readings, strict=True)],
                "missing_targets": [
                    t.lesion.id for t, r in zip(targets, readings, strict=True) if r.mm is None
                ],
                "sum_mm": _float(total),
                "baseline_sum_mm": _float(baseline_sum),
                "nadir_sum_mm": _float(nadir),
                "nadir_study": nadir_study.id if nadir_study is not None else None,
                "change_from_baseline_percent": _percent(total, baseline_sum),
                "change_from_nadir_percent": _percent(total, nadir),
                "change_from_nadir_mm": (
                    _float(total - nadir) if total is not None and nadir is not None else None
                ),
                "new_lesions": new,
                "reason": reason,
            }
        )
        if total is not None and nadir is not None and total < nadir:
            nadir, nadir_study = total, follow_up
    return results


def _sum(values: Iterable[Decimal | None]) -> Decimal | None:
    total = Decimal(0)
    for value in values:
        if value is None:
            return None
        total += value
    return total


def _percent(value: Decimal | None, reference: Decimal | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return float(((value - reference) / reference * _HUNDRED).quantize(_TENTH, ROUND_HALF_UP))


def _target_json(target: _Target, reading: _Reading) -> JSON:
    lesion = target.lesion
    return {
        "lesion": lesion.id,
        "site": lesion.site,
        "nodal": lesion.nodal,
        "measure": SHORT_AXIS if lesion.nodal else LONG_AXIS,
        "baseline_mm": _float(target.baseline_mm),
        "mm": _float(reading.mm),
        "state": reading.state,
    }


class _Context(NamedTuple):
    names: LesionNames
    thresholds: Thresholds
    baseline: StudyIn
    follow_up: StudyIn
    targets: list[_Target]
    readings: list[_Reading]
    new: list[int]
    total: Decimal | None
    baseline_sum: Decimal | None


def _categorise(
    c: _Context, selection: TargetSelection, nadir: Decimal | None, nadir_study: StudyIn | None
) -> tuple[str | None, str]:
    """The category of one follow-up and its reason, in the §8 order."""
    if selection.error is not None:
        return None, (
            "No RECIST 1.1 category, as the baseline target selection breaks a rule: "
            f"{selection.error['message']}"
        )
    new_text = (
        f"{_all_names(c.names, c.new)} {'is' if len(c.new) == 1 else 'are'} new (first scored "
        f"after the baseline of {c.baseline.performed_on.isoformat()})"
    )
    if not c.targets:
        no_target = f"there was no measurable target lesion at baseline ({study_name(c.baseline)})"
        if c.new:
            return PD, f"PD: {new_text}; {no_target}."
        return NE, f"NE: {no_target}, so there is no sum to compare and no new lesion."
    if c.total is None or c.baseline_sum is None or nadir is None or nadir_study is None:
        missing = [
            f"{c.names.one(t.lesion.id)} ({r.missing})"
            for t, r in zip(c.targets, c.readings, strict=True)
            if r.missing is not None
        ]
        listed = missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"
        no_sum = f"the target sum cannot be formed: no usable measurement of {listed}"
        if c.new:
            return PD, f"PD: {new_text}; {no_sum}."
        return NE, f"NE: {no_sum}."
    t = c.thresholds
    summed = f"the sum of {count(len(c.targets), 'target diameter')} is {_mm(c.total)} mm"
    if c.new:
        return PD, f"PD: {new_text}; {summed}."
    from_nadir = (
        f"{_change(c.total, nadir)} the nadir of {_mm(nadir)} mm ({study_name(nadir_study)})"
    )
    if (
        c.total * _HUNDRED >= nadir * (_HUNDRED + t.recist_pd_percent)
        and c.total - nadir >= t.recist_pd_mm
    ):
        return PD, (
            f"PD: {summed}, {from_nadir}, which reaches the rise of "
            f"{_text(t.recist_pd_percent)}% and {_text(t.recist_pd_mm)} mm for progression."
        )
    if _complete(c):
        return CR, (
            f"CR: every non-nodal target has gone and every nodal target is under "
            f"{_text(NORMAL_NODE_SHORT_AXIS_MM)} mm short axis ({summed}, baseline "
            f"{_mm(c.baseline_sum)} mm)."
        )
    from_baseline = (
        f"{_change(c.total, c.baseline_sum)} the baseline sum of {_mm(c.baseline_sum)} mm"
    )
    if c.baseline_sum > 0 and c.total * _HUNDRED <= c.baseline_sum * (
        _HUNDRED - t.recist_pr_percent
    ):
        return PR, (
            f"PR: {summed}, {from_baseline}, which reaches the fall of "
            f"{_text(t.recist_pr_percent)}% for a partial response."
        )
    return SD, (
        f"SD: {summed}, {from_baseline} and {from_nadir}: neither the fall of "
        f"{_text(t.recist_pr_percent)}% for a partial response nor the rise of "
        f"{_text(t.recist_pd_percent)}% and {_text(t.recist_pd_mm)} mm for progression."
    )


def _change(value: Decimal, reference: Decimal) -> str:
    """``"-30.0% (-15.0 mm) from"``; no percentage from a reference of 0 mm."""
    mm = f"{_mm(value - reference):+} mm"
    percent = _percent(value, reference)
    if percent is None:
        return f"{mm} from"
    return f"{percent:+.1f}% ({mm}) from"


def _complete(c: _Context) -> bool:
    """Every non-nodal target at 0 mm and every nodal target under the normal node size."""
    for target, reading in zip(c.targets, c.readings, strict=True):
        mm = reading.mm
        if mm is None:
            return False
        if target.lesion.nodal:
            if mm >= NORMAL_NODE_SHORT_AXIS_MM:
                return False
        elif mm != 0:
            return False
    return True
