"""Builders of rules inputs from JSON-like dicts (the worked cases) and for table-driven tests."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from apps.scoring.rules import (
    LesionIn,
    ObservationIn,
    PathologyIn,
    PatientIn,
    StudyIn,
)

_DECIMAL_OBS = ("suv_max", "suv_peak", "long_axis_mm", "short_axis_mm")
_DECIMAL_STUDY = ("blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv")

# Reference SUVs of the worked cases (phenotype.json "about").
SSTR_REFS = {"blood_pool_suv": "1.5", "liver_suv": "6.0", "spleen_suv": "18.0"}
FDG_REFS = {"blood_pool_suv": "1.8", "liver_suv": "2.5"}


def shared_dir() -> Path:
    """../shared beside the checkout, or ``NETBOARD_SHARED_DIR``."""
    override = os.environ.get("NETBOARD_SHARED_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3].parent / "shared"


def load_cases() -> list[dict[str, Any]]:
    path = shared_dir() / "cases" / "phenotype.json"
    cases: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["cases"]
    return cases


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
    refs = dict(SSTR_REFS if tracer_class == "SSTR" else FDG_REFS if tracer_class == "FDG" else {})
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
