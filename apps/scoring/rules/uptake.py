"""Uptake grade of one observation: the modified Krenning scale on PET (docs/clinical-rules.md §2,
§2.1).

``study_references`` prepares one study's bands ``B·(1−t)``, ``B·(1+t)``, ``L`` and the validity
of its references; ``grade`` then scores each observation against them, in the order of §2.1.
``computes_score`` decides on which studies a score is computed from SUVs at all: every page, the
API and the stored scores go through it (by way of ``study_references``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

from .inputs import ObservationIn, StudyIn, Thresholds
from .scale import (
    ABOVE_BACKGROUND,
    ABOVE_LIVER,
    ANATOMIC,
    FDG,
    FDG_CALL_GRADE,
    NOT_EVALUABLE,
    NOT_SEEN,
    PET_MAY_OVERESTIMATE,
    REFERENCE_ORDER_INVALID,
    SCORE_DISAGREEMENT,
    SOURCE_COMPUTED,
    SOURCE_FDG_VISUAL,
    SOURCE_NONE,
    SOURCE_STATE,
    SOURCE_VISUAL,
    SPLEEN_REFERENCE_MISSING,
    SSTR,
)
from .tracers import PET_MODALITIES, SPECT_CT

# Arithmetic on entered decimals (reference products, TLR cross-products, ratios) runs in this
# context rather than the caller's thread context: 40 digits keep every product of values entered
# with a few decimals exact, so the comparisons that follow are exact (§2.1).
DECIMAL_CONTEXT = Context(prec=40)

_ONE = Decimal(1)
_FIVE_POINT = "five_point"  # SSTR and the other receptor/transporter tracers: 0-4 with spleen


@dataclass(frozen=True, slots=True)
class Uptake:
    """The uptake grade of one observation (§2).

    ``score`` is the effective score every rule uses (None when not evaluable or ungradable);
    ``source`` says where it came from: ``state`` (not seen / not evaluable), ``visual`` (the
    reader's score or visual FDG grade), ``fdg_visual`` (a plain positive/negative FDG call, held
    as grade 3 / 0 so that it stands for both §3 thresholds), ``computed``, or ``none``.
    ``computed`` is the score from SUVs, shown beside the visual one; it never overwrites it.
    ``flags`` are in ``scale.FLAG_ORDER``.
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


_NOT_EVALUABLE = Uptake(None, SOURCE_STATE)
_NOT_SEEN = Uptake(0, SOURCE_STATE)  # its SUVmax counts as 0 (§2.1)
_NO_SCALE = Uptake(None, SOURCE_NONE)  # CT/MRI: no uptake scale, never ungradable


@dataclass(frozen=True, slots=True)
class Bands:
    """The limits of the computed score on one study (§2): blood pool ``B`` with the tolerance
    ``t`` either side, and liver ``L``."""

    below_blood: Decimal  # B·(1−t)
    above_blood: Decimal  # B·(1+t)
    liver: Decimal  # L


@dataclass(frozen=True, slots=True)
class StudyReferences:
    """One study's reference uptake, prepared once for scoring all its observations (§2).

    ``bands`` is set when B and L are present and in order, so that a score can be computed.
    ``small_lesion_mm`` is ``None`` where the PET overestimation caveat does not apply.
    """

    kind: str  # FDG, ANATOMIC or "five_point"
    bands: Bands | None
    spleen: Decimal | None  # always None on FDG: FDG studies use the scale without the spleen
    order_invalid: bool  # L ≤ B, or S ≤ L on SSTR
    small_lesion_mm: Decimal | None


def computes_score(study: StudyIn) -> bool:
    """Whether a score is computed from SUVs on this study at all (§2, §7, §11.1).

    On a PET (``pet_ct``, ``pet_mri``): §2 is the scale "as used on PET", and §11.1 says a
    computed score exists only there. On a post-therapy SPECT too: §7 compares the
    post-177Lu-DOTATATE SPECT's score "visual, else computed". Not on a pre-therapy SPECT and
    never on planar scintigraphy (no SUV): there only the reader's visual score grades a lesion,
    so a scored lesion without one is ungradable.
    """
    if study.modality in PET_MODALITIES:
        return True
    return study.post_therapy and study.modality == SPECT_CT


def study_references(study: StudyIn, thresholds: Thresholds) -> StudyReferences:
    """Prepare the §2 bands of one study from its reference uptake and the settings.

    ``L ≤ B`` invalidates the computed score on any study; ``S ≤ L`` only on an SSTR study, and
    FDG studies ignore the spleen altogether (§2.1). Where no score is computed from SUVs
    (``computes_score``) there are no bands and no reference to be out of order.
    """
    tracer_class = study.tracer_class
    kind = tracer_class if tracer_class in (FDG, ANATOMIC) else _FIVE_POINT
    computes = computes_score(study)
    blood = study.blood_pool_suv if computes else None
    liver = study.liver_suv if computes else None
    spleen = None if kind == FDG or not computes else study.spleen_suv
    invalid = blood is not None and liver is not None and liver <= blood
    if tracer_class == SSTR and spleen is not None and liver is not None:
        invalid = invalid or spleen <= liver
    bands = None
    if blood is not None and liver is not None and not invalid:
        tolerance = thresholds.krenning_tolerance
        bands = Bands(
            below_blood=DECIMAL_CONTEXT.multiply(blood, DECIMAL_CONTEXT.subtract(_ONE, tolerance)),
            above_blood=DECIMAL_CONTEXT.multiply(blood, DECIMAL_CONTEXT.add(_ONE, tolerance)),
            liver=liver,
        )
    small_applies = tracer_class == SSTR and study.modality in PET_MODALITIES
    return StudyReferences(
        kind=kind,
        bands=bands,
        spleen=spleen,
        order_invalid=invalid,
        small_lesion_mm=thresholds.small_lesion_mm if small_applies else None,
    )


