"""Uptake grade of one observation: the modified Krenning scale on PET (DOMAIN.md §2, §2.1).

This is on the hot path of the API (every observation's ``krenning_computed`` and ``flags``) and
of ``assess_phenotype``. The per-study products ``B·(1−t)`` and ``B·(1+t)`` and the validity of
the references are worked out once per study in ``study_references``; ``grade_observations`` then
scores a whole study in one loop, a few exact ``Decimal`` comparisons per observation, and returns
plain tuples. The ``Uptake`` NamedTuple is built only for the public calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal
from typing import Final, NamedTuple

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


# The fields of ``Uptake`` as a plain tuple, for scoring many observations at once, followed by
# the SUVmax the dual-tracer ratio uses (§4.1) and its float: ``(score, source, computed, flags,
# ungradable, suv, suv_float)``, where ``suv`` is 0 when the lesion is not seen (§2.1) and the
# observation's SUVmax otherwise, and ``suv_float`` is ``float(suv)``. Deliberately not a
# NamedTuple: building a NamedTuple instance (even through ``tuple.__new__``) costs about four
# times a plain tuple, and one is built for every observation. Read it by unpacking, or with
# the indices below; ``Uptake(*grade[:SUV])``.
Grade = tuple[int | None, str, int | None, tuple[str, ...], bool, Decimal | None, float | None]
SCORE: Final = 0
SOURCE: Final = 1
COMPUTED: Final = 2
FLAGS: Final = 3
UNGRADABLE: Final = 4
SUV: Final = 5


class ScoredStudy(NamedTuple):
    """One study scored once (§2): its observations in lesion-id order, their lesion ids and
    their grades, as three parallel sequences. Built once per study by ``assess_phenotype``."""

    lesions: list[int]
    observations: Sequence[ObservationIn]
    grades: list[Grade]


# Flags as bits, in FLAG_ORDER; _FLAG_SETS maps a combination to its ordered tuple of codes.
_SPLEEN_MISSING, _ORDER_INVALID, _DISAGREEMENT, _SMALL_LESION = 1, 2, 4, 8
_FLAG_SETS = tuple(
    tuple(code for bit, code in enumerate(FLAG_ORDER) if bits >> bit & 1)
    for bits in range(1 << len(FLAG_ORDER))
)

_ZERO = Decimal(0)
# Not evaluable and anatomic observations have no score, so their SUVmax is never used.
_NOT_EVALUABLE: Grade = (None, SOURCE_STATE, None, (), False, None, None)
_NOT_SEEN: Grade = (0, SOURCE_STATE, None, (), False, _ZERO, 0.0)  # SUVmax counts as 0 (§2.1)
_NO_SCALE: Grade = (None, SOURCE_NONE, None, (), False, None, None)


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
        kind,
        bands,
        spleen,
        _ORDER_INVALID if invalid else 0,  # order_bits
        thresholds.small_lesion_mm if small_applies else None,  # small_lesion_mm
    )


def grade(obs: ObservationIn, refs: StudyReferences) -> Grade:
    """Score one observation against prepared references (see ``grade_observations``)."""
    return grade_observations((obs,), refs)[0]


def grade_observations(observations: Sequence[ObservationIn], refs: StudyReferences) -> list[Grade]:
    """Score the observations of one study against its prepared references (DOMAIN.md §2.1, in
    its order), in the order given.

    Not evaluable → no score; not seen → 0; then the visual score; then the plain FDG call (FDG
    only); then the computed score. A scored observation with none of these is ungradable.
    Anatomic studies (CT/MRI) have no uptake scale: no score, never ungradable.

    One loop for the whole study, with the references unpacked once: this is the hot path of
    ``assess_phenotype`` (every observation of every study).
    """
    kind, bands, spleen, order_bits, small_mm = refs
    if kind == ANATOMIC:
        return [_NOT_EVALUABLE if obs.state == NOT_EVALUABLE else _NO_SCALE for obs in observations]
    fdg = kind == FDG
    computable = bands is not None
    if bands is not None:
        below_blood, blood, liver = bands  # B·(1−t), B·(1+t), L
        # Ordered bands, the usual case: an SUV above L is then above the lower bands too, so
        # L is tried first. The band that holds first in the written order is the same; it just
        # takes one or two exact comparisons instead of three or four for most lesions.
        ordered = below_blood <= blood <= liver
    else:  # no computed score on this study: these are never compared
        below_blood = blood = liver = _ONE
        ordered = False
    grades: list[Grade] = []
    for obs in observations:
        state = obs.state
        if state == NOT_EVALUABLE:
            grades.append(_NOT_EVALUABLE)
            continue
        if state == NOT_SEEN:
            grades.append(_NOT_SEEN)
            continue

        computed: int | None = None
        bits = order_bits
        suv = obs.suv_max
        if suv is not None and computable:
            # The bands are tried in the order written; the first that holds decides (§2.1).
            if ordered and suv > liver:
                computed = 3
            elif suv < below_blood:
                computed = 0
            elif suv <= blood:
                computed = 1
            elif suv <= liver:
                computed = 2
            else:
                computed = 3
            if computed == 3 and not fdg:  # above liver: the spleen decides (FDG: always 3)
                if spleen is None:
                    bits |= _SPLEEN_MISSING
                elif suv >= spleen:
                    computed = 4

        visual = obs.krenning_visual
        call = obs.fdg_visual
        if visual is not None:
            score: int | None = visual
            source = SOURCE_VISUAL
            if computed is not None and computed != visual:
                bits |= _DISAGREEMENT
        elif call is not None and fdg and call in FDG_CALL_GRADE:
            score = FDG_CALL_GRADE[call]
            source = SOURCE_FDG_VISUAL
        elif computed is not None:
            score = computed
            source = SOURCE_COMPUTED
        else:
            score = None
            source = SOURCE_NONE

        if small_mm is not None:
            axis = obs.long_axis_mm
            if axis is not None and axis < small_mm:
                bits |= _SMALL_LESION
        grades.append(
            (score, source, computed, _FLAG_SETS[bits], score is None, suv, obs.suv_max_float)
        )
    return grades


class Uptake(NamedTuple):
    """The uptake grade of one observation (DOMAIN.md §2).

    ``score`` is the effective score every rule uses (None when not evaluable or ungradable);
    ``source`` says where it came from: ``state`` (not seen / not evaluable), ``visual`` (the
    reader's score or visual FDG grade), ``fdg_visual`` (a plain positive/negative FDG call, held
    as grade 3 / 0 so that it stands for both §3 thresholds), ``computed``, or ``none``.
    ``computed`` is the score from SUVs, shown beside the visual one; it never overwrites it.
    A NamedTuple (immutable, built a few times faster than a frozen dataclass): one is built per
    observation wherever a whole study is scored (``score_study``).
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
    return Uptake(*grade(obs, study_references(study, thresholds))[:SUV])


def score_study(study: StudyIn, thresholds: Thresholds) -> dict[int, Uptake]:
    """The uptake grade of every observation of one study, by lesion id."""
    observations = study.observations
    grades = grade_observations(observations, study_references(study, thresholds))
    return {obs.lesion: Uptake(*g[:SUV]) for obs, g in zip(observations, grades, strict=True)}
