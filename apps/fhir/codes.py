"""Code systems and extension URLs of the FHIR R4 interface.

No LOINC or SNOMED CT code exists for NETPET, Karfis or Zidan grades, the Krenning score or our
tracer codes, so they are coded in NETboard's own CodeSystem. SUVmax uses DICOM DCM 126401
(SUVbw); lesion diameters use SNOMED CT's long and short axis.
"""

from __future__ import annotations

BASE = "https://netboard.invalid/fhir"
NETBOARD = f"{BASE}/CodeSystem/netboard"
TRACER = f"{BASE}/CodeSystem/tracer"
MRN = f"{BASE}/identifier/mrn"
LESION_ID = f"{BASE}/identifier/lesion"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ACCESSION_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
LOINC = "http://loinc.org"

# Follow-up records (apps/outcomes) as Observations: kind -> (NETboard code, display). The
# NETboard code comes first and is what an import reads. A progression also carries mCODE's
# coding of a cancer disease status (LOINC 97509-4, "Cancer disease progression", valued
# SNOMED CT 271299001, "Patient's condition worsened"), its basis as the method; a death sets
# the Patient's deceasedDateTime too, its cause (free text) is the value.
FOLLOW_UP = {
    "progression": ("follow-up-progression", "Progression"),
    "death": ("follow-up-death", "Death"),
    "last_contact": ("follow-up-last-contact", "Last contact (known alive)"),
}
PROGRESSION_LOINC = ("97509-4", "Cancer disease progression")
WORSENED = ("271299001", "Patient's condition worsened")


def ext(name: str) -> str:
    return f"{BASE}/StructureDefinition/{name}"


# Observation components of a lesion measurement: field -> (system, code, display, value type).
COMPONENTS = {
    "suv_max": (DCM, "126401", "SUVbw", "quantity"),
    "suv_peak": (NETBOARD, "suv-peak", "SUVpeak", "quantity"),
    "long_axis_mm": (SNOMED, "103339001", "Long axis", "mm"),
    "short_axis_mm": (SNOMED, "103340004", "Short axis", "mm"),
    "volume_ml": (NETBOARD, "volume", "Lesion volume", "mL"),
    "krenning_visual": (NETBOARD, "krenning-visual", "Visual uptake score", "integer"),
    "krenning_min": (NETBOARD, "krenning-min", "Lowest Krenning score in the lesion", "integer"),
    "krenning_max": (NETBOARD, "krenning-max", "Highest Krenning score in the lesion", "integer"),
    "fdg_visual": (NETBOARD, "fdg-visual", "Plain FDG call", "code"),
    "fdg_vs_sstr": (NETBOARD, "fdg-vs-sstr", "FDG compared with SSTR uptake", "code"),
    "state": (NETBOARD, "observation-state", "Lesion state on the study", "code"),
    "heterogeneous": (NETBOARD, "heterogeneous", "Heterogeneous uptake", "boolean"),
    "target": (NETBOARD, "target", "Target lesion", "boolean"),
}
LESION_OBSERVATION = "lesion-observation"
GRADES = {
    "netpet": ("netpet-grade", "NETPET grade", "grade"),
    "karfis": ("karfis-group", "Karfis group", "group"),
    "zidan": ("zidan-group", "Zidan group", "group"),
}
PHENOTYPE_REPORT = "phenotype"

MODALITY = {
    "pet_ct": "PT",
    "pet_mri": "PT",
    "spect_ct": "NM",
    "planar": "NM",
    "ct": "CT",
    "mri": "MR",
}
GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}
