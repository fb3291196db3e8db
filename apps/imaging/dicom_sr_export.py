"""A study's read as a DICOM Structured Report: TID 1500 (Measurement Report) in a
Comprehensive 3D SR, built with highdicom, that ``apps.imaging.dicom_sr.read_report`` reads back.

What it holds:

- one measurement group (TID 1501) per lesion with an observation on the study: its tracking
  (the lesion's Tracking UID, else one derived from the lesion id; its label as Tracking
  Identifier), finding site, SUVmax, SUVpeak, long and short axis, volume and the visual scores
  (Krenning, plain FDG call) in NETboard's own coding scheme;
- one group per reference region the study holds (liver, mediastinal blood pool, spleen) with
  its mean SUV, as QIICR's PET reports write them;
- one group of the patient's phenotype grades (NETPET, Karfis, Zidan) from the stored
  assessment, with the rules version and whether they are preliminary. ``read_report`` skips
  it: it carries nothing NETboard imports.

The groups are image-level (TID 1501, not the planar or volumetric ROI groups TID 1410/1411):
NETboard holds no image coordinates or image references, only the numbers a reader measured on
the study, so there is no region to point at. For the same reason the document references no
image: the header-only dataset given to highdicom as evidence only carries the patient and study
attributes, and is not listed as evidence (its instance does not exist in any archive).

UIDs are derived from ids (lesions, reference regions, the SR series of a study, a study without
a Study Instance UID): exporting twice gives the same tracking, and exporting writes nothing. Only
the SR's SOP Instance UID is new each time. Every UID NETboard makes is under the site's root
(``NETBOARD_DICOM_UID_ROOT``), so that two sites' lesions with the same id get different tracking
UIDs; unset, pydicom's root, which every NETboard shares. Nothing of the patient is logged.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from typing import Any

import highdicom as hd
from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import (
    PYDICOM_ROOT_UID,
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    NuclearMedicineImageStorage,
    PositronEmissionTomographyImageStorage,
    generate_uid,
)

from apps.imaging import dicom_sr
from apps.imaging.models import ImagingStudy, LesionSite, Modality, Observation, StudyStatus
from apps.scoring.models import InputVersion, PhenotypeAssessment, latest_timepoint
from apps.scoring.services import rules_fingerprint, status_of

# --- Codes -------------------------------------------------------------------------------------

SUVBW = dicom_sr.netboard_code(dicom_sr.SUVBW, "SUVbw")
SUV_UNIT = Code("{SUVbw}g/ml", "UCUM", "Standardized Uptake Value body weight")
MAXIMUM = dicom_sr.netboard_code(dicom_sr.MAXIMUM, "Maximum")
MEAN = dicom_sr.netboard_code(dicom_sr.MEAN, "Mean")
PEAK = dicom_sr.netboard_code(dicom_sr.PEAK, "Peak Value Within ROI")
LONG_AXIS = dicom_sr.netboard_code(dicom_sr.LONG_AXIS, "Long Axis")
SHORT_AXIS = dicom_sr.netboard_code(dicom_sr.SHORT_AXIS, "Short Axis")
VOLUME = dicom_sr.netboard_code(dicom_sr.VOLUME, "Volume")
MILLIMETRE = Code("mm", "UCUM", "millimeter")
MILLILITRE = Code("ml", "UCUM", "milliliter")
REFERENCE_REGION = dicom_sr.netboard_code(dicom_sr.REFERENCE_REGION, "Reference Region")
KRENNING = dicom_sr.netboard_code(dicom_sr.KRENNING_SCORE, "Krenning visual score")
FDG_VISUAL = dicom_sr.netboard_code(dicom_sr.FDG_VISUAL, "FDG visual assessment")
FDG_VALUES = {
    "positive": Code("positive", dicom_sr.NETBOARD_SCHEME, "FDG positive"),
    "negative": Code("negative", dicom_sr.NETBOARD_SCHEME, "FDG negative"),
}

# Meanings of the finding-site codes (DICOM PS3.16 CID 4); the codes themselves are the reader's.
_SITE_MEANINGS = {
    ("SCT", "10200004"): "Liver",
    ("SCT", "272673000"): "Bone",
    ("SCT", "3138006"): "Bone tissue",
    ("SCT", "59441001"): "Lymph node",
    ("SCT", "15776009"): "Pancreas",
    ("SCT", "39607008"): "Lung",
    ("SCT", "15425007"): "Peritoneum",
    ("SCT", "113276009"): "Intestine",
    ("SCT", "30315005"): "Small intestine",
    ("SCT", "71854001"): "Colon",
    ("SCT", "23451007"): "Adrenal gland",
    ("SCT", "69748006"): "Thyroid",
    ("SCT", "87784001"): "Soft tissue",
    ("SCT", "12738006"): "Brain",
}


def _site_codes() -> dict[str, Code]:
    """NETboard site → the first code of ``dicom_sr.LESION_SITES`` that maps to it, so that
    what is written is read back as the same site. ``other`` has none: no finding site."""
    out: dict[str, Code] = {}
    for (scheme, value), site in dicom_sr.LESION_SITES.items():
        if site not in out:
            meaning = _SITE_MEANINGS.get((scheme, value)) or str(LesionSite(site).label)
            out[site] = Code(value, scheme, meaning)
    return out


SITE_CODES = _site_codes()

# The study's reference fields → the site written (read back by ``dicom_sr.REFERENCE_SITES``).
REFERENCE_SITES = {
    "liver_suv": Code("10200004", "SCT", "Liver"),
    "blood_pool_suv": Code("72410000", "SCT", "Mediastinum"),
    "spleen_suv": Code("78961009", "SCT", "Spleen"),
}

# The phenotype grades: NETboard's concepts (no standard code exists for them; the FHIR export
# names them alike). The values are NETboard codes too, prefixed by the scale ("zidan-3") so that
# no two concepts share a code value in the scheme (Krenning's values are "0" to "4").
PHENOTYPE = Code("phenotype", dicom_sr.NETBOARD_SCHEME, "Molecular imaging phenotype")
PHENOTYPE_IDENTIFIER = "NETboard phenotype"
GRADES = {  # key of the timepoint → (concept, key of the grade in it, prefix of the values)
    "netpet": (Code("netpet-grade", dicom_sr.NETBOARD_SCHEME, "NETPET grade"), "grade", "netpet"),
    "karfis": (Code("karfis-group", dicom_sr.NETBOARD_SCHEME, "Karfis group"), "group", "karfis"),
    "zidan": (Code("zidan-group", dicom_sr.NETBOARD_SCHEME, "Zidan group"), "group", "zidan"),
}
SCALE_NAMES = {"netpet": "NETPET", "karfis": "Karfis", "zidan": "Zidan"}
NOT_CLASSIFIABLE = Code("not-classifiable", dicom_sr.NETBOARD_SCHEME, "Not classifiable")
PRELIMINARY = Code("preliminary", dicom_sr.NETBOARD_SCHEME, "Preliminary assessment")
# Code values are at most 16 characters (SH): no Long Code Value needed by any reader.
ASSESSMENT_STATUS = Code("grades-status", dicom_sr.NETBOARD_SCHEME, "Assessment status")
STATUS_VALUES = {
    "fresh": Code("fresh", dicom_sr.NETBOARD_SCHEME, "Computed from the current data"),
    "pending": Code("pending", dicom_sr.NETBOARD_SCHEME, "Recompute pending"),
    "stale": Code("stale", dicom_sr.NETBOARD_SCHEME, "Data changed since computed"),
}
RULES_NAME = "NETboard phenotype rules"

# Written only when the read holds nothing else: highdicom (and TID 1500) need one group.
NOTHING_MEASURED = Code("no-measurement", dicom_sr.NETBOARD_SCHEME, "No measurement recorded")

CODING_SCHEME = CodingSchemeIdentificationItem(
    designator=dicom_sr.NETBOARD_SCHEME,
    name="NETboard",
    responsible_organization="NETboard",
)

# --- Header ------------------------------------------------------------------------------------

# Modality of the study → (DICOM Modality, image storage SOP class, Procedure Reported, CID 100).
_MODALITIES: dict[str, tuple[str, UID, Code]] = {
    Modality.PET_CT: ("PT", PositronEmissionTomographyImageStorage, codes.cid100.PETWholeBody),
    Modality.PET_MRI: ("PT", PositronEmissionTomographyImageStorage, codes.cid100.PETWholeBody),
    Modality.SPECT_CT: (
        "NM",
        NuclearMedicineImageStorage,
        codes.cid100.NMUnspecifiedBodyRegion,
    ),
    Modality.PLANAR: ("NM", NuclearMedicineImageStorage, codes.cid100.NMUnspecifiedBodyRegion),
    Modality.CT: ("CT", CTImageStorage, codes.cid100.CTUnspecifiedBodyRegion),
    Modality.MRI: ("MR", MRImageStorage, codes.cid100.MRIUnspecifiedBodyRegion),
}
_SEX = {"female": "F", "male": "M", "other": "O"}  # unknown: empty (Type 2)
MANUFACTURER = "NETboard"


def _root() -> str:
    """The UID root of this site's exports (``NETBOARD_DICOM_UID_ROOT``), else pydicom's."""
    return settings.NETBOARD_DICOM_UID_ROOT or PYDICOM_ROOT_UID


def _uid(*sources: Any) -> str:
    """A UID derived from these values and the site's root alone: the same on every export."""
    return str(generate_uid(prefix=_root(), entropy_srcs=[str(source) for source in sources]))


