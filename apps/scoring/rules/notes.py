"""Disease-specific notes, shown where they apply (DOMAIN.md §9).

Each note is ``{"code", "applies_because", "text"}``: the text is the §9 statement, and
``applies_because`` says which part of the record brought it up, so the board can see why it is
there. They are context for the board, never a recommendation on their own.
"""

from __future__ import annotations

from decimal import Decimal

from .inputs import JSON, PatientIn
from .scale import FDG, SCORED
from .series import date_order
from .wording import LesionNames, is_are

PPGL_SITES = frozenset({"adrenal", "paraganglia"})
PPGL_HISTOLOGY = frozenset({"pheochromocytoma", "paraganglioma"})
# §9 MTC: "lesion < 20 mm and FDG SUVmax < 5 predicted response to 177Lu-DOTATATE".
MTC_SIZE_MM = Decimal(20)
MTC_FDG_SUVMAX = Decimal(5)


def disease_notes(
    patient: PatientIn, biomarkers: list[JSON], ssa_changes: list[JSON]
) -> list[JSON]:
    """The §9 notes that apply to this patient, in §9 order.

    ``biomarkers`` are the §8 series (``biomarker_series``), for the calcitonin doubling time and
    rising markers; ``ssa_changes`` the ``ssa_started_between`` alerts of the SSTR series.
    """
    notes: list[JSON] = []
    cluster = patient.ppgl_cluster
    if cluster or patient.histology in PPGL_HISTOLOGY:
        because = (
            f"PPGL genomic cluster {cluster} recorded"
            if cluster
            else f"histology {patient.histology}"
        )
        text = (
            "PPGL: the genomic cluster guides the tracer. Choose the radiopharmaceutical therapy "
            "with the highest uptake on pre-therapy imaging (MIBG vs SSTR); tandem therapy when no "
            "single agent covers all lesions."
        )
        if cluster == "1A":
            text = (
                "PPGL cluster 1A (SDHx): SSTR PET is the most sensitive (lesion detection 98.6% vs "
                "FDG 85.8%, DOPA 61.4% in SDHB); SDHB carriers are often MIBG-negative, so "
                "131I-MIBG therapy is unlikely. " + text.removeprefix("PPGL: ")
            )
        notes.append(_note("ppgl", because, text))
    elif patient.primary_site in PPGL_SITES and patient.histology is None:
        notes.append(
            _note(
                "ppgl",
                f"primary site {patient.primary_site} with no histology recorded",
                "If this is a PPGL, record the genomic cluster: it guides the tracer (cluster 1A "
                "(SDHx): SSTR PET most sensitive; SDHB carriers often MIBG-negative).",
            )
        )
    if patient.histology == "insulinoma":
        notes.append(
            _note(
                "insulinoma",
                "histology insulinoma",
                "Insulinoma: benign insulinoma often has low SSTR expression; exendin-4 (GLP-1R) "
                "PET is more sensitive (93.5% vs 61.3%). Malignant insulinoma often loses GLP-1R "
                "and overexpresses SSTR2.",
            )
        )
    if patient.histology == "mtc":
        notes.append(_mtc_note(patient, biomarkers))
    if patient.primary_site == "lung":
        notes.append(
            _note(
                "pulmonary",
                "primary site lung",
                "Pulmonary NEN: the Zidan grouping applies; about half of patients were "
                "unsuitable for PRRT.",
            )
        )
    rising = [series["analyte"] for series in biomarkers if series["rising"]]
    if rising and ssa_changes:
        notes.append(
            _note(
                "rising_markers_with_ssa_change",
                f"rising {', '.join(rising)} and a long-acting SSA started between SSTR studies",
                "Rising markers around a change of somatostatin analogue: altered biodistribution "
                "and pseudoprogression are possible (§8); read with CT/MRI.",
            )
        )
    return notes


def _mtc_note(patient: PatientIn, biomarkers: list[JSON]) -> JSON:
    """MTC: the response predictors, checked on the latest FDG PET, and the calcitonin
    doubling time when one can be computed."""
    text = (
        "Medullary thyroid carcinoma: lesions under 20 mm with FDG SUVmax under 5 predicted "
        "response to 177Lu-DOTATATE; the calcitonin doubling time tracks aggressiveness."
    )
    fdg = [s for s in patient.studies if s.tracer_class == FDG and not s.post_therapy]
    if fdg:
        latest = max(fdg, key=date_order)
        outside = sorted(
            obs.lesion
            for obs in latest.observations
            if obs.state == SCORED
            and (
                (obs.long_axis_mm is not None and obs.long_axis_mm >= MTC_SIZE_MM)
                or (obs.suv_max is not None and obs.suv_max >= MTC_FDG_SUVMAX)
            )
        )
        if outside:
            names = LesionNames({lesion.id: lesion.label for lesion in patient.lesions})
            text += (
                f" On the latest FDG PET ({latest.performed_on.isoformat()}) "
                f"{names.many(outside)} {is_are(len(outside))} 20 mm or larger or at SUVmax 5 "
                "or more."
            )
        else:
            text += (
                f" On the latest FDG PET ({latest.performed_on.isoformat()}) every scored lesion "
                "is under 20 mm and under SUVmax 5 where measured."
            )
    for series in biomarkers:
        if series["analyte"] == "calcitonin" and series["doubling_time_days"] is not None:
            text += f" Calcitonin doubling time: {series['doubling_time_days']:.1f} days."
    return _note("mtc", "histology medullary thyroid carcinoma", text)


def _note(code: str, because: str, text: str) -> JSON:
    return {"code": code, "applies_because": because, "text": text}
