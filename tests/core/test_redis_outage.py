"""A real Redis (cache and broker) stopped under a running stack — web server, two workers and
beat — and started again (issue 13): every write lands, reads and pages answer, the health
check says ``broker: down`` with 200, and once Redis is back every assessment turns fresh with
the right grade, although Redis (kept nothing on disk) lost the messages queued before."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.factories import UserFactory
from tests.processes import (  # noqa: F401 - redis_server is a fixture
    Api,
    RedisServer,
    Stack,
    fresh,
    redis_server,
    wait_for,
    write_dual_tracer_patient,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


class Browser:
    """A signed-in browser session over HTTP (cookies, the login form's CSRF token)."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        form = self.get("/accounts/login/")[1]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token, form
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
        ).encode()
        status, page = self.get("/accounts/login/", body)
        assert status == 200 and "Sign out" in page, page[:500]

    def get(self, path: str, body: bytes | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, data=body)  # noqa: S310 - loopback
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def test_redis_stopped_and_started_again_loses_nothing(
    stack: Stack,
    redis_server: RedisServer,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    redis_env = {"REDIS_URL": redis_server.url, "CELERY_BROKER_URL": redis_server.url}
    # A queued mark counts as pending for 10 minutes: only the sweeper's sentinel can tell
    # that Redis lost the message behind it.
    env = {**redis_env, "CELERY_VISIBILITY_TIMEOUT": "600"}
    beat = ["--beat", "--schedule", str(tmp_path / "beat")]
    api = stack.web(**env)
    UserFactory(username="outage-clinician", role="clinician")
    browser = Browser(api.base, "outage-clinician", "pw-for-tests-only")
    first, second = stack.worker(*beat, **env), stack.worker(**env)
    before = write_dual_tracer_patient(api, "OUTAGE-1")
    wait_for(lambda: fresh(api, before["patient"]), what="fresh before the outage")

    # A message waits in Redis when it stops: one worker gone, the other frozen.
    Stack.kill(first)
    os.killpg(second.pid, signal.SIGSTOP)
    queued = write_dual_tracer_patient(api, "OUTAGE-Q")
    assert api.phenotype(queued["patient"])["status"] == "pending"
    redis_server.stop()
    os.killpg(second.pid, signal.SIGCONT)  # it finds its broker gone

    during = write_dual_tracer_patient(api, "OUTAGE-2")  # asserts every write is 201
    status, _ = api.call("PATCH", f"/api/v1/patients/{during['patient']}/", {"weight_kg": "70.0"})
    assert status == 200
    status, listed = api.call("GET", "/api/v1/patients/?limit=10")
    assert status == 200 and listed["count"] == 3
    assert api.phenotype(during["patient"])["status"] == "stale"
    assert api.phenotype(before["patient"])["status"] == "fresh"
    assert browser.get("/")[0] == 200
    status, page = browser.get(f"/patients/{before['patient']}/")
    assert status == 200 and "P1" in page
    status, health = api.call("GET", "/health/")
    assert status == 200 and health == {"status": "ok", "database": "ok", "broker": "down"}

    redis_server.start()  # empty: the queued message is lost
    stack.worker(*beat, **env)
    for patient in (during["patient"], queued["patient"]):
        body = wait_for(lambda p=patient: fresh(api, p), timeout=90, what="caught up")
        assert body["timepoints"][0]["netpet"]["grade"] == "P1"
    assert fresh(api, before["patient"]) is not None
    web_log = next(stack.logs.glob("*runserver*.log")).read_text(errors="replace")
    assert "Traceback" not in web_log
    assert web_log.count("cache unavailable") == 1
    assert web_log.count("recomputes are left stale for the sweeper") == 1
