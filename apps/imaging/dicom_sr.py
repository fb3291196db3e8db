"""Reading a DICOM Structured Report, template TID 1500 (Measurement Report), into what NETboard
stores: per tracked lesion its finding site and values, and the study's reference uptake.

Parsing is highdicom's (``hd.sr.srread``, ``MeasurementReport`` and its measurement-group
queries) on pydicom; this module only maps the coded concepts to NETboard's fields, checks
units and says clearly what it refuses. It writes nothing: the import service does, after the
reader has reviewed what it will change (issue 16).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import highdicom as hd
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.sr.coding import Code

# The coded concepts read (DICOM PS3.16). Scheme designator and code value identify a concept;
# the meaning is for people.
SUVBW = ("DCM", "126401")  # SUVbw
MAXIMUM = ("SCT", "56851009")
MEAN = ("SCT", "373098007")
PEAK = ("DCM", "126031")  # Peak Value Within ROI
LONG_AXIS = ("SCT", "103339001")
SHORT_AXIS = ("SCT", "103340004")
VOLUME = ("SCT", "118565006")
REFERENCE_REGION = ("NCIt", "C94970")  # as QIICR's PET reports write it

# NETboard's own concepts for what no standard code carries: the visual scores of a read.
NETBOARD_SCHEME = "99NETBOARD"
KRENNING_SCORE = (NETBOARD_SCHEME, "krenning-visual")
FDG_VISUAL = (NETBOARD_SCHEME, "fdg-visual")

# Units (UCUM): SUVs in body-weight SUV, lengths in mm (cm converted), volumes in ml.
SUV_UNITS = {"{SUVbw}g/ml": Decimal(1), "g/ml": Decimal(1)}
LENGTH_UNITS = {"mm": Decimal(1), "cm": Decimal(10)}
VOLUME_UNITS = {"ml": Decimal(1), "mL": Decimal(1), "cm3": Decimal(1)}

# Finding Site (SCT 363698007) → NETboard's lesion sites. A code not here is shown as it is and
# the reader chooses the site: never guessed.
LESION_SITES = {
    ("SCT", "10200004"): "liver",
    ("SCT", "272673000"): "bone",
    ("SCT", "3138006"): "bone",  # Bone tissue
    ("SCT", "59441001"): "lymph_node",
    ("SCT", "15776009"): "pancreas",
    ("SCT", "39607008"): "lung",
    ("SCT", "15425007"): "peritoneum",
    ("SCT", "113276009"): "bowel",
    ("SCT", "30315005"): "bowel",  # Small intestine
    ("SCT", "71854001"): "bowel",  # Colon
    ("SCT", "23451007"): "adrenal",
    ("SCT", "69748006"): "thyroid",
    ("SCT", "87784001"): "soft_tissue",
    ("SCT", "12738006"): "brain",
}

# The image library (TID 1600) of the report: the modality of each referenced image (TID 1602)
# and, for PET, its radiopharmaceutical (TID 1607) give a new study's modality and tracer.
IMAGE_LIBRARY = ("DCM", "111028")
MODALITY = ("DCM", "121139")
RADIOPHARMACEUTICAL_AGENT = ("SCT", "349358000")
# CID 4021 (PET radiopharmaceuticals) → NETboard's tracers; another agent is left to the reader.
TRACERS = {
    ("SCT", "35321007"): "f18_fdg",  # Fluorodeoxyglucose F^18^
    ("SCT", "724025002"): "ga68_dotatate",  # Dotatate Ga^68^
    ("UMLS", "C2713594"): "ga68_dotatoc",  # Edotreotide Ga^68^
    ("SCT", "5811000122108"): "f18_dopa",  # Fluoro-L-dopa F^18^
}

# A reference region's site → the study's reference uptake field.
REFERENCE_SITES = {
    ("SCT", "10200004"): "liver_suv",
    ("SCT", "72410000"): "blood_pool_suv",  # Mediastinum (the mediastinal blood pool)
    ("SCT", "15825003"): "blood_pool_suv",  # Aorta
    ("SCT", "113262008"): "blood_pool_suv",  # Thoracic aorta
    ("SCT", "78961009"): "spleen_suv",
}


class SrRefused(ValueError):
    """The file cannot be imported; ``message`` says why in words a reader understands."""

    def __init__(self, message: str, *, field_name: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field_name = field_name


@dataclass(frozen=True)
class SrCode:
    scheme: str
    value: str
    meaning: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.scheme, self.value)

    def __str__(self) -> str:
        return f"{self.meaning} ({self.scheme} {self.value})"


@dataclass(frozen=True)
class SrLesion:
    """One measurement group of a lesion: its tracking, where it is, and its values by
    NETboard field (``suv_max``, ``suv_peak``, ``long_axis_mm``, ``short_axis_mm``,
    ``volume_ml``, ``krenning_visual``, ``fdg_visual``)."""

    tracking_uid: str | None
    tracking_identifier: str | None
    finding_site: SrCode | None
    site: str | None  # NETboard's site, None when the code is not mapped
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SrReport:
    sop_instance_uid: str
    series_instance_uid: str
    instance_number: int | None
    content_datetime: datetime | None
    patient_id: str
    study_instance_uid: str
    study_date: date | None
    sop_class: str
    lesions: list[SrLesion]
    reference: dict[str, Decimal]  # liver_suv, blood_pool_suv, spleen_suv
    # From the image library, when it says (for a study created from the SR): NETboard's values.
    modality: str | None = None
    tracer: str | None = None


def _code(concept: Any) -> SrCode | None:
    if concept is None:
        return None
    return SrCode(
        scheme=str(concept.scheme_designator),
        value=str(concept.value),
        meaning=str(concept.meaning),
    )


def _key(concept: Any) -> tuple[str, str] | None:
    code = _code(concept)
    return code.key if code is not None else None


def _da(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None  # DA is YYYYMMDD
    except ValueError:
        return None


def _content_datetime(dataset: Any) -> datetime | None:
    day = str(dataset.get("ContentDate", "") or "")
    time = str(dataset.get("ContentTime", "") or "").split(".")[0].ljust(6, "0")[:6]
    try:
        # DICOM dates and times carry no zone (the producer's clock): only SRs of one series
        # are ordered by it.
        return datetime.strptime(day + time, "%Y%m%d%H%M%S") if day else None  # noqa: DTZ007
    except ValueError:
        return None


def _number(value: Any, unit: SrCode, units: dict[str, Decimal], what: str) -> Decimal:
    factor = units.get(unit.value) if unit.scheme == "UCUM" else None
    if factor is None:
        known = ", ".join(f"`{u}`" for u in units)
        raise SrRefused(f"{what} is in an unknown unit {unit}: NETboard reads {known}.")
    try:
        number = Decimal(str(value)) * factor
    except InvalidOperation as exc:
        raise SrRefused(f"{what} is not a number: {value!r}.") from exc
    return number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize()


def _group_values(group: Any, label: str) -> tuple[dict[str, Any], dict[str, Decimal]]:
    """(lesion values, SUV means by reference field) of one measurement group."""
    values: dict[str, Any] = {}
    means: list[Decimal] = []
    for measurement in group.get_measurements():
        name = _key(measurement.name)
        unit = _code(measurement.unit)
        derivation = _key(measurement.derivation)
        what = f"{_code(measurement.name)} of {label}"
        if unit is None:
            raise SrRefused(f"{what} has no unit.")
        if name == SUVBW:
            suv = _number(measurement.value, unit, SUV_UNITS, what)
            if derivation == MAXIMUM:
                values["suv_max"] = suv
            elif derivation == PEAK:
                values["suv_peak"] = suv
            elif derivation == MEAN:
                means.append(suv)
        elif name == LONG_AXIS:
            values["long_axis_mm"] = _number(measurement.value, unit, LENGTH_UNITS, what)
        elif name == SHORT_AXIS:
            values["short_axis_mm"] = _number(measurement.value, unit, LENGTH_UNITS, what)
        elif name == VOLUME:
            values["volume_ml"] = _number(measurement.value, unit, VOLUME_UNITS, what)
    for evaluation in group.get_qualitative_evaluations():
        name = _key(evaluation.name)
        value = _code(evaluation.value)
        if value is None:
            continue
        if name == KRENNING_SCORE and value.value in {"0", "1", "2", "3", "4"}:
            values["krenning_visual"] = int(value.value)
        elif name == FDG_VISUAL and value.value in {"positive", "negative"}:
            values["fdg_visual"] = value.value
    return values, {"mean": means[0]} if means else {}


def _reference_field(
    group: Any, sites: list[SrCode], values: dict[str, Any], has_mean: bool
) -> str | None:
    """The study's reference field this group measures, or None for a lesion: a group whose
    finding is Reference Region, or whose only SUV is a mean over liver, mediastinal blood pool
    or spleen."""
    fields = [REFERENCE_SITES[site.key] for site in sites if site.key in REFERENCE_SITES]
    if _key(group.finding_type) == REFERENCE_REGION:
        return fields[0] if fields else ""
    only_a_mean = has_mean and not any(k in values for k in ("suv_max", "suv_peak"))
    if only_a_mean and fields:
        return fields[0]
    return None


def _modality(kinds: set[str]) -> str | None:
    """NETboard's modality from the image library's modalities (CID 29), where unambiguous: PET
    with MR is PET/MRI, PET otherwise PET/CT (NETboard has no PET alone); NM with CT is SPECT/CT;
    NM alone may be SPECT or planar, so the reader says."""
    if "PT" in kinds:
        return "pet_mri" if "MR" in kinds else "pet_ct"
    if "NM" in kinds:
        return "spect_ct" if "CT" in kinds else None
    if kinds == {"CT"}:
        return "ct"
    if kinds == {"MR"}:
        return "mri"
    return None


def _acquisition(document: Any) -> tuple[str | None, str | None]:
    """(modality, tracer) from the report's image library, or None where it does not say."""
    kinds: set[str] = set()
    tracers: set[str | None] = set()
    try:
        for item in document.get("ContentSequence", []):
            if _key(_item_name(item)) != IMAGE_LIBRARY:
                continue
            for entry in hd.sr.utils.find_content_items(item, recursive=True):
                name = _key(_item_name(entry))
                if name == MODALITY and entry.get("ConceptCodeSequence"):
                    kinds.add(str(entry.ConceptCodeSequence[0].CodeValue))
                elif name == RADIOPHARMACEUTICAL_AGENT and entry.get("ConceptCodeSequence"):
                    code = entry.ConceptCodeSequence[0]
                    tracers.add(
                        TRACERS.get((str(code.CodingSchemeDesignator), str(code.CodeValue)))
                    )
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return None, None  # a damaged library says nothing: the reader gives the study's details
    # One known tracer: an unknown agent, or two different ones, are the reader's call.
    tracer = next(iter(tracers)) if len(tracers) == 1 else None
    return _modality(kinds), tracer


