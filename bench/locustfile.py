"""Locust users for the load test (run by bench/bench_load.py, which starts the stack and seeds it).

Three kinds of user, on the loopback only:

- ``Reader``: signs in at /accounts/login/ and saves rows of the study grid as static/js/grid.js
  does: opens /studies/<id>/ (the page gives the CSRF token and, per lesion, the observation
  and its ETag), then ``POST /api/v1/observations/`` with an ``Idempotency-Key`` for a lesion not
  recorded yet (sometimes sent twice, as after a lost connection) or ``PATCH
  /api/v1/observations/<id>/`` with ``If-Match``; a 412 (someone else saved the row) or a
  lesion recorded meanwhile reads theirs and goes on. Now and then adds a lesion.
- ``Clinician``: signs in and opens patient pages (``GET /patients/<id>/``), polling
  ``/patients/<id>/status/`` every 2 s while the page says ``pending``, as htmx does.
- ``Integrator``: a hospital system with a token: ``POST /api/v1/studies/``, ``POST
  /api/v1/observations/`` for two lesions, then ``PUT /api/v1/studies/<id>/observations/`` with
  the complete read (its own new study only, so it never removes a reader's rows).

Requests are named per kind (ids as ``[id]``), so the statistics group per kind. The seed comes
from the JSON file named by LOAD_SEED; at the end the ids of every observation write that was
acknowledged (200/201), every 5xx and the statistics per kind are written to the JSON file named
by LOAD_REPORT.
"""

from __future__ import annotations

import html
import itertools
import json
import os
import random
import re
import time
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlencode, urlsplit

from locust import FastHttpUser, between, events, task

SEED: dict[str, Any] = json.loads(open(os.environ["LOAD_SEED"]).read())  # noqa: SIM115
REPORT_PATH = os.environ["LOAD_REPORT"]

ACKNOWLEDGED: set[int] = set()  # observation ids that a 200/201 answered
SERVER_ERRORS: list[dict[str, Any]] = []  # every 5xx: method, path, status, name, request id
CONNECTION_ERRORS: list[dict[str, Any]] = []  # no HTTP answer at all
OUTCOMES: Counter[str] = Counter()  # conflicts and other handled answers, for the summary

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_GRID_CONFIG = re.compile(r'<script id="grid-config" type="application/json">(.*?)</script>', re.S)
_STATUS_POLL = re.compile(r'hx-get="([^"]*/status/[^"]*)"')
_readers = itertools.count()
_clinicians = itertools.count()


@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response: Any = None,
    exception: Any = None,
    url: str | None = None,
    **_: Any,
) -> None:
    status = getattr(response, "status_code", 0) or 0
    parts = urlsplit(url or "")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if status >= 500:
        headers = getattr(response, "headers", None) or {}
        SERVER_ERRORS.append(
            {
                "method": request_type,
                "path": path,
                "status": status,
                "name": name,
                "request_id": headers.get("X-Request-ID", ""),
                "body": (getattr(response, "text", "") or "")[:300],
            }
        )
    elif status == 0 and exception is not None:
        CONNECTION_ERRORS.append(
            {"method": request_type, "path": path, "name": name, "error": repr(exception)[:300]}
        )


_ENVIRONMENT: list[Any] = []


@events.init.add_listener
def _keep_environment(environment: Any, **_: Any) -> None:
    _ENVIRONMENT.append(environment)


def _entry(entry: Any) -> dict[str, Any]:
    return {
        "method": entry.method,
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "p50": entry.get_response_time_percentile(0.5),
        "p95": entry.get_response_time_percentile(0.95),
        "p99": entry.get_response_time_percentile(0.99),
        "max": entry.max_response_time,
        "rps": entry.total_rps,
    }


