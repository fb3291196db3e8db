"""Uptake grade of one observation: the modified Krenning scale on PET (DOMAIN.md §2, §2.1).

This is on the hot path of the API (every observation's ``krenning_computed`` and ``flags``) and
of ``assess_phenotype``. The per-study products ``B·(1−t)`` and ``B·(1+t)`` and the validity of
the references are worked out once per study in ``study_references``; ``grade`` then costs a few
exact ``Decimal`` comparisons and returns a plain tuple. The ``Uptake`` dataclass is built only
for the public one-observation call.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from typing import NamedTuple

from .inputs import ObservationIn, StudyIn, Thresholds
from .scale import (
    ABOVE_BACKGROUND,
    ABOVE_LIVER,
    ANATOMIC,
    FDG,
    FDG_CALL_GRADE,
    FLAG_ORDER,
    NOT_EVALUABLE,
    NOT_SEEN,
    SOURCE_COMPUTED,
    SOURCE_FDG_VISUAL,
    SOURCE_NONE,
    SOURCE_STATE,
    SOURCE_VISUAL,
    SSTR,
)
from .tracers import PET_MODALITIES

# Arithmetic on entered decimals (reference products, TLR cross-products, ratios) runs in this
# context rather than the caller's thread context: 40 digits keep every product of values entered
# with a few decimals exact, so the comparisons that follow are exact (DOMAIN.md §2.1).
DECIMAL_CONTEXT = Context(prec=40)

_ONE = Decimal(1)
_FIVE_POINT = "five_point"  # SSTR and the other receptor/transporter tracers: 0-4 with spleen


class Grade(NamedTuple):
    """The fields of ``Uptake`` as a cheap tuple, for scoring many observations at once."""

    score: int | None
    source: str
    computed: int | None
    flags: tuple[str, ...]
    ungradable: bool


# An observation with its grade and its SUVmax for the §4.1 ratio (0 when not seen, §2.1).
Entry = tuple[ObservationIn, Grade, Decimal | None]

# Flags as bits, in FLAG_ORDER; _FLAG_SETS maps a combination to its ordered tuple of codes.
_SPLEEN_MISSING, _ORDER_INVALID, _DISAGREEMENT, _SMALL_LESION = 1, 2, 4, 8
_FLAG_SETS = tuple(
    tuple(code for bit, code in enumerate(FLAG_ORDER) if bits >> bit & 1)
    for bits in range(1 << len(FLAG_ORDER))
)
_new_tuple = tuple.__new__

_NOT_EVALUABLE = Grade(None, SOURCE_STATE, None, (), False)
_NOT_SEEN = Grade(0, SOURCE_STATE, None, (), False)
_NO_SCALE = Grade(None, SOURCE_NONE, None, (), False)


class StudyReferences(NamedTuple):
    """One study's reference uptake, prepared once for scoring all its observations (§2).

    A NamedTuple rather than a dataclass: it is built for every ``score_observation`` call.

    ``bands`` is ``(B·(1−t), B·(1+t), L)`` when B and L are present and in order, so that a
    score can be computed, else ``None``. ``small_lesion_mm`` is ``None`` where the PET
    overestimation caveat does not apply.
    """

    kind: str  # "FDG", "ANATOMIC" or "five_point"
    bands: tuple[Decimal, Decimal, Decimal] | None
    spleen: Decimal | None  # always None on FDG: FDG studies use the scale without the spleen
    order_bits: int  # the reference_order_invalid flag bit when the references are out of order
    small_lesion_mm: Decimal | None


def study_references(study: StudyIn, thresholds: Thresholds) -> StudyReferences:
    """Prepare the §2 bands of one study from its reference uptake and the settings.

    ``L ≤ B`` invalidates the computed score on any study; ``S ≤ L`` only on an SSTR study, and
    FDG studies ignore the spleen altogether (DOMAIN.md §2.1).
    """
    tracer_class = study.tracer_class
    kind = tracer_class if tracer_class in (FDG, ANATOMIC) else _FIVE_POINT
    blood, liver = study.blood_pool_suv, study.liver_suv
    spleen = None if kind == FDG else study.spleen_suv
    invalid = blood is not None and liver is not None and liver <= blood
    if tracer_class == SSTR and spleen is not None and liver is not None:
        invalid = invalid or spleen <= liver
    bands = None
    if blood is not None and liver is not None and not invalid:
        tolerance = thresholds.krenning_tolerance
        bands = (
            DECIMAL_CONTEXT.multiply(blood, DECIMAL_CONTEXT.subtract(_ONE, tolerance)),
            DECIMAL_CONTEXT.multiply(blood, DECIMAL_CONTEXT.add(_ONE, tolerance)),
            liver,
        )
    small_applies = tracer_class == SSTR and study.modality in PET_MODALITIES
    return StudyReferences(
        kind=kind,
        bands=bands,
        spleen=spleen,
        order_bits=_ORDER_INVALID if invalid else 0,
        small_lesion_mm=thresholds.small_lesion_mm if small_applies else None,
    )


def grade(obs: ObservationIn, refs: StudyReferences) -> Grade:
    """Score one observation against prepared references (DOMAIN.md §2.1, in its order).

    Not evaluable → no score; not seen → 0; then the visual score; then the plain FDG call (FDG
    only); then the computed score. A scored observation with none of these is ungradable.
    Anatomic studies (CT/MRI) have no uptake scale: no score, never ungradable.
    """
    state = obs.state
    if state == NOT_EVALUABLE:
        return _NOT_EVALUABLE
    if refs.kind == ANATOMIC:
        return _NO_SCALE
    if state == NOT_SEEN:
        return _NOT_SEEN

    computed: int | None = None
    bits = refs.order_bits
    suv = obs.suv_max
    bands = refs.bands
    if suv is not None and bands is not None:
        # The bands are tried in the order written; the first that holds decides (§2.1).
        if suv < bands[0]:
            computed = 0
        elif suv <= bands[1]:
            computed = 1
        elif suv <= bands[2]:
            computed = 2
        elif refs.kind == FDG:
            computed = 3
        elif refs.spleen is None:
            computed = 3
            bits |= _SPLEEN_MISSING
        else:
            computed = 3 if suv < refs.spleen else 4

    visual = obs.krenning_visual
    call = obs.fdg_visual
    if visual is not None:
        score: int | None = visual
        source = SOURCE_VISUAL
        if computed is not None and computed != visual:
            bits |= _DISAGREEMENT
    elif call is not None and refs.kind == FDG and call in FDG_CALL_GRADE:
        score = FDG_CALL_GRADE[call]
        source = SOURCE_FDG_VISUAL
    elif computed is not None:
        score = computed
        source = SOURCE_COMPUTED
    else:
        score = None
        source = SOURCE_NONE

    small_mm = refs.small_lesion_mm
    if small_mm is not None:
        axis = obs.long_axis_mm
        if axis is not None and axis < small_mm:
            bits |= _SMALL_LESION
    # tuple.__new__ skips the Python-level NamedTuple constructor: this runs for every observation.
    return _new_tuple(Grade, (score, source, computed, _FLAG_SETS[bits], score is None))


@dataclass(frozen=True, slots=True)
class Uptake:
    """The uptake grade of one observation (DOMAIN.md §2).

    ``score`` is the effective score every rule uses (None when not evaluable or ungradable);
    ``source`` says where it came from: ``state`` (not seen / not evaluable), ``visual`` (the
    reader's score or visual FDG grade), ``fdg_visual`` (a plain positive/negative FDG call, held
    as grade 3 / 0 so that it stands for both §3 thresholds), ``computed``, or ``none``.
    ``computed`` is the score from SUVs, shown beside the visual one; it never overwrites it.
    """

    score: int | None
    source: str
    computed: int | None = None
    flags: tuple[str, ...] = ()
    ungradable: bool = False

    @property
    def positive_background(self) -> bool | None:
        """Positive above background (NETPET, Karfis: score ≥ 2, or a positive call; §3)."""
        return None if self.score is None else self.score >= ABOVE_BACKGROUND

    @property
    def positive_liver(self) -> bool | None:
        """Positive above liver (Zidan, PRRT target adequacy: score ≥ 3, or a positive call)."""
        return None if self.score is None else self.score >= ABOVE_LIVER


def score_observation(obs: ObservationIn, study: StudyIn, thresholds: Thresholds) -> Uptake:
    """The §2 uptake grade of one observation on its study.

    Flags: ``spleen_reference_missing`` (above liver with no spleen value: 3, never 4),
    ``reference_order_invalid`` (L ≤ B, or S ≤ L on SSTR; scored observations only),
    ``score_disagreement`` (visual and computed differ by 1 or more), ``pet_may_overestimate``
    (scored observation on an SSTR PET with long axis under ``small_lesion_mm``). For scoring
    every observation of one study, ``score_study`` prepares the references only once.
    """
    return Uptake(*grade(obs, study_references(study, thresholds)))


def score_study(study: StudyIn, thresholds: Thresholds) -> dict[int, Uptake]:
    """The uptake grade of every observation of one study, by lesion id."""
    refs = study_references(study, thresholds)
    return {obs.lesion: Uptake(*grade(obs, refs)) for obs in study.observations}
