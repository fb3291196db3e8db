"""``follow-ups/`` (API.md; issue 18, part 1): progression, death and last contact records,
their validation (each refusal a 400 naming its field), the database rules behind it,
idempotency, audit, access events and roles."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.models import AccessEvent
from apps.outcomes.models import FollowUp
from apps.scoring.models import PhenotypeAssessment
from tests.factories import PathologyFactory, PatientFactory, StudyFactory
from tests.outcomes.cohort import record, store_assessment

pytestmark = pytest.mark.django_db

URL = "/api/v1/follow-ups/"


def post(client: Any, body: dict[str, Any], **headers: str) -> Any:
    return client.post(URL, body, format="json", **headers)


def test_a_reader_records_each_kind_and_reads_it_back(token_client: Any) -> None:
    client = token_client("reader")
    patient = PatientFactory()
    study = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    progression = post(
        client,
        {
            "patient": patient.pk,
            "kind": "progression",
            "occurred_on": "2024-03-01",
            "basis": "recist",
            "study": study.pk,
        },
    )
    assert progression.status_code == 201, progression.content
    assert progression["ETag"]
    body = progression.json()
    assert {k: body[k] for k in ("kind", "basis", "study", "cause")} == {
        "kind": "progression",
        "basis": "recist",
        "study": study.pk,
        "cause": None,
    }
    contact = post(
        client, {"patient": patient.pk, "kind": "last_contact", "occurred_on": "2024-05-02"}
    )
    assert contact.status_code == 201, contact.content
    death = post(
        client,
        {
            "patient": patient.pk,
            "kind": "death",
            "occurred_on": "2024-06-01",
            "cause": "liver failure",
        },
    )
    assert death.status_code == 201, death.content
    assert death.json()["basis"] is None

    listed = client.get(URL, {"patient": patient.pk})
    assert listed.status_code == 200
    assert [r["kind"] for r in listed.json()["results"]] == ["progression", "last_contact", "death"]
    assert client.get(URL, {"kind": "death", "patient": patient.pk}).json()["count"] == 1
    assert (
        client.get(URL, {"occurred_after": "2024-05-01", "patient": patient.pk}).json()["count"]
        == 2
    )
    assert client.get(URL, {"mrn": patient.mrn}).json()["count"] == 3
    one = client.get(f"{URL}{death.json()['id']}/")
    assert one.status_code == 200
    assert one.json()["cause"] == "liver failure"


def test_writing_a_follow_up_leaves_the_assessment_fresh(token_client: Any) -> None:
    patient = PatientFactory()
    store_assessment(patient, [])
    version = patient.input_version.version
    response = post(
        token_client("reader"),
        {"patient": patient.pk, "kind": "last_contact", "occurred_on": "2024-05-02"},
    )
    assert response.status_code == 201
    patient.input_version.refresh_from_db()
    # Not an input of the rules: no version raised, nothing to recompute.
    assert patient.input_version.version == version
    assert PhenotypeAssessment.objects.filter(patient=patient).exists()


def errors_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return dict(response.json()["errors"])


@pytest.fixture
def patient() -> Any:
    person = PatientFactory()
    PathologyFactory(patient=person, reported_on=date(2022, 1, 10))
    return person


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"kind": "death", "occurred_on": "2022-01-09"}, "occurred_on", "before the diagnosis"),
        ({"kind": "last_contact", "occurred_on": "tomorrow"}, "occurred_on", "in the future"),
        ({"kind": "progression", "occurred_on": "2023-01-01"}, "basis", "needs its basis"),
        (
            {"kind": "death", "occurred_on": "2023-01-01", "basis": "clinical"},
            "basis",
            "Only a progression",
        ),
        (
            {"kind": "progression", "occurred_on": "2023-01-01", "basis": "mri"},
            "basis",
            "valid choice",
        ),
        (
            {"kind": "last_contact", "occurred_on": "2023-01-01", "cause": "stroke"},
            "cause",
            "Only a death",
        ),
        ({"kind": "relapse", "occurred_on": "2023-01-01"}, "kind", "valid choice"),
        ({"kind": "death"}, "occurred_on", "required"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    token_client: Any, patient: Any, body: dict[str, Any], field: str, words: str
) -> None:
    if body.get("occurred_on") == "tomorrow":
        body = {**body, "occurred_on": (timezone.localdate() + timedelta(days=1)).isoformat()}
    errors = errors_of(post(token_client("reader"), {"patient": patient.pk, **body}))
    assert list(errors) == [field]
    assert words in errors[field][0]
    assert not FollowUp.objects.filter(patient=patient).exists()


def test_a_death_before_a_progression_is_refused(token_client: Any, patient: Any) -> None:
    record(patient, "progression", date(2023, 5, 1), basis="percist")
    errors = errors_of(
        post(
            token_client("reader"),
            {"patient": patient.pk, "kind": "death", "occurred_on": "2023-04-30"},
        )
    )
    assert list(errors) == ["occurred_on"]
    assert "progression on 2023-05-01" in errors["occurred_on"][0]


def test_a_death_before_a_last_contact_is_refused(token_client: Any, patient: Any) -> None:
    record(patient, "last_contact", date(2023, 5, 1))
    errors = errors_of(
        post(
            token_client("reader"),
            {"patient": patient.pk, "kind": "death", "occurred_on": "2023-04-30"},
        )
    )
    assert list(errors) == ["occurred_on"]


@pytest.mark.parametrize("kind", ["progression", "last_contact"])
def test_nothing_is_recorded_after_the_death(token_client: Any, patient: Any, kind: str) -> None:
    record(patient, "death", date(2023, 5, 1))
    body = {"patient": patient.pk, "kind": kind, "occurred_on": "2023-05-02"}
    if kind == "progression":
        body["basis"] = "clinical"
    errors = errors_of(post(token_client("reader"), body))
    assert list(errors) == ["occurred_on"]
    assert "after the patient's death on 2023-05-01" in errors["occurred_on"][0]
    # On the day of the death itself is allowed.
    assert (
        post(token_client("reader", name="b"), {**body, "occurred_on": "2023-05-01"}).status_code
        == 201
    )


def test_a_second_death_is_refused(token_client: Any, patient: Any) -> None:
    first = record(patient, "death", date(2023, 5, 1))
    errors = errors_of(
        post(
            token_client("reader"),
            {"patient": patient.pk, "kind": "death", "occurred_on": "2023-05-01"},
        )
    )
    assert list(errors) == ["kind"]
    assert f"follow-up {first.pk}" in errors["kind"][0]


def test_every_bad_field_is_named_at_once(token_client: Any, patient: Any) -> None:
    record(patient, "death", date(2023, 5, 1))
    study = StudyFactory(patient=patient)
    errors = errors_of(
        post(
            token_client("reader"),
            {
                "patient": patient.pk,
                "kind": "death",
                "occurred_on": "2023-06-01",
                "basis": "recist",
                "study": study.pk,
            },
        )
    )
    assert set(errors) == {"kind", "basis", "study"}


def test_the_study_is_the_patients_own(token_client: Any, patient: Any) -> None:
    other = StudyFactory()
    errors = errors_of(
        post(
            token_client("reader"),
            {
                "patient": patient.pk,
                "kind": "progression",
                "occurred_on": "2024-03-01",
                "basis": "recist",
                "study": other.pk,
            },
        )
    )
    assert list(errors) == ["study"]
    assert "another patient's" in errors["study"][0]


def test_a_change_is_checked_as_a_new_record(token_client: Any, patient: Any) -> None:
    client = token_client("reader")
    record(patient, "progression", date(2023, 5, 1), basis="clinical")
    death = record(patient, "death", date(2023, 6, 1))
    url = f"{URL}{death.pk}/"
    etag = client.get(url)["ETag"]
    errors = errors_of(
        client.patch(url, {"occurred_on": "2023-04-01"}, format="json", HTTP_IF_MATCH=etag)
    )
    assert list(errors) == ["occurred_on"]
    changed = client.patch(url, {"cause": "sepsis"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] != etag
    # The old tag no longer matches.
    assert client.patch(url, {"cause": ""}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    # A blank cause is no cause.
    cleared = client.patch(url, {"cause": ""}, format="json")
    assert cleared.json()["cause"] is None


def test_a_reader_deletes_a_record_recorded_by_mistake(token_client: Any, patient: Any) -> None:
    death = record(patient, "death", date(2023, 6, 1))
    assert token_client("reader").delete(f"{URL}{death.pk}/").status_code == 204
    assert not FollowUp.objects.filter(pk=death.pk).exists()
    # The death gone, a later contact may be recorded.
    record(patient, "last_contact", date(2023, 7, 1))


def test_a_study_named_by_a_progression_is_not_deleted_under_it(
    token_client: Any, patient: Any
) -> None:
    study = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
    record(patient, "progression", date(2024, 3, 1), basis="recist", study=study)
    response = token_client("reader").delete(f"/api/v1/studies/{study.pk}/")
    assert response.status_code == 409
    # Deleting the patient deletes both.
    assert (
        token_client("reader", name="b").delete(f"/api/v1/patients/{patient.pk}/").status_code
        == 204
    )
    assert not FollowUp.objects.exists()


@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"kind": "death", "basis": "recist"}, "followup_basis_on_progression_only"),
        ({"kind": "progression"}, "followup_basis_on_progression_only"),
        ({"kind": "last_contact", "cause": "stroke"}, "followup_cause_on_death_only"),
        ({"kind": "death", "cause": ""}, "followup_cause_on_death_only"),
        ({"kind": "unknown"}, "followup_kind_valid"),
    ],
)
def test_the_database_holds_the_rules_too(patient: Any, values: dict[str, Any], rule: str) -> None:
    with pytest.raises(IntegrityError, match=rule), transaction.atomic():
        FollowUp.objects.create(patient=patient, occurred_on=date(2023, 1, 1), **values)


def test_the_database_holds_one_death_per_patient(patient: Any) -> None:
    FollowUp.objects.create(patient=patient, kind="death", occurred_on=date(2023, 1, 1))
    with (
        pytest.raises(IntegrityError, match="followup_one_death_per_patient"),
        transaction.atomic(),
    ):
        FollowUp.objects.create(patient=patient, kind="death", occurred_on=date(2023, 2, 1))


def test_the_database_holds_the_study_on_the_same_patient(patient: Any) -> None:
    other = StudyFactory()
    with pytest.raises(IntegrityError, match="followup_study_same_patient"), transaction.atomic():
        FollowUp.objects.create(
            patient=patient,
            kind="progression",
            basis="recist",
            study=other,
            occurred_on=date(2024, 3, 1),
        )
    with (
        pytest.raises(IntegrityError, match="followup_study_on_progression_only"),
        transaction.atomic(),
    ):
        FollowUp.objects.create(
            patient=other.patient, kind="death", study=other, occurred_on=date(2024, 3, 1)
        )


def test_a_post_with_an_idempotency_key_is_done_once(token_client: Any, patient: Any) -> None:
    client = token_client("reader")
    body = {"patient": patient.pk, "kind": "death", "occurred_on": "2024-01-02"}
    first = post(client, body, HTTP_IDEMPOTENCY_KEY="death-of-1")
    again = post(client, body, HTTP_IDEMPOTENCY_KEY="death-of-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert FollowUp.objects.filter(patient=patient).count() == 1
    other = post(client, {**body, "occurred_on": "2024-01-03"}, HTTP_IDEMPOTENCY_KEY="death-of-1")
    assert other.status_code == 422
    # Without the key it is a second death: refused, naming kind.
    assert list(errors_of(post(client, body))) == ["kind"]


def test_writes_are_audited_and_reads_are_access_events(token_client: Any, patient: Any) -> None:
    created = post(
        token_client("reader"),
        {"patient": patient.pk, "kind": "last_contact", "occurred_on": "2024-01-02"},
    )
    assert created.status_code == 201
    auditor = token_client("auditor", name="aud")
    audit = auditor.get("/api/v1/audit/", {"object": f"follow-ups:{created.json()['id']}"})
    assert audit.status_code == 200, audit.content
    entries = audit.json()["results"]
    assert [e["operation"] for e in entries] == ["insert"]
    assert entries[0]["resource"] == "follow-ups"
    by_patient = auditor.get("/api/v1/audit/", {"patient": patient.pk}).json()["results"]
    assert "follow-ups" in {e["resource"] for e in by_patient}

    before = AccessEvent.objects.filter(patient_id=patient.pk).count()
    assert token_client("clinician", name="c").get(URL, {"patient": patient.pk}).status_code == 200
    assert AccessEvent.objects.filter(patient_id=patient.pk).count() == before + 1


@pytest.mark.parametrize(
    ("role", "can_write"),
    [
        ("reader", True),
        ("admin", True),
        ("clinician", False),
        ("coordinator", False),
        ("auditor", False),
    ],
)
def test_readers_write_follow_ups_and_every_role_reads_them(
    token_client: Any, patient: Any, role: str, can_write: bool
) -> None:
    existing = record(patient, "last_contact", date(2023, 1, 1))
    client = token_client(role)
    created = post(
        client, {"patient": patient.pk, "kind": "last_contact", "occurred_on": "2023-02-01"}
    )
    assert (created.status_code == 201) is can_write, created.content
    changed = client.patch(f"{URL}{existing.pk}/", {"occurred_on": "2023-01-02"}, format="json")
    assert (changed.status_code == 200) is can_write
    deleted = client.delete(f"{URL}{existing.pk}/")
    assert (deleted.status_code == 204) is can_write
    assert client.get(URL).status_code == 200


def test_progressions_are_suggested_from_the_stored_response(
    token_client: Any, patient: Any
) -> None:
    pd = StudyFactory(patient=patient, performed_on=date(2024, 3, 1), tracer="none", modality="ct")
    pmd = StudyFactory(patient=patient, performed_on=date(2024, 4, 1), tracer="f18_fdg")
    stable = StudyFactory(
        patient=patient, performed_on=date(2024, 2, 1), tracer="none", modality="ct"
    )
    assessment = store_assessment(patient, [])
    assessment.response = {
        "recist": [
            {"study": stable.pk, "performed_on": "2024-02-01", "category": "SD"},
            {"study": pd.pk, "performed_on": "2024-03-01", "category": "PD"},
        ],
        "percist": [{"study": pmd.pk, "performed_on": "2024-04-01", "category": "PMD"}],
    }
    assessment.save()
    client = token_client("reader")
    response = client.get(f"{URL}suggestions/", {"patient": patient.pk})
    assert response.status_code == 200, response.content
    assert response.json() == [
        {"study": pd.pk, "occurred_on": "2024-03-01", "basis": "recist", "category": "PD"},
        {"study": pmd.pk, "occurred_on": "2024-04-01", "basis": "percist", "category": "PMD"},
    ]
    # Once confirmed (recorded), a suggestion is gone.
    record(patient, "progression", date(2024, 3, 1), basis="recist", study=pd)
    assert [
        s["study"] for s in client.get(f"{URL}suggestions/", {"patient": patient.pk}).json()
    ] == [pmd.pk]
    assert list(errors_of(client.get(f"{URL}suggestions/"))) == ["patient"]