@events.quit.add_listener
def _write_report(**_: Any) -> None:
    """After the last user stopped: the statistics per kind, and what the clients saw."""
    stats = _ENVIRONMENT[0].stats
    with open(REPORT_PATH, "w") as out:
        json.dump(
            {
                "kinds": [_entry(e) for _key, e in sorted(stats.entries.items())],
                "total": _entry(stats.total),
                "seconds": (stats.last_request_timestamp or 0) - (stats.start_time or 0),
                "acknowledged": sorted(ACKNOWLEDGED),
                "server_errors": SERVER_ERRORS,
                "connection_errors": CONNECTION_ERRORS,
                "outcomes": dict(OUTCOMES),
                "failures": [
                    {
                        "method": e.method,
                        "name": e.name,
                        "error": str(e.error),
                        "count": e.occurrences,
                    }
                    for e in stats.errors.values()
                ],
            },
            out,
        )


def _expect(response: Any, *statuses: int) -> bool:
    """Mark a response of a ``catch_response`` request: success for the statuses named."""
    if response.status_code in statuses:
        response.success()
        return True
    response.failure(f"{response.status_code}: {(response.text or '')[:200]}")
    return False


def _row_values(kind: str) -> dict[str, Any]:
    """A whole row of the grid, as grid.js sends it (every field, empty ones as null)."""
    fdg = kind == "FDG"
    return {
        "state": "scored",
        "suv_max": f"{random.uniform(1.0, 12.0 if fdg else 45.0):.1f}",
        "suv_peak": None,
        "krenning_visual": random.randint(0, 3 if fdg else 4),
        "fdg_visual": random.choice(["positive", "negative"]) if fdg else None,
        "fdg_vs_sstr": None,
        "long_axis_mm": str(random.randint(8, 60)),
        "short_axis_mm": None,
        "heterogeneous": random.random() < 0.2,
        "target": False,
    }


class _Browser(FastHttpUser):
    """A person in a browser: session login, CSRF token from the page."""

    abstract = True
    role = ""
    csrf = ""

    def login(self, username: str, password: str) -> None:
        page = self.client.get("/accounts/login/", name="GET /accounts/login/")
        token = _CSRF_INPUT.search(page.text or "")
        body = urlencode(
            {
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "next": "/",
            }
        )
        with self.client.post(
            "/accounts/login/",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
            name="POST /accounts/login/",
            catch_response=True,
        ) as answer:
            _expect(answer, 302)

    def api(self, method: str, path: str, name: str, body: Any = None, **headers: str) -> Any:
        """A fetch() of grid.js: JSON, the session cookie and the X-CSRFToken header."""
        return self.client.request(
            method,
            path,
            data=json.dumps(body) if body is not None else None,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-CSRFToken": self.csrf,
                **headers,
            },
            name=name,
            catch_response=True,
        )