def study_instance_uid(study: ImagingStudy) -> str:
    """The study's Study Instance UID, or one derived from its id when it has none."""
    return study.study_instance_uid or _uid("netboard-study", study.pk)


def lesion_tracking_uid(lesion: Any) -> str:
    """The lesion's Tracking Unique Identifier: the stored one, else one derived from its id."""
    return str(lesion.tracking_uid) or _uid("netboard-lesion", lesion.pk)


def _pn_part(text: str) -> str:
    # The PN delimiters cannot be part of a name component.
    return " ".join(text.replace("^", " ").replace("=", " ").replace("\\", " ").split())


def _person_name(family: str, given: str) -> str:
    """``Family^Given`` (a trailing caret when there is no given name, so that highdicom does not
    take it for a single-component name and warn with it), at most 64 characters (PN)."""
    return f"{_pn_part(family)}^{_pn_part(given)}"[:64]


def _evidence(study: ImagingStudy, patient: Any) -> Dataset:
    """A header-only image dataset of the study (no pixels): highdicom copies the patient and
    study attributes of the SR from it."""
    modality, sop_class, _procedure = _MODALITIES[study.modality]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SpecificCharacterSet = "ISO_IR 192"  # names need not be ASCII
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = _uid("netboard-study-image", study.pk)
    ds.StudyInstanceUID = study_instance_uid(study)
    ds.SeriesInstanceUID = _uid("netboard-study-series", study.pk)
    ds.Modality = modality
    ds.PatientID = patient.mrn
    ds.PatientName = _person_name(patient.family_name, patient.given_name)
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d") if patient.birth_date else ""
    ds.PatientSex = _SEX.get(patient.sex, "")
    # An accession number longer than DICOM's 16 characters (SH) is not one: left empty.
    accession = study.accession_number
    ds.AccessionNumber = accession if len(accession) <= 16 else ""
    ds.StudyID = ""
    ds.StudyDate = study.performed_on.strftime("%Y%m%d")
    ds.StudyTime = ""
    ds.ReferringPhysicianName = ""
    return ds


