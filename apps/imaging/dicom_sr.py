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


def _number(value: Any, unit: SrCode, units: dict[str, Decimal], what: str, places: int) -> Decimal:
    """The value in NETboard's unit, rounded to the precision NETboard stores (``places``:
    workstations write more decimals than a read carries)."""
    factor = units.get(unit.value) if unit.scheme == "UCUM" else None
    if factor is None:
        known = ", ".join(f"`{u}`" for u in units)
        raise SrRefused(f"{what} is in an unknown unit {unit}: NETboard reads {known}.")
    try:
        number = (Decimal(str(value)) * factor).quantize(Decimal(1).scaleb(-places))
    except InvalidOperation as exc:
        raise SrRefused(f"{what} is not a number NETboard can hold: {value!r}.") from exc
    return number.quantize(Decimal(1)) if number == number.to_integral() else number.normalize()


def _text(value: Any) -> str | None:
    """A text value as stored: without the NUL padding or bytes a damaged file may carry."""
    text = str(value).replace("\x00", "").strip() if value is not None else ""
    return text or None


def _uid(value: Any, what: str) -> str | None:
    uid = _text(value)
    if uid is not None and len(uid) > 64:
        raise SrRefused(f"{what} is longer than 64 characters: it is not a DICOM UID.")
    return uid


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
            suv = _number(measurement.value, unit, SUV_UNITS, what, 3)
            if derivation == MAXIMUM:
                values["suv_max"] = suv
            elif derivation == PEAK:
                values["suv_peak"] = suv
            elif derivation == MEAN:
                means.append(suv)
        elif name == LONG_AXIS:
            values["long_axis_mm"] = _number(measurement.value, unit, LENGTH_UNITS, what, 1)
        elif name == SHORT_AXIS:
            values["short_axis_mm"] = _number(measurement.value, unit, LENGTH_UNITS, what, 1)
        elif name == VOLUME:
            values["volume_ml"] = _number(measurement.value, unit, VOLUME_UNITS, what, 2)
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


def _refuse_if_cut_short(dataset: Any) -> None:
    """Refuse a file cut short, which pydicom reads without a word.

    pydicom reads a value of defined length as the bytes that are there, and a dataset up to
    where the data ends: an SR cut inside a sequence of defined length (as highdicom writes
    them) reads with the measurement groups after the cut missing. Its strict reading mode, its
    warnings and its logs say nothing, and the dataset re-encodes to about the length it was cut
    to. What pydicom keeps is each top-level element's declared length beside the bytes it read
    (``RawDataElement``, until the value is first used): a cut inside an element shows as fewer
    bytes than declared. A cut between top-level elements leaves the SR without its Content
    Sequence, the last element of an SR but for rare ones (a cut after it loses nothing read
    here). Inside a sequence of undefined length pydicom itself fails at the end of the data,
    which has no delimiter. Costs a look at some 30 top-level elements: microseconds."""
    for tag in dataset.keys():  # noqa: SIM118 - iterating a Dataset converts its elements
        element = dataset.get_item(tag, keep_deferred=True)
        if (
            isinstance(element, pydicom.dataelem.RawDataElement)
            and element.length != 0xFFFFFFFF  # undefined length: read to its delimiter
            and element.value is not None
            and len(element.value) < element.length
        ):
            name = pydicom.datadict.keyword_for_tag(tag) or "an element"
            raise SrRefused(
                f"This file is truncated: it ends inside {name} {element.tag}, "
                f"{element.length - len(element.value)} of its {element.length} bytes missing."
            )
    if "SOPClassUID" not in dataset:
        raise SrRefused("This file is incomplete (truncated?): it has no SOP Class UID.")