class Reader(_Browser):
    """Saves rows of the study grid (the reader's main screen)."""

    weight = 3
    wait_time = between(0.3, 1.5)

    def on_start(self) -> None:
        username = SEED["readers"][next(_readers) % len(SEED["readers"])]
        self.login(username, SEED["password"])
        self.open_grid()

    def open_grid(self) -> None:
        self.study = random.choice(SEED["studies"])
        with self.client.get(
            f"/studies/{self.study}/", name="GET /studies/[id]/ (grid)", catch_response=True
        ) as page:
            if not _expect(page, 200):
                self.rows: dict[str, dict[str, Any]] = {}
                return
            text = page.text or ""
        token, config = _CSRF_INPUT.search(text), _GRID_CONFIG.search(text)
        if token is None or config is None:
            OUTCOMES["grid page without its config"] += 1
            self.rows = {}
            return
        self.csrf = token.group(1)
        grid = json.loads(config.group(1))
        self.kind = grid["kind"]
        self.patient = grid["patient"]
        self.rows = {lesion: dict(row) for lesion, row in grid["rows"].items()}

    @task(12)
    def save_row(self) -> None:
        if not self.rows:
            self.open_grid()
            return
        lesion = random.choice(list(self.rows))
        row = self.rows[lesion]
        values = _row_values(self.kind)
        if row["observation"]:
            self._patch(row, values)
        else:
            self._post(lesion, row, values)

    def _patch(self, row: dict[str, Any], values: dict[str, Any]) -> None:
        path = f"/api/v1/observations/{row['observation']}/"
        with self.api(
            "PATCH",
            path,
            "PATCH /api/v1/observations/[id]/",
            values,
            **{"If-Match": row["etag"]},
        ) as answer:
            if answer.status_code == 412:
                # Someone saved this row since the grid was read: take theirs (its new ETag),
                # as the reader's "Take theirs" would. Not a failure.
                answer.success()
                OUTCOMES["PATCH 412 (someone else saved the row)"] += 1
                self._read_theirs(row)
                return
            if _expect(answer, 200):
                ACKNOWLEDGED.add(int(answer.json()["id"]))
                row["etag"] = answer.headers.get("ETag") or row["etag"]

    def _post(self, lesion: str, row: dict[str, Any], values: dict[str, Any]) -> None:
        payload = {"study": self.study, "lesion": int(lesion), **values}
        key = str(uuid.uuid4())
        # One row in ten is sent twice under its key, as after a lost answer: it must replay.
        for attempt in range(2 if random.random() < 0.1 else 1):
            name = (
                "POST /api/v1/observations/ (grid)"
                if attempt == 0
                else "POST /api/v1/observations/ (replay)"
            )
            with self.api(
                "POST", "/api/v1/observations/", name, payload, **{"Idempotency-Key": key}
            ) as answer:
                text = answer.text or ""
                if answer.status_code == 400 and "unique" in text.lower():
                    # Someone else recorded this lesion meanwhile: show theirs (grid.js).
                    answer.success()
                    OUTCOMES["POST 400 (lesion recorded meanwhile)"] += 1
                    self._find_theirs(lesion, row)
                    return
                if answer.status_code == 400 and "observation_one_per_lesion" in text:
                    # The same race lost at the database's constraint rather than in the
                    # serializer: the message has no "unique", so grid.js's isUniqueClash()
                    # shows it as an error, not as the conflict. Counted apart; go on as above.
                    answer.success()
                    OUTCOMES[
                        "POST 400 observation_one_per_lesion (the race lost at the database: "
                        "grid.js shows an error, not the conflict)"
                    ] += 1
                    self._find_theirs(lesion, row)
                    return
                if not _expect(answer, 201):
                    return
                body = answer.json()
                ACKNOWLEDGED.add(int(body["id"]))
                if attempt == 1:
                    if body["id"] != row["observation"]:
                        OUTCOMES["replays that made a SECOND ROW"] += 1
                    elif answer.headers.get("Idempotent-Replayed") == "true":
                        OUTCOMES["replays answered with the first row"] += 1
                    else:
                        OUTCOMES["replays not marked Idempotent-Replayed"] += 1
                row["observation"] = body["id"]
                row["etag"] = answer.headers.get("ETag") or ""

    def _read_theirs(self, row: dict[str, Any]) -> None:
        with self.api(
            "GET",
            f"/api/v1/observations/{row['observation']}/",
            "GET /api/v1/observations/[id]/ (theirs)",
        ) as answer:
            if _expect(answer, 200):
                row["etag"] = answer.headers.get("ETag") or ""

    def _find_theirs(self, lesion: str, row: dict[str, Any]) -> None:
        with self.api(
            "GET",
            f"/api/v1/observations/?study={self.study}&lesion={lesion}",
            "GET /api/v1/observations/?study&lesion (theirs)",
        ) as answer:
            if _expect(answer, 200) and answer.json()["results"]:
                row["observation"] = answer.json()["results"][0]["id"]
                self._read_theirs(row)  # its ETag, for the next PATCH's If-Match

    @task(1)
    def add_lesion(self) -> None:
        if not self.rows:
            return
        label = f"Lesion {uuid.uuid4().hex[:8]}"
        body = {"patient": self.patient, "label": label, "site": random.choice(["liver", "bone"])}
        with self.api(
            "POST",
            "/api/v1/lesions/",
            "POST /api/v1/lesions/ (grid)",
            body,
            **{"Idempotency-Key": str(uuid.uuid4())},
        ) as answer:
            if _expect(answer, 201):
                self.rows[str(answer.json()["id"])] = {"observation": None, "etag": ""}

    @task(2)
    def next_study(self) -> None:
        self.open_grid()