def _observation_context(study: ImagingStudy) -> hd.sr.ObservationContext:
    """NETboard as the device observer; the person who finished the read, when it is finished,
    as the person observer."""
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=_uid("netboard-device"), name=MANUFACTURER, manufacturer_name=MANUFACTURER
        ),
    )
    person = None
    user = study.finalized_by if study.status == StudyStatus.FINAL else None
    if user is not None:
        family, given = user.last_name or user.get_username(), user.first_name
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=_person_name(family, given)
            ),
        )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


# --- Groups ------------------------------------------------------------------------------------


def _measurements(obs: Observation) -> list[hd.sr.Measurement]:
    """The values of ``obs`` that are set, coded as ``dicom_sr._group_values`` reads them."""
    out = []
    numbers: list[tuple[Decimal | None, Code, Code, Code | None]] = [
        (obs.suv_max, SUVBW, SUV_UNIT, MAXIMUM),
        (obs.suv_peak, SUVBW, SUV_UNIT, PEAK),
        (obs.long_axis_mm, LONG_AXIS, MILLIMETRE, None),
        (obs.short_axis_mm, SHORT_AXIS, MILLIMETRE, None),
        (obs.volume_ml, VOLUME, MILLILITRE, None),
    ]
    for value, name, unit, derivation in numbers:
        if value is not None:
            out.append(
                hd.sr.Measurement(name=name, value=float(value), unit=unit, derivation=derivation)
            )
    return out


