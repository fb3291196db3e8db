"""NETboard clinical rules (docs/clinical-rules.md §1-§10): pure Python, standard library only.

Takes plain frozen dataclasses (``inputs``) and returns plain results with their reasons; nothing
here knows Django, Celery or HTTP.
"""

from __future__ import annotations

from .inputs import (
    BiomarkerIn,
    CycleIn,
    LesionIn,
    ObservationIn,
    PathologyIn,
    PatientIn,
    StudyIn,
    Thresholds,
    TreatmentIn,
)
from .pairing import is_fdg_pet, is_sstr_pet, pair_timepoints
from .phenotype import assess_phenotype
from .tracers import PET_MODALITIES, THERAPEUTIC_TRACERS, TRACER_CLASS
from .uptake import StudyReferences, Uptake, score_observation, score_study, study_references
from .version import RULES_VERSION

__all__ = [
    "PET_MODALITIES",
    "RULES_VERSION",
    "THERAPEUTIC_TRACERS",
    "TRACER_CLASS",
    "BiomarkerIn",
    "CycleIn",
    "LesionIn",
    "ObservationIn",
    "PathologyIn",
    "PatientIn",
    "StudyIn",
    "StudyReferences",
    "Thresholds",
    "TreatmentIn",
    "Uptake",
    "assess_phenotype",
    "is_fdg_pet",
    "is_sstr_pet",
    "pair_timepoints",
    "score_observation",
    "score_study",
    "study_references",
]
