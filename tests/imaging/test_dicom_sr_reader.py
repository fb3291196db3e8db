"""The TID 1500 reader (apps.imaging.dicom_sr): each mapping from a workstation's SR to NETboard's
fields, and the refusals that name the problem. No database: the reader writes nothing."""

from __future__ import annotations

import io
from decimal import Decimal

import highdicom as hd
import pydicom
import pytest
from pydicom.sr.coding import Code

from apps.imaging.dicom_sr import SrRefused, read_report
from tests.imaging.sr_factory import (
    MEDIASTINUM,
    SITES,
    SPLEEN,
    SrLesionSpec,
    build_sr,
    pet_image,
)

CM = Code("cm", "UCUM", "cm")


def test_lesions_with_tracking_site_and_values() -> None:
    first = SrLesionSpec(identifier="Liver seg 4", suv_max=24.0, suv_peak=18.5, long_axis=31)
    second = SrLesionSpec(
        identifier="Sacrum", site=SITES["bone"], suv_max=9.25, long_axis=None, krenning=3
    )
    report = read_report(build_sr([first, second], patient_id="MRN-77"))
    assert report.patient_id == "MRN-77"
    assert report.sop_class == "Comprehensive 3D SR Storage"
    assert [lesion.tracking_uid for lesion in report.lesions] == [
        first.tracking_uid,
        second.tracking_uid,
    ]
    liver, bone = report.lesions
    assert liver.tracking_identifier == "Liver seg 4"
    assert liver.site == "liver"
    assert liver.finding_site is not None and liver.finding_site.value == "10200004"
    assert liver.values == {
        "suv_max": Decimal("24"),
        "suv_peak": Decimal("18.5"),
        "long_axis_mm": Decimal("31"),
    }
    assert bone.site == "bone"
    assert bone.values == {"suv_max": Decimal("9.25"), "krenning_visual": 3}


def test_centimetres_are_converted_to_millimetres() -> None:
    spec = SrLesionSpec(long_axis=2.4, short_axis=1.5, length_unit=CM)
    (lesion,) = read_report(build_sr([spec])).lesions
    assert lesion.values["long_axis_mm"] == Decimal("24")
    assert lesion.values["short_axis_mm"] == Decimal("15")


def test_a_value_in_an_unknown_unit_is_refused_naming_it() -> None:
    spec = SrLesionSpec(identifier="Node", suv_unit=Code("kBq/ml", "UCUM", "kBq/ml"))
    with pytest.raises(SrRefused) as refused:
        read_report(build_sr([spec]))
    assert "kBq/ml" in refused.value.message
    assert "Node" in refused.value.message


def test_reference_regions_fill_the_study_reference_and_are_not_lesions() -> None:
    data = build_sr(
        [SrLesionSpec()],
        reference={SITES["liver"]: 6.2, MEDIASTINUM: 1.8, SPLEEN: 14.0},
    )
    report = read_report(data)
    assert report.reference == {
        "liver_suv": Decimal("6.2"),
        "blood_pool_suv": Decimal("1.8"),
        "spleen_suv": Decimal("14"),
    }
    assert len(report.lesions) == 1


@pytest.mark.parametrize("kind", ["planar", "volumetric", "image"])
def test_every_kind_of_measurement_group_is_read(kind: str) -> None:
    spec = SrLesionSpec(kind=kind, suv_max=7.5)
    (lesion,) = read_report(build_sr([spec])).lesions
    assert lesion.tracking_uid == spec.tracking_uid
    assert lesion.values["suv_max"] == Decimal("7.5")


def test_an_unmapped_finding_site_is_shown_not_guessed() -> None:
    odd = Code("181268008", "SCT", "Entire pleura")
    (lesion,) = read_report(build_sr([SrLesionSpec(site=odd)])).lesions
    assert lesion.site is None
    assert str(lesion.finding_site) == "Entire pleura (SCT 181268008)"


def test_comprehensive_and_enhanced_sr_are_read() -> None:
    for sop_class in (hd.sr.ComprehensiveSR, hd.sr.EnhancedSR):
        report = read_report(build_sr([SrLesionSpec()], sop_class=sop_class))
        assert len(report.lesions) == 1


def test_series_instance_and_study_identity() -> None:
    data = build_sr([SrLesionSpec()], study_uid="1.2.3.4", series_uid="1.2.3.5", instance_number=4)
    report = read_report(data)
    assert report.study_instance_uid == "1.2.3.4"
    assert report.series_instance_uid == "1.2.3.5"
    assert report.instance_number == 4
    assert report.study_date is not None and report.study_date.isoformat() == "2024-03-01"
    assert report.content_datetime is not None


def test_extra_private_items_are_ignored() -> None:
    dataset = pydicom.dcmread(io.BytesIO(build_sr([SrLesionSpec(suv_max=5)])))
    block = dataset.private_block(0x0011, "WORKSTATION X", create=True)
    block.add_new(0x01, "LO", "vendor note")
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    (lesion,) = read_report(buffer.getvalue()).lesions
    assert lesion.values["suv_max"] == Decimal("5")


def test_not_dicom_is_refused() -> None:
    with pytest.raises(SrRefused, match="not DICOM"):
        read_report(b"%PDF-1.7 a report")


def test_a_file_too_short_to_tell_is_not_called_truncated() -> None:
    """Reported in exploratory testing: a 10-byte text file was refused as "10 bytes end
    before the DICM preamble does (truncated?)". So few bytes cannot tell another kind of file
    from a DICOM file cut early (the truncation properties need the word): both are said."""
    with pytest.raises(SrRefused) as refused:
        read_report(b"hello 1234")
    assert refused.value.message == (
        "This file is not DICOM: it has 10 bytes, fewer than the 132 every DICOM file starts "
        "with (another kind of file, or one truncated)."
    )
    cut_in_prefix = bytes(128) + b"DI"  # a DICOM file cut inside its "DICM"
    with pytest.raises(SrRefused, match=r"130 bytes end before the DICM preamble .*truncated"):
        read_report(cut_in_prefix)


def test_a_dicom_image_is_not_an_sr() -> None:
    buffer = io.BytesIO()
    pet_image().save_as(buffer, enforce_file_format=True)
    with pytest.raises(SrRefused, match="not a supported structured report"):
        read_report(buffer.getvalue())


def test_an_sr_that_is_not_tid_1500_is_refused() -> None:
    dataset = pydicom.dcmread(io.BytesIO(build_sr([SrLesionSpec()])))
    dataset.ContentTemplateSequence[0].TemplateIdentifier = "2000"
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    with pytest.raises(SrRefused, match="not a TID 1500"):
        read_report(buffer.getvalue())


def test_a_file_cut_inside_its_header_is_refused() -> None:
    data = build_sr([SrLesionSpec()])
    with pytest.raises(SrRefused):
        read_report(data[:300])
