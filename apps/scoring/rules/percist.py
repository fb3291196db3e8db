"""PERCIST 1.0 on the FDG PET series (DOMAIN.md §8, "PERCIST 1.0").

Each follow-up is compared with the baseline of the FDG series. The quantity is SULpeak (SUVpeak
× lean body mass / weight, lean body mass by Janmahasatian), else SUVpeak when the lean body mass
cannot be worked out, else SUVmax (SULmax) when a lesion has no SUVpeak. The baseline and the
follow-up of one comparison always use the same quantity: SUVmax is never compared with an
SUVpeak (it is higher by definition). The liver reference is converted alike.

The hottest lesion of each study is compared (ties: lower lesion id), only observations in state
``scored`` with a value taking part. Every decision is exact, in ``Decimal``: the factor
LBM / weight is held as the exact fraction ``N / D`` of the entered height and weight, so that
``SUL = SUV × N / D`` and a comparison of SULs is a comparison of products of entered decimals.
Numbers become floats only for display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Final, NamedTuple

from .inputs import JSON, PatientIn, StudyIn, Thresholds
from .scale import ABOVE_BACKGROUND, SCORED
from .series import Series, new_lesions
from .uptake import DECIMAL_CONTEXT, Uptake, score_study
from .wording import LesionNames, count, is_are, sentence, study_name

# Categories (API.md ``response/``), plus the two outcomes that are not a response category.
PMD: Final = "PMD"
CMR: Final = "CMR"
PMR: Final = "PMR"
SMD: Final = "SMD"
NE: Final = "NE"
NOT_MEASURABLE: Final = "not_measurable"

# Quantities.
SUL_PEAK: Final = "SULpeak"
SUV_PEAK: Final = "SUVpeak"
SUL_MAX: Final = "SULmax"
SUV_MAX: Final = "SUVmax"

# Fixed PERCIST 1.0 definitions, not site settings (those are in ``Thresholds``): the baseline's
# hottest lesion is measurable above 1.5 × liver mean + 2 × liver SD.
LIVER_MEAN_FACTOR: Final = Decimal("1.5")
LIVER_SD_FACTOR: Final = Decimal(2)

# Janmahasatian lean body mass: 9270·W / (a + b·BMI), with (a, b) by sex.
_LBM_NUMERATOR: Final = Decimal(9270)
_LBM_TERMS: Final = {"male": (Decimal(6680), Decimal(216)), "female": (Decimal(8780), Decimal(244))}
_CM_PER_M: Final = Decimal(100)
_CM2_PER_M2: Final = Decimal(10000)

_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_TENTH = Decimal("0.1")


def _usable(value: Decimal | None) -> bool:
    return value is not None and value.is_finite() and value > 0


def lean_body_mass_kg(
    sex: str, height_cm: Decimal | None, weight_kg: Decimal | None
) -> Decimal | None:
    """Lean body mass by Janmahasatian: BMI = W / (H in m)²; male 9270·W / (6680 + 216·BMI),
    female 9270·W / (8780 + 244·BMI). None when height or weight is missing or not positive, or
    sex is neither ``male`` nor ``female``."""
    terms = _LBM_TERMS.get(sex)
    if terms is None or height_cm is None or weight_kg is None:
        return None
    if not (_usable(height_cm) and _usable(weight_kg)):
        return None
    constant, per_bmi = terms
    with localcontext(DECIMAL_CONTEXT):
        height_m = height_cm / _CM_PER_M
        bmi = weight_kg / (height_m * height_m)
        return _LBM_NUMERATOR * weight_kg / (constant + per_bmi * bmi)


def _sul_factor(patient: PatientIn) -> tuple[Decimal, Decimal] | None:
    """LBM / weight as an exact fraction ``(N, D)``, or None when LBM cannot be worked out.

    LBM / W = 9270 / (a + b·W / H²) = 9270·H² / (a·H² + b·W); with H in cm, both terms times
    10 000: ``N = 9270·cm²`` and ``D = a·cm² + b·W·10 000``, products of entered decimals.
    """
    terms = _LBM_TERMS.get(patient.sex)
    height, weight = patient.height_cm, patient.weight_kg
    if terms is None or height is None or weight is None:
        return None
    if not (_usable(height) and _usable(weight)):
        return None
    constant, per_bmi = terms
    with localcontext(DECIMAL_CONTEXT):
        squared = height * height
        return _LBM_NUMERATOR * squared, constant * squared + per_bmi * weight * _CM2_PER_M2


def _missing_for_lbm(patient: PatientIn) -> list[str]:
    missing = []
    if not _usable(patient.height_cm):
        missing.append("height")
    if not _usable(patient.weight_kg):
        missing.append("weight")
    if patient.sex not in _LBM_TERMS:
        missing.append("sex (male or female)")
    return missing


def _round(value: Decimal | None, places: Decimal = _CENT) -> float | None:
    return None if value is None else float(value.quantize(places, rounding=ROUND_HALF_UP))


def _number(value: Decimal, places: Decimal = _CENT) -> str:
    return f"{value.quantize(places, rounding=ROUND_HALF_UP):f}"


def _setting(value: Decimal) -> str:
    """A setting as written: ``30``, ``0.8``."""
    return f"{value.normalize():f}"


class _Hottest(NamedTuple):
    lesion: int
    value: Decimal  # the entered SUVpeak or SUVmax, not converted


def _values(study: StudyIn, peak: bool) -> dict[int, Decimal]:
    """The value of each scored lesion with one (the highest, should a lesion appear twice)."""
    values: dict[int, Decimal] = {}
    for obs in study.observations:
        value = obs.suv_peak if peak else obs.suv_max
        if obs.state == SCORED and value is not None:
            known = values.get(obs.lesion)
            if known is None or value > known:
                values[obs.lesion] = value
    return values


def _hottest(values: Mapping[int, Decimal]) -> _Hottest | None:
    if not values:
        return None
    lesion = min(values, key=lambda lesion: (-values[lesion], lesion))
    return _Hottest(lesion, values[lesion])


def _without(study: StudyIn, peak: bool) -> list[int]:
    """Scored lesions that have a value but not the one ``peak`` asks for, in id order."""
    return sorted(
        {
            obs.lesion
            for obs in study.observations
            if obs.state == SCORED
            and (obs.suv_peak is None if peak else obs.suv_max is None)
            and (obs.suv_max if peak else obs.suv_peak) is not None
        }
    )


def _by_study(names: LesionNames, lesions: Iterable[tuple[StudyIn, list[int]]]) -> str:
    parts = [
        f"{names.many(ids)} on the {study_name(study)}" for study, ids in lesions if ids
    ]  # never empty when called
    return " and ".join(parts)


class _Comparison:
    """One follow-up compared with the baseline (one entry of the result)."""

    def __init__(
        self,
        patient: PatientIn,
        baseline: StudyIn,
        follow_up: StudyIn,
        thresholds: Thresholds,
        first_scored: dict[int, date],
        names: LesionNames,
        factor: tuple[Decimal, Decimal] | None,
    ) -> None:
        self.baseline, self.follow_up, self.thresholds = baseline, follow_up, thresholds
        self.names, self.factor = names, factor
        self.notes: list[str] = []
        pair = ((baseline, _without(baseline, True)), (follow_up, _without(follow_up, True)))
        self.peak = not any(ids for _, ids in pair)
        if factor is None:
            self.quantity = SUV_PEAK if self.peak else SUV_MAX
        else:
            self.quantity = SUL_PEAK if self.peak else SUL_MAX
        if not self.peak:
            self.notes.append(
                f"{self.quantity} was used instead of "
                f"{SUL_PEAK if factor is not None else SUV_PEAK}: there is no SUVpeak for "
                f"{_by_study(names, pair)}, and the baseline and the follow-up must be compared "
                "on the same quantity."
            )
            no_max = (
                (baseline, _without(baseline, False)),
                (follow_up, _without(follow_up, False)),
            )
            if any(ids for _, ids in no_max):
                self.notes.append(
                    sentence(
                        f"{_by_study(names, no_max)}: no SUVmax, so left out of the hottest lesion."
                    )
                )
        if factor is None:
            missing = _missing_for_lbm(patient)
            unconverted = SUV_PEAK if self.peak else SUV_MAX
            self.notes.append(
                f"{unconverted} was used instead of SUL (SUV × lean body mass / weight): lean "
                "body mass (Janmahasatian) needs height, weight and sex (male or female), and "
                f"the record has no usable {' or '.join(missing)}."
            )
        self.base_hot = _hottest(_values(baseline, self.peak))
        self.follow_hot = _hottest(_values(follow_up, self.peak))
        self.grades = score_study(follow_up, thresholds)
        self.new = new_lesions(first_scored, baseline, follow_up)
        self.new_positive = [lesion for lesion in self.new if _positive(self.grades.get(lesion))]
        self.ungradable = sorted(
            lesion for lesion, uptake in self.grades.items() if uptake.ungradable
        )

    def scaled(self, value: Decimal) -> Decimal:
        """An entered SUV as the quantity shown: × LBM / weight when LBM is known."""
        if self.factor is None:
            return value
        numerator, denominator = self.factor
        return value * numerator / denominator

    def convert(self, value: Decimal | None) -> Decimal | None:
        return None if value is None else self.scaled(value)

    def at_least_units(self, difference: Decimal) -> bool:
        """``difference × LBM / weight ≥ units``, exactly: ``difference × N ≥ units × D``."""
        units = self.thresholds.percist_sul_units
        if self.factor is None:
            return difference >= units
        numerator, denominator = self.factor
        return difference * numerator >= units * denominator

    def entry(self, lbm: Decimal | None) -> JSON:
        baseline, follow_up, thresholds = self.baseline, self.follow_up, self.thresholds
        base_hot, follow_hot = self.base_hot, self.follow_hot
        liver, sd = baseline.liver_suv, baseline.liver_suv_sd
        threshold = (
            LIVER_MEAN_FACTOR * liver + LIVER_SD_FACTOR * sd
            if liver is not None and sd is not None
            else None
        )
        measurable = threshold is not None and base_hot is not None and base_hot.value > threshold

        share = thresholds.percist_percent / _HUNDRED
        change = percent = None
        rose = fell = False
        if base_hot is not None and follow_hot is not None:
            base, follow = base_hot.value, follow_hot.value
            change = follow - base
            if base > 0:
                percent = change / base * _HUNDRED
            rose = follow >= base * (_ONE + share) and self.at_least_units(change)
            fell = follow <= base * (_ONE - share) and self.at_least_units(-change)
        graded = [uptake.score for uptake in self.grades.values() if uptake.score is not None]
        # An ungradable lesion never counts as negative (§2.1): it leaves CMR unproven; so does
        # a follow-up with no graded lesion at all (every one not evaluable, or none observed).
        all_low = (
            bool(graded)
            and not self.ungradable
            and all(score < ABOVE_BACKGROUND for score in graded)
        )

        # A new FDG-avid lesion is progression whatever the baseline (issue 5: "new FDG-avid
        # lesion → PMD"; PERCIST 1.0 alike), so it is checked before measurability.
        if self.new_positive:
            category = PMD
            reason = (
                f"PMD: new FDG-positive {self._lesions(self.new_positive)} (FDG grade "
                f"{ABOVE_BACKGROUND} or more) on the {study_name(follow_up)}; {self._course()}."
            )
        elif not measurable:
            category = NOT_MEASURABLE
            reason = self._not_measurable(liver, sd)
        elif rose:
            category = PMD
            reason = f"PMD: {self._course()}, a rise of at least {self._limits()}."
        elif all_low:
            category = CMR
            reason = (
                f"CMR: {self._every_low(graded)} and there is no new FDG-positive lesion; "
                f"{self._course()}."
            )
        elif follow_hot is None:
            category = NE
            reason = (
                f"NE: no lesion on the {study_name(follow_up)} has a scored {self._entered()} to "
                "compare "
                f"with the baseline's hottest {self._value(base_hot)}, and not every lesion is "
                f"at FDG grade {ABOVE_BACKGROUND - 1} or less."
            )
        elif fell:
            category = PMR
            reason = f"PMR: {self._course()}, a fall of at least {self._limits()}."
        else:
            category = SMD
            reason = (
                f"SMD: {self._course()}, neither a rise nor a fall of at least {self._limits()}."
            )
        self._lesion_notes()
        return {
            "study": follow_up.id,
            "baseline_study": baseline.id,
            "performed_on": follow_up.performed_on.isoformat(),
            "category": category,
            "measurable": measurable,
            "quantity": self.quantity,
            "lean_body_mass_kg": _round(lbm),
            "liver_mean": _round(self.convert(liver)),
            "liver_sd": _round(self.convert(sd)),
            "measurability_threshold": _round(self.convert(threshold)),
            "baseline_hottest_lesion": base_hot.lesion if base_hot is not None else None,
            "baseline_hottest": _round(self.convert(base_hot.value if base_hot else None)),
            "hottest_lesion": follow_hot.lesion if follow_hot is not None else None,
            "hottest": _round(self.convert(follow_hot.value if follow_hot else None)),
            "change_percent": _round(percent, _TENTH),
            "change_units": _round(self.convert(change)),
            "new_lesions": self.new,
            "new_fdg_positive_lesions": self.new_positive,
            "ungradable_lesions": self.ungradable,
            "provisional": bool(self.ungradable),
            "notes": self.notes,
            "reason": reason,
        }

    # --- wording -------------------------------------------------------------------------------

    def _entered(self) -> str:
        return "SUVpeak" if self.peak else "SUVmax"

    def _lesions(self, lesions: list[int]) -> str:
        return self.names.many(lesions)  # "lesion 3" when unlabelled

    def _value(self, hot: _Hottest | None) -> str:
        if hot is None:
            return f"{self.quantity} (none)"
        shown = _number(self.scaled(hot.value))
        return f"{self.quantity} {shown} ({self.names.one(hot.lesion)})"

    def _limits(self) -> str:
        thresholds = self.thresholds
        return (
            f"{_setting(thresholds.percist_percent)}% and "
            f"{_setting(thresholds.percist_sul_units)} {self.quantity} units"
        )

    def _course(self) -> str:
        """How the hottest lesion went, with the numbers."""
        base_hot, follow_hot = self.base_hot, self.follow_hot
        if follow_hot is None:
            return (
                f"no lesion on the follow-up has a scored {self._entered()} (baseline hottest "
                f"{self._value(base_hot)})"
            )
        if base_hot is None:
            return f"the hottest lesion on the follow-up is at {self._value(follow_hot)}"
        change = self.scaled(follow_hot.value - base_hot.value)
        text = (
            f"the hottest lesion went from {self._value(base_hot)} at baseline "
            f"({study_name(self.baseline)}) to {self._value(follow_hot)}"
        )
        sign = "+" if change >= 0 else ""
        if base_hot.value > 0:
            percent = (follow_hot.value - base_hot.value) / base_hot.value * _HUNDRED
            text += f", {sign}{_number(percent, _TENTH)}%"
        return f"{text} and {sign}{_number(change)} units"

    def _every_low(self, graded: list[int]) -> str:
        study = study_name(self.follow_up)
        if not graded:
            return f"no lesion on the {study} has an FDG grade above {ABOVE_BACKGROUND - 1}"
        lesions = (
            "the only graded lesion" if len(graded) == 1 else f"all {len(graded)} graded lesions"
        )
        return (
            f"{lesions} on the {study} {is_are(len(graded))} at FDG grade "
            f"{ABOVE_BACKGROUND - 1} or less (no longer above blood-pool background)"
        )

    def _not_measurable(self, liver: Decimal | None, sd: Decimal | None) -> str:
        baseline = self.baseline
        if liver is None or sd is None:
            missing = [
                name
                for name, value in (("liver SUVmean", liver), ("liver SD", sd))
                if value is None
            ]
            why = f"the baseline {study_name(baseline)} has no {' and no '.join(missing)}"
        elif self.base_hot is None:
            why = f"no lesion on the baseline {study_name(baseline)} has a scored {self._entered()}"
        else:
            limit = LIVER_MEAN_FACTOR * liver + LIVER_SD_FACTOR * sd
            why = (
                f"the baseline's hottest lesion, {self._value(self.base_hot)}, is not above "
                f"{_setting(LIVER_MEAN_FACTOR)} × liver mean {_number(self.scaled(liver))} + "
                f"{_setting(LIVER_SD_FACTOR)} × liver SD {_number(self.scaled(sd))} = "
                f"{_number(self.scaled(limit))}"
            )
        text = f"Not measurable: {why}"
        if self.new_positive:
            text += (
                f"; new FDG-positive {self._lesions(self.new_positive)} on the "
                f"{study_name(self.follow_up)}"
            )
        return text + "."

    def _lesion_notes(self) -> None:
        names, follow_up = self.names, self.follow_up
        base_hot, follow_hot = self.base_hot, self.follow_hot
        if base_hot is not None and follow_hot is not None and base_hot.lesion != follow_hot.lesion:
            self.notes.append(
                f"The hottest lesion on the follow-up ({names.one(follow_hot.lesion)}) is not the "
                f"baseline's hottest ({names.one(base_hot.lesion)}): PERCIST compares the hottest "
                "lesion of each study."
            )
        negative = [lesion for lesion in self.new if lesion not in self.new_positive]
        if negative:
            self.notes.append(
                f"New {self._lesions(negative)} {is_are(len(negative))} not FDG-positive (FDG "
                f"grade below {ABOVE_BACKGROUND} or no grade), so "
                f"{'it does' if len(negative) == 1 else 'they do'} not make this PMD."
            )
        ungradable = self.ungradable
        if ungradable:
            self.notes.append(
                f"{count(len(ungradable), 'lesion')} on the {study_name(follow_up)} "
                f"({names.many(ungradable)}) {is_are(len(ungradable))} ungradable (no visual "
                "grade, and the SUV or references to compute one are missing): CMR cannot be "
                "established and the result is provisional."
            )


def _positive(uptake: Uptake | None) -> bool:
    """FDG-positive above background (§3): FDG grade ≥ 2, or a positive call."""
    return uptake is not None and uptake.score is not None and uptake.score >= ABOVE_BACKGROUND


def percist_series(
    patient: PatientIn, series: Series, thresholds: Thresholds, first_scored: dict[int, date]
) -> list[JSON]:
    """One PERCIST entry per follow-up of the FDG series, in date order (DOMAIN.md §8).

    ``series`` is ``build_series(patient, "fdg")`` and ``first_scored`` is
    ``first_scored_on(patient)``. No baseline or no follow-up gives ``[]``.

    In this order: **PMD** when a new lesion is FDG-positive (whatever the baseline);
    ``not_measurable`` when the baseline is not measurable (hottest lesion not above 1.5 × liver
    mean + 2 × liver SD, or no liver mean, SD or lesion value); **PMD** when the hottest rose by
    at least ``percist_percent`` % and ``percist_sul_units``; **CMR** when every lesion with an
    FDG grade is at grade 1 or less (not evaluable lesions are left out; lesions not seen are
    grade 0; an ungradable one, or no graded lesion at all, leaves CMR unproven, §2.1); ``NE``
    when no lesion on the follow-up has a value; **PMR** when the hottest fell by at least both;
    else **SMD**.
    """
    baseline = series.baseline
    if baseline is None or not series.follow_ups:
        return []
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions if lesion.label})
    lbm = lean_body_mass_kg(patient.sex, patient.height_cm, patient.weight_kg)
    factor = _sul_factor(patient)
    with localcontext(DECIMAL_CONTEXT):
        return [
            _Comparison(
                patient, baseline, follow_up, thresholds, first_scored, names, factor
            ).entry(lbm)
            for follow_up in series.follow_ups
        ]