def _sr_document(data: bytes) -> Any:
    """The file as highdicom's SR document (what ``hd.sr.srread`` does, on a dataset checked to
    be complete). Raises ``SrRefused``: not DICOM, cut short, damaged, not a supported SR."""
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError as exc:
        if 128 <= len(data) < 132 and b"DICM".startswith(data[128:]):  # ends inside "DICM"
            raise SrRefused(
                f"This file is not DICOM: {len(data)} bytes end before the DICM preamble does "
                "(truncated?)."
            ) from exc
        if len(data) < 128:  # too short to tell another kind of file from one cut early
            raise SrRefused(
                f"This file is not DICOM: it has {len(data)} bytes, fewer than the 132 every "
                "DICOM file starts with (another kind of file, or one truncated)."
            ) from exc
        raise SrRefused("This file is not DICOM (no DICM preamble).") from exc
    except Exception as exc:  # OSError, struct.error, EOFError...: ends mid-element or garbled
        raise SrRefused(
            f"This DICOM file is truncated or damaged: it cannot be read to its end "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    _refuse_if_cut_short(dataset)
    classes: dict[str, Any] = {
        pydicom.uid.EnhancedSRStorage: hd.sr.EnhancedSR,
        pydicom.uid.ComprehensiveSRStorage: hd.sr.ComprehensiveSR,
        pydicom.uid.Comprehensive3DSRStorage: hd.sr.Comprehensive3DSR,
    }
    try:
        sop_class = pydicom.uid.UID(str(dataset.SOPClassUID))
    except Exception as exc:  # a damaged value
        raise SrRefused(f"This DICOM file's SOP Class UID cannot be read: {exc}") from exc
    if sop_class not in classes:
        raise SrRefused(
            f"This DICOM file is not a supported structured report: SOP Class UID {sop_class} "
            f'"{sop_class.name}" is not one NETboard reads.'
        )
    if "ContentSequence" not in dataset:
        raise SrRefused(
            "This file is incomplete (truncated?): it ends before its Content Sequence, the "
            "report's content."
        )
    try:
        return classes[sop_class].from_dataset(dataset, copy=False)
    except (ValueError, AttributeError, KeyError, EOFError, OSError) as exc:
        raise SrRefused(f"This DICOM file could not be read as a structured report: {exc}") from exc
    except Exception as exc:  # pydicom raises its own types on damaged values
        raise SrRefused(f"This DICOM file is damaged ({type(exc).__name__}: {exc}).") from exc


def read_report(data: bytes) -> SrReport:
    """Parse one SR file. Raises ``SrRefused`` naming the problem: not DICOM, truncated, not an
    SR, not a TID 1500 Measurement Report, a value in an unknown unit; and only ``SrRefused``."""
    document = _sr_document(data)
    try:
        return _report(document)
    except SrRefused:
        raise
    except Exception as exc:  # a damaged item deep in the tree: highdicom meets it lazily
        raise SrRefused(
            f"This structured report is damaged: an item cannot be read ({type(exc).__name__}: "
            f"{exc})."
        ) from exc


def _report(document: Any) -> SrReport:
    """What NETboard reads of an SR document (``read_report``'s)."""
    report = document.content  # highdicom built it while reading a TID 1500 document
    if not isinstance(report, hd.sr.MeasurementReport):
        raise SrRefused(
            "This structured report is not a TID 1500 Measurement Report: NETboard reads "
            "measurement reports only."
        )
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
    first_group: dict[str, int] = {}  # tracking UID → its lesion's place in ``lesions``
    for number, group in enumerate(groups, start=1):
        identifier = _text(group.tracking_identifier)
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
        tracking_uid = _uid(group.tracking_uid, f"The Tracking UID of {label}")
        if tracking_uid is not None and tracking_uid in first_group:
            # One lesion measured in several groups (a planar and a volumetric ROI, say).
            _merge(lesions[first_group[tracking_uid]], values, label)
            continue
        if tracking_uid is not None:
            first_group[tracking_uid] = len(lesions)
        lesions.append(
            SrLesion(
                tracking_uid=tracking_uid,
                tracking_identifier=identifier,
                finding_site=lesion_site,
                site=LESION_SITES.get(lesion_site.key) if lesion_site else None,
                values=values,
            )
        )
    instance_number = document.get("InstanceNumber")
    modality, tracer = _acquisition(document)
    return SrReport(
        sop_instance_uid=_uid(document.SOPInstanceUID, "The SOP Instance UID") or "",
        series_instance_uid=_uid(document.get("SeriesInstanceUID"), "The Series Instance UID")
        or "",
        instance_number=int(instance_number) if instance_number not in (None, "") else None,
        content_datetime=_content_datetime(document),
        patient_id=_text(document.get("PatientID")) or "",
        study_instance_uid=_uid(document.get("StudyInstanceUID"), "The Study Instance UID") or "",
        study_date=_da(document.get("StudyDate")),
        sop_class=pydicom.uid.UID(document.SOPClassUID).name,
        lesions=lesions,
        reference=reference,
        modality=modality,
        tracer=tracer,
    )


def _merge(lesion: SrLesion, values: dict[str, Any], label: str) -> None:
    """Another group's values of a lesion already read; the same value twice is one value, two
    different ones are refused, naming both."""
    for name, value in values.items():
        held = lesion.values.get(name)
        if held is not None and held != value:
            raise SrRefused(
                f"{label} gives {name} {value} for the lesion with Tracking UID "
                f"{lesion.tracking_uid}, another of its groups {held}: NETboard cannot choose."
            )
        lesion.values[name] = value


def netboard_code(concept: tuple[str, str], meaning: str) -> Code:
    """A pydicom ``Code`` of one of the concepts above (for writing SRs: the export, tests)."""
    scheme, value = concept
    return Code(value=value, scheme_designator=scheme, meaning=meaning)
