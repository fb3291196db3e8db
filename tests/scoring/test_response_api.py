"""GET patients/{id}/response/ (API.md, DOMAIN.md §7-§9) and the user's pick of a baseline
(``studies.is_baseline``): the body, its documented schema, its status, and the pick's rules
held by the serializer and by the database. Tasks run in-process here; tests/scoring/
test_worker.py follows a patient over four timepoints with a real worker."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import TestCase
from rest_framework import serializers as drf

from apps.core.models import AccessEvent
from apps.imaging.models import ImagingStudy
from apps.patients.models import Patient
from apps.scoring import services
from apps.scoring.serializers import ResponseSerializer
from tests.factories import LesionFactory, ObservationFactory, PatientFactory, StudyFactory

pytestmark = pytest.mark.django_db


def committed() -> Any:
    return TestCase.captureOnCommitCallbacks(execute=True)


def ct(patient: Patient, day: date, **fields: Any) -> ImagingStudy:
    return StudyFactory(  # type: ignore[no-any-return]
        patient=patient,
        performed_on=day,
        modality="ct",
        tracer="none",
        blood_pool_suv=None,
        liver_suv=None,
        spleen_suv=None,
        **fields,
    )


def followed_patient() -> tuple[Patient, list[ImagingStudy]]:
    """Two liver targets on three CTs: 50 mm at baseline, then 34 mm (-32%: PR), then 40 mm
    (+6 mm and +17.6% over the nadir of 34 mm: SD)."""
    with committed():
        patient = PatientFactory()
        studies = [ct(patient, date(2024, m, 1)) for m in (1, 5, 9)]
        sizes = [("30", "20"), ("20", "14"), ("24", "16")]
        for n in range(2):
            lesion = LesionFactory(patient=patient, label=f"L{n}", site="liver")
            for study, pair in zip(studies, sizes, strict=True):
                ObservationFactory(
                    study=study,
                    lesion=lesion,
                    suv_max=None,
                    long_axis_mm=Decimal(pair[n]),
                    target=study == studies[0],
                )
    return patient, studies


def assert_documented(body: Any, doc: Any, where: str = "body") -> None:
    """Every key of the body is a documented field and every documented field is present (an
    optional field may be absent), recursively through nested serializers and lists."""
    if isinstance(doc, drf.ListSerializer):
        for index, item in enumerate(body):
            assert_documented(item, doc.child, f"{where}[{index}]")
        return
    if not isinstance(doc, drf.Serializer) or body is None:
        return
    fields = doc.fields
    required = {name for name, field in fields.items() if field.required}
    assert set(body) <= set(fields), (where, set(body) - set(fields))
    assert required <= set(body), (where, required - set(body))
    for name, value in body.items():
        assert_documented(value, fields[name], f"{where}.{name}")


def test_response_body_is_fresh_documented_and_logged(token_client: Any) -> None:
    patient, studies = followed_patient()
    response = token_client("reader").get(f"/api/v1/patients/{patient.pk}/response/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["patient"] == patient.pk and body["status"] == "fresh"
    assert [(r["study"], r["category"]) for r in body["recist"]] == [
        (studies[1].pk, "PR"),
        (studies[2].pk, "SD"),
    ]
    assert body["recist"][1]["nadir_study"] == studies[1].pk
    anatomic = next(b for b in body["baselines"] if b["series"] == "anatomic")
    assert anatomic["baseline_study"] == studies[0].pk and anatomic["source"] == "first"
    assert ResponseSerializer(data=body).is_valid()
    assert_documented(body, ResponseSerializer())
    assert AccessEvent.objects.filter(patient_id=patient.pk, action__contains="response").exists()


def test_before_the_first_computation_every_list_is_empty(token_client: Any) -> None:
    patient = PatientFactory()  # not inside committed(): no recompute has run
    body = token_client("reader").get(f"/api/v1/patients/{patient.pk}/response/").json()
    assert body["status"] in {"stale", "pending"}
    assert body["recist"] == [] and body["baselines"] == [] and body["computed_at"] is None
    assert_documented(body, ResponseSerializer())


def test_the_response_shares_the_phenotype_status(token_client: Any) -> None:
    patient, studies = followed_patient()
    ImagingStudy.objects.filter(pk=studies[2].pk).update(performed_on=date(2024, 10, 1))
    client = token_client("reader")
    phenotype = client.get(f"/api/v1/patients/{patient.pk}/phenotype/").json()
    response = client.get(f"/api/v1/patients/{patient.pk}/response/").json()
    assert phenotype["status"] == response["status"] == "stale"  # written without a recompute


def test_picking_a_baseline_through_the_api_moves_the_comparison(token_client: Any) -> None:
    patient, studies = followed_patient()
    client = token_client("reader")
    with committed():
        answer = client.patch(
            f"/api/v1/studies/{studies[1].pk}/", {"is_baseline": True}, format="json"
        )
    assert answer.status_code == 200, answer.content
    assert answer.json()["is_baseline"] is True
    body = services.response_body(patient.pk)
    assert body["status"] == "fresh"
    anatomic = next(b for b in body["baselines"] if b["series"] == "anatomic")
    assert anatomic["source"] == "user" and anatomic["baseline_study"] == studies[1].pk
    # Targets come from the picked baseline's marks: none there, so the rules pick both.
    assert [(r["study"], r["baseline_study"]) for r in body["recist"]] == [
        (studies[2].pk, studies[1].pk)
    ]


def test_a_second_baseline_in_the_same_series_is_refused_naming_the_field(
    token_client: Any,
) -> None:
    patient, studies = followed_patient()
    client = token_client("reader")
    assert (
        client.patch(
            f"/api/v1/studies/{studies[0].pk}/", {"is_baseline": True}, format="json"
        ).status_code
        == 200
    )
    answer = client.patch(f"/api/v1/studies/{studies[2].pk}/", {"is_baseline": True}, format="json")
    assert answer.status_code == 400
    problem = answer.json()
    assert "is_baseline" in problem["errors"]
    # Named by kind and date, never by an internal id (issue 15 §4).
    message = problem["errors"]["is_baseline"][0]
    assert f"of {studies[0].performed_on.isoformat()} is already the baseline" in message
    assert f"Study {studies[0].pk}" not in message
    assert not ImagingStudy.objects.get(pk=studies[2].pk).is_baseline
    # Another series of the same patient may have its own baseline.
    pet = StudyFactory(patient=patient, performed_on=date(2024, 2, 1))
    assert (
        client.patch(f"/api/v1/studies/{pet.pk}/", {"is_baseline": True}, format="json").status_code
        == 200
    )


def test_a_study_outside_every_series_cannot_be_a_baseline(token_client: Any) -> None:
    patient = PatientFactory()
    spect = StudyFactory(
        patient=patient, modality="spect_ct", tracer="in111_pentetreotide", spleen_suv=None
    )
    answer = token_client("reader").patch(
        f"/api/v1/studies/{spect.pk}/", {"is_baseline": True}, format="json"
    )
    assert answer.status_code == 400
    assert "is_baseline" in answer.json()["errors"]


@pytest.mark.parametrize(
    ("sql", "constraint"),
    [
        (
            "UPDATE imaging_imagingstudy SET is_baseline = true WHERE patient_id = %s",
            "study_one_baseline_per_series",
        ),
        (
            "UPDATE imaging_imagingstudy SET is_baseline = true, modality = 'spect_ct', "
            "tracer = 'in111_pentetreotide' WHERE id = %s",
            "study_baseline_in_a_series",
        ),
    ],
)
def test_the_database_holds_the_baseline_rules(sql: str, constraint: str) -> None:
    patient, studies = followed_patient()
    target = patient.pk if "patient_id" in sql else studies[0].pk
    with (
        pytest.raises(IntegrityError, match=constraint),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [target])


def test_the_demo_cohort_responses_are_documented_and_show_each_part(token_client: Any) -> None:
    """Every demo patient's response matches the schema, and across the cohort every part of
    DOMAIN.md §7-§9 appears at least once (the demo is what a trial user first sees)."""
    from django.core.management import call_command

    with committed():
        call_command("load_demo", verbosity=0)
    client = token_client("clinician")
    seen: dict[str, set[Any]] = {"recist": set(), "alerts": set(), "signals": set(), "notes": set()}
    for patient in Patient.objects.all():
        body = client.get(f"/api/v1/patients/{patient.pk}/response/").json()
        assert body["status"] == "fresh"
        assert_documented(body, ResponseSerializer())
        seen["recist"] |= {entry["category"] for entry in body["recist"]}
        seen["alerts"] |= {alert["code"] for alert in body["dual_tracer_alerts"]}
        seen["signals"] |= {s for entry in body["theranostic"] for s in entry["signals"]}
        seen["notes"] |= {note["code"] for note in body["notes"]}
    assert seen["recist"], "no RECIST follow-up in the demo"
    assert "new_fdg_positive_sstr_negative" in seen["alerts"]  # the Fig. 4 relapse
    assert seen["signals"], "no theranostic signal in the demo"
    assert {"ppgl", "pulmonary"} <= seen["notes"]
