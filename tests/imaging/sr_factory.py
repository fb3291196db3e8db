"""TID 1500 Measurement Reports built with highdicom the way a reading workstation writes them:
a PET image as evidence, one measurement group per lesion (planar ROI, volumetric ROI or
image-level) with tracking UID and identifier, finding site and measurements, and reference
regions as QIICR's PET reports write them."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, PositronEmissionTomographyImageStorage, generate_uid

from apps.imaging import dicom_sr

SUV_UNIT = Code("{SUVbw}g/ml", "UCUM", "Standardized Uptake Value body weight")
SUVBW = Code("126401", "DCM", "SUVbw")
PEAK = Code("126031", "DCM", "Peak Value Within ROI")
REFERENCE_REGION = Code("C94970", "NCIt", "Reference Region")
MEDIASTINUM = Code("72410000", "SCT", "Mediastinum")
SPLEEN = Code("78961009", "SCT", "Spleen")
SITES = {
    "liver": Code("10200004", "SCT", "Liver"),
    "bone": Code("272673000", "SCT", "Bone structure"),
    "lymph_node": Code("59441001", "SCT", "Lymph node"),
    "pancreas": Code("15776009", "SCT", "Pancreas"),
}


@dataclass
class SrLesionSpec:
    tracking_uid: str = field(default_factory=lambda: str(generate_uid()))
    identifier: str = "Lesion 1"
    site: Code | None = field(default_factory=lambda: SITES["liver"])
    suv_max: float | None = 12.5
    suv_peak: float | None = None
    long_axis: float | None = 22.0
    short_axis: float | None = None
    length_unit: Code = field(default_factory=lambda: codes.UCUM.Millimeter)
    suv_unit: Code = field(default_factory=lambda: SUV_UNIT)
    krenning: int | None = None
    kind: str = "planar"  # planar, volumetric, image


def pet_image(*, patient_id: str = "MRN-1", study_uid: str | None = None) -> Dataset:
    """One PET image's header (no pixels needed for an SR's evidence)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = PositronEmissionTomographyImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.Modality = "PT"
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "F"
    ds.AccessionNumber = "ACC-1"
    ds.StudyID = "1"
    ds.StudyDate = "20240301"
    ds.StudyTime = "101010"
    ds.ReferringPhysicianName = ""
    ds.Rows = 128
    ds.Columns = 128
    ds.PixelSpacing = [4.0, 4.0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, 0]
    ds.SliceThickness = 3.0
    return ds


def _measurements(spec: SrLesionSpec) -> list[hd.sr.Measurement]:
    out = []
    if spec.suv_max is not None:
        out.append(
            hd.sr.Measurement(
                name=SUVBW, value=spec.suv_max, unit=spec.suv_unit, derivation=codes.SCT.Maximum
            )
        )
    if spec.suv_peak is not None:
        out.append(
            hd.sr.Measurement(name=SUVBW, value=spec.suv_peak, unit=spec.suv_unit, derivation=PEAK)
        )
    if spec.long_axis is not None:
        out.append(
            hd.sr.Measurement(name=codes.SCT.LongAxis, value=spec.long_axis, unit=spec.length_unit)
        )
    if spec.short_axis is not None:
        out.append(
            hd.sr.Measurement(
                name=codes.SCT.ShortAxis, value=spec.short_axis, unit=spec.length_unit
            )
        )
    return out


def _evaluations(spec: SrLesionSpec) -> list[hd.sr.QualitativeEvaluation] | None:
    if spec.krenning is None:
        return None
    return [
        hd.sr.QualitativeEvaluation(
            name=dicom_sr.netboard_code(dicom_sr.KRENNING_SCORE, "Krenning visual score"),
            value=Code(str(spec.krenning), dicom_sr.NETBOARD_SCHEME, f"Krenning {spec.krenning}"),
        )
    ]


def _group(spec: SrLesionSpec, image: Dataset) -> Any:
    common: dict[str, Any] = {
        "tracking_identifier": hd.sr.TrackingIdentifier(
            uid=spec.tracking_uid, identifier=spec.identifier
        ),
        "finding_type": codes.SCT.Lesion,
        "finding_sites": [hd.sr.FindingSite(anatomic_location=spec.site)] if spec.site else None,
        "measurements": _measurements(spec),
        "qualitative_evaluations": _evaluations(spec),
    }
    if spec.kind == "image":
        return hd.sr.MeasurementsAndQualitativeEvaluations(**common)
    if spec.kind == "volumetric":
        # A region drawn on two slices of the PET, as a volumetric ROI (TID 1411).
        regions = [
            hd.sr.ImageRegion(
                graphic_type=hd.sr.GraphicTypeValues.CIRCLE,
                graphic_data=np.array([[10.0, 10.0], [15.0, 10.0]]),
                source_image=hd.sr.SourceImageForRegion.from_source_image(image),
            )
        ]
        return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            **common, referenced_regions=regions
        )
    region2d = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.CIRCLE,
        graphic_data=np.array([[10.0, 10.0], [15.0, 10.0]]),
        source_image=hd.sr.SourceImageForRegion.from_source_image(image),
    )
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        **common, referenced_region=region2d
    )


def _reference_group(site: Code, mean: float, image: Dataset) -> Any:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=str(generate_uid()), identifier=f"Reference {site.meaning}"
        ),
        finding_type=REFERENCE_REGION,
        finding_sites=[hd.sr.FindingSite(anatomic_location=site)],
        measurements=[
            hd.sr.Measurement(name=SUVBW, value=mean, unit=SUV_UNIT, derivation=codes.SCT.Mean)
        ],
    )


def build_sr(
    lesions: list[SrLesionSpec],
    *,
    patient_id: str = "MRN-1",
    study_uid: str | None = None,
    reference: dict[Code, float] | None = None,
    instance_number: int = 1,
    series_uid: str | None = None,
    sop_class: type = hd.sr.Comprehensive3DSR,
    library: bool = False,
    radiopharmaceutical: Code | None = None,
    image: Dataset | None = None,
) -> bytes:
    """The SR file's bytes. ``library``: with an image library (TID 1600) of the PET image,
    ``radiopharmaceutical`` its agent (TID 1607, added as a workstation writes it)."""
    image = image or pet_image(patient_id=patient_id, study_uid=study_uid)
    groups = [_group(spec, image) for spec in lesions]
    groups += [_reference_group(site, mean, image) for site, mean in (reference or {}).items()]
    observer = hd.sr.ObservationContext(
        observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name="Reader^A"
            ),
        )
    )
    report = hd.sr.MeasurementReport(
        observation_context=observer,
        procedure_reported=Code("44139-4", "LN", "PET whole body"),
        imaging_measurements=groups,
        referenced_images=[image] if library or radiopharmaceutical else None,
    )
    if radiopharmaceutical is not None:
        (entry,) = hd.sr.utils.find_content_items(
            report[0], name=codes.DCM.ImageLibraryGroup, recursive=True
        )
        entry.ContentSequence.append(
            hd.sr.CodeContentItem(
                name=Code("349358000", "SCT", "Radiopharmaceutical agent"),
                value=radiopharmaceutical,
                relationship_type=hd.sr.RelationshipTypeValues.HAS_ACQ_CONTEXT,
            )
        )
    document = sop_class(
        evidence=[image],
        content=report[0],
        series_instance_uid=series_uid or str(generate_uid()),
        series_number=1,
        sop_instance_uid=str(generate_uid()),
        instance_number=instance_number,
        manufacturer="Workstation",
    )
    buffer = io.BytesIO()
    document.save_as(buffer)
    return buffer.getvalue()
