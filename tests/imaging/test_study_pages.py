"""The study pages (issue 6 §2): the study form (validated by the API's serializer, typed values
kept, errors at the field), the grid with every known lesion as a row, the live preview of the
computed score and flags (writes nothing), and the query count of the grid."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.core.models import AccessEvent
from apps.imaging.models import ImagingStudy, Lesion, Observation
from tests.factories import (
    LesionFactory,
    ObservationFactory,
    PatientFactory,
    StudyFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(as_role: Any) -> Client:
    return as_role("reader")


@pytest.fixture
def clinician(as_role: Any) -> Client:
    return as_role("clinician")


def study_post(**values: str) -> dict[str, str]:
    base = {
        "performed_on": "2024-05-02",
        "modality": "pet_ct",
        "tracer": "ga68_dotatate",
        "blood_pool_suv": "1.5",
        "liver_suv": "6.0",
        "liver_suv_sd": "",
        "spleen_suv": "18",
        "accession_number": "",
        "treatment": "",
        "cycle_number": "",
    }
    return {**base, **values}


def test_a_reader_creates_a_study_and_lands_on_its_grid(reader: Client) -> None:
    patient = PatientFactory()
    response = reader.post(f"/patients/{patient.pk}/studies/new/", study_post())
    study = ImagingStudy.objects.get(patient=patient)
    assert response.status_code == 302 and response["Location"] == f"/studies/{study.pk}/"
    assert (study.tracer_class, study.liver_suv, study.spleen_suv, study.liver_suv_sd) == (
        "SSTR",
        Decimal("6.000"),
        Decimal("18.000"),
        None,
    )


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"performed_on": "2999-01-01"}, "performed_on", "future"),
        ({"performed_on": ""}, "performed_on", "required"),
        ({"liver_suv": "-2"}, "liver_suv", "greater than or equal to 0"),
        ({"liver_suv": "abc"}, "liver_suv", "valid number"),
        ({"tracer": "none"}, "tracer", "needs a tracer"),
        ({"modality": "xray"}, "modality", "not a valid choice"),
        ({"cycle_number": "2"}, "cycle_number", "needs the treatment"),
        ({"post_therapy": "on"}, "post_therapy", "therapeutic tracer"),
    ],
)
def test_a_refused_study_keeps_what_was_typed_and_names_the_field(
    reader: Client, values: dict[str, str], field: str, message: str
) -> None:
    patient = PatientFactory()
    response = reader.post(f"/patients/{patient.pk}/studies/new/", study_post(**values))
    assert response.status_code == 400
    html = response.content.decode()
    assert ImagingStudy.objects.count() == 0
    error = html.split(f'id="id_{field}-error"', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert f'aria-describedby="id_{field}-error"' in html
    for name, value in values.items():
        if value and name not in ("post_therapy", "modality"):
            assert f'value="{value}"' in html  # what was typed is still there
    assert "Nothing was saved" in html


def test_the_treatment_choice_offers_only_this_patients_treatments(reader: Client) -> None:
    patient, other = PatientFactory(), PatientFactory()
    mine = TreatmentFactory(patient=patient)
    theirs = TreatmentFactory(patient=other)
    html = reader.get(f"/patients/{patient.pk}/studies/new/").content.decode()
    assert f'<option value="{mine.pk}"' in html
    assert f'<option value="{theirs.pk}"' not in html


def test_editing_a_study_changed_meanwhile_is_refused(reader: Client) -> None:
    study = StudyFactory(liver_suv=Decimal("6.0"))
    page = reader.get(f"/studies/{study.pk}/edit/").content.decode()
    etag = page.split('name="etag" value="', 1)[1].split('"', 1)[0]
    other = ImagingStudy.objects.get(pk=study.pk)
    other.liver_suv = Decimal("7.5")
    other.save()
    values = study_post(performed_on="2024-03-01", liver_suv="9", etag=etag)
    response = reader.post(f"/studies/{study.pk}/edit/", values)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Someone else changed this record" in html and "7.500" in html
    assert 'value="9"' in html
    study.refresh_from_db()
    assert study.liver_suv == Decimal("7.500")


def test_the_grid_shows_every_known_lesion_with_its_read(reader: Client) -> None:
    study = StudyFactory()
    scored = ObservationFactory(
        study=study, suv_max=Decimal("12.0"), krenning_visual=2, lesion__label="Liver seg 7"
    )
    LesionFactory(patient=study.patient, label="Bone T8", site="bone")
    response = reader.get(f"/studies/{study.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Liver seg 7" in html and "Bone T8" in html
    assert len(re.findall(r'<tr class="obs-row[^"]*" data-lesion="\d+"', html)) == 2
    # The recorded row shows the computed score (12 ≥ spleen 18? no: above liver 6 → 3) and a
    # disagreement flag (visual 2 ≠ computed 3); the other row is not recorded yet.
    row = html.split(f'id="row-{scored.lesion_id}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="computed-score"' in row and ">3</span>" in row
    assert "flag-score_disagreement" in row
    assert "1 of 2 lesions recorded" in html
    config = json.loads(html.split('id="grid-config" type="application/json">', 1)[1].split("<")[0])
    assert config["rows"][str(scored.lesion_id)]["observation"] == scored.pk
    assert config["rows"][str(scored.lesion_id)]["etag"].startswith('"')
    assert config["kind"] == "RECEPTOR" and config["editable"] is True
    assert AccessEvent.objects.filter(patient_id=study.patient_id, action="study_grid").exists()


def test_the_grid_columns_follow_the_tracer(reader: Client) -> None:
    fdg = StudyFactory(tracer="f18_fdg", spleen_suv=None)
    ct = StudyFactory(modality="ct", tracer="none", blood_pool_suv=None, liver_suv=None)
    fdg_html = reader.get(f"/studies/{fdg.pk}/").content.decode()
    ct_html = reader.get(f"/studies/{ct.pk}/").content.decode()
    assert "FDG +/−" in fdg_html and "vs SSTR" in fdg_html and "FDG grade" in fdg_html
    assert "Krenning <span" not in fdg_html
    assert "SUV<sub>max</sub>" not in ct_html and "Long mm" in ct_html


def test_a_clinician_sees_the_grid_read_only(clinician: Client) -> None:
    study = StudyFactory()
    ObservationFactory(study=study)
    html = clinician.get(f"/studies/{study.pk}/").content.decode()
    assert 'name="suv_max" data-cell' in html and "disabled" in html
    assert 'id="add-lesion"' not in html
    assert clinician.get(f"/patients/{study.patient_id}/studies/new/").status_code == 403


def test_copy_from_the_previous_study_is_offered_for_rows_not_yet_recorded(reader: Client) -> None:
    earlier = StudyFactory(performed_on=date(2024, 1, 10))
    patient = earlier.patient
    kept = ObservationFactory(study=earlier, suv_max=Decimal("9.5"), krenning_visual=3)
    ObservationFactory(study=earlier)
    later = StudyFactory(patient=patient, performed_on=date(2024, 6, 1))
    ObservationFactory(study=later, lesion=kept.lesion)
    html = reader.get(f"/studies/{later.pk}/").content.decode()
    assert "Copy 1 lesion from previous study (2024-01-10)" in html
    config = json.loads(html.split('id="grid-config" type="application/json">', 1)[1].split("<")[0])
    assert config["previous"][str(kept.lesion_id)]["suv_max"] == "9.5"  # at clinical precision
    assert config["previous"][str(kept.lesion_id)]["krenning_visual"] == "3"


def post_json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("row", "computed", "flags"),
    [
        ({"state": "scored", "suv_max": "4"}, 2, []),
        ({"state": "scored", "suv_max": "25"}, 4, []),
        ({"state": "scored", "suv_max": "25", "krenning_visual": 2}, 4, ["score_disagreement"]),
        ({"state": "scored", "suv_max": "25", "long_axis_mm": "12"}, 4, ["pet_may_overestimate"]),
        ({"state": "not_seen"}, None, []),
    ],
)
def test_the_preview_scores_the_row_as_typed_and_writes_nothing(
    reader: Client, row: dict[str, Any], computed: int | None, flags: list[str]
) -> None:
    study = StudyFactory()  # B 1.5, L 6, S 18
    lesion = LesionFactory(patient=study.patient)
    answer = post_json(reader, f"/studies/{study.pk}/preview/", {"lesion": lesion.pk, **row})
    assert answer.status_code == 200
    data = answer.json()
    assert data["errors"] == {}
    assert data["computed"] == computed
    assert [flag["code"] for flag in data["flags"]] == flags
    assert all(flag["text"] for flag in data["flags"])
    assert Observation.objects.count() == 0


def test_the_preview_names_a_refused_value_with_the_apis_message(reader: Client) -> None:
    study = StudyFactory(tracer="f18_fdg", spleen_suv=None)
    lesion = LesionFactory(patient=study.patient)
    body = {"lesion": lesion.pk, "state": "scored", "suv_max": "-1"}
    data = post_json(reader, f"/studies/{study.pk}/preview/", body).json()
    assert set(data["errors"]) == {"suv_max"} and data["computed"] is None
    body = {"lesion": lesion.pk, "state": "scored", "suv_max": "3", "krenning_visual": 4}
    data = post_json(reader, f"/studies/{study.pk}/preview/", body).json()
    assert set(data["errors"]) == {"krenning_visual"}
    assert "0 to 3" in data["errors"]["krenning_visual"][0]
    assert post_json(reader, f"/studies/{study.pk}/preview/", [1]).status_code == 400
    bad = reader.post(f"/studies/{study.pk}/preview/", "{", content_type="application/json")
    assert bad.status_code == 400


def test_the_preview_of_a_recorded_row_is_not_refused_as_a_duplicate(reader: Client) -> None:
    obs = ObservationFactory(suv_max=Decimal("3"))
    body = {"lesion": obs.lesion_id, "state": "scored", "suv_max": "30"}
    data = post_json(reader, f"/studies/{obs.study_id}/preview/", body).json()
    assert data["errors"] == {} and data["computed"] == 4
    obs.refresh_from_db()
    assert obs.suv_max == Decimal("3.000")


def grid_queries(client: Client, lesions: int) -> int:
    study = StudyFactory()
    previous = StudyFactory(patient=study.patient, performed_on=date(2023, 1, 1))
    for n in range(lesions):
        lesion = LesionFactory(patient=study.patient, label=f"L{n}")
        ObservationFactory(study=previous, lesion=lesion)
        if n % 2:
            ObservationFactory(study=study, lesion=lesion)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"/studies/{study.pk}/").status_code == 200
    return len(queries)


def test_the_grid_query_count_does_not_grow_with_the_lesions(reader: Client) -> None:
    assert grid_queries(reader, 2) == grid_queries(reader, 40)


def test_lesions_keep_their_creation_order_in_the_grid(reader: Client) -> None:
    study = StudyFactory()
    for label in ("Zeta", "Alpha", "Mid"):
        Lesion.objects.create(patient=study.patient, label=label, site="liver")
    html = reader.get(f"/studies/{study.pk}/").content.decode()
    assert html.index("Zeta") < html.index("Alpha") < html.index("Mid")


def test_a_duplicate_lesion_label_is_refused_at_the_label_field(token_client: Any) -> None:
    lesion = LesionFactory(label="Liver 1")
    api = token_client("reader")
    body = {"patient": lesion.patient_id, "label": "Liver 1", "site": "liver"}
    answer = api.post("/api/v1/lesions/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "label": ["This patient already has a lesion with this label."]
    }
    other = PatientFactory()
    assert (
        api.post("/api/v1/lesions/", {**body, "patient": other.pk}, format="json").status_code
        == 201
    )
    renamed = api.patch(f"/api/v1/lesions/{lesion.pk}/", {"label": "Liver 1"}, format="json")
    assert renamed.status_code == 200


def test_a_field_in_error_is_described_by_its_help_and_its_message(reader: Client) -> None:
    patient = PatientFactory()
    theirs = TreatmentFactory(patient=PatientFactory())
    values = study_post(treatment=str(theirs.pk), cycle_number="1")
    html = reader.post(f"/patients/{patient.pk}/studies/new/", values).content.decode()
    select = re.search(r'<select name="treatment"[^>]*>', html)
    assert select is not None
    assert 'aria-describedby="id_treatment_helptext id_treatment-error"' in select.group()
    assert 'aria-invalid="true"' in select.group()
    assert 'id="id_treatment_helptext"' in html and 'id="id_treatment-error"' in html
    assert "belongs to another patient" in html
