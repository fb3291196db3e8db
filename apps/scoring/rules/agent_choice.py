"""Choice of radioligand therapy for PPGL: 131I-MIBG, 177Lu-DOTATATE or both in tandem
(docs/clinical-rules.md §11, §11.1; the review's Figs. 7 and 8).

``agent_choice`` returns the ``agent_choice`` of API.md ``GET patients/{id}/phenotype/``, or
None where §11 does not apply (histology other than pheochromocytoma or paraganglioma, or no
pre-therapy SSTR study with a pre-therapy MIBG study in the pairing window). It reads the §2
uptake scores (``uptake.score_lesions``: the same function and the same exact decimal bands as
every other rule, and what the pages show): a score computed from SUVs exists on a PET only
(``uptake.computes_score``, §11.1), and on an MIBG PET ``S ≤ L`` does not invalidate it
(``uptake.study_references`` applies that check to SSTR studies only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from .inputs import JSON, PatientIn, StudyIn, Thresholds
from .notes import PPGL_HISTOLOGY
from .scale import ABOVE_LIVER, NET, NOT_EVALUABLE, SSTR
from .tracers import THERAPEUTIC_TRACERS
from .uptake import score_lesions
from .wording import LesionNames, is_are, study_name

# ``suggestion`` / ``rest_suggestion`` codes (API.md).
LU177_DOTATATE = "lu177_dotatate"
I131_MIBG = "i131_mibg"
EITHER = "either"
TANDEM = "tandem"
PARTIAL = "partial"

# A lesion is covered by an agent when its uptake on that agent's study is above liver (§11).
COVERED_MIN = ABOVE_LIVER
# §11: "ppgl_cluster 1A (SDHx): add the note that SDHB carriers are often MIBG-negative (§9)".
SDHX_CLUSTER = "1A"

_AGENT_WORDS = {
    LU177_DOTATATE: "177Lu-DOTATATE",
    I131_MIBG: "131I-MIBG",
    EITHER: "either agent",
    TANDEM: "tandem 177Lu-DOTATATE and 131I-MIBG",
}


@dataclass(frozen=True, slots=True)
class GradedLesion:
    """A lesion with a score on both studies of the pair (§11.1 "graded")."""

    lesion: int
    sstr: int  # uptake 0-4 on the SSTR study
    mibg: int  # uptake 0-4 on the MIBG study

    @property
    def by_sstr(self) -> bool:
        return self.sstr >= COVERED_MIN

    @property
    def by_mibg(self) -> bool:
        return self.mibg >= COVERED_MIN


@dataclass(frozen=True, slots=True)
class LesionSets:
    """The lesions of the pair, sorted by id, in the sets of §11.1 (decided in that order)."""

    graded: tuple[GradedLesion, ...]
    unpaired: tuple[int, ...]
    ungradable: tuple[int, ...]


def _takes_part(study: StudyIn, tracer_class: str) -> bool:
    """A pre-therapy study of the class: never post-therapy, never a therapeutic tracer; any
    modality (§11.1 "Studies")."""
    return (
        study.tracer_class == tracer_class
        and not study.post_therapy
        and study.tracer not in THERAPEUTIC_TRACERS
    )


def agent_pair(
    studies: Iterable[StudyIn], thresholds: Thresholds
) -> tuple[StudyIn, StudyIn] | None:
    """The SSTR and MIBG studies §11 compares (§11.1 "The pair").

    The latest pre-therapy SSTR study (same date: the higher id) that has a pre-therapy MIBG
    study at most ``pairing_window_days`` away, before or after; with it the closest such MIBG
    study (ties: the earlier date, then the lower id). None when there is no such pair.
    """
    candidates = list(studies)
    sstr_studies = sorted(
        (study for study in candidates if _takes_part(study, SSTR)),
        key=lambda study: (study.performed_on, study.id),
        reverse=True,
    )
    mibg_studies = [study for study in candidates if _takes_part(study, NET)]
    window = thresholds.pairing_window_days
    for sstr in sstr_studies:
        near: list[tuple[int, date, int, StudyIn]] = []
        for mibg in mibg_studies:
            gap = abs((mibg.performed_on - sstr.performed_on).days)
            if gap <= window:
                near.append((gap, mibg.performed_on, mibg.id, mibg))
        if near:
            return sstr, min(near, key=lambda entry: entry[:3])[3]
    return None


def study_uptake(study: StudyIn, thresholds: Thresholds) -> dict[int, int | None]:
    """Each observed lesion's §11 uptake on one study, by lesion id: the §2 score (not seen 0,
    the reader's visual score, else the computed one), None when not evaluable or when there is
    no score. A pre-therapy study computes a score on a PET only (``uptake.computes_score``,
    §11.1), so on a planar or SPECT study only the visual score grades a lesion."""
    return {
        lesion: uptake.score for lesion, uptake in score_lesions(study, thresholds).uptakes.items()
    }


def lesion_sets(sstr: StudyIn, mibg: StudyIn, thresholds: Thresholds) -> LesionSets:
    """Sort the lesions observed on either study into the sets of §11.1, in its order:

    no observation on one study while the other has one that is scored or not seen → unpaired;
    not evaluable on either → left out (not listed); no score on either study → ungradable;
    otherwise graded. Lesions observed on neither study are not part of the result.
    """
    sstr_states = {obs.lesion: obs.state for obs in sstr.observations}
    mibg_states = {obs.lesion: obs.state for obs in mibg.observations}
    sstr_uptake, mibg_uptake = study_uptake(sstr, thresholds), study_uptake(mibg, thresholds)
    graded: list[GradedLesion] = []
    unpaired: list[int] = []
    ungradable: list[int] = []
    for lesion in sorted(sstr_states.keys() | mibg_states.keys()):
        sstr_state, mibg_state = sstr_states.get(lesion), mibg_states.get(lesion)
        if sstr_state is None or mibg_state is None:
            if NOT_EVALUABLE not in (sstr_state, mibg_state):
                unpaired.append(lesion)
            continue
        if NOT_EVALUABLE in (sstr_state, mibg_state):
            continue
        sstr_score, mibg_score = sstr_uptake[lesion], mibg_uptake[lesion]
        if sstr_score is None or mibg_score is None:
            ungradable.append(lesion)
            continue
        graded.append(GradedLesion(lesion, sstr_score, mibg_score))
    return LesionSets(tuple(graded), tuple(unpaired), tuple(ungradable))


def suggest(graded: Sequence[GradedLesion]) -> str | None:
    """The §11 suggestion for a set of graded lesions; None when the set is empty.

    Only SSTR covers every lesion → 177Lu-DOTATATE; only MIBG → 131I-MIBG; both → the higher
    integer sum of uptake (``either`` on a tie); neither alone but every lesion covered by one
    of them → tandem; some lesion covered by neither → partial.
    """
    if not graded:
        return None
    lutathera_all = all(lesion.by_sstr for lesion in graded)
    mibg_all = all(lesion.by_mibg for lesion in graded)
    if lutathera_all and mibg_all:
        sstr_sum = sum(lesion.sstr for lesion in graded)
        mibg_sum = sum(lesion.mibg for lesion in graded)
        if sstr_sum == mibg_sum:
            return EITHER
        return LU177_DOTATATE if sstr_sum > mibg_sum else I131_MIBG
    if lutathera_all:
        return LU177_DOTATATE
    if mibg_all:
        return I131_MIBG
    if all(lesion.by_sstr or lesion.by_mibg for lesion in graded):
        return TANDEM
    return PARTIAL


def agent_choice(patient: PatientIn, thresholds: Thresholds) -> JSON | None:
    """DOMAIN.md §11 for one patient: which radioligand covers the disease, with the lesions
    each agent covers, those neither does, and a one-sentence reason; None where §11 does not
    apply. Every list is sorted by lesion id, so the result does not depend on input order."""
    if patient.histology not in PPGL_HISTOLOGY:
        return None
    pair = agent_pair(patient.studies, thresholds)
    if pair is None:
        return None
    sstr, mibg = pair
    sets = lesion_sets(sstr, mibg, thresholds)
    graded = sets.graded
    suggestion = suggest(graded)
    rest_suggestion = None
    if suggestion == PARTIAL:
        rest_suggestion = suggest([lesion for lesion in graded if lesion.by_sstr or lesion.by_mibg])
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions})
    reason = _reason(
        sstr, mibg, sets, suggestion, rest_suggestion, patient.ppgl_cluster == SDHX_CLUSTER, names
    )
    return {
        "sstr_study": sstr.id,
        "mibg_study": mibg.id,
        "provisional": bool(sets.unpaired or sets.ungradable),
        "unpaired_lesions": list(sets.unpaired),
        "lutathera_covers_all": bool(graded) and all(lesion.by_sstr for lesion in graded),
        "mibg_covers_all": bool(graded) and all(lesion.by_mibg for lesion in graded),
        "ungradable_lesions": list(sets.ungradable),
        "suggestion": suggestion,
        "rest_suggestion": rest_suggestion,
        "covered_by_sstr": _by_sstr(graded),
        "covered_by_mibg": _by_mibg(graded),
        "uncovered": _uncovered(graded),
        "reason": reason,
    }


def _by_sstr(graded: Sequence[GradedLesion]) -> list[int]:
    return [lesion.lesion for lesion in graded if lesion.by_sstr]


def _by_mibg(graded: Sequence[GradedLesion]) -> list[int]:
    return [lesion.lesion for lesion in graded if lesion.by_mibg]


def _uncovered(graded: Sequence[GradedLesion]) -> list[int]:
    return [lesion.lesion for lesion in graded if not (lesion.by_sstr or lesion.by_mibg)]


# --- The reason --------------------------------------------------------------------------------


def _reason(
    sstr: StudyIn,
    mibg: StudyIn,
    sets: LesionSets,
    suggestion: str | None,
    rest_suggestion: str | None,
    sdhx: bool,
    names: LesionNames,
) -> str:
    """One sentence a clinician can read aloud: the suggestion and what it rests on, then the
    provisional state and the cluster 1A note (decision support: never "eligible")."""
    on_sstr, on_mibg = f"the {study_name(sstr)}", f"the {study_name(mibg)}"
    graded = sets.graded
    if suggestion is None:
        parts = [
            f"No lesion graded on both studies ({on_sstr} and {on_mibg}), so no agent is suggested"
        ]
    elif suggestion == PARTIAL:
        uncovered = _uncovered(graded)
        parts = [
            f"{names.many(uncovered)} {is_are(len(uncovered))} covered by neither agent (uptake "
            f"below 3 on both {on_sstr} and {on_mibg}): caution, sites not targeted by either "
            "agent, consider FDG PET and systemic or local therapy",
            _rest(rest_suggestion, graded, names),
        ]
    elif suggestion == TANDEM:
        parts = [
            "neither agent alone covers every graded lesion, but together they do "
            f"{_split(graded, names)}, suggesting {_AGENT_WORDS[TANDEM]}"
        ]
    elif all(lesion.by_sstr and lesion.by_mibg for lesion in graded):
        parts = [_by_the_sums(suggestion, graded, on_sstr, on_mibg)]
    else:
        parts = [_one_agent(suggestion, graded, on_sstr, on_mibg, names)]
    if sets.unpaired:
        parts.append(
            f"provisional: {names.many(sets.unpaired)} {is_are(len(sets.unpaired))} "
            "observed on one of the two studies only"
        )
    if sets.ungradable:
        parts.append(
            f"provisional: {names.many(sets.ungradable)} cannot be graded on one of the "
            "two studies (no visual score, and no score computed from SUVs on a PET)"
        )
    if sdhx:
        parts.append(
            "PPGL cluster 1A (SDHx): SDHB carriers are often MIBG-negative, so 131I-MIBG therapy "
            "is unlikely (§9)"
        )
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def _split(graded: Sequence[GradedLesion], names: LesionNames) -> str:
    """``(177Lu-DOTATATE: A and B; 131I-MIBG: A and C)``."""
    return (
        f"(177Lu-DOTATATE: {names.many(_by_sstr(graded))}; "
        f"131I-MIBG: {names.many(_by_mibg(graded))})"
    )


def _by_the_sums(
    suggestion: str, graded: Sequence[GradedLesion], on_sstr: str, on_mibg: str
) -> str:
    """Both agents cover every graded lesion: the summed uptake decided."""
    sstr_sum = sum(lesion.sstr for lesion in graded)
    mibg_sum = sum(lesion.mibg for lesion in graded)
    if suggestion == EITHER:
        return (
            f"both agents cover every graded lesion (uptake 3 or more on {on_sstr} and on "
            f"{on_mibg}) with the same summed uptake ({sstr_sum} each), so either agent"
        )
    higher = on_sstr if suggestion == LU177_DOTATATE else on_mibg
    return (
        "both agents cover every graded lesion (uptake 3 or more on both studies); the summed "
        f"uptake is higher on {higher} ({max(sstr_sum, mibg_sum)} against "
        f"{min(sstr_sum, mibg_sum)}), suggesting {_AGENT_WORDS[suggestion]}"
    )


def _one_agent(
    suggestion: str,
    graded: Sequence[GradedLesion],
    on_sstr: str,
    on_mibg: str,
    names: LesionNames,
) -> str:
    """Only one agent covers every graded lesion: which lesions the other misses."""
    if suggestion == LU177_DOTATATE:
        own, other, other_study = on_sstr, I131_MIBG, on_mibg
        missed = [lesion.lesion for lesion in graded if not lesion.by_mibg]
    else:
        own, other, other_study = on_mibg, LU177_DOTATATE, on_sstr
        missed = [lesion.lesion for lesion in graded if not lesion.by_sstr]
    agent = _AGENT_WORDS[suggestion]
    return (
        f"{agent} covers every graded lesion (uptake 3 or more, above liver, on {own}) and "
        f"{_AGENT_WORDS[other]} does not ({names.many(missed)} below 3 on {other_study}), "
        f"suggesting {agent}"
    )


def _rest(rest_suggestion: str | None, graded: Sequence[GradedLesion], names: LesionNames) -> str:
    """What covers the rest of a partial result."""
    if rest_suggestion is None:
        return "no lesion is covered by either agent"
    if rest_suggestion == TANDEM:
        return f"the rest is covered by {_AGENT_WORDS[TANDEM]} {_split(graded, names)}"
    return f"the rest is covered by {_AGENT_WORDS[rest_suggestion]}"
