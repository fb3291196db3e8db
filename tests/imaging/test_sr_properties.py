"""Properties of the DICOM SR import (issue 16): "any valid SR imports without a 500; a damaged
one is refused with nothing written", and "a truncated file → a clear message naming the
problem, and nothing written".

Hypothesis builds TID 1500 reports with highdicom (``sr_factory``) and posts them, whole or
damaged, to ``studies/{id}/dicom-sr/``: a build and an import take a few hundred milliseconds,
so the examples are few. Each example runs in a savepoint rolled back at its end, with a fresh
patient and study. The truncation check of ``read_report`` is run offset by offset, without
Hypothesis.
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import highdicom as hd
import pydicom
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from hypothesis import HealthCheck, Phase, assume, given, note, settings
from hypothesis import strategies as st
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ImplicitVRLittleEndian

from apps.imaging.dicom_sr import SrRefused, read_report
from apps.imaging.models import ImagingStudy, Lesion, Observation, StructuredReportImport
from tests.factories import PatientFactory, StudyFactory
from tests.imaging.sr_factory import MEDIASTINUM, SITES, SPLEEN, SrLesionSpec, build_sr

pytestmark = [
    pytest.mark.django_db,
    # highdicom writes what the strategies draw (17-digit DS values, characters outside the
    # default repertoire) with pydicom's warnings; the properties are about what NETboard does.
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

MRN = "MRN-1"
UNMAPPED = Code("181268008", "SCT", "Entire pleura")
MM, CM = codes.UCUM.Millimeter, codes.UCUM.Centimeter
REFERENCE_SITES = {SITES["liver"]: "liver_suv", MEDIASTINUM: "blood_pool_suv", SPLEEN: "spleen_suv"}
STUDY_FIELDS = ("liver_suv", "blood_pool_suv", "spleen_suv", "study_instance_uid", "updated_at")
# Each example builds an SR with highdicom and imports it (a few hundred milliseconds): few
# examples, and no shrinking (hundreds more imports); ``note`` shows a failing example's specs.
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,  # nothing written beside the checkout
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies -----------------------------------------------------------------------------

# What NETboard holds: SUVs to 3 decimals below 100000, lengths to a tenth of a millimetre.
TIDY_SUV = st.one_of(
    st.integers(0, 400).map(float), st.decimals(0, 999, places=3).map(float), st.just(0.0)
)
TIDY_MM = st.one_of(st.integers(0, 900).map(float), st.decimals(0, 999, places=1).map(float))
TIDY_CM = st.decimals(0, 99, places=2).map(float)  # a tenth of a millimetre
# Anything a workstation may write: 0, huge, tiny, many decimals, negative.
WILD = st.one_of(
    st.sampled_from([0.0, 1e-6, 1e7, 0.001, 99999.999, 100000.0, 12.3456789, -1.0]),
    st.floats(min_value=-1e3, max_value=1e7, allow_nan=False, allow_infinity=False),
    st.decimals(0, 100, places=6).map(float),
)
UIDS = st.integers(1, 2**96).map(lambda n: f"2.25.{n}")
# TEXT content items (UT): any character but control characters (CR, LF, TAB, ESC allowed).
IDENTIFIERS = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cc", "Cs")), st.sampled_from("\t\n\r\x1b\\ ")
    ),
    max_size=64,
)
SITE_CODES = st.one_of(
    st.sampled_from([*SITES.values(), UNMAPPED, None]),
    st.integers(1, 10**12).map(lambda n: Code(str(n), "SCT", f"Site {n}")),
)


def _optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


@st.composite
def valid_srs(draw: Callable[..., Any]) -> dict[str, Any]:
    """A TID 1500 report of 0–8 lesions (and reference regions). Its values, sites and tracking
    UIDs are each tidy or not; ``tidy``, all three: every value one NETboard holds, every site
    mapped, every tracking UID its own. Such a report must import."""
    tidy_or_not = st.sampled_from([True, True, False])
    values_tidy, sites_tidy, uids_tidy = (draw(tidy_or_not) for _ in range(3))
    suv = TIDY_SUV if values_tidy else WILD
    count = draw(st.integers(0, 8))
    uids = draw(st.lists(UIDS, min_size=count, max_size=count, unique=True))
    if not uids_tidy and count >= 2:
        uids[-1] = uids[0]  # one lesion measured in two groups (e.g. planar and volumetric)
    lesions = []
    for uid in uids:
        unit = draw(st.sampled_from([MM, CM]))
        axis = (TIDY_MM if unit == MM else TIDY_CM) if values_tidy else WILD
        lesions.append(
            SrLesionSpec(
                tracking_uid=uid,
                identifier=draw(IDENTIFIERS),
                site=draw(st.sampled_from(list(SITES.values())) if sites_tidy else SITE_CODES),
                suv_max=draw(_optional(suv)),
                suv_peak=draw(_optional(suv)),
                long_axis=draw(_optional(axis)),
                short_axis=draw(_optional(axis)),
                length_unit=unit,
                krenning=draw(_optional(st.integers(0, 4))),
                kind=draw(st.sampled_from(["planar", "volumetric", "image"])),
            )
        )
    reference = draw(st.dictionaries(st.sampled_from(list(REFERENCE_SITES)), suv, max_size=3))
    assume(lesions or reference)  # highdicom writes no report without a measurement group
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = build_sr(lesions, patient_id=MRN, reference=reference)
    tidy = values_tidy and sites_tidy and (uids_tidy or count < 2)
    return {"data": data, "lesions": lesions, "reference": reference, "tidy": tidy}


def _undefined_lengths(data: bytes) -> bytes:
    """The same SR with every sequence and item of undefined length (delimited), as many
    workstations write them; highdicom writes defined lengths."""
    dataset = pydicom.dcmread(io.BytesIO(data))

    def mark(items: Any) -> None:
        for element in items:
            if element.VR == "SQ":
                element.is_undefined_length = True
                for item in element.value:
                    item.is_undefined_length_sequence_item = True
                    mark(item)

    mark(dataset)
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def _implicit_vr(data: bytes) -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(data))
    dataset.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    buffer = io.BytesIO()
    dataset.save_as(buffer, implicit_vr=True, little_endian=True)
    return buffer.getvalue()


def _specs(count: int) -> list[SrLesionSpec]:
    kinds = ["planar", "volumetric", "image"]
    return [
        SrLesionSpec(
            identifier=f"Lesion {n}",
            kind=kinds[n % 3],
            suv_peak=9.5,
            krenning=n % 5,
            site=list(SITES.values())[n % len(SITES)],
        )
        for n in range(count)
    ]


@functools.cache
def _bases() -> tuple[bytes, ...]:
    """Small valid SRs to damage (built once, on first use: not at collection)."""
    plain = build_sr(_specs(3), patient_id=MRN, reference={SITES["liver"]: 6.2})
    return (
        plain,
        _undefined_lengths(build_sr(_specs(2), patient_id=MRN)),
        build_sr(_specs(2), patient_id=MRN, sop_class=hd.sr.EnhancedSR),
    )


@st.composite
def damaged_srs(draw: Callable[..., Any]) -> tuple[str, bytes]:
    """(how, bytes) of a valid SR truncated, with bits flipped, bytes overwritten or garbage
    spliced in, anywhere in the file."""
    data = bytearray(draw(st.sampled_from(_bases())))
    how = draw(st.sampled_from(["truncate", "flip", "overwrite", "splice"]))
    size = len(data)
    if how == "truncate":
        return how, bytes(data[: draw(st.integers(0, size - 1))])
    if how == "flip":
        for at in draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=8)):
            data[at] ^= 1 << draw(st.integers(0, 7))
    elif how == "overwrite":
        at, chunk = draw(st.integers(0, size - 1)), draw(st.binary(min_size=1, max_size=32))
        data[at : at + len(chunk)] = chunk
    else:
        at, garbage = draw(st.integers(0, size)), draw(st.binary(min_size=1, max_size=64))
        data[at:at] = garbage
    return how, bytes(data)


# --- the API --------------------------------------------------------------------------------


def _state(study: ImagingStudy) -> dict[str, Any]:
    """What an import may write: counts of its rows, and the study's fields."""
    study.refresh_from_db()
    return {
        "lesions": Lesion.objects.count(),
        "observations": Observation.objects.count(),
        "imports": StructuredReportImport.objects.count(),
        **{name: getattr(study, name) for name in STUDY_FIELDS},
    }


