"""What every field of the API means, in one place (OpenAPI descriptions).

A drf-spectacular postprocessing hook (``describe_fields``) gives every schema property that
has no description of its own (no ``help_text``) the text below: first by
``"<Component>.<field>"``, then by field name. tests/api/test_schema.py fails when a property
is left without one.
"""

from __future__ import annotations

from typing import Any

BY_COMPONENT = {
    "Study.status": "draft while the read is being entered; final once the reader signs it off.",
    "Case.status": "listed (on the agenda), discussed, or deferred to a later meeting.",
    "Case.patient": "The patient presented (id).",
    "Case.id": "Id of the case (a patient listed at this meeting).",
    "AccessEvent.patient_id": "The patient whose data was read.",
    "AccessEvent.user_id": "The user who read it (null for a system without a user).",
    "_GroupLesion.lesion": "A deciding lesion (id).",
    "_Finding.lesions": "The lesions the finding is about (ids).",
    "_Sstr.reason": "One sentence explaining the SSTR expression summary.",
    "_LesionScore.status": "graded, unpaired, not_evaluable, ungradable, or no_fdg_pet.",
    # GET patients/{id}/response/
    "_DualTracerGrades.sstr_study": "The SSTR PET of the dual-tracer timepoint.",
    "_DualTracerGrades.fdg_study": "The FDG PET paired with it.",
    "_Percist.baseline_hottest_lesion": "The hottest lesion on the baseline FDG PET.",
    "_Percist.hottest_lesion": "The hottest lesion on this follow-up (may be another lesion).",
    "_Percist.notes": "Caveats: the quantity used and why, missing values, ungradable lesions.",
    "_Recist.targets": "The target lesions with their diameters at baseline and here.",
    "_SstrAlert.text": "What the alert means.",
    "_SstrFollowUp.alerts": "ssa_started_between when a long-acting SSA began in between.",
    "_SstrLesion.baseline_state": "Observation state at baseline (scored or not_seen).",
    "_SstrLesion.follow_up_state": "Observation state at this follow-up.",
    "_SstrLesion.baseline_krenning": (
        "Effective Krenning score at baseline (docs/clinical-rules.md §2)."
    ),
    "_SstrLesion.follow_up_krenning": "Effective Krenning score at this follow-up.",
    "_SstrLesion.krenning_change": "Follow-up minus baseline Krenning score.",
    "_Theranostic.signals": "Signals for the cycle (docs/clinical-rules.md §7).",
    "_Theranostic.signal_texts": "What each signal means, in the order of signals.",
    "_Theranostic.lesions": "Lesions scored on both the SPECT and the PET.",
    "_TheranosticLesion.change": "upgraded (SPECT >= PET + 1), downgraded (<= PET - 1), else "
    "unchanged.",
}

