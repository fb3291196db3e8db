"""Redis is a helper, PostgreSQL the source of truth (issue 13): with Redis unreachable the cache
fails open (rate limits let requests through, pages render afresh), writes land and leave their
patients stale for the sweeper, and all of it is logged at most once a minute.

These tests point the cache and broker at a port where nothing listens (a real connection
refused); tests/core/test_redis_outage.py stops a real Redis under a running stack."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
import redis
from django.core.cache import caches
from django.test import Client, override_settings
from rest_framework.test import APIClient

from apps.core import cache as fail_open
from apps.core.outages import forget_warnings
from apps.scoring import queue, services
from apps.scoring.models import InputVersion
from tests.factories import PatientFactory, three_liver_lesions
from tests.processes import free_port

LIVE_REDIS = "redis://127.0.0.1:6379/15"


def _cache_at(url: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "apps.core.cache.FailOpenRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.fixture
def dead_cache() -> Iterator[None]:
    """The default cache on a port where nothing listens."""
    forget_warnings()
    with override_settings(CACHES=_cache_at(f"redis://127.0.0.1:{free_port()}/0")):
        caches["default"].close()  # the next call builds a client for the new settings
        yield
    caches["default"].close()


def test_a_cache_that_cannot_connect_answers_as_an_empty_cache(
    dead_cache: None, caplog: pytest.LogCaptureFixture
) -> None:
    cache = caches["default"]
    with caplog.at_level(logging.WARNING, "apps.core.cache"):
        assert cache.get("k", "fallback") == "fallback"
        cache.set("k", "v")
        assert cache.get("k") is None
        assert cache.add("k", "v") is False
        assert cache.get_many(["k", "l"]) == {}
        assert cache.has_key("k") is False
        assert cache.incr("counter", 3) == 3
        assert cache.delete("k") is False
        cache.set_many({"a": 1})
        cache.delete_many(["a"])
        assert cache.touch("k") is False
        assert cache.clear() is False
    assert caplog.text.count("cache unavailable (ConnectionError)") == 1


def test_after_a_failure_redis_is_left_alone_for_a_while_then_tried_again(
    dead_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = []
    real_get = fail_open.RedisCacheClient.get

    def counted(self: Any, key: Any, default: Any) -> Any:
        attempts.append(key)
        return real_get(self, key, default)

    monkeypatch.setattr(fail_open.RedisCacheClient, "get", counted)
    now = [1000.0]
    monkeypatch.setattr(fail_open.time, "monotonic", lambda: now[0])
    cache = caches["default"]
    assert cache.get("a") is None
    assert cache.get("b") is None  # not tried: inside RETRY_SECONDS of the failure
    assert len(attempts) == 1
    now[0] += fail_open.RETRY_SECONDS + 0.1
    assert cache.get("c") is None
    assert len(attempts) == 2


def test_a_live_redis_is_used_as_usual() -> None:
    with override_settings(CACHES=_cache_at(LIVE_REDIS)):
        cache = caches["default"]
        key = f"test-{uuid.uuid4().hex}"
        try:
            cache.set(key, {"x": 1}, 30)
            assert cache.get(key) == {"x": 1}
            assert cache.add(key + "-n", 0) is True
            assert cache.incr(key + "-n", 2) == 2
            assert cache.get(key + "-n") == 2
        finally:
            cache.delete_many([key, key + "-n"])
            cache.close()


@pytest.mark.django_db
def test_redis_down_the_api_and_pages_answer_and_rate_limits_fail_open(
    dead_cache: None,
    token_client: Callable[..., APIClient],
    as_role: Callable[..., Client],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The throttles read their counters from the cache: today's 500 on every request."""
    patient = three_liver_lesions(PatientFactory())
    api, browser = token_client(), as_role("clinician")
    with caplog.at_level(logging.WARNING):
        assert api.get("/api/v1/patients/").status_code == 200
        created = api.post(
            "/api/v1/patients/", {"mrn": "REDIS-1", "family_name": "Cache"}, format="json"
        )
        assert created.status_code == 201, created.content
        assert api.get(f"/api/v1/patients/{patient.pk}/phenotype/").status_code == 200
        page = browser.get(f"/patients/{patient.pk}/")
        assert page.status_code == 200
        assert "timeline" in page.content.decode().lower()
        assert browser.get("/").status_code == 200
    assert caplog.text.count("cache unavailable") == 1


# --- The broker ---------------------------------------------------------------------------


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A configured broker (not eager) that refuses every publish; yields the attempts."""
    from kombu.exceptions import OperationalError

    from apps.scoring.tasks import recompute_patient

    attempts: list[int] = []

    def refuse(args: tuple[int], **options: Any) -> None:
        attempts.append(args[0])
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    forget_warnings()
    monkeypatch.setattr(recompute_patient, "apply_async", refuse)
    monkeypatch.setitem(recompute_patient.app.conf, "task_always_eager", False)
    monkeypatch.setattr(queue, "_broker_unavailable_until", 0.0)
    yield attempts


@pytest.mark.django_db
def test_with_the_broker_down_writes_leave_patients_stale_without_waiting_on_it_each_time(
    broker_down: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = PatientFactory(), PatientFactory()
    InputVersion.objects.update(queued_at=None)
    with caplog.at_level(logging.WARNING, "apps.scoring.services"):
        assert queue.enqueue_recompute(first.pk) is False
        assert queue.enqueue_recompute(second.pk) is False
    assert broker_down == [first.pk]  # the second was not tried: the broker just failed
    assert not InputVersion.objects.filter(queued_at__isnull=False).exists()
    assert services.phenotype_body(second.pk)["status"] == "stale"
    assert caplog.text.count("broker unavailable") == 1
    assert first.mrn not in caplog.text


@pytest.mark.django_db
def test_the_sweeper_queues_again_what_a_restarted_broker_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Redis restarted without persistence keeps no message: the sentinel key is gone with
    them, and every queued mark is queued again at once instead of after the pending window."""
    sent: list[int] = []
    from apps.scoring.tasks import recompute_patient

    monkeypatch.setattr(recompute_patient, "apply_async", lambda args, **o: sent.append(args[0]))
    monkeypatch.setattr(queue, "BROKER_SENTINEL", f"test-sentinel-{uuid.uuid4().hex}")
    patient = PatientFactory()
    InputVersion.objects.filter(patient=patient).update(queued_at=services.timezone.now())
    with override_settings(CELERY_BROKER_URL=LIVE_REDIS):
        client = redis.Redis.from_url(LIVE_REDIS)
        try:
            assert queue.sweep_stale() == 1  # no sentinel yet: the queued mark is not trusted
            assert sent == [patient.pk]
            InputVersion.objects.filter(patient=patient).update(queued_at=services.timezone.now())
            assert queue.sweep_stale() == 0  # the sentinel is there: the mark stands
            client.delete(queue.BROKER_SENTINEL)  # what a restart does
            assert queue.sweep_stale() == 1
            assert sent == [patient.pk, patient.pk]
        finally:
            client.delete(queue.BROKER_SENTINEL)


@pytest.mark.django_db
def test_the_sweeper_trusts_the_marks_when_the_broker_cannot_be_asked() -> None:
    with (
        override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"),
        mock.patch.object(queue, "_send", return_value=0),
    ):
        assert queue._broker_lost_its_messages() is False