def _item_name(item: Any) -> Any:
    names = item.get("ConceptNameCodeSequence")
    return hd.sr.CodedConcept.from_dataset(names[0]) if names else None


def read_report(data: bytes) -> SrReport:
    """Parse one SR file. Raises ``SrRefused`` naming the problem: not DICOM, not an SR, not a
    TID 1500 Measurement Report, a value in an unknown unit."""
    try:
        document = hd.sr.srread(io.BytesIO(data))
    except InvalidDicomError as exc:
        raise SrRefused("This file is not DICOM (no DICM preamble).") from exc
    except RuntimeError as exc:  # highdicom: an SOP class it does not read
        raise SrRefused(f"This DICOM file is not a supported structured report: {exc}") from exc
    except (ValueError, AttributeError, KeyError, EOFError, OSError) as exc:
        raise SrRefused(f"This DICOM file could not be read as a structured report: {exc}") from exc
    except Exception as exc:  # pydicom raises its own types on damaged files
        raise SrRefused(f"This DICOM file is damaged or truncated ({type(exc).__name__}).") from exc
    try:
        report = hd.sr.MeasurementReport.from_sequence([document], copy=False)
    except (ValueError, AttributeError, IndexError, KeyError) as exc:
        raise SrRefused(
            "This structured report is not a TID 1500 Measurement Report: NETboard reads "
            "measurement reports only."
        ) from exc
    try:
        groups = [
            *report.get_planar_roi_measurement_groups(),
            *report.get_volumetric_roi_measurement_groups(),
            *report.get_image_measurement_groups(),
        ]
    except (ValueError, AttributeError, IndexError, KeyError) as exc:
        raise SrRefused(f"A measurement group of this report cannot be read: {exc}") from exc
    lesions: list[SrLesion] = []
    reference: dict[str, Decimal] = {}
    for number, group in enumerate(groups, start=1):
        identifier = group.tracking_identifier
        label = f"measurement group {number}" + (f" ({identifier})" if identifier else "")
        sites = [code for code in (_code(site.value) for site in group.finding_sites) if code]
        values, mean = _group_values(group, label)
        reference_field = _reference_field(group, sites, values, bool(mean))
        if reference_field is not None:
            if reference_field and mean:
                reference.setdefault(reference_field, mean["mean"])
            continue
        if not values:
            continue  # nothing NETboard reads (e.g. a group of NETboard's grades)
        lesion_site = sites[0] if sites else None
        lesions.append(
            SrLesion(
                tracking_uid=str(group.tracking_uid) if group.tracking_uid else None,
                tracking_identifier=str(identifier) if identifier else None,
                finding_site=lesion_site,
                site=LESION_SITES.get(lesion_site.key) if lesion_site else None,
                values=values,
            )
        )
    instance_number = document.get("InstanceNumber")
    modality, tracer = _acquisition(document)
    return SrReport(
        sop_instance_uid=str(document.SOPInstanceUID),
        series_instance_uid=str(document.get("SeriesInstanceUID", "")),
        instance_number=int(instance_number) if instance_number not in (None, "") else None,
        content_datetime=_content_datetime(document),
        patient_id=str(document.get("PatientID", "") or ""),
        study_instance_uid=str(document.get("StudyInstanceUID", "") or ""),
        study_date=_da(document.get("StudyDate")),
        sop_class=pydicom.uid.UID(document.SOPClassUID).name,
        lesions=lesions,
        reference=reference,
        modality=modality,
        tracer=tracer,
    )


def netboard_code(concept: tuple[str, str], meaning: str) -> Code:
    """A pydicom ``Code`` of one of the concepts above (for writing SRs: the export, tests)."""
    scheme, value = concept
    return Code(value=value, scheme_designator=scheme, meaning=meaning)