def _post(client: Any, study: ImagingStudy, data: bytes, query: str = "") -> Any:
    return client.post(
        f"/api/v1/studies/{study.pk}/dicom-sr/{query}",
        {"file": [SimpleUploadedFile("sr.dcm", data)]},
        format="multipart",
    )


def _names(errors: Any, prefix: str = "") -> list[str]:
    """The fields a problem's ``errors`` name, nested ones dotted (``file`` ``0`` → ``file.0``)."""
    if not isinstance(errors, dict):
        return [prefix]
    return [name for key, value in errors.items() for name in _names(value, f"{prefix}{key}.")]


def _import(client: Any, data: bytes, *, commit: bool = True) -> tuple[Any, ImagingStudy, bool]:
    """(response, study, whether anything was written) of posting ``data`` to a fresh study.
    A 5xx, or a 400 that is not problem+json naming the file or that wrote anything, fails."""
    study: Any = StudyFactory(  # type: ignore[no-untyped-call]
        patient=PatientFactory(mrn=MRN),  # type: ignore[no-untyped-call]
        liver_suv=None,
        blood_pool_suv=None,
        spleen_suv=None,
    )
    before = _state(study)
    response = _post(client, study, data, "" if commit else "?commit=false")
    assert response.status_code in (200, 400), (response.status_code, response.content[:500])
    written = _state(study) != before
    if response.status_code == 400:
        assert response["Content-Type"].startswith("application/problem+json")
        errors = _names(response.json()["errors"])
        assert errors, response.content
        assert all(name.split(".")[:2] == ["file", "0"] for name in errors), errors
        assert not written, "a refused import wrote something"
    return response, study, written


