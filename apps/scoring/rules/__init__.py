"""NETboard clinical rules (docs/clinical-rules.md §1-§11): pure Python, standard library only.

Takes plain frozen dataclasses (``inputs``) and returns plain results with their reasons; nothing
here knows Django, Celery or HTTP.

Index: rule → function → section of docs/clinical-rules.md.

==========================================  =================================================  =====
Rule                                        Function                                           §
==========================================  =================================================  =====
Tracer classes, therapeutic tracers         ``tracers.TRACER_CLASS``, ``THERAPEUTIC_TRACERS``  §1
Dual-tracer timepoints (SSTR + FDG PET)     ``pairing.pair_timepoints``                        §1
Uptake grade (modified Krenning scale)      ``uptake.study_references``, ``uptake.grade``      §2
Which score counts; ungradable; exactness   ``uptake.grade``, ``uptake.DECIMAL_CONTEXT``       §2.1
Positivity above background / liver         ``Uptake.positive_background``/``positive_liver``  §3
Graded lesions, lesion statuses             ``phenotype._LesionPass``                          §4
Dual-tracer grading of a timepoint          ``dualtracer.grade_timepoint``                     §4
NETPET P0-P5                                ``netpet.netpet_lesions``, ``netpet.pattern_of``   §4.1
Karfis C1-C3                                ``groups.karfis``                                  §4.2
Zidan groups 1-4                            ``groups.zidan``                                   §4.3
SSTR expression and heterogeneity           ``expression.sstr_expression``                     §5
PRRT decision-support findings              ``findings.prrt_support``                          §6
Theranostic concordance (post-177Lu SPECT)  ``theranostic.theranostic``                        §7
Series, baselines, new lesions              ``series.build_series``, ``series.new_lesions``    §8
RECIST 1.1                                  ``recist.recist_series``                           §8
PERCIST 1.0                                 ``percist.percist_series``                         §8
SSTR PET (descriptive)                      ``sstr_response.sstr_series``                      §8
Dual-tracer evolution and its alerts        ``evolution.dual_tracer_evolution``                §8
Biomarkers                                  ``biomarkers.biomarker_series``                    §8
Disease-specific notes                      ``notes.disease_notes``                            §9
Settings and their defaults                 ``inputs.Thresholds``                              §10
PPGL agent choice: the SSTR + MIBG pair     ``agent_choice.agent_pair``                        §11.1
PPGL lesion sets, covered (uptake ≥ 3)      ``agent_choice.lesion_sets``, ``study_uptake``     §11.1
131I-MIBG, 177Lu-DOTATATE, tandem, partial  ``agent_choice.agent_choice``, ``suggest``         §11
==========================================  =================================================  =====

The entry points are ``phenotype.assess_phenotype`` (§1-§6, and §11 as its ``agent_choice``)
and ``response.assess_response`` (§7-§9); every result carries ``version.RULES_VERSION`` and the
thresholds it was computed with.
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
