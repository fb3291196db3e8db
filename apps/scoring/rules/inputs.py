"""Plain inputs of the clinical rules: settings and one patient's record (and ``JSON``, the
type of what the rules return).

The Django side builds these frozen dataclasses from the database; the rules never see a model.
Every SUV, diameter and threshold is a ``Decimal`` so that comparisons are exact
(DOMAIN.md §2.1 "Exact reading": ``1.65`` is exactly ``1.5 × 1.1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

# What the rules return: JSON objects (str keys; str, int, float, bool, None, lists, objects).
JSON = dict[str, Any]

# Settings that are shares or tolerances: a fraction in [0, 1] (DOMAIN.md §10).
_FRACTION_SETTINGS = frozenset(
    {"krenning_tolerance", "netpet_equal_tolerance", "heterogeneous_share", "majority_low_share"}
)
# Settings counted in whole days.
_DAY_SETTINGS = frozenset({"pairing_window_days"})


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The site-adjustable numbers of the rules (``NETBOARD_RULES``, DOMAIN.md §10)."""

    krenning_tolerance: Decimal = Decimal("0.10")
    small_lesion_mm: Decimal = Decimal("20")
    pairing_window_days: int = 60
    netpet_equal_tolerance: Decimal = Decimal("0.20")
    ki67_high: Decimal = Decimal("55")
    fdg_suvmax_prognostic: Decimal = Decimal("3.0")
    heterogeneous_share: Decimal = Decimal("0.50")
    majority_low_share: Decimal = Decimal("0.50")
    recist_pr_percent: Decimal = Decimal("30")
    recist_pd_percent: Decimal = Decimal("20")
    recist_pd_mm: Decimal = Decimal("5")
    recist_measurable_mm: Decimal = Decimal("10")
    recist_nodal_mm: Decimal = Decimal("15")
    percist_percent: Decimal = Decimal("30")
    percist_sul_units: Decimal = Decimal("0.8")

    def __post_init__(self) -> None:
        for name in _SETTING_NAMES:
            _check_range(name, getattr(self, name))

    @classmethod
    def from_overrides(cls, overrides: Mapping[str, object]) -> Thresholds:
        """Defaults of DOMAIN.md §10 with a site's overrides applied.

        Raises ``ValueError`` whose message starts with the offending key, for an unknown key, a
        value that is not a number (int, float or numeric str), a negative number, a share or
        tolerance outside [0, 1], or a ``pairing_window_days`` that is not a non-negative int.
        """
        values: dict[str, Decimal | int] = {}
        for name, raw in overrides.items():
            if name not in _SETTING_NAMES:
                known = ", ".join(_SETTING_NAMES)
                raise ValueError(f"{name}: unknown rules setting (known settings: {known})")
            values[name] = _parse_days(name, raw) if name in _DAY_SETTINGS else _parse(name, raw)
        return cls(**values)  # type: ignore[arg-type]  # keys and types checked above

    def as_dict(self) -> dict[str, float | int]:
        """The thresholds as JSON numbers, in declaration order (stored with every result)."""
        values: dict[str, float | int] = {}
        for name in _SETTING_NAMES:
            value = getattr(self, name)
            values[name] = value if isinstance(value, int) else float(value)
        return values


_SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Thresholds))


def _parse(name: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError(f"{name}: expected a number, got {raw!r}")
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{name}: expected a number, got {raw!r}") from None
    if not value.is_finite():
        raise ValueError(f"{name}: expected a finite number, got {raw!r}")
    return value


def _parse_days(name: str, raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"{name}: expected a whole number of days, got {raw!r}")
    return raw


def _check_range(name: str, value: object) -> None:
    if name in _DAY_SETTINGS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: expected a non-negative whole number of days, got {value!r}")
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"{name}: expected a finite Decimal, got {value!r}")
    if value < 0:
        raise ValueError(f"{name}: must not be negative, got {value}")
    if name in _FRACTION_SETTINGS and value > 1:
        raise ValueError(f"{name}: must be a fraction between 0 and 1, got {value}")