@pytest.fixture
def reader(token_client):  # type: ignore[no-untyped-def]
    return token_client("reader")


def _rolled_back(check: Callable[..., None]) -> Callable[..., None]:
    """Run each example in a savepoint rolled back at its end."""

    @functools.wraps(check)
    def run(*args: Any, **kwargs: Any) -> None:
        with transaction.atomic():
            check(*args, **kwargs)
            transaction.set_rollback(True)

    return run


def test_any_valid_sr_imports_or_is_refused_naming_the_file_never_a_500(reader) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []

    @PROPERTY
    @given(sr=valid_srs(), commit=st.sampled_from([True, True, True, False]))
    @_rolled_back
    def check(sr: dict[str, Any], commit: bool) -> None:
        note(f"lesions={sr['lesions']!r} reference={sr['reference']!r} tidy={sr['tidy']}")
        response, study, written = _import(reader, sr["data"], commit=commit)
        seen.append(response.status_code)
        if sr["tidy"]:
            assert response.status_code == 200, response.content[:500]
        if response.status_code != 200:
            return
        (report,) = response.json()["reports"]
        valued = [
            spec
            for spec in sr["lesions"]
            if any(
                getattr(spec, name) is not None
                for name in ("suv_max", "suv_peak", "long_axis", "short_axis", "krenning")
            )
        ]
        tracked = {spec.tracking_uid for spec in valued}
        assert len(tracked) <= len(report["lesions"]) <= len(valued)  # none lost, none made up
        if not commit:
            assert not written and report["written"] is False
            return
        assert StructuredReportImport.objects.filter(study=study).count() == 1
        assert Observation.objects.filter(study=study).count() == len(tracked)
        for site, value in sr["reference"].items():
            held = getattr(study, REFERENCE_SITES[site])
            # Stored to the 3 decimals of a reference SUV (a workstation may write more): a
            # wild value such as 12.3456789 imports as 12.346 (seed 19 found it).
            assert held == Decimal(str(value)).quantize(Decimal("0.001")), (site, value, held)

    check()
    assert 200 in seen, seen  # the property saw imports, not only refusals