def computed_score(suv: Decimal, bands: Bands) -> int:
    """The score from SUVmax against blood pool and liver (§2): the bands are tried in the
    order written and the first that holds decides; above liver is 3 (the spleen, on the
    five-point scale, may raise it to 4: see ``grade``)."""
    if suv < bands.below_blood:
        return 0
    if suv <= bands.above_blood:
        return 1
    if suv <= bands.liver:
        return 2
    return 3


def grade(obs: ObservationIn, refs: StudyReferences) -> Uptake:
    """Score one observation against its study's prepared references (§2.1, in its order).

    Not evaluable → no score; not seen → 0; then the visual score; then the plain FDG call (FDG
    only); then the computed score. A scored observation with none of these is ungradable.
    Anatomic studies (CT/MRI) have no uptake scale: no score, never ungradable.
    """
    if refs.kind == ANATOMIC:
        return _NOT_EVALUABLE if obs.state == NOT_EVALUABLE else _NO_SCALE
    if obs.state == NOT_EVALUABLE:
        return _NOT_EVALUABLE
    if obs.state == NOT_SEEN:
        return _NOT_SEEN

    computed = None
    spleen_missing = False
    if obs.suv_max is not None and refs.bands is not None:
        computed = computed_score(obs.suv_max, refs.bands)
        if computed == 3 and refs.kind != FDG:  # above liver: the spleen decides (FDG: always 3)
            if refs.spleen is None:
                spleen_missing = True
            elif obs.suv_max >= refs.spleen:
                computed = 4

    visual, call = obs.krenning_visual, obs.fdg_visual
    score: int | None
    disagreement = False
    if visual is not None:
        score, source = visual, SOURCE_VISUAL
        disagreement = computed is not None and computed != visual
    elif refs.kind == FDG and call is not None and call in FDG_CALL_GRADE:
        score, source = FDG_CALL_GRADE[call], SOURCE_FDG_VISUAL
    elif computed is not None:
        score, source = computed, SOURCE_COMPUTED
    else:
        score, source = None, SOURCE_NONE

    small = (
        refs.small_lesion_mm is not None
        and obs.long_axis_mm is not None
        and obs.long_axis_mm < refs.small_lesion_mm
    )
    flags: tuple[str, ...] = ()  # in FLAG_ORDER
    if spleen_missing:
        flags += (SPLEEN_REFERENCE_MISSING,)
    if refs.order_invalid:
        flags += (REFERENCE_ORDER_INVALID,)
    if disagreement:
        flags += (SCORE_DISAGREEMENT,)
    if small:
        flags += (PET_MAY_OVERESTIMATE,)
    return Uptake(score, source, computed, flags, ungradable=score is None)


def score_observation(obs: ObservationIn, study: StudyIn, thresholds: Thresholds) -> Uptake:
    """The §2 uptake grade of one observation on its study.

    Flags: ``spleen_reference_missing`` (above liver with no spleen value: 3, never 4),
    ``reference_order_invalid`` (L ≤ B, or S ≤ L on SSTR; scored observations only),
    ``score_disagreement`` (visual and computed differ by 1 or more), ``pet_may_overestimate``
    (scored observation on an SSTR PET with long axis under ``small_lesion_mm``). For scoring
    every observation of one study, ``score_study`` prepares the references only once.
    """
    return grade(obs, study_references(study, thresholds))


def score_study(study: StudyIn, thresholds: Thresholds) -> dict[int, Uptake]:
    """The uptake grade of every observation of one study, by lesion id (in the order of the
    study's observations)."""
    refs = study_references(study, thresholds)
    return {obs.lesion: grade(obs, refs) for obs in study.observations}


@dataclass(frozen=True, slots=True)
class ScoredStudy:
    """One study scored once: its observations and their §2 grades, each by lesion id, in
    lesion-id order (so that what is built from them does not depend on the input's order)."""

    observations: dict[int, ObservationIn]
    uptakes: dict[int, Uptake]


def score_lesions(study: StudyIn, thresholds: Thresholds) -> ScoredStudy:
    """Every observation of one study with its §2 grade, by lesion id in id order. A study may
    observe a lesion only once: ``ValueError`` otherwise."""
    refs = study_references(study, thresholds)
    in_order = sorted(study.observations, key=lambda obs: obs.lesion)
    uptakes = {obs.lesion: grade(obs, refs) for obs in in_order}
    if len(uptakes) != len(in_order):
        raise ValueError(f"study {study.id}: more than one observation of the same lesion")
    return ScoredStudy({obs.lesion: obs for obs in in_order}, uptakes)
