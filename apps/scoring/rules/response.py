"""Temporal response and theranostic monitoring over a patient's whole history
(docs/clinical-rules.md §7-§9).

``assess_response`` returns the body of API.md ``GET patients/{id}/response/`` without
``patient``, ``status`` and ``computed_at`` (the Django side adds those). Each part is its own
rule module; this one builds the series once and hands every module what it needs.
"""

from __future__ import annotations

from decimal import localcontext

from .biomarkers import biomarker_series
from .evolution import dual_tracer_evolution
from .inputs import JSON, PatientIn, Thresholds
from .notes import disease_notes
from .percist import percist_series
from .phenotype import assess_phenotype
from .recist import SD, recist_series
from .series import ANATOMIC_SERIES, FDG_SERIES, SERIES_KINDS, SSTR_SERIES, build_series
from .series import first_scored_on as first_scored
from .sstr_response import sstr_series
from .theranostic import theranostic
from .uptake import DECIMAL_CONTEXT
from .version import RULES_VERSION
from .wording import LesionNames

SSA_STARTED_BETWEEN = "ssa_started_between"


def assess_response(
    patient: PatientIn, thresholds: Thresholds, phenotype: JSON | None = None
) -> JSON:
    """Baselines, RECIST, PERCIST, SSTR (descriptive), dual-tracer evolution and alerts,
    theranostic concordance, biomarkers and the §9 notes of one patient.

    ``phenotype`` is ``assess_phenotype(patient, thresholds)`` when the caller has it already
    (the worker computes both); the dual-tracer evolution is read off its timepoints. Like
    ``assess_phenotype``, Decimal arithmetic runs in ``DECIMAL_CONTEXT``.
    """
    if phenotype is None:
        phenotype = assess_phenotype(patient, thresholds)
    with localcontext(DECIMAL_CONTEXT):
        return _assess(patient, thresholds, phenotype)


def _assess(patient: PatientIn, thresholds: Thresholds, phenotype: JSON) -> JSON:
    names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions if lesion.label})
    scored_first = first_scored(patient)
    series = {kind: build_series(patient, kind) for kind in SERIES_KINDS}
    recist = recist_series(patient, series[ANATOMIC_SERIES], thresholds, scored_first)
    percist = percist_series(patient, series[FDG_SERIES], thresholds, scored_first)
    sstr = sstr_series(patient, series[SSTR_SERIES], thresholds, scored_first)
    dual_tracer, alerts = dual_tracer_evolution(phenotype, patient, names)
    ssa_changes = [
        {"code": alert["code"], "study": entry["study"], "lesions": [], "text": alert["text"]}
        for entry in sstr
        for alert in entry["alerts"]
        if alert["code"] == SSA_STARTED_BETWEEN
    ]
    dates = {study.id: study.performed_on for study in patient.studies}
    alerts = sorted(alerts + ssa_changes, key=lambda alert: (dates[alert["study"]], alert["study"]))
    biomarkers = biomarker_series(patient.biomarkers)
    latest_recist = recist[-1]["category"] if recist else None
    for marker in biomarkers:
        # §8: a marker rising >= 25% while the latest RECIST is SD is flagged.
        flagged = bool(marker["rising"]) and latest_recist == SD
        marker["rising_with_stable_imaging"] = flagged
        if flagged:
            marker["reason"] += " Rising while the latest RECIST is SD: read with the imaging."
    return {
        "rules_version": RULES_VERSION,
        "thresholds": thresholds.as_dict(),
        "baselines": [series[kind].as_json() for kind in SERIES_KINDS],
        "recist": recist,
        "percist": percist,
        "sstr": sstr,
        "dual_tracer": dual_tracer,
        "dual_tracer_alerts": alerts,
        "theranostic": theranostic(patient, thresholds),
        "biomarkers": biomarkers,
        "notes": disease_notes(patient, biomarkers, ssa_changes),
    }