def test_a_damaged_sr_is_refused_with_nothing_written_never_a_500(reader) -> None:  # type: ignore[no-untyped-def]
    @PROPERTY
    @given(damage=damaged_srs())
    @_rolled_back
    def check(damage: tuple[str, bytes]) -> None:
        how, data = damage
        note(f"{how}: {len(data)} bytes")
        response, _study, _written = _import(reader, data)
        if how == "truncate":
            assert response.status_code == 400, response.content[:500]
            if data:  # an empty upload is refused as such
                assert "truncated" in str(response.json()["errors"]), response.content[:500]

    check()


# --- the reader alone (no database) ---------------------------------------------------------

PREAMBLE = b"\0" * 128 + b"DICM"


@settings(max_examples=300, deadline=None, database=None)
@given(
    data=st.one_of(
        st.binary(max_size=2048),
        st.binary(max_size=2048).map(lambda tail: PREAMBLE + tail),
    )
)
def test_the_reader_refuses_any_bytes_only_with_sr_refused(data: bytes) -> None:
    with pytest.raises(SrRefused):
        read_report(data)


@functools.cache
def _file_meta() -> bytes:
    """The preamble and file meta of a valid SR: what precedes its dataset."""
    data = _bases()[0]
    dataset = pydicom.dcmread(io.BytesIO(data))
    first: Any = dataset.get_item(next(iter(dataset.keys())), keep_deferred=True)
    return data[: first.value_tell - 8]  # tag, VR and length of an explicit VR short element


@settings(max_examples=40, deadline=None, database=None)
@given(damage=damaged_srs(), tail=st.binary(max_size=1024))
def test_the_reader_raises_only_sr_refused_on_damaged_files(
    damage: tuple[str, bytes], tail: bytes
) -> None:
    how, data = damage
    try:
        read_report(data)
    except SrRefused:
        pass
    else:
        assert how != "truncate", "a truncated file was read as a whole report"
    with pytest.raises(SrRefused):  # a valid file meta, then anything: no report there
        read_report(_file_meta() + tail)


# --- truncation, offset by offset -----------------------------------------------------------


def _refusals(data: bytes, offsets: Iterable[int]) -> tuple[list[int], list[tuple[int, str]]]:
    """(offsets read as if whole, (offset, message) refused without saying truncated)."""
    read, unclear = [], []
    for offset in offsets:
        try:
            read_report(data[:offset])
        except SrRefused as refused:
            if "truncated" not in refused.message:
                unclear.append((offset, refused.message))
        else:
            read.append(offset)
    return read, unclear


@functools.cache
def _ten_lesions() -> bytes:
    return build_sr(_specs(10), reference={SITES["liver"]: 6.2, SPLEEN: 14.0})


def _offsets(size: int, *, head: int, stride: int) -> list[int]:
    """Every offset of the file's first ``head`` bytes (preamble, file meta, top-level elements,
    the first groups), then every ``stride``-th (odd: both parities), and the last."""
    return sorted({*range(1, min(head, size)), *range(head, size, stride), size - 1})


def test_an_sr_cut_at_any_offset_is_refused_as_truncated() -> None:
    """Prefixes of a 10-lesion report (sequences of defined length, as highdicom writes): pydicom
    alone reads about one cut in thirteen as a whole report with fewer groups. (Every offset,
    some 29,000 of them, passes too, in 20 s: a fourth of them is what the suite affords.)"""
    data = _ten_lesions()
    assert len(read_report(data).lesions) == 10
    read, unclear = _refusals(data, _offsets(len(data), head=2048, stride=5))
    assert not read, f"{len(read)} cuts read as whole reports, e.g. at {read[:5]}"
    assert not unclear, unclear[:3]


