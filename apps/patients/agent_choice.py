"""What the pages show of a PPGL patient's agent choice (docs/clinical-rules.md §11: 131I-MIBG,
177Lu-DOTATATE or both), read from what the worker stored: the patient page, presentation mode
and the decision form from the stored summary (``agent_choice``) and the stored per-observation
scores (``PhenotypeAssessment.uptake``, which the timeline draws); a decision's snapshot from its
own ``agent_choice``. Nothing here runs a rule: the lesions each agent covers are the stored
lists, and each lesion's uptake is the stored score of that lesion on that study.

A decision's snapshot is the phenotype body exactly as the API served it (``decision_record``),
which holds the agent choice but not the per-lesion scores behind it; the decision keeps those
beside it (``Decision.agent_choice_lesions``, ``agent_choice_lesions``: the lesion labels, the two
studies' names and each lesion's stored score on them, as the decision form showed them), so a
snapshot shows the table as it was decided on, never re-read from today's data. A decision
recorded before NETboard kept them shows each uptake as the band the coverage lists prove (3–4,
above liver: covered; 0–2: not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apps.imaging.models import ImagingStudy, Lesion, Modality, Tracer
from apps.scoring.rules.agent_choice import EITHER, I131_MIBG, LU177_DOTATATE, PARTIAL, TANDEM

AGENTS = {LU177_DOTATATE: "177Lu-DOTATATE", I131_MIBG: "131I-MIBG"}
SUGGESTED = {
    LU177_DOTATATE: "177Lu-DOTATATE",
    I131_MIBG: "131I-MIBG",
    EITHER: "either agent (177Lu-DOTATATE or 131I-MIBG)",
    TANDEM: "tandem 177Lu-DOTATATE and 131I-MIBG",
}
# A lesion is covered by an agent at uptake 3 or more on its study (§11): what a snapshot's
# coverage lists prove of a score they do not hold.
COVERED_BAND, NOT_COVERED_BAND = "3–4", "0–2"


def suggestion_text(suggestion: str | None, rest: str | None) -> str:
    """The suggestion in words, decision-support wording (never "eligible")."""
    if suggestion is None:
        return "No agent suggested: no lesion is graded on both studies"
    if suggestion == PARTIAL:
        if rest is None:
            return "Partial: no graded lesion is covered by either agent"
        return (
            "Partial: some lesions are covered by neither agent; the rest by "
            f"{SUGGESTED.get(rest, rest)}"
        )
    return f"Suggested: {SUGGESTED.get(suggestion, suggestion)}"


_TRACERS, _MODALITIES = dict(Tracer.choices), dict(Modality.choices)


def study_label(tracer: str, modality: str, performed_on: Any) -> str:
    """A study as a reader names it: "123I-MIBG Planar scintigraphy 2024-12-09"."""
    tracer_name = _TRACERS.get(tracer, tracer)
    modality_name = _MODALITIES.get(modality, modality)
    return f"{tracer_name} {modality_name} {performed_on.isoformat()}"


def _score(uptake: Mapping[str, Any] | None, study: int, lesion: int, covered: bool) -> str:
    """The stored score of ``lesion`` on ``study`` ("0"–"4"), else the band the coverage
    proves."""
    if uptake is not None:
        stored = (uptake.get(str(study)) or {}).get(str(lesion)) or {}
        if stored.get("score") is not None:
            return str(stored["score"])
    return COVERED_BAND if covered else NOT_COVERED_BAND


def agent_choice_view(
    choice: Mapping[str, Any] | None,
    *,
    labels: Mapping[int, str],
    studies: Mapping[int, str],
    uptake: Mapping[str, Any] | None,
) -> dict[str, Any] | None:
    """What the agent-choice block shows (``patients/_agent_choice.html``), or None where §11
    does not apply (``agent_choice`` null).

    ``labels``: lesion labels by id; ``studies``: study names by id; ``uptake``: the stored
    per-observation scores of the same stored result (or those a decision kept), or None for a
    snapshot that kept none (then each uptake is the band its coverage proves, and ``scores``
    is false)."""
    if not choice:
        return None
    by_sstr, by_mibg = set(choice["covered_by_sstr"]), set(choice["covered_by_mibg"])
    graded = sorted(by_sstr | by_mibg | set(choice["uncovered"]))
    sstr_study, mibg_study = choice["sstr_study"], choice["mibg_study"]

    def name(lesion: int) -> str:
        return labels.get(lesion) or f"Lesion {lesion}"

    rows = []
    for lesion in graded:
        sstr, mibg = lesion in by_sstr, lesion in by_mibg
        if sstr and mibg:
            covered_by = "both"
        elif sstr or mibg:
            covered_by = AGENTS[LU177_DOTATATE if sstr else I131_MIBG]
        else:
            covered_by = "neither"
        rows.append(
            {
                "lesion": lesion,
                "label": name(lesion),
                "sstr": _score(uptake, sstr_study, lesion, sstr),
                "mibg": _score(uptake, mibg_study, lesion, mibg),
                "covered_by": covered_by,
                "uncovered": not (sstr or mibg),
            }
        )
    return {
        "suggestion": choice["suggestion"],
        "suggestion_text": suggestion_text(choice["suggestion"], choice["rest_suggestion"]),
        "sstr_study": studies.get(sstr_study, ""),
        "mibg_study": studies.get(mibg_study, ""),
        "rows": rows,
        "scores": uptake is not None,
        "uncovered": [name(lesion) for lesion in choice["uncovered"]],
        "provisional": bool(choice["provisional"]),
        "unpaired": [name(lesion) for lesion in choice["unpaired_lesions"]],
        "ungradable": [name(lesion) for lesion in choice["ungradable_lesions"]],
        "reason": choice["reason"],
    }


def _lesion_ids(choice: Mapping[str, Any]) -> set[int]:
    keys = ("covered_by_sstr", "covered_by_mibg", "uncovered", "unpaired_lesions")
    return {lesion for key in (*keys, "ungradable_lesions") for lesion in choice[key]}


def _names(choice: Mapping[str, Any], patient_id: int) -> tuple[dict[int, str], dict[int, str]]:
    """The labels of the agent choice's lesions and the names of its two studies, as the
    record holds them now (two queries)."""
    labels = dict(
        Lesion.objects.filter(patient_id=patient_id, pk__in=_lesion_ids(choice)).values_list(
            "id", "label"
        )
    )
    studies = {
        pk: study_label(tracer, modality, day)
        for pk, tracer, modality, day in ImagingStudy.objects.filter(
            patient_id=patient_id, pk__in=[choice["sstr_study"], choice["mibg_study"]]
        ).values_list("id", "tracer", "modality", "performed_on")
    }
    return labels, studies


def agent_choice_lesions(
    choice: Mapping[str, Any] | None, patient_id: int, uptake: Mapping[str, Any]
) -> dict[str, Any]:
    """What a decision keeps of the agent choice beside its snapshot (``{}`` where §11 does not
    apply): ``labels`` (lesion id → label), ``studies`` (study id → name) and ``uptake`` (the
    stored per-observation scores, ``PhenotypeAssessment.uptake``, of the agent choice's lesions
    on its two studies), JSON keys as strings. Two queries, only when there is an agent
    choice."""
    if not choice:
        return {}
    lesions = {str(lesion) for lesion in _lesion_ids(choice)}
    labels, studies = _names(choice, patient_id)
    kept = {}
    for study in {str(choice["sstr_study"]), str(choice["mibg_study"])}:
        scores = uptake.get(study) or {}
        kept[study] = {lesion: scores[lesion] for lesion in sorted(lesions) if lesion in scores}
    return {
        "labels": {str(pk): label for pk, label in labels.items()},
        "studies": {str(pk): name for pk, name in studies.items()},
        "uptake": kept,
    }


def snapshot_agent_choice(
    phenotype_snapshot: Mapping[str, Any], patient_id: int, kept: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The agent-choice block of a decision's snapshot: the snapshot's own ``agent_choice``
    (its suggestion, coverage, provisional state and reason as shown when decided), with the
    lesion labels, study names and scores the decision kept (``kept``:
    ``Decision.agent_choice_lesions``). A decision that kept none (recorded before NETboard
    kept them) names its lesions and studies as the record does now (two queries) and shows
    each uptake as the band its coverage proves."""
    choice = phenotype_snapshot.get("agent_choice")
    if not choice:
        return None
    if not kept:
        labels, studies = _names(choice, patient_id)
        return agent_choice_view(choice, labels=labels, studies=studies, uptake=None)
    return agent_choice_view(
        choice,
        labels={int(pk): label for pk, label in kept["labels"].items()},
        studies={int(pk): name for pk, name in kept["studies"].items()},
        uptake=kept["uptake"],
    )


def record_names(
    lesions: Sequence[Any], studies: Sequence[Any]
) -> tuple[dict[int, str], dict[int, str]]:
    """Lesion labels and study names by id from what the timeline read of the record
    (``TimelineRecord.lesions`` and ``studies``: no query of their own)."""
    return (
        {lesion.id: lesion.label for lesion in lesions},
        {
            study.id: study_label(study.tracer, study.modality, study.performed_on)
            for study in studies
        },
    )