BY_NAME = {
    # Identity and bookkeeping
    "id": "Id of the record, assigned by NETboard.",
    "created_at": "When the record was created (UTC).",
    "updated_at": "When the record was last changed (UTC).",
    "count": "Number of records matching the filters.",
    "next": "URL of the next page, or null on the last page.",
    "previous": "URL of the previous page, or null on the first page.",
    "results": "The records of this page.",
    "patient": "The patient this record belongs to (id).",
    "baseline_study": "The baseline study of the series (docs/clinical-rules.md §8).",
    "baseline_performed_on": "Date of the baseline study.",
    "pet_performed_on": "Date of the pre-therapy SSTR PET compared with.",
    # Patients
    "mrn": "Medical record number, unique in this hospital.",
    "family_name": "Family name as in the hospital record.",
    "given_name": "Given name(s).",
    "birth_date": "Date of birth (ISO 8601); not in the future.",
    "sex": "Administrative sex (also used for lean body mass in PERCIST).",
    "height_cm": "Height in centimetres (for lean body mass).",
    "weight_kg": "Weight in kilograms (for lean body mass).",
    "primary_site": "Site of the primary tumour.",
    "histology": "Histological type of the neoplasm.",
    "ppgl_cluster": "Genetic cluster of a pheochromocytoma/paraganglioma (1A, 1B, 2, 3); null "
    "if unknown or not PPGL.",
    # Pathology
    "reported_on": "Date of the pathology report.",
    "specimen_site": "Where the specimen came from.",
    "who_grade": "WHO grade G1, G2, G3, or NEC.",
    "ki67_percent": "Ki-67 proliferation index in percent (0-100).",
    "mitotic_count": "Mitoses per 2 mm².",
    "differentiation": "Well or poorly differentiated.",
    # Biomarkers
    "analyte": "The tumour marker measured.",
    "value": "Measured value (not negative), in `unit`.",
    "unit": "Unit of `value`, e.g. ng/mL.",
    "measured_on": "Date of the blood sample.",
    # Treatments
    "kind": "Kind of treatment.",
    "regimen": "Drug, dose and schedule as free text, e.g. lanreotide 120 mg every 28 days.",
    "started_on": "First day of the treatment line.",
    "ended_on": "Last day, or null while ongoing.",
    "cycles": "PRRT or other cycles of this line: number, date and activity.",
    "number": "Cycle number within the treatment line, from 1.",
    "given_on": "Date the cycle was given.",
    "activity_gbq": "Administered activity in GBq.",
    # Lesions
    "label": "The reader's name for the lesion, unique per patient, e.g. 'Liver seg VII'.",
    "site": "Organ or region of the lesion.",
    "nodal": "True for a lymph node (RECIST measures its short axis).",
    "is_primary": "True for the primary tumour.",
    # Studies
    "performed_on": "Date the study was performed; not in the future.",
    "modality": "Imaging modality.",
    "tracer": "Radiopharmaceutical; `none` for CT and MRI.",
    "tracer_class": "Class of the tracer, derived from it (SSTR, FDG, ...; ANATOMIC for CT/MRI).",
    "post_therapy": "True for a scan after a therapeutic administration (e.g. 177Lu SPECT).",
    "treatment": "The treatment line a post-therapy scan follows (id), if any.",
    "cycle_number": "The cycle a post-therapy scan follows.",
    "blood_pool_suv": "Blood-pool SUVmean (reference for Krenning 1, docs/clinical-rules.md §2).",
    "liver_suv": "Normal liver SUVmean (reference for Krenning 2/3 and tumour-to-liver ratios).",
    "liver_suv_sd": "Standard deviation of the liver SUV (PERCIST measurability).",
    "spleen_suv": "Spleen SUVmean (reference for Krenning 4; not used on FDG).",
    "accession_number": "RIS/PACS accession number, unique when given.",
    "study_instance_uid": "DICOM Study Instance UID, unique when given.",
    "observations": "Every lesion observed on this study.",
    # Observations
    "study": "The study this observation belongs to (id).",
    "lesion": "The lesion observed (id); one observation per lesion and study.",
    "state": "scored, not_seen (no uptake/visible lesion), or not_evaluable (e.g. artefact).",
    "suv_max": "Maximum standardized uptake value of the lesion.",
    "suv_peak": "SUVpeak of the lesion (PERCIST uses SULpeak).",
    "krenning_visual": "The reader's visual score: Krenning 0-4 on SSTR, the FDG grade 0-3 on FDG.",
    "krenning_min": "Lowest Krenning score within a heterogeneous lesion (SSTR study).",
    "krenning_max": "Highest Krenning score within a heterogeneous lesion (SSTR study).",
    "fdg_visual": "Plain FDG call when no grade is given: positive or negative (FDG study).",
    "fdg_vs_sstr": "FDG uptake compared with SSTR uptake of the lesion, entered on the FDG "
    "study's observation (NETPET).",
    "long_axis_mm": "Longest diameter in mm (RECIST; lesions under 20 mm are flagged on SSTR).",
    "short_axis_mm": "Short axis in mm (RECIST for lymph nodes).",
    "volume_ml": "Volume in mL, if measured.",
    "heterogeneous": "True when uptake varies within the lesion (§5).",
    "target": "True for a target lesion (RECIST; §5 heterogeneity share).",
    # Meetings and decisions
    "held_on": "Date of the tumour board meeting.",
    "title": "Title of the meeting, e.g. 'NET board, week 12'.",
    "cases": "The patients listed at this meeting, with the question for the board.",
    "question": "The question the board is asked about this patient.",
    "case": "The case (patient at a meeting) decided on (id).",
    "recommendation": "The board's recommendation.",
    "rationale": "Why the board recommends it, in the board's words.",
    "attendees": "Who took part in the decision.",
    "decided_by": "The user who recorded the decision (id).",
    "decided_at": "When the decision was recorded (UTC).",
    "signed_at": "When the decision was signed; a signed decision cannot change.",
    "supersedes": "The earlier decision this one replaces (id), if any.",
    "phenotype_snapshot": "The phenotype assessment exactly as shown when decided; immutable.",
    "response_snapshot": "The response assessment exactly as shown when decided; immutable.",
    # Access events
    "at": "When it happened (UTC).",
    "username": "Login of the user, or api:<system> for an integrating system.",
    "api_system": "Name of the integrating system (its token), if any.",
    "action": "What was read, e.g. api_read:retrieve.",
    "path": "The URL path requested.",
    "request_id": "X-Request-ID of the request.",
    # Computed results (API.md "Computed results")
    "rules_version": "Version of the clinical rules that computed the result.",
    "thresholds": "The thresholds (NETBOARD_RULES) the result was computed with.",
    "biopsy_target": "The lesion proposed for biopsy (highest NETPET pattern, highest FDG uptake).",
    "karfis": "Karfis dual-tracer group C1-C3 (docs/clinical-rules.md §4.2).",
    "netpet": "NETPET grade P0-P5 with suffix a/b (docs/clinical-rules.md §4.1).",
    "zidan": "Zidan dual-tracer group 1-4 (docs/clinical-rules.md §4.3).",
    "sstr": "SSTR expression summary (docs/clinical-rules.md §5).",
    "prrt_support": (
        "PRRT decision-support findings (docs/clinical-rules.md §6); support, not a decision."
    ),
    "lesion_scores": "Every lesion at this timepoint with its effective scores.",
    "provisional": "True while lesions are unpaired, ungradable or lack a comparison.",
    "suitability": "Published suitability wording for the group.",
    "suffix": "a: 1-2 lesions of the pattern, b: 3 or more (NETPET).",
    "representative_lesion": "The lesion that represents the NETPET grade.",
    "sstr_performed_on": "Date of the timepoint's SSTR PET.",
    "fdg_performed_on": "Date of the paired FDG PET, or null.",
    "sstr_score": "Effective Krenning score 0-4 on the SSTR PET.",
    "fdg_score": "Effective FDG uptake grade 0-4 on the FDG PET.",
    "sstr_flags": "Flags of the SSTR observation (docs/clinical-rules.md §2).",
    "fdg_flags": "Flags of the FDG observation (docs/clinical-rules.md §2).",
    "fdg_source": "Where the FDG grade came from: visual, fdg_visual, computed, state.",
    "fdg_positive_background": "FDG uptake above background (grade >= 2).",
    "fdg_positive_liver": "FDG uptake above liver (grade >= 3).",
    "sstr_positive": "SSTR-positive under this system's threshold.",
    "fdg_positive": "FDG-positive under this system's threshold.",
    "evaluable_lesions": "Number of lesions with an SSTR score.",
    "majority_low": "True when at least half of the evaluable lesions have Krenning 0-2.",
    "inter_lesional": "True when scores differ between lesions (inter-lesional heterogeneity).",
    "targets_marked": "True when target lesions were marked (else all lesions count).",
    "overall": "no_blocking_finding or blocking_findings_present.",
    "findings": "The findings, in docs/clinical-rules.md §6 order.",
    "code": "Finding code (API.md).",
    "message": "One sentence for the board.",
    "severity": "blocks, caution or info.",
    "reason": "One sentence: why this result.",
    **{str(score): f"Evaluable lesions with Krenning score {score}." for score in range(5)},
}


def describe_fields(result: dict[str, Any], generator: Any, request: Any, public: Any) -> Any:
    """drf-spectacular postprocessing hook: fill in missing property descriptions."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        base = name.removeprefix("Patched").removesuffix("Request")
        for field, prop in (component.get("properties") or {}).items():
            if "description" in prop:
                continue
            text = BY_COMPONENT.get(f"{base}.{field}") or BY_NAME.get(field)
            if not text:
                continue
            if "$ref" in prop:  # OpenAPI 3.0 ignores siblings of $ref: wrap it
                component["properties"][field] = {"allOf": [prop], "description": text}
            else:
                prop["description"] = text
    return result