def _evaluations(obs: Observation) -> list[hd.sr.QualitativeEvaluation]:
    out = []
    score = obs.krenning_visual
    if score is not None:
        value = Code(str(score), dicom_sr.NETBOARD_SCHEME, f"Krenning {score}")
        out.append(hd.sr.QualitativeEvaluation(name=KRENNING, value=value))
    if obs.fdg_visual in FDG_VALUES:
        fdg = FDG_VALUES[str(obs.fdg_visual)]
        out.append(hd.sr.QualitativeEvaluation(name=FDG_VISUAL, value=fdg))
    return out


def _lesion_group(obs: Observation) -> hd.sr.MeasurementsAndQualitativeEvaluations | None:
    """The group of one observation, or None when it holds nothing the reader reads (a lesion
    not seen or not evaluable, with no value): an empty group would be dropped on import anyway,
    and its state is not one of the values a TID 1500 group carries here."""
    lesion = obs.lesion
    measurements, evaluations = _measurements(obs), _evaluations(obs)
    if not measurements and not evaluations:
        return None
    site = SITE_CODES.get(lesion.site)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=lesion_tracking_uid(lesion), identifier=lesion.label
        ),
        finding_type=codes.SCT.Lesion,
        finding_sites=[hd.sr.FindingSite(anatomic_location=site)] if site else None,
        measurements=measurements or None,
        qualitative_evaluations=evaluations or None,
    )


def _reference_groups(study: ImagingStudy) -> list[hd.sr.MeasurementsAndQualitativeEvaluations]:
    groups = []
    for field, site in REFERENCE_SITES.items():
        mean = getattr(study, field)
        if mean is None:
            continue
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=_uid("netboard-reference", study.pk, field),
                    identifier=f"Reference {site.meaning}",
                ),
                finding_type=REFERENCE_REGION,
                finding_sites=[hd.sr.FindingSite(anatomic_location=site)],
                measurements=[
                    hd.sr.Measurement(name=SUVBW, value=float(mean), unit=SUV_UNIT, derivation=MEAN)
                ],
            )
        )
    return groups


def _grades_timepoint(assessment: Any, study: ImagingStudy) -> dict[str, Any] | None:
    """The timepoint whose grades are written: the dual-tracer timepoint this study is part of,
    else the one NETboard calls latest (``latest_timepoint``, as every page shows it). Read from
    the stored summary (the timepoints without their per-lesion lists), else the whole body."""
    body: Mapping[str, Any] = assessment.summary or {}
    if "timepoints" not in body:
        body = assessment.phenotype or {}
    timepoints = [tp for tp in body.get("timepoints") or [] if tp.get("fdg_study") is not None]
    own = [tp for tp in timepoints if study.pk in (tp.get("sstr_study"), tp.get("fdg_study"))]
    return dict(own[-1]) if own else latest_timepoint(body)


def _grade_value(scale: str, value: str) -> Code:
    if value == "not_classifiable":
        return NOT_CLASSIFIABLE
    return Code(
        f"{GRADES[scale][2]}-{value}", dicom_sr.NETBOARD_SCHEME, f"{SCALE_NAMES[scale]} {value}"
    )


