"""Builders of rules inputs from JSON-like dicts (the worked cases) and for table-driven tests."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from apps.scoring.rules import (
    LesionIn,
    ObservationIn,
    PathologyIn,
    PatientIn,
    StudyIn,
    Thresholds,
    assess_phenotype,
)
from apps.scoring.rules.findings import FINDING_CODES

_DECIMAL_OBS = ("suv_max", "suv_peak", "long_axis_mm", "short_axis_mm")
_DECIMAL_STUDY = ("blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv")

# DOMAIN.md §6 / API.md order of the findings: the order assess_phenotype lists them in
# (checked against docs/api.md in test_findings.py).
FINDING_ORDER = list(FINDING_CODES)

# Reference SUVs of the worked cases (phenotype.json "about").
SSTR_REFS = {"blood_pool_suv": "1.5", "liver_suv": "6.0", "spleen_suv": "18.0"}
FDG_REFS = {"blood_pool_suv": "1.8", "liver_suv": "2.5"}


def dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def obs(lesion: int, state: str = "scored", **fields: Any) -> ObservationIn:
    for name in _DECIMAL_OBS:
        if name in fields:
            fields[name] = dec(fields[name])
    return ObservationIn(lesion=lesion, state=state, **fields)


def study(
    id: int,
    performed_on: str | date,
    tracer_class: str = "SSTR",
    observations: tuple[ObservationIn, ...] | list[ObservationIn] = (),
    **fields: Any,
) -> StudyIn:
    tracer = fields.pop(
        "tracer", {"SSTR": "ga68_dotatate", "FDG": "f18_fdg"}.get(tracer_class, "none")
    )
    refs: dict[str, Any] = dict(
        SSTR_REFS if tracer_class == "SSTR" else FDG_REFS if tracer_class == "FDG" else {}
    )
    refs.update(fields)
    for name in _DECIMAL_STUDY:
        if name in refs:
            refs[name] = dec(refs[name])
    day = date.fromisoformat(performed_on) if isinstance(performed_on, str) else performed_on
    return StudyIn(
        id=id,
        performed_on=day,
        tracer=tracer,
        tracer_class=tracer_class,
        observations=tuple(observations),
        **refs,
    )


def sstr(id: int, performed_on: str, *observations: ObservationIn, **fields: Any) -> StudyIn:
    return study(id, performed_on, "SSTR", observations, **fields)


def fdg(id: int, performed_on: str, *observations: ObservationIn, **fields: Any) -> StudyIn:
    return study(id, performed_on, "FDG", observations, **fields)


def patient(*studies: StudyIn, **fields: Any) -> PatientIn:
    return PatientIn(id=fields.pop("id", 1), studies=tuple(studies), **fields)


def patient_from_case(case: dict[str, Any]) -> PatientIn:
    """A PatientIn from one phenotype.json case."""
    info = case["patient"]
    studies = []
    lesion_ids: set[int] = set()
    for raw in case["studies"]:
        fields = dict(raw)
        observations = []
        for raw_obs in fields.pop("observations"):
            obs_fields = dict(raw_obs)
            lesion_ids.add(obs_fields["lesion"])
            observations.append(
                obs(obs_fields.pop("lesion"), obs_fields.pop("state"), **obs_fields)
            )
        for name in _DECIMAL_STUDY:
            if name in fields:
                fields[name] = dec(fields[name])
        fields["performed_on"] = date.fromisoformat(fields["performed_on"])
        studies.append(StudyIn(observations=tuple(observations), **fields))
    pathology = tuple(
        PathologyIn(
            reported_on=date.fromisoformat(p["reported_on"]),
            who_grade=p.get("who_grade"),
            ki67_percent=dec(p.get("ki67_percent")),
            differentiation=p.get("differentiation"),
        )
        for p in info.get("pathology", [])
    )
    return PatientIn(
        id=1,
        primary_site=info.get("primary_site", "unknown"),
        lesions=tuple(LesionIn(id=i) for i in sorted(lesion_ids)),
        studies=tuple(studies),
        pathology=pathology,
    )


def pathology(reported_on: str, who_grade: str | None = None, ki67: object = None) -> PathologyIn:
    return PathologyIn(
        reported_on=date.fromisoformat(reported_on), who_grade=who_grade, ki67_percent=dec(ki67)
    )


def dual_patient(
    sstr_obs: list[ObservationIn] | tuple[ObservationIn, ...],
    fdg_obs: list[ObservationIn] | tuple[ObservationIn, ...] | None,
    **fields: Any,
) -> PatientIn:
    """An SSTR PET (study 1, 2024-01-01) and, unless ``fdg_obs`` is None, an FDG PET two days
    later (study 2), with the reference SUVs of the worked cases."""
    studies = [sstr(1, "2024-01-01", *sstr_obs)]
    if fdg_obs is not None:
        studies.append(fdg(2, "2024-01-03", *fdg_obs))
    return patient(*studies, **fields)


def timepoint(patient: PatientIn, **overrides: object) -> dict[str, Any]:
    """The only timepoint of the patient's assessment."""
    result = assess_phenotype(patient, Thresholds.from_overrides(overrides))
    (only,) = result["timepoints"]
    assert isinstance(only, dict)
    return only


def pair(
    lesion: int, sstr_suv: object, fdg_suv: object, **fdg_fields: Any
) -> tuple[ObservationIn, ObservationIn]:
    """One lesion scored from SUVs on both studies."""
    return obs(lesion, suv_max=sstr_suv), obs(lesion, suv_max=fdg_suv, **fdg_fields)


def dual_from_pairs(*pairs: tuple[ObservationIn, ObservationIn], **fields: Any) -> PatientIn:
    return dual_patient([p[0] for p in pairs], [p[1] for p in pairs], **fields)


def codes(tp: dict[str, Any]) -> list[str]:
    return [finding["code"] for finding in tp["prrt_support"]["findings"]]


def finding(tp: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((f for f in tp["prrt_support"]["findings"] if f["code"] == code), None)


def strings(value: Any) -> list[str]:
    """Every string anywhere in a JSON-like value (keys included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in strings(item)]
    return []


def reordered(patient: PatientIn, rng: Any) -> PatientIn:
    """The same record with every tuple in another order: studies and their observations,
    lesions, pathology, treatments and biomarkers, as rows entered in another order would come.
    ``rng`` is a ``random.Random`` (Hypothesis ``st.randoms()``)."""

    def mix(items: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(rng.sample(items, len(items)))

    studies = tuple(
        dataclasses.replace(study, observations=mix(study.observations))
        for study in patient.studies
    )
    return dataclasses.replace(
        patient,
        studies=mix(studies),
        lesions=mix(patient.lesions),
        pathology=mix(patient.pathology),
        treatments=mix(patient.treatments),
        biomarkers=mix(patient.biomarkers),
    )
