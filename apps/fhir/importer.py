"""``POST /fhir/R4/``: a transaction Bundle of Patient, BodyStructure (lesions), ImagingStudy,
lesion Observations and follow-up Observations (apps/outcomes), written in one database
transaction through the same serializers as the JSON API, so the same rules and errors apply.
Grade Observations and the phenotype DiagnosticReport are computed here, not imported: they are
skipped and listed as such.

References between entries use their ``fullUrl`` (``urn:uuid:…``) or ``<Type>/<id>`` of a
resource in the bundle or already stored here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticValidationError
from rest_framework.request import Request

from apps.core.types import JSON
from apps.fhir import codes
from apps.imaging.models import ImagingStudy
from apps.imaging.serializers import LesionSerializer, ObservationSerializer, StudySerializer
from apps.imaging.services import study_finish
from apps.outcomes.serializers import FollowUpSerializer
from apps.patients.serializers import PatientSerializer, TreatmentSerializer

_MODALITY_FROM_DICOM = {"PT": "pet_ct", "NM": "spect_ct", "CT": "ct", "MR": "mri"}
_ORDER = {"Patient": 0, "Procedure": 1, "BodyStructure": 2, "ImagingStudy": 3, "Observation": 4}
# Where a serializer's field lives in the FHIR resource, for OperationOutcome expressions.
_ELEMENT = {
    "Patient": {
        "mrn": "identifier", "family_name": "name", "given_name": "name",
        "birth_date": "birthDate", "sex": "gender",
    },
    "ImagingStudy": {
        "performed_on": "started", "tracer": "procedureCode", "modality": "modality",
        "patient": "subject", "treatment": "extension",
    },
    "BodyStructure": {"label": "description", "site": "location"},
    "Procedure": {"kind": "code", "started_on": "performedPeriod", "ended_on": "performedPeriod"},
    "Observation": {"study": "partOf", "lesion": "focus"},
}  # fmt: skip
# The same for a follow-up record's Observation.
_FOLLOW_UP_ELEMENT = {
    "patient": "subject", "kind": "code", "occurred_on": "effectiveDateTime", "basis": "method",
    "study": "derivedFrom", "cause": "valueString",
}  # fmt: skip
_FOLLOW_UP_KIND = {code: kind for kind, (code, _display) in codes.FOLLOW_UP.items()}


class FhirInputError(Exception):
    """Carries OperationOutcome issues: (FHIRPath-like expression, message)."""

    def __init__(self, issues: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {what}" for where, what in issues))
        self.issues = issues


def _value(extension: JSON) -> Any:
    """The value[x] of an extension, or None (a complex extension has none)."""
    return next((v for k, v in extension.items() if k.startswith("value")), None)


def _extensions(resource: JSON) -> dict[str, Any]:
    values = {}
    for extension in resource.get("extension", []):
        url = extension.get("url", "")
        if url.startswith(codes.ext("")) and _value(extension) is not None:
            values[url.removeprefix(codes.ext(""))] = _value(extension)
    return values


def _code(concept: JSON | None) -> str | None:
    if not concept:
        return None
    for coding in concept.get("coding", []):
        if coding.get("code") is not None:
            return str(coding["code"])
    return None


def _decimal(value: Any) -> str | None:
    return None if value is None else str(Decimal(str(value)))


def patient_fields(resource: JSON) -> JSON:
    ext = _extensions(resource)
    mrn = next(
        (i.get("value") for i in resource.get("identifier", []) if i.get("system") == codes.MRN),
        None,
    )
    name = (resource.get("name") or [{}])[0]
    return {
        "mrn": mrn,
        "family_name": name.get("family", ""),
        "given_name": " ".join(name.get("given", [])),
        "birth_date": resource.get("birthDate"),
        "sex": resource.get("gender", "unknown"),
        "primary_site": ext.get("primary-site", "unknown"),
        "histology": ext.get("histology"),
        "ppgl_cluster": ext.get("ppgl-cluster"),
        "height_cm": _decimal(ext.get("height-cm")),
        "weight_kg": _decimal(ext.get("weight-kg")),
    }


def treatment_fields(resource: JSON, patient: int) -> JSON:
    ext = _extensions(resource)
    period = resource.get("performedPeriod") or {}
    cycles = []
    for extension in resource.get("extension", []):
        if extension.get("url") == codes.ext("cycle"):
            parts = {
                p["url"]: next(v for k, v in p.items() if k.startswith("value"))
                for p in extension.get("extension", [])
            }
            cycles.append(
                {
                    "number": parts.get("number"),
                    "given_on": parts.get("given-on"),
                    "activity_gbq": _decimal(parts.get("activity-gbq")),
                }
            )
    return {
        "patient": patient,
        "kind": ext.get("treatment-kind") or _code(resource.get("code")),
        "regimen": ext.get("regimen", ""),
        "started_on": (period.get("start") or "")[:10] or None,
        "ended_on": (period.get("end") or "")[:10] or None,
        "cycles": cycles,
    }  # fmt: skip


def lesion_fields(resource: JSON, patient: int) -> JSON:
    ext = _extensions(resource)
    return {
        "patient": patient,
        "label": resource.get("description", ""),
        "site": _code(resource.get("location")) or "other",
        "nodal": ext.get("nodal", False),
        "is_primary": ext.get("is-primary", False),
    }


def study_fields(resource: JSON, patient: int, treatment: int | None) -> JSON:
    ext = _extensions(resource)
    dicom = _code({"coding": resource.get("modality", [])})
    fields: JSON = {
        "patient": patient,
        "performed_on": (resource.get("started") or "")[:10] or None,
        "modality": ext.get("modality") or _MODALITY_FROM_DICOM.get(dicom or "", "pet_ct"),
        "tracer": _code((resource.get("procedureCode") or [None])[0]) or "none",
        "post_therapy": ext.get("post-therapy", False),
        "status": ext.get("read-status")
        or ("final" if resource.get("status") == "available" else "draft"),
        "cycle_number": ext.get("cycle-number"),
        "treatment": treatment,
    }
    for field in ("blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv"):
        fields[field] = _decimal(ext.get(field.replace("_", "-")))
    for identifier in resource.get("identifier", []):
        if identifier.get("system") == "urn:dicom:uid":
            fields["study_instance_uid"] = str(identifier.get("value", "")).removeprefix("urn:oid:")
        elif _code(identifier.get("type")) == "ACSN":
            fields["accession_number"] = identifier.get("value")
    return fields


def observation_fields(resource: JSON, study: int, lesion: int) -> JSON:
    fields: JSON = {"study": study, "lesion": lesion}
    by_code = {(system, code): field for field, (system, code, _d, _k) in codes.COMPONENTS.items()}
    for component in resource.get("component", []):
        coding = (component.get("code", {}).get("coding") or [{}])[0]
        field = by_code.get((coding.get("system"), coding.get("code")))
        if field is None:
            continue
        if "valueQuantity" in component:
            fields[field] = _decimal(component["valueQuantity"].get("value"))
        elif "valueInteger" in component:
            fields[field] = component["valueInteger"]
        elif "valueBoolean" in component:
            fields[field] = component["valueBoolean"]
        elif "valueCodeableConcept" in component:
            fields[field] = _code(component["valueCodeableConcept"])
    return fields


def _is_lesion_observation(resource: JSON) -> bool:
    return _code(resource.get("code")) == codes.LESION_OBSERVATION


def follow_up_fields(resource: JSON, patient: int, study: int | None) -> JSON:
    kind = _FOLLOW_UP_KIND[_code(resource.get("code")) or ""]
    return {
        "patient": patient,
        "kind": kind,
        "occurred_on": (resource.get("effectiveDateTime") or "")[:10] or None,
        "basis": _code(resource.get("method")) if kind == "progression" else None,
        "study": study,
        "cause": resource.get("valueString") if kind == "death" else None,
    }


def import_transaction(document: Any, request: Request) -> JSON:
    """Validate and write the bundle; returns a transaction-response Bundle. Raises
    ``FhirInputError`` (nothing written) for any invalid entry."""
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        raise FhirInputError([("Bundle", "Send a FHIR Bundle resource.")])
    if document.get("type") != "transaction":
        raise FhirInputError([("Bundle.type", "Only transaction Bundles are accepted here.")])
    try:
        Bundle.model_validate(document)
    except PydanticValidationError as exc:
        raise FhirInputError(
            [(".".join(str(p) for p in e["loc"]) or "Bundle", e["msg"]) for e in exc.errors()]
        ) from None
    importer = _Importer(request)
    entries = list(enumerate(document.get("entry") or []))
    # Referenced resources first, whatever the order of the bundle.
    entries.sort(key=lambda item: _ORDER.get(item[1].get("resource", {}).get("resourceType"), 9))
    with transaction.atomic():
        for index, entry in entries:
            try:
                importer.entry(index, entry)
            except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
                importer.issues.append(
                    (f"Bundle.entry[{index}]", f"Could not read this entry ({type(exc).__name__}).")
                )
        if not importer.issues:
            # Finished last: a final read takes no observations, so its own come first.
            for pk in importer.finish:
                study_finish(study=ImagingStudy.objects.get(pk=pk), user=importer.user)
        if importer.issues:
            transaction.set_rollback(True)
    if importer.issues:
        raise FhirInputError(importer.issues)
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": importer.results[index]} for index, _entry in sorted(entries)],
    }


class _Importer:
    def __init__(self, request: Request) -> None:
        self.context = {"request": request}
        self.made: dict[str, tuple[str, int]] = {}  # fullUrl or Type/id -> (type, pk)
        self.results: dict[int, JSON] = {}
        self.issues: list[tuple[str, str]] = []
        self.finish: list[int] = []  # studies sent as final reads, finished after the bundle
        self.user = request.user if request.user.is_authenticated else None

    def ref(self, where: str, reference: JSON | None, kind: str) -> int | None:
        target = (reference or {}).get("reference", "")
        if target in self.made and self.made[target][0] == kind:
            return self.made[target][1]
        if target.startswith(f"{kind}/") and target.split("/", 1)[1].isdigit():
            return int(target.split("/", 1)[1])
        self.issues.append(
            (where, f"Refers to {target or 'nothing'}; expected a {kind} of this bundle.")
        )
        return None

    def save(
        self,
        index: int,
        serializer: Any,
        kind: str,
        full_url: str,
        elements: dict[str, str] | None = None,
    ) -> None:
        if not serializer.is_valid():
            elements = _ELEMENT.get(kind, {}) if elements is None else elements
            for field, messages in serializer.errors.items():
                element = elements.get(field, field)
                for message in messages if isinstance(messages, list) else [messages]:
                    self.issues.append((f"Bundle.entry[{index}].resource.{element}", str(message)))
            return
        record = serializer.save()
        self.made[full_url] = (kind, record.pk)
        self.made[f"{kind}/{record.pk}"] = (kind, record.pk)
        self.results[index] = {"status": "201 Created", "location": f"{kind}/{record.pk}"}

    def follow_up(self, index: int, resource: JSON, full_url: str) -> None:
        """A follow-up record (apps/outcomes), through the API's serializer and service."""
        where = f"Bundle.entry[{index}].resource"
        patient = self.ref(f"{where}.subject", resource.get("subject"), "Patient")
        derived = (resource.get("derivedFrom") or [None])[0]
        study = self.ref(f"{where}.derivedFrom", derived, "ImagingStudy") if derived else None
        if patient is None or (derived and study is None):
            return
        data = follow_up_fields(resource, patient, study)
        serializer = FollowUpSerializer(data=data, context=self.context)
        self.save(index, serializer, "Observation", full_url, _FOLLOW_UP_ELEMENT)

    def entry(self, index: int, entry: JSON) -> None:
        resource = entry.get("resource") or {}
        kind = resource.get("resourceType")
        where = f"Bundle.entry[{index}].resource"
        full_url = entry.get("fullUrl") or f"{kind}/{resource.get('id')}"
        if (entry.get("request") or {}).get("method") != "POST":
            self.issues.append((f"Bundle.entry[{index}].request.method", "Only POST entries."))
            return
        ctx = self.context
        if kind == "Patient":
            self.save(
                index, PatientSerializer(data=patient_fields(resource), context=ctx), kind, full_url
            )
        elif kind == "Procedure":
            patient = self.ref(f"{where}.subject", resource.get("subject"), "Patient")
            if patient is not None:
                data = treatment_fields(resource, patient)
                self.save(index, TreatmentSerializer(data=data, context=ctx), kind, full_url)
        elif kind == "BodyStructure":
            patient = self.ref(f"{where}.patient", resource.get("patient"), "Patient")
            if patient is not None:
                data = lesion_fields(resource, patient)
                self.save(index, LesionSerializer(data=data, context=ctx), kind, full_url)
        elif kind == "ImagingStudy":
            patient = self.ref(f"{where}.subject", resource.get("subject"), "Patient")
            link = _extensions(resource).get("treatment")
            treatment = self.ref(f"{where}.extension", link, "Procedure") if link else None
            if patient is not None:
                data = study_fields(resource, patient, treatment)
                final = data.get("status") == "final"
                if final:
                    data["status"] = "draft"
                self.save(index, StudySerializer(data=data, context=ctx), kind, full_url)
                if final and full_url in self.made:
                    self.finish.append(self.made[full_url][1])
        elif kind == "Observation" and _is_lesion_observation(resource):
            part_of = (resource.get("partOf") or [None])[0]
            focus = (resource.get("focus") or [None])[0]
            study = self.ref(f"{where}.partOf", part_of, "ImagingStudy")
            lesion = self.ref(f"{where}.focus", focus, "BodyStructure")
            if study is not None and lesion is not None:
                data = observation_fields(resource, study, lesion)
                self.save(index, ObservationSerializer(data=data, context=ctx), kind, full_url)
        elif kind == "Observation" and _code(resource.get("code")) in _FOLLOW_UP_KIND:
            self.follow_up(index, resource, full_url)
        elif kind in {"Observation", "DiagnosticReport"}:
            self.results[index] = {"status": "200 OK", "outcome": _skipped()}
        else:
            self.issues.append((f"{where}.resourceType", f"{kind} is not accepted here."))


def _skipped() -> JSON:
    return operation_outcome(
        [("", "Computed by NETboard from the imaging data; not imported.")], severity="information"
    )


def operation_outcome(issues: list[tuple[str, str]], severity: str = "error") -> JSON:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": "invalid" if severity == "error" else "informational",
                "diagnostics": message,
                **({"expression": [where]} if where else {}),
            }
            for where, message in issues
        ],
    }