@pytest.mark.parametrize(
    ("variant", "stride"),
    [
        ("comprehensive", 7),
        ("enhanced", 7),
        ("implicit_vr", 7),
        ("undefined_lengths", 37),  # pydicom parses these sequences whole: slower per cut
    ],
)
def test_other_encodings_cut_anywhere_are_refused_as_truncated(variant: str, stride: int) -> None:
    specs = _specs(3)
    data = {
        "comprehensive": lambda: build_sr(specs, sop_class=hd.sr.ComprehensiveSR),
        "enhanced": lambda: build_sr(specs, sop_class=hd.sr.EnhancedSR),
        "implicit_vr": lambda: _implicit_vr(build_sr(specs)),
        "undefined_lengths": lambda: _undefined_lengths(build_sr(specs)),
    }[variant]()
    assert len(read_report(data).lesions) == 3  # the whole file reads
    read, unclear = _refusals(data, _offsets(len(data), head=1024, stride=stride))
    assert not read, f"{len(read)} cuts read as whole reports, e.g. at {read[:5]}"
    assert not unclear, unclear[:3]


def test_a_file_cut_between_top_level_elements_says_it_is_incomplete() -> None:
    data = _ten_lesions()
    dataset = pydicom.dcmread(io.BytesIO(data))
    content: Any = dataset.get_item("ContentSequence", keep_deferred=True)
    # The Content Sequence's header starts 12 bytes before its value (explicit VR, SQ).
    with pytest.raises(SrRefused, match="incomplete.*Content Sequence"):
        read_report(data[: content.value_tell - 12])


# --- regressions found by the properties ----------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        SrLesionSpec(suv_max=1e30),  # DS "1e+30": beyond what Decimal quantizes to 28 digits
        SrLesionSpec(long_axis=1.7976931348623157e308, suv_max=None),
    ],
    ids=["suv-1e30", "axis-max-float"],
)
def test_a_number_too_large_to_hold_is_a_400_naming_the_file(reader, spec) -> None:  # type: ignore[no-untyped-def]
    # Decimal's quantize raises InvalidOperation in the reader's unit conversion: a 500 until
    # read_report refused whatever a damaged or odd document raises as SrRefused.
    response, _study, _written = _import(reader, build_sr([spec], patient_id=MRN))
    assert response.status_code == 400


def test_a_nul_in_a_tracking_identifier_is_not_a_500(reader) -> None:  # type: ignore[no-untyped-def]
    """A damaged (or non-conformant: UT has no NUL) identifier: PostgreSQL cannot store a NUL."""
    data = build_sr([SrLesionSpec(identifier="Liver\x004")], patient_id=MRN)
    response, study, _written = _import(reader, data)
    assert response.status_code == 200, response.content  # the NUL dropped
    assert Lesion.objects.get(patient=study.patient).label == "Liver4"


def test_a_tracking_uid_longer_than_64_characters_is_not_a_500(reader) -> None:  # type: ignore[no-untyped-def]
    """UI values are at most 64 characters; a longer one (non-conformant) must not reach the
    database's varchar(64)."""
    data = build_sr([SrLesionSpec(tracking_uid="1.2." + "3" * 70)], patient_id=MRN)
    response, _study, _written = _import(reader, data)
    assert response.status_code == 400
    assert "longer than 64 characters" in str(response.json()["errors"])


def test_one_tracked_lesion_in_two_measurement_groups_is_not_the_databases_refusal(
    reader: Any,
) -> None:
    """TID 1500: groups with one Tracking UID are one lesion (e.g. its planar axes and its
    volumetric SUV). One lesion, or a 400 naming the file's row: not 'the database refused'."""
    data = build_sr(
        [
            SrLesionSpec(tracking_uid="1.2.840.7", suv_max=None, long_axis=21),
            SrLesionSpec(tracking_uid="1.2.840.7", suv_max=14.5, long_axis=None, kind="volumetric"),
        ],
        patient_id=MRN,
    )
    response, study, _written = _import(reader, data)
    if response.status_code == 200:
        assert Lesion.objects.filter(patient=study.patient).count() == 1