def _phenotype_group(
    study: ImagingStudy, patient: Any
) -> hd.sr.MeasurementsAndQualitativeEvaluations | None:
    """The patient's grades from the stored assessment, as qualitative evaluations of one group
    with no measurement and no finding site (``read_report`` skips it): the rules version as the
    group's algorithm (TID 4019), the studies graded as its time point (TID 1502), whether the
    assessment is preliminary (a draft read is behind it) and its status (fresh, pending, stale).
    None when no assessment is stored or it holds no grade."""
    assessment = (
        PhenotypeAssessment.objects.filter(patient=patient)
        .defer("phenotype", "uptake", "response")
        .first()
    )
    if assessment is None:
        return None
    timepoint = _grades_timepoint(assessment, study)
    if timepoint is None:
        return None
    evaluations = []
    for scale, (concept, key, _prefix) in GRADES.items():
        value = (timepoint.get(scale) or {}).get(key)
        if value is not None:
            evaluations.append(
                hd.sr.QualitativeEvaluation(name=concept, value=_grade_value(scale, str(value)))
            )
    if not evaluations:
        return None
    summary = assessment.summary or assessment.phenotype or {}
    preliminary = bool(summary.get("preliminary"))
    evaluations.append(
        hd.sr.QualitativeEvaluation(
            name=PRELIMINARY, value=codes.SCT.Yes if preliminary else codes.SCT.No
        )
    )
    version = InputVersion.objects.filter(patient=patient).first()
    status = status_of(version, assessment, rules_fingerprint())
    evaluations.append(
        hd.sr.QualitativeEvaluation(name=ASSESSMENT_STATUS, value=STATUS_VALUES[status])
    )
    graded = ", ".join(
        f"{name} {timepoint[key]}"
        for name, key in (("SSTR PET", "sstr_performed_on"), ("FDG PET", "fdg_performed_on"))
        if timepoint.get(key)
    )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=_uid("netboard-phenotype", patient.pk, timepoint.get("sstr_study")),
            identifier=PHENOTYPE_IDENTIFIER,
        ),
        finding_type=PHENOTYPE,
        algorithm_id=hd.sr.AlgorithmIdentification(
            name=RULES_NAME, version=str(assessment.rules_version), manufacturer=MANUFACTURER
        ),
        time_point_context=hd.sr.TimePointContext(time_point=graded) if graded else None,
        qualitative_evaluations=evaluations,
    )


def _nothing_measured(study: ImagingStudy) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """A group saying the read holds no measurement: a Measurement Report has at least one
    group (highdicom refuses none). ``read_report`` skips it."""
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=_uid("netboard-read", study.pk), identifier="NETboard read"
        ),
        finding_type=NOTHING_MEASURED,
    )


# --- The document ------------------------------------------------------------------------------


def build_report(study: ImagingStudy) -> bytes:
    """The study's read as a DICOM file (Comprehensive 3D SR, TID 1500): its lesions, reference
    uptake and the patient's phenotype grades. Reads only."""
    patient = study.patient
    observations = (
        Observation.objects.filter(study=study)
        .select_related("lesion")
        .order_by("lesion__label", "lesion__id")
    )
    groups: list[hd.sr.MeasurementsAndQualitativeEvaluations] = []
    for obs in observations:
        group = _lesion_group(obs)
        if group is not None:
            groups.append(group)
    groups += _reference_groups(study)
    grades = _phenotype_group(study, patient)
    if grades is not None:
        groups.append(grades)
    if not groups:
        groups.append(_nothing_measured(study))
    _modality, _sop_class, procedure = _MODALITIES[study.modality]
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(study),
        procedure_reported=procedure,
        imaging_measurements=groups,
    )
    final = study.status == StudyStatus.FINAL
    # DICOM times carry no zone; the offset says they are UTC (``read_report`` takes them so).
    now = timezone.now().astimezone(UTC)
    document = hd.sr.Comprehensive3DSR(
        evidence=[_evidence(study, patient)],
        content=report[0],
        # One series per study: each export is a newer instance of it (content date and time),
        # which the import orders by.
        series_instance_uid=_uid("netboard-sr-series", study.pk),
        series_number=1,
        sop_instance_uid=str(generate_uid(prefix=_root())),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=final,
        is_final=final,
        series_description="NETboard read",
        coding_schemes=[CODING_SCHEME],
        content_date=now.date(),
        content_time=now.time(),
    )
    document.TimezoneOffsetFromUTC = "+0000"
    # The evidence is only a carrier of the patient and study attributes: the content references
    # no image, and the instance it names exists nowhere.
    if "CurrentRequestedProcedureEvidenceSequence" in document:
        del document.CurrentRequestedProcedureEvidenceSequence
    buffer = io.BytesIO()
    document.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def file_response(study: ImagingStudy) -> HttpResponse:
    """The export as a download (the API's GET and the study page's "Export SR")."""
    response = HttpResponse(build_report(study), content_type="application/dicom")
    response["Content-Disposition"] = f'attachment; filename="netboard-study-{study.pk}-sr.dcm"'
    return response
