"""Every write to a clinical record leaves one history row, whatever the path, with who and
which request; history and access tables refuse UPDATE and DELETE at the database."""

from __future__ import annotations

from decimal import Decimal

import pghistory
import pytest
from django.db import ProgrammingError, connection, transaction
from pghistory.models import Events

from apps.core.models import AccessEvent
from apps.patients.models import Patient
from tests.factories import ObservationFactory, PatientFactory

pytestmark = pytest.mark.django_db


def patient_events(patient_id: int) -> list[Events]:
    return list(
        Events.objects.tracks(Patient.objects.filter(pk=patient_id)).order_by("pgh_created_at")
    )


def test_orm_save_bulk_update_queryset_update_and_raw_sql_each_leave_one_row() -> None:
    with pghistory.context(source="test"):
        patient = PatientFactory(height_cm=Decimal("170.0"))
        patient.weight_kg = Decimal("70.0")
        patient.save()
        patient.given_name = "Bulk"
        Patient.objects.bulk_update([patient], ["given_name"])
        Patient.objects.filter(pk=patient.pk).update(family_name="TEST-Renamed")
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE patients_patient SET histology = 'nec' WHERE id = %s", [patient.pk]
            )
    events = patient_events(patient.pk)
    assert [e.pgh_label for e in events] == ["insert"] + ["update"] * 4
    diffs = [e.pgh_diff for e in events[1:]]
    assert diffs[0]["weight_kg"] == [None, 70.0]
    assert diffs[1]["given_name"] == ["Test", "Bulk"]
    assert diffs[2]["family_name"][1] == "TEST-Renamed"
    assert diffs[3]["histology"] == ["net", "nec"]
    assert all(e.pgh_context == {"source": "test"} for e in events)


def test_one_statement_over_many_rows_leaves_one_row_per_changed_record() -> None:
    # The audit triggers are statement-level (apps.core.models.audited): one trigger run per
    # statement, still one history row per record it changed, none for a record left as it was.
    patients = PatientFactory.create_batch(3, weight_kg=Decimal("60.0"))
    unchanged = PatientFactory(weight_kg=Decimal("80.0"))
    ids = [p.pk for p in [*patients, unchanged]]
    with pghistory.context(source="bulk-test"), connection.cursor() as cursor:
        cursor.execute("UPDATE patients_patient SET weight_kg = 80.0 WHERE id = ANY(%s)", [ids])
    for patient in patients:
        events = patient_events(patient.pk)
        assert [e.pgh_label for e in events] == ["insert", "update"]
        assert events[-1].pgh_diff["weight_kg"] == [60.0, 80.0]
        assert events[-1].pgh_context == {"source": "bulk-test"}
    assert [e.pgh_label for e in patient_events(unchanged.pk)] == ["insert"]


def test_the_context_lives_in_the_events_only() -> None:
    # pghistory's statement-level SQL would also copy each request's context into its own
    # context table; ours carry it in the event rows, so that table stays empty.
    with pghistory.context(source="test"):
        ObservationFactory()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pghistory_context")
        assert cursor.fetchone() == (0,)


def test_delete_leaves_a_row_with_the_values_before() -> None:
    patient = PatientFactory(mrn="TEST-DEL")
    patient_id = patient.pk
    patient.delete()
    events = patient_events(patient_id)
    assert [e.pgh_label for e in events] == ["insert", "delete"]
    assert events[-1].pgh_data["mrn"] == "TEST-DEL"


def test_history_is_timestamped_in_utc() -> None:
    patient = PatientFactory()
    created = patient_events(patient.pk)[0].pgh_created_at
    assert created.utcoffset().total_seconds() == 0


def test_api_write_records_the_system_user_and_request(token_client) -> None:  # type: ignore[no-untyped-def]
    client = token_client(role="reader", name="ris-main")
    response = client.post(
        "/api/v1/patients/",
        {"mrn": "TEST-API-1", "family_name": "TEST-Api", "sex": "male"},
        format="json",
        HTTP_X_REQUEST_ID="req-123",
    )
    assert response.status_code == 201, response.content
    (event,) = patient_events(response.json()["id"])
    context = event.pgh_context
    assert context["api_system"] == "ris-main"
    assert context["username"] == "api:ris-main"
    assert context["request_id"] == "req-123"
    assert context["method"] == "POST"
    assert context["path"] == "/api/v1/patients/"


def test_browser_admin_write_records_the_user(client, user_with_role) -> None:  # type: ignore[no-untyped-def]
    user = user_with_role("reader", username="reader-1")
    client.force_login(user)
    patient = PatientFactory()
    response = client.post(
        f"/admin/patients/patient/{patient.pk}/change/",
        {
            "mrn": patient.mrn,
            "family_name": "TEST-Edited",
            "given_name": "T",
            "sex": "female",
            "primary_site": "pancreas",
            "histology": "net",
            "pathology-TOTAL_FORMS": 0,
            "pathology-INITIAL_FORMS": 0,
            "biomarkers-TOTAL_FORMS": 0,
            "biomarkers-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    update = patient_events(patient.pk)[-1]
    assert update.pgh_label == "update"
    assert update.pgh_context["username"] == "reader-1"
    assert update.pgh_diff["family_name"][1] == "TEST-Edited"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE patients_patientevent SET mrn = 'forged'",
        "DELETE FROM patients_patientevent",
        "UPDATE imaging_observationevent SET suv_max = 0",
        "DELETE FROM core_accessevent",
        "UPDATE core_accessevent SET username = 'someone-else'",
    ],
)
def test_history_and_access_tables_refuse_update_and_delete(sql: str) -> None:
    ObservationFactory()  # a patient, a study, a lesion and an observation: rows in every table
    AccessEvent.objects.create(patient_id=1, action="test", username="u")
    with (
        pytest.raises(ProgrammingError, match="Cannot update or delete"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)


def test_reading_patient_data_writes_access_events(token_client) -> None:  # type: ignore[no-untyped-def]
    patients = [PatientFactory(), PatientFactory()]
    client = token_client(role="clinician", name="viewer")
    assert client.get("/api/v1/patients/").status_code == 200
    assert client.get(f"/api/v1/patients/{patients[0].pk}/").status_code == 200
    events = list(AccessEvent.objects.order_by("id"))
    assert [(e.patient_id, e.action, e.api_system) for e in events] == [
        (patients[0].pk, "api_read:list", "viewer"),
        (patients[1].pk, "api_read:list", "viewer"),
        (patients[0].pk, "api_read:retrieve", "viewer"),
    ]


def test_the_patient_list_page_writes_access_events(client, user_with_role) -> None:  # type: ignore[no-untyped-def]
    patient = PatientFactory()
    client.force_login(user_with_role("clinician", username="doc"))
    assert client.get("/").status_code == 200
    event = AccessEvent.objects.get()
    assert (event.patient_id, event.username, event.action) == (patient.pk, "doc", "list_patients")


def test_admin_pages_showing_patient_data_write_access_events(client, user_with_role) -> None:  # type: ignore[no-untyped-def]
    observation = ObservationFactory()
    client.force_login(user_with_role("clinician", username="doc"))
    assert client.get("/admin/patients/patient/").status_code == 200
    assert client.get(f"/admin/imaging/observation/{observation.pk}/change/").status_code == 200
    events = [(e.patient_id, e.action) for e in AccessEvent.objects.order_by("id")]
    assert events == [
        (observation.patient_id, "admin_list:patient"),
        (observation.patient_id, "admin_view:observation"),
    ]
