"""``GET /fhir/R4/Patient/{id}/$everything``: one patient's record as a FHIR R4 Bundle.

Resources are built as plain dicts and validated with fhir.resources' R4B models (8.x carries
R4B and R5, no plain R4; R4B's Patient, BodyStructure, ImagingStudy, Observation,
DiagnosticReport and Bundle are the R4 ones for every element used here).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from apps.core.types import JSON
from apps.fhir import codes
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.outcomes.models import FollowUp, FollowUpKind
from apps.patients.models import Patient, Treatment
from apps.scoring.services import phenotype_body


def _coding(system: str, code: str, display: str | None = None) -> JSON:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], "text": display or code}


def _ext(name: str, key: str, value: Any) -> JSON:
    return {"url": codes.ext(name), key: value}


def _decimal(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def patient_resource(patient: Patient) -> JSON:
    extensions = [_ext("primary-site", "valueCode", patient.primary_site)]
    if patient.histology:
        extensions.append(_ext("histology", "valueCode", patient.histology))
    if patient.ppgl_cluster:
        extensions.append(_ext("ppgl-cluster", "valueCode", patient.ppgl_cluster))
    for name, value in (("height-cm", patient.height_cm), ("weight-kg", patient.weight_kg)):
        if value is not None:
            extensions.append(_ext(name, "valueDecimal", _decimal(value)))
    name: JSON = {"family": patient.family_name}
    if patient.given_name:
        name["given"] = [patient.given_name]
    resource: JSON = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "extension": extensions,
        "identifier": [{"system": codes.MRN, "value": patient.mrn}],
        "name": [name],
        "gender": codes.GENDER[patient.sex],
    }
    if patient.birth_date:
        resource["birthDate"] = patient.birth_date.isoformat()
    return resource


def lesion_resource(lesion: Lesion) -> JSON:
    """A lesion as an mCODE-style BodyStructure (a tumour identified across studies)."""
    return {
        "resourceType": "BodyStructure",
        "id": str(lesion.pk),
        "extension": [
            _ext("nodal", "valueBoolean", lesion.nodal),
            _ext("is-primary", "valueBoolean", lesion.is_primary),
        ],
        "identifier": [{"system": codes.LESION_ID, "value": lesion.label}],
        "description": lesion.label,
        "location": _coding(codes.NETBOARD, lesion.site),
        "patient": {"reference": f"Patient/{lesion.patient_id}"},
    }


def study_resource(study: ImagingStudy) -> JSON:
    extensions = [
        _ext("modality", "valueCode", study.modality),
        _ext("post-therapy", "valueBoolean", study.post_therapy),
        _ext("read-status", "valueCode", study.status),
    ]
    for field in ("blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv"):
        value = getattr(study, field)
        if value is not None:
            extensions.append(_ext(field.replace("_", "-"), "valueDecimal", _decimal(value)))
    if study.cycle_number is not None:
        extensions.append(_ext("cycle-number", "valueInteger", study.cycle_number))
    if study.treatment_id is not None:
        extensions.append(
            _ext("treatment", "valueReference", {"reference": f"Procedure/{study.treatment_id}"})
        )
    identifiers = []
    if study.study_instance_uid:
        identifiers.append(
            {"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_instance_uid}"}
        )
    if study.accession_number:
        identifiers.append(
            {
                "type": _coding(codes.ACCESSION_TYPE, "ACSN"),
                "value": study.accession_number,
            }
        )
    resource: JSON = {
        "resourceType": "ImagingStudy",
        "id": str(study.pk),
        "extension": extensions,
        "status": "available" if study.status == "final" else "registered",
        "subject": {"reference": f"Patient/{study.patient_id}"},
        "started": f"{study.performed_on.isoformat()}T00:00:00Z",
        "modality": [
            {"system": codes.DCM, "code": codes.MODALITY[study.modality]},
        ],
        "procedureCode": [_coding(codes.TRACER, study.tracer)],
        "description": f"{study.get_modality_display()} {study.get_tracer_display()}",
    }
    if identifiers:
        resource["identifier"] = identifiers
    return resource


def treatment_resource(treatment: Treatment) -> JSON:
    """A treatment line as a Procedure (NETboard-coded kind; cycles as extensions)."""
    extensions = [_ext("treatment-kind", "valueCode", treatment.kind)]
    if treatment.regimen:
        extensions.append(_ext("regimen", "valueString", treatment.regimen))
    for cycle in treatment.cycles.all():
        parts = [
            {"url": "number", "valueInteger": cycle.number},
            {"url": "given-on", "valueDate": cycle.given_on.isoformat()},
        ]
        if cycle.activity_gbq is not None:
            parts.append({"url": "activity-gbq", "valueDecimal": _decimal(cycle.activity_gbq)})
        extensions.append({"url": codes.ext("cycle"), "extension": parts})
    period = {"start": treatment.started_on.isoformat()}
    if treatment.ended_on:
        period["end"] = treatment.ended_on.isoformat()
    return {
        "resourceType": "Procedure",
        "id": str(treatment.pk),
        "extension": extensions,
        "status": "completed" if treatment.ended_on else "in-progress",
        "code": _coding(codes.NETBOARD, treatment.kind),
        "subject": {"reference": f"Patient/{treatment.patient_id}"},
        "performedPeriod": period,
    }


def _component(field: str, value: Any) -> JSON:
    system, code, display, kind = codes.COMPONENTS[field]
    component: JSON = {"code": _coding(system, code, display)}
    if kind == "quantity":
        component["valueQuantity"] = {
            "value": _decimal(value),
            "unit": "g/ml{SUVbw}",
            "system": codes.UCUM,
            "code": "g/mL{SUVbw}",
        }
    elif kind in {"mm", "mL"}:
        component["valueQuantity"] = {
            "value": _decimal(value),
            "unit": kind,
            "system": codes.UCUM,
            "code": kind,
        }
    elif kind == "integer":
        component["valueInteger"] = value
    elif kind == "boolean":
        component["valueBoolean"] = value
    else:
        component["valueCodeableConcept"] = _coding(codes.NETBOARD, value)
    return component


def observation_resource(obs: Observation, study: ImagingStudy) -> JSON:
    """One lesion on one study: SUVmax (DCM 126401 SUVbw), diameters, the visual score."""
    components = [
        _component(field, getattr(obs, field))
        for field in codes.COMPONENTS
        if getattr(obs, field) is not None
    ]
    return {
        "resourceType": "Observation",
        "id": f"obs-{obs.pk}",
        "status": "final" if study.status == "final" else "preliminary",
        "category": [
            _coding("http://terminology.hl7.org/CodeSystem/observation-category", "imaging")
        ],
        "code": _coding(codes.NETBOARD, codes.LESION_OBSERVATION, "Lesion on an imaging study"),
        "subject": {"reference": f"Patient/{obs.patient_id}"},
        "focus": [{"reference": f"BodyStructure/{obs.lesion_id}"}],
        "partOf": [{"reference": f"ImagingStudy/{obs.study_id}"}],
        "effectiveDateTime": f"{study.performed_on.isoformat()}T00:00:00Z",
        "component": components,
    }


def follow_up_resource(follow_up: FollowUp) -> JSON:
    """A follow-up record as an Observation (codes.FOLLOW_UP): its date is the effective date;
    a progression's basis is the method and its study the one it is derived from; a death's
    cause the value."""
    code, display = codes.FOLLOW_UP[follow_up.kind]
    concept = _coding(codes.NETBOARD, code, display)
    resource: JSON = {
        "resourceType": "Observation",
        "id": f"follow-up-{follow_up.pk}",
        "status": "final",
        "code": concept,
        "subject": {"reference": f"Patient/{follow_up.patient_id}"},
        "effectiveDateTime": f"{follow_up.occurred_on.isoformat()}T00:00:00Z",
    }
    if follow_up.kind == FollowUpKind.PROGRESSION:
        loinc, loinc_display = codes.PROGRESSION_LOINC
        concept["coding"].append({"system": codes.LOINC, "code": loinc, "display": loinc_display})
        resource["valueCodeableConcept"] = _coding(codes.SNOMED, *codes.WORSENED)
        if follow_up.basis:
            resource["method"] = _coding(codes.NETBOARD, follow_up.basis)
        if follow_up.study_id is not None:
            resource["derivedFrom"] = [{"reference": f"ImagingStudy/{follow_up.study_id}"}]
    elif follow_up.kind == FollowUpKind.DEATH and follow_up.cause:
        resource["valueString"] = follow_up.cause
    return resource


def grade_resources(patient: Patient) -> tuple[list[JSON], JSON | None]:
    """The phenotype grades of every dual-tracer timepoint as Observations, grouped in one
    DiagnosticReport (preliminary unless the assessment is fresh and no read behind it is a
    draft)."""
    body = phenotype_body(patient.pk)
    if not body["timepoints"]:
        return [], None
    final = body["status"] == "fresh" and not body.get("preliminary")
    status = "final" if final else "preliminary"
    grades: list[JSON] = []
    for timepoint in body["timepoints"]:
        if timepoint["fdg_study"] is None:
            continue
        for system, (code, display, key) in codes.GRADES.items():
            result = timepoint[system]
            if result[key] is None:
                continue
            grades.append(
                {
                    "resourceType": "Observation",
                    "id": f"{code}-{timepoint['sstr_study']}",
                    "status": status,
                    "code": _coding(codes.NETBOARD, code, display),
                    "subject": {"reference": f"Patient/{patient.pk}"},
                    "effectiveDateTime": f"{timepoint['sstr_performed_on']}T00:00:00Z",
                    "valueCodeableConcept": _coding(codes.NETBOARD, str(result[key])),
                    "derivedFrom": [
                        {"reference": f"ImagingStudy/{timepoint['sstr_study']}"},
                        {"reference": f"ImagingStudy/{timepoint['fdg_study']}"},
                    ],
                    "note": [{"text": result["reason"]}],
                }
            )
    report = {
        "resourceType": "DiagnosticReport",
        "id": f"phenotype-{patient.pk}",
        "status": status,
        "code": _coding(codes.NETBOARD, codes.PHENOTYPE_REPORT, "Molecular imaging phenotype"),
        "subject": {"reference": f"Patient/{patient.pk}"},
        "issued": body["computed_at"],
        "result": [{"reference": f"Observation/{grade['id']}"} for grade in grades],
        "conclusion": (
            f"Rules version {body['rules_version']}; assessment {body['status']}. Decision "
            "support for the tumour board, not a decision."
        ),
    }
    return grades, report


def everything(patient: Patient, base_url: str) -> JSON:
    lesions = list(patient.lesions.order_by("id"))
    studies = list(
        ImagingStudy.objects.filter(patient=patient)
        .order_by("performed_on", "id")
        .prefetch_related("observations")
    )
    resources = [patient_resource(patient)]
    resources += [
        treatment_resource(t)
        for t in patient.treatments.order_by("started_on", "id").prefetch_related("cycles")
    ]
    resources += [lesion_resource(lesion) for lesion in lesions]
    resources += [study_resource(study) for study in studies]
    resources += [
        observation_resource(obs, study) for study in studies for obs in study.observations.all()
    ]
    grades, report = grade_resources(patient)
    resources += grades
    if report is not None:
        resources.append(report)
    follow_ups = list(FollowUp.objects.filter(patient=patient).order_by("occurred_on", "id"))
    resources += [follow_up_resource(f) for f in follow_ups]
    death = next((f for f in follow_ups if f.kind == FollowUpKind.DEATH), None)
    if death is not None:
        resources[0]["deceasedDateTime"] = f"{death.occurred_on.isoformat()}T00:00:00Z"
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{base_url}{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }
    validated: JSON = Bundle.model_validate(bundle).model_dump(mode="json", exclude_none=True)
    return validated
