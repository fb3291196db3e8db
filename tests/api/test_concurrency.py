"""ETag / If-Match (412) and Idempotency-Key (replay, 422) on the clinical API (API.md)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.core.models import IdempotencyKey
from apps.core.tokens import api_token_create
from apps.imaging.models import Lesion, Observation
from apps.patients.models import Patient
from tests.factories import LesionFactory, ObservationFactory, PatientFactory, StudyFactory

PATIENT = {
    "mrn": "IDEM-1",
    "family_name": "Key",
    "given_name": "Ida",
    "birth_date": "1970-05-04",
    "sex": "female",
    "primary_site": "pancreas",
    "histology": "net",
}


# --- ETag / If-Match --------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_single_record_response_carries_an_etag_that_changes_on_write(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    created = client.post("/api/v1/patients/", PATIENT, format="json")
    assert created.status_code == 201
    first = created["ETag"]
    url = f"/api/v1/patients/{created.json()['id']}/"
    assert client.get(url)["ETag"] == first
    changed = client.patch(url, {"weight_kg": "71.0"}, format="json", HTTP_IF_MATCH=first)
    assert changed.status_code == 200
    assert changed["ETag"] != first
    assert client.get(url)["ETag"] == changed["ETag"]


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_a_stale_if_match_is_412_and_changes_nothing(
    token_client: Callable[..., APIClient], method: str
) -> None:
    client = token_client("reader")
    lesion = LesionFactory(label="Segment 4")
    url = f"/api/v1/lesions/{lesion.pk}/"
    old = client.get(url)["ETag"]
    assert client.patch(url, {"label": "Segment 4a"}, format="json").status_code == 200
    body = {"patient": lesion.patient_id, "label": "Segment 8", "site": "liver"}
    response = getattr(client, method)(url, body, format="json", HTTP_IF_MATCH=old)
    assert response.status_code == 412
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["status"] == 412
    assert Lesion.objects.get(pk=lesion.pk).label == "Segment 4a"


@pytest.mark.django_db
def test_if_match_star_and_lists(token_client: Callable[..., APIClient]) -> None:
    client = token_client("reader")
    lesion = LesionFactory()
    url = f"/api/v1/lesions/{lesion.pk}/"
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"nodal": True}, format="json", HTTP_IF_MATCH="*").status_code == 200
    etag = client.get(url)["ETag"]
    listed = f'"nope", {etag}'
    assert (
        client.patch(url, {"nodal": False}, format="json", HTTP_IF_MATCH=listed).status_code == 200
    )


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_patches_with_one_etag_exactly_one_succeeds() -> None:
    _token, key = api_token_create(name="his-race", role="reader")
    patient = PatientFactory()
    url = f"/api/v1/patients/{patient.pk}/"
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    etag = reader.get(url)["ETag"]
    start = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def patch(n: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait()
            response = client.patch(
                url, {"weight_kg": f"{60 + n}.0"}, format="json", HTTP_IF_MATCH=etag
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=patch, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [412] * 19
    assert Patient.objects.get(pk=patient.pk).weight_kg is not None


# --- Idempotency-Key --------------------------------------------------------------------------


@pytest.mark.django_db
def test_same_key_same_body_replays_the_first_response(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    key = str(uuid.uuid4())
    first = client.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    # Same content, other key order: the same request.
    again = client.post(
        "/api/v1/patients/", dict(reversed(list(PATIENT.items()))), format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )  # fmt: skip
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Patient.objects.filter(mrn="IDEM-1").count() == 1


@pytest.mark.django_db
def test_same_key_other_body_is_422_and_writes_nothing(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    key = "order-4711"
    assert client.post(
        "/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY=key
    ).status_code == 201  # fmt: skip
    other = client.post(
        "/api/v1/patients/", {**PATIENT, "mrn": "IDEM-2"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert other.status_code == 422
    assert other["Content-Type"].startswith("application/problem+json")
    assert not Patient.objects.filter(mrn="IDEM-2").exists()


@pytest.mark.django_db
def test_keys_belong_to_one_system(token_client: Callable[..., APIClient]) -> None:
    key = "shared-key"
    one, two = token_client("reader", "his-one"), token_client("reader", "his-two")
    first = one.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201
    second = two.post(
        "/api/v1/patients/", {**PATIENT, "mrn": "IDEM-3"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert second.status_code == 201


@pytest.mark.django_db
def test_a_refused_request_is_not_stored_so_the_corrected_one_goes_through(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    key = "retry-me"
    bad = client.post(
        "/api/v1/patients/", {**PATIENT, "sex": "x"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert bad.status_code == 400
    good = client.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert good.status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "naïve"])
def test_a_malformed_key_is_400_naming_the_header(
    token_client: Callable[..., APIClient], key: str
) -> None:
    response = token_client("reader").post(
        "/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Patient.objects.exists()


@pytest.mark.django_db
def test_keys_expire_after_24_hours(token_client: Callable[..., APIClient]) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from apps.core.idempotency import purge_expired

    client = token_client("reader")
    client.post("/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))
    again = client.post(
        "/api/v1/patients/", {**PATIENT, "mrn": "IDEM-9"}, format="json", HTTP_IDEMPOTENCY_KEY="old"
    )
    assert again.status_code == 201  # a new request: the old key is forgotten
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_expired() == 1


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_identical_posts_make_one_record() -> None:
    _token, key = api_token_create(name="his-burst", role="reader")
    start = threading.Barrier(10)
    responses: list[Any] = []
    lock = threading.Lock()

    def post() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait()
            response = client.post(
                "/api/v1/patients/", PATIENT, format="json", HTTP_IDEMPOTENCY_KEY="burst-1"
            )
            with lock:
                responses.append(response)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    assert Patient.objects.filter(mrn="IDEM-1").count() == 1


# --- The complete read ------------------------------------------------------------------------


@pytest.mark.django_db
def test_put_a_complete_read_replaces_the_observations(
    token_client: Callable[..., APIClient], django_assert_max_num_queries: Any
) -> None:
    client = token_client("reader")
    study = StudyFactory()
    kept, dropped, added = (LesionFactory(patient=study.patient) for _ in range(3))
    kept_obs = ObservationFactory(study=study, lesion=kept, krenning_visual=2)
    ObservationFactory(study=study, lesion=dropped)
    url = f"/api/v1/studies/{study.pk}/observations/"
    etag = client.get(f"/api/v1/studies/{study.pk}/")["ETag"]
    body = [
        {"lesion": kept.pk, "suv_max": "22.5", "krenning_visual": 4},
        {"lesion": added.pk, "state": "not_seen"},
    ]
    response = client.put(url, body, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200, response.content
    rows = {row["lesion"]: row for row in response.json()}
    assert set(rows) == {kept.pk, added.pk}
    assert rows[kept.pk]["id"] == kept_obs.pk  # updated in place
    assert rows[kept.pk]["krenning_visual"] == 4
    assert rows[kept.pk]["krenning_computed"] == 4  # 22.5 > spleen 18
    assert response["ETag"] != etag
    assert not Observation.objects.filter(lesion=dropped).exists()
    # The old ETag no longer matches.
    assert client.put(url, body, format="json", HTTP_IF_MATCH=etag).status_code == 412


@pytest.mark.django_db
def test_put_a_complete_read_stores_every_column_of_every_updated_row(
    token_client: Callable[..., APIClient],
) -> None:
    # The update sends one array per column (apps.imaging.services._update_rows): each value
    # must land in its own row and column, NULLs included.
    study = StudyFactory()
    first, second = (LesionFactory(patient=study.patient) for _ in range(2))
    for lesion in (first, second):
        ObservationFactory(study=study, lesion=lesion, krenning_visual=1, target=True)
    body = [
        {
            "lesion": first.pk,
            "state": "scored",
            "suv_max": "31.250",
            "suv_peak": "20.5",
            "krenning_visual": 4,
            "krenning_min": 3,
            "krenning_max": 4,
            "fdg_visual": None,
            "fdg_vs_sstr": "lower",
            "long_axis_mm": "42.5",
            "short_axis_mm": "30.0",
            "volume_ml": "12.75",
            "heterogeneous": True,
            "target": False,
        },
        {"lesion": second.pk, "state": "not_seen"},
    ]
    url = f"/api/v1/studies/{study.pk}/observations/"
    assert token_client("reader").put(url, body, format="json").status_code == 200
    stored = {
        obs.lesion_id: obs for obs in Observation.objects.filter(study=study).order_by("lesion")
    }
    one, two = stored[first.pk], stored[second.pk]
    assert (one.state, one.suv_max, one.suv_peak) == ("scored", Decimal("31.25"), Decimal("20.5"))
    assert (one.krenning_visual, one.krenning_min, one.krenning_max) == (4, 3, 4)
    assert (one.fdg_visual, one.fdg_vs_sstr) == (None, "lower")
    assert (one.long_axis_mm, one.short_axis_mm, one.volume_ml) == (
        Decimal("42.5"),
        Decimal("30.0"),
        Decimal("12.75"),
    )
    assert (one.heterogeneous, one.target) == (True, False)
    assert (two.state, two.suv_max, two.krenning_visual, two.target) == (
        "not_seen",
        None,
        None,
        False,
    )


@pytest.mark.django_db
def test_put_a_read_with_a_bad_item_writes_nothing_and_names_index_and_field(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    study = StudyFactory()
    lesions = [LesionFactory(patient=study.patient) for _ in range(3)]
    foreign = LesionFactory()  # another patient's lesion
    ObservationFactory(study=study, lesion=lesions[0], krenning_visual=2)
    body = [
        {"lesion": lesions[0].pk, "krenning_visual": 3},
        {"lesion": lesions[1].pk, "suv_max": "-1"},
        {"lesion": foreign.pk},
        {"lesion": lesions[0].pk},
        {"lesion": lesions[2].pk, "state": "maybe"},
    ]
    response = client.put(f"/api/v1/studies/{study.pk}/observations/", body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"1.suv_max", "2.lesion", "3.lesion", "4.state"}
    assert Observation.objects.get(study=study).krenning_visual == 2
    assert Observation.objects.filter(study=study).count() == 1


@pytest.mark.django_db
def test_put_a_read_that_is_not_a_list_is_400(token_client: Callable[..., APIClient]) -> None:
    study = StudyFactory()
    response = token_client("reader").put(
        f"/api/v1/studies/{study.pk}/observations/", {"lesion": 1}, format="json"
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize("size", [5, 40])
def test_put_a_read_takes_the_same_queries_whatever_its_size(
    token_client: Callable[..., APIClient], django_assert_max_num_queries: Any, size: int
) -> None:
    client = token_client("reader")
    study = StudyFactory()
    lesions = [LesionFactory(patient=study.patient) for _ in range(size)]
    for lesion in lesions[: size // 2]:
        ObservationFactory(study=study, lesion=lesion)
    body = [{"lesion": lesion.pk, "suv_max": "9.5"} for lesion in lesions]
    with django_assert_max_num_queries(20):
        response = client.put(f"/api/v1/studies/{study.pk}/observations/", body, format="json")
    assert response.status_code == 200
    assert Observation.objects.filter(study=study, suv_max="9.5").count() == size


@pytest.mark.django_db
def test_an_auditor_cannot_put_a_read(token_client: Callable[..., APIClient]) -> None:
    study = StudyFactory()
    response = token_client("auditor").put(
        f"/api/v1/studies/{study.pk}/observations/", [], format="json"
    )
    assert response.status_code == 403