@dataclass(frozen=True, slots=True)
class ObservationIn:
    """One lesion on one study (DOMAIN.md §1 "observation")."""

    lesion: int
    state: str  # "scored" | "not_seen" | "not_evaluable"
    suv_max: Decimal | None = None
    suv_peak: Decimal | None = None
    krenning_visual: int | None = None  # 0-4 on SSTR; the visual FDG grade 0-3 on FDG studies
    krenning_min: int | None = None
    krenning_max: int | None = None
    fdg_visual: str | None = None  # "positive" | "negative" (FDG only)
    fdg_vs_sstr: str | None = None  # "lower" | "equal" | "higher" (on the FDG observation)
    long_axis_mm: Decimal | None = None
    short_axis_mm: Decimal | None = None
    heterogeneous: bool = False
    target: bool = False


@dataclass(frozen=True, slots=True)
class StudyIn:
    """One imaging examination of one patient on one date (DOMAIN.md §1 "study")."""

    id: int
    performed_on: date
    tracer: str  # API.md tracer code, e.g. "ga68_dotatate", "f18_fdg", "none"
    tracer_class: str  # DOMAIN.md §1 tracer class, see tracers.TRACER_CLASS
    modality: str = "pet_ct"  # pet_ct, pet_mri, spect_ct, planar, ct, mri
    post_therapy: bool = False
    blood_pool_suv: Decimal | None = None
    liver_suv: Decimal | None = None
    liver_suv_sd: Decimal | None = None
    spleen_suv: Decimal | None = None
    treatment: int | None = None
    cycle_number: int | None = None
    observations: tuple[ObservationIn, ...] = ()
    is_baseline: bool = False  # picked by a user as the baseline of its series (DOMAIN.md §8)
    # The read is not finished yet: results computed from it are preliminary. No rule reads it;
    # the stored result lists the draft studies (``apps.scoring.services.stored_fields``).
    draft: bool = False


@dataclass(frozen=True, slots=True)
class LesionIn:
    """One tumour site tracked across studies (DOMAIN.md §1 "lesion")."""

    id: int
    label: str = ""
    site: str = "other"
    nodal: bool = False
    is_primary: bool = False


@dataclass(frozen=True, slots=True)
class PathologyIn:
    """One pathology report (DOMAIN.md §6 uses the latest by ``reported_on``)."""

    reported_on: date
    who_grade: str | None = None  # "G1", "G2", "G3", "NEC"
    ki67_percent: Decimal | None = None
    differentiation: str | None = None  # "well", "poor"


@dataclass(frozen=True, slots=True)
class CycleIn:
    """One cycle of a radionuclide therapy course."""

    number: int
    given_on: date
    activity_gbq: Decimal | None = None


@dataclass(frozen=True, slots=True)
class TreatmentIn:
    """One treatment line (API.md treatment kinds)."""

    id: int
    kind: str
    started_on: date
    ended_on: date | None = None
    cycles: tuple[CycleIn, ...] = ()


@dataclass(frozen=True, slots=True)
class BiomarkerIn:
    """One biomarker measurement."""

    analyte: str
    value: Decimal
    measured_on: date
    unit: str = ""


@dataclass(frozen=True, slots=True)
class PatientIn:
    """Everything the rules need about one patient."""

    id: int
    primary_site: str = "unknown"
    histology: str | None = None
    sex: str = "unknown"
    height_cm: Decimal | None = None
    weight_kg: Decimal | None = None
    ppgl_cluster: str | None = None
    lesions: tuple[LesionIn, ...] = ()
    studies: tuple[StudyIn, ...] = ()
    pathology: tuple[PathologyIn, ...] = ()
    treatments: tuple[TreatmentIn, ...] = ()
    biomarkers: tuple[BiomarkerIn, ...] = ()