class Clinician(_Browser):
    """Opens patient pages and follows the status poll while the page is pending."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        username = SEED["clinicians"][next(_clinicians) % len(SEED["clinicians"])]
        self.login(username, SEED["password"])

    @task
    def open_patient(self) -> None:
        patient = random.choice(SEED["patients"])["id"]
        with self.client.get(
            f"/patients/{patient}/", name="GET /patients/[id]/", catch_response=True
        ) as page:
            if not _expect(page, 200):
                return
            poll = _STATUS_POLL.search(page.text or "")
        url = html.unescape(poll.group(1)) if poll else f"/patients/{patient}/status/"
        for _ in range(5 if poll else 1):
            if poll:
                time.sleep(2)  # hx-trigger="every 2s" (gevent: cooperative)
            with self.client.get(
                url, name="GET /patients/[id]/status/ (poll)", catch_response=True
            ) as status:
                if not _expect(status, 200):
                    return
                if "hx-get" not in (status.text or "") or status.headers.get("HX-Refresh"):
                    OUTCOMES["status polls that saw the result"] += int(bool(poll))
                    return


class Integrator(FastHttpUser):
    """A hospital system: new studies with their observations, then the complete read."""

    fixed_count = int(os.environ.get("LOAD_INTEGRATORS", "2"))
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.headers = {
            "Authorization": f"Token {SEED['token']}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def call(self, method: str, path: str, name: str, body: Any, **headers: str) -> Any:
        return self.client.request(
            method,
            path,
            data=json.dumps(body),
            headers={**self.headers, **headers},
            name=name,
            catch_response=True,
        )

    @task
    def send_study(self) -> None:
        patient = random.choice(SEED["patients"])
        fdg = random.random() < 0.5
        study_body = {
            "patient": patient["id"],
            "performed_on": f"2025-{random.randint(1, 12):02d}-{random.randint(1, 28):02d}",
            "modality": "pet_ct",
            "tracer": "f18_fdg" if fdg else "ga68_dotatate",
            "blood_pool_suv": "1.6",
            "liver_suv": "2.4" if fdg else "6.0",
            **({} if fdg else {"spleen_suv": "18.0"}),
            "accession_number": f"LOAD-{uuid.uuid4().hex[:12]}",
        }
        with self.call(
            "POST",
            "/api/v1/studies/",
            "POST /api/v1/studies/ (integrator)",
            study_body,
            **{"Idempotency-Key": str(uuid.uuid4())},
        ) as answer:
            if not _expect(answer, 201):
                return
            study = answer.json()["id"]
        kind = "FDG" if fdg else "SSTR"
        lesions = patient["lesions"]
        for lesion in random.sample(lesions, 2):
            with self.call(
                "POST",
                "/api/v1/observations/",
                "POST /api/v1/observations/ (integrator)",
                {"study": study, "lesion": lesion, **_row_values(kind)},
                **{"Idempotency-Key": str(uuid.uuid4())},
            ) as answer:
                if _expect(answer, 201):
                    ACKNOWLEDGED.add(int(answer.json()["id"]))
        read = [{"lesion": lesion, **_row_values(kind)} for lesion in lesions]
        with self.call(
            "PUT",
            f"/api/v1/studies/{study}/observations/",
            "PUT /api/v1/studies/[id]/observations/",
            read,
        ) as answer:
            if _expect(answer, 200):
                ACKNOWLEDGED.update(int(item["id"]) for item in answer.json())
