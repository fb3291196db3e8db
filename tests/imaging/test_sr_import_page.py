"""The study grid's "Import measurements…" page (issue 16): choose SR files, review row by row,
settle conflicts and unmapped sites, import in one transaction; refusals keep what was chosen
and write nothing."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from pydicom.sr.coding import Code

from apps.imaging.dicom_sr import read_report
from apps.imaging.models import Lesion, Observation, SrUpload, StructuredReportImport
from tests.factories import LesionFactory, ObservationFactory, PatientFactory, StudyFactory
from tests.imaging.sr_factory import SITES, SrLesionSpec, build_sr

pytestmark = pytest.mark.django_db

UNMAPPED = Code("45206002", "SCT", "Nasal structure")
SPLEEN = Code("78961009", "SCT", "Spleen")


def _study(**kwargs):  # type: ignore[no-untyped-def]
    return StudyFactory(
        patient=PatientFactory(mrn="MRN-1"),
        tracer="ga68_dotatate",
        modality="pet_ct",
        liver_suv=None,
        blood_pool_suv=None,
        spleen_suv=None,
        **kwargs,
    )


def _review(client, study, *files: bytes):  # type: ignore[no-untyped-def]
    uploads = [SimpleUploadedFile(f"read{n}.dcm", data) for n, data in enumerate(files)]
    return client.post(f"/studies/{study.pk}/import/", {"file": uploads, "step": "review"})


def _uploads(response) -> list[str]:  # type: ignore[no-untyped-def]
    return re.findall(r'name="upload" value="(\d+)"', response.content.decode())


def _import(client, study, response, **choices: str):  # type: ignore[no-untyped-def]
    body: dict[str, object] = {"step": "import", "upload": _uploads(response)}
    body.update({name.replace("__", ":").replace("_dot_", "."): v for name, v in choices.items()})
    return client.post(f"/studies/{study.pk}/import/", body)


def test_the_grid_offers_the_import_to_readers_only(as_role) -> None:  # type: ignore[no-untyped-def]
    study = _study()
    assert "Import measurements…" in as_role("reader").get(f"/studies/{study.pk}/").content.decode()
    clinician = as_role("clinician")
    assert "Import measurements…" not in clinician.get(f"/studies/{study.pk}/").content.decode()
    assert clinician.get(f"/studies/{study.pk}/import/").status_code == 403


def test_review_then_import_writes_only_on_import(as_role) -> None:  # type: ignore[no-untyped-def]
    study, client = _study(), as_role("reader")
    data = build_sr(
        [SrLesionSpec(tracking_uid="1.2.840.1", identifier="Liver 4", suv_max=24, krenning=4)],
        reference={SITES["liver"]: 6.2},
    )
    review = _review(client, study, data)
    assert review.status_code == 200
    page = review.content.decode()
    assert "New lesion" in page and 'value="Liver 4"' in page  # label proposed, editable
    assert 'value="liver" selected' in page  # the mapped finding site
    assert "SR: Liver (SCT 10200004)" in page
    assert "6.2" in page  # the reference uptake it would set
    # Nothing written by the review; the file is held for "Import".
    assert not Lesion.objects.filter(patient=study.patient).exists()
    assert SrUpload.objects.filter(study=study).count() == 1

    done = _import(client, study, review)
    assert done.status_code == 302 and done["Location"] == f"/studies/{study.pk}/"
    lesion = Lesion.objects.get(patient=study.patient)
    assert (lesion.label, lesion.site, lesion.tracking_uid) == ("Liver 4", "liver", "1.2.840.1")
    obs = Observation.objects.get(study=study, lesion=lesion)
    assert (obs.suv_max, obs.krenning_visual) == (Decimal("24"), 4)
    study.refresh_from_db()
    assert study.liver_suv == Decimal("6.2")
    assert StructuredReportImport.objects.filter(study=study).count() == 1
    assert not SrUpload.objects.exists()
    grid = client.get(done["Location"]).content.decode()
    assert "Imported 1 SR file: 1 lesion (1 new), and the reference uptake." in grid


def test_a_conflict_is_marked_and_refused_until_the_reader_chooses(as_role) -> None:  # type: ignore[no-untyped-def]
    study, client = _study(), as_role("reader")
    known = LesionFactory(patient=study.patient, label="Liver 4", tracking_uid="1.2.840.1")
    ObservationFactory(study=study, lesion=known, suv_max=Decimal("20"), long_axis_mm=None)
    data = build_sr([SrLesionSpec(tracking_uid="1.2.840.1", suv_max=24, long_axis=30)])
    review = _review(client, study, data)
    page = review.content.decode()
    assert "conflict" in page and "keep 20.0" in page and "take 24.0" in page

    refused = _import(client, study, review)
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "Nothing was imported: settle the marked rows below." in text
    assert 'aria-invalid="true"' in text and "choose one (current or imported)" in text
    obs = Observation.objects.get(study=study, lesion=known)
    assert (obs.suv_max, obs.long_axis_mm) == (Decimal("20"), None)  # nothing written
    assert _uploads(refused) == _uploads(review)  # the files are still held

    kept = _import(client, study, refused, choice__0__0_dot_suv_max="current")
    assert kept.status_code == 302
    obs.refresh_from_db()
    assert (obs.suv_max, obs.long_axis_mm) == (Decimal("20"), Decimal("30"))  # kept; new taken


def test_an_unmapped_site_is_shown_and_must_be_chosen(as_role) -> None:  # type: ignore[no-untyped-def]
    study, client = _study(), as_role("reader")
    data = build_sr([SrLesionSpec(tracking_uid="1.2.840.7", identifier="Nose", site=UNMAPPED)])
    review = _review(client, study, data)
    page = review.content.decode()
    assert "SR: Nasal structure (SCT 45206002) (not one NETboard maps: choose)" in page
    assert "Choose the site…" in page

    refused = _import(client, study, review, choice__0__0_dot_label="Nasal mass")
    assert refused.status_code == 400
    assert "is not one NETboard maps" in refused.content.decode()
    assert 'value="Nasal mass"' in refused.content.decode()  # what was typed is kept
    assert not Lesion.objects.filter(patient=study.patient).exists()

    done = _import(
        client,
        study,
        refused,
        choice__0__0_dot_label="Nasal mass",
        choice__0__0_dot_site="soft_tissue",
    )
    assert done.status_code == 302
    lesion = Lesion.objects.get(patient=study.patient)
    assert (lesion.label, lesion.site) == ("Nasal mass", "soft_tissue")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a dicom file at all", "read0.dcm: This file is not DICOM"),
        (build_sr([SrLesionSpec()], patient_id="OTHER-9"), "OTHER-9"),
    ],
)
def test_a_refused_file_is_named_and_nothing_is_kept(as_role, data, message) -> None:  # type: ignore[no-untyped-def]
    study, client = _study(), as_role("reader")
    response = _review(client, study, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SrUpload.objects.exists() and not Lesion.objects.exists()


def test_no_file_chosen_says_so(as_role) -> None:  # type: ignore[no-untyped-def]
    study = _study()
    response = as_role("reader").post(f"/studies/{study.pk}/import/", {"step": "review"})
    assert response.status_code == 400
    assert "Choose one or more DICOM SR files" in response.content.decode()


def test_another_readers_upload_cannot_be_imported(as_role) -> None:  # type: ignore[no-untyped-def]
    study = _study()
    review = _review(as_role("reader", "first"), study, build_sr([SrLesionSpec()]))
    other = _import(as_role("reader", "second"), study, review)
    assert other.status_code == 400
    assert "no longer held" in other.content.decode()
    assert not Lesion.objects.exists()


def test_a_final_read_is_not_imported_into(as_role) -> None:  # type: ignore[no-untyped-def]
    study, client = _study(), as_role("reader")
    review = _review(client, study, build_sr([SrLesionSpec()]))
    study.status = "final"
    study.save()
    page = client.get(f"/studies/{study.pk}/import/").content.decode()
    assert "This read is final" in page
    refused = _import(client, study, review)
    assert refused.status_code == 400
    assert "reopen it" in refused.content.decode()
    assert not Lesion.objects.exists()


def test_the_grid_exports_the_read_as_an_sr(as_role) -> None:  # type: ignore[no-untyped-def]
    study = _study()
    lesion = LesionFactory(patient=study.patient, label="Liver 4", tracking_uid="1.2.840.1")
    ObservationFactory(study=study, lesion=lesion, suv_max=Decimal("24"))
    client = as_role("clinician")
    assert f"/studies/{study.pk}/export.dcm" in client.get(f"/studies/{study.pk}/").content.decode()
    response = client.get(f"/studies/{study.pk}/export.dcm")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    report = read_report(response.content)
    assert [(x.tracking_uid, x.values["suv_max"]) for x in report.lesions] == [
        ("1.2.840.1", Decimal("24"))
    ]


def _cell(page: str, row_id: str, name: str) -> str:
    """The text of one review cell (its markup without tags, spaces squeezed)."""
    row = page[page.index(f'id="{row_id}"') :]
    row = row[: row.index("</tr>")]
    cell = row[row.index(f'data-field="{name}"') :]
    cell = cell[: cell.index("</td>")]
    return " ".join(re.sub(r"<[^>]+>", " ", cell.split(">", 1)[1]).split())


def test_the_review_shows_what_the_study_holds_where_the_sr_says_nothing(as_role) -> None:  # type: ignore[no-untyped-def]
    """Reported in exploratory testing: a value the study holds showed as "—" (which reads as
    "no value") wherever the SR carried none for it."""
    study = _study()
    study.liver_suv = Decimal("6.000")
    study.save()
    known = LesionFactory(patient=study.patient, label="Liver 4", tracking_uid="1.2.840.1")
    ObservationFactory(study=study, lesion=known, suv_max=Decimal("20"), long_axis_mm=Decimal("31"))
    data = build_sr(
        [
            SrLesionSpec(tracking_uid="1.2.840.1", suv_max=20, long_axis=None),
            SrLesionSpec(tracking_uid="1.2.840.2", suv_max=9, long_axis=18),
        ],
        reference={SPLEEN: 18.0},
    )
    page = _review(as_role("reader"), study, data).content.decode()
    assert _cell(page, "review-0-0", "long_axis_mm") == "31"  # held, the SR has none
    assert _cell(page, "review-0-0", "suv_max") == "20.0"  # the same in both
    assert _cell(page, "review-0-reference", "liver_suv") == "6.0"
    assert _cell(page, "review-0-reference", "spleen_suv") == "18.0"


def test_a_file_imported_already_shows_no_change_in_any_row(as_role) -> None:  # type: ignore[no-untyped-def]
    """Reported in exploratory testing: importing instance 1 again after instance 2 of the series
    said "importing it again changes nothing" while its rows said "update 27.5 → 25.0"."""
    study, client = _study(), as_role("reader")
    series = "1.2.826.0.1.3680043.8.498.1"
    first = build_sr(
        [SrLesionSpec(tracking_uid="1.2.840.1", identifier="Liver 7", suv_max=25, long_axis=31)],
        series_uid=series,
        study_uid=series + ".9",
        instance_number=1,
    )
    second = build_sr(
        [SrLesionSpec(tracking_uid="1.2.840.1", identifier="Liver 7", suv_max=27.5, long_axis=33)],
        series_uid=series,
        study_uid=series + ".9",
        instance_number=2,
    )
    for data in (first, second):
        assert _import(client, study, _review(client, study, data)).status_code == 302
    page = _review(client, study, first).content.decode()
    assert "Already imported: importing it again changes nothing." in page
    row = page[page.index('id="review-0-0"') :]
    row = row[: row.index("</tr>")]
    assert "no change" in row and "→" not in row and "conflict" not in row
    assert _cell(page, "review-0-0", "suv_max") == "27.5"  # what the study holds now
    obs = Observation.objects.get(study=study)
    assert (obs.suv_max, obs.long_axis_mm) == (Decimal("27.5"), Decimal("33"))


def test_a_value_the_grid_refuses_can_be_left_out(as_role) -> None:  # type: ignore[no-untyped-def]
    """Reported in exploratory testing: an SR value the grid refuses (an SUVmax of −2) was a dead
    end: the import was refused and the page offered no way past it. The refused value can be
    left out; the rest of the report is imported."""
    study, client = _study(), as_role("reader")
    data = build_sr(
        [
            SrLesionSpec(tracking_uid="1.2.840.1", identifier="Liver 4", suv_max=-2, long_axis=22),
            SrLesionSpec(tracking_uid="1.2.840.2", identifier="Node", suv_max=9, long_axis=18),
        ]
    )
    review = _review(client, study, data)
    refused = _import(client, study, review)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'name="choice:0:0.suv_max" value="current"' in page and "leave it out" in page
    assert not Observation.objects.filter(study=study).exists()

    done = _import(client, study, refused, choice__0__0_dot_suv_max="current")
    assert done.status_code == 302, done.content.decode()[:2000]
    values = {
        obs.lesion.label: (obs.suv_max, obs.long_axis_mm)
        for obs in Observation.objects.filter(study=study).select_related("lesion")
    }
    assert values == {"Liver 4": (None, Decimal("22")), "Node": (Decimal("9"), Decimal("18"))}


def test_a_known_lesion_without_a_reading_on_the_study_is_a_new_reading(as_role) -> None:  # type: ignore[no-untyped-def]
    """Reported in exploratory testing: it said "update" though the study had no reading of it."""
    study, client = _study(), as_role("reader")
    LesionFactory(patient=study.patient, label="Liver 4", tracking_uid="1.2.840.1")
    held = LesionFactory(patient=study.patient, label="Node", tracking_uid="1.2.840.2")
    ObservationFactory(study=study, lesion=held, suv_max=Decimal("5"), long_axis_mm=None)
    data = build_sr(
        [
            SrLesionSpec(tracking_uid="1.2.840.1", suv_max=9, long_axis=None),
            SrLesionSpec(tracking_uid="1.2.840.2", suv_max=6, long_axis=None),
        ]
    )
    page = _review(client, study, data).content.decode()
    actions = dict(re.findall(r'id="review-0-(\d)" class="[^"]*" data-action="(\w+)"', page))
    assert actions == {"0": "record", "1": "update"}
    assert 'Liver 4 <span class="muted small">new reading on this study</span>' in page
