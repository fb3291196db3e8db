"""``Idempotency-Key`` on POST (API.md): the same key and request replay the first response;
the same key with another request is 422. Keys are kept 24 hours.

Concurrent requests with one key are serialized by a transaction-scoped advisory lock on
(user, key): the first creates the record and stores its response in the same transaction; the
others wait, then replay it. Only successful responses are stored, so a request refused for bad
input can be corrected and sent again under the same key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)


class KeyReused(exceptions.APIException):
    status_code = 422
    default_detail = (
        "This Idempotency-Key was already used with a different request; use a new key for a "
        "new request."
    )
    default_code = "idempotency_key_reused"


def _valid(key: str) -> bool:
    return 1 <= len(key) <= 255 and all(33 <= ord(char) <= 126 for char in key)


def request_hash(request: Request) -> str:
    """The method, path and parsed body, canonically: key order and whitespace do not matter."""
    body = json.dumps(request.data, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def run_once(request: Request, call: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return call()
    if not _valid(key):
        raise exceptions.ValidationError(
            {HEADER: ["Use 1 to 255 visible ASCII characters, e.g. a UUID."]}
        )
    user_id = request.user.pk
    digest = request_hash(request)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", [f"{user_id}:{key}"]
            )
        stored = IdempotencyKey.objects.filter(user_id=user_id, key=key).first()
        if stored is not None and stored.created_at < timezone.now() - KEEP:
            stored.delete()
            stored = None
        if stored is not None:
            if stored.request_hash != digest:
                raise KeyReused()
            headers = {"Idempotent-Replayed": "true"}
            if stored.location:
                headers["Location"] = stored.location
            return Response(stored.body, status=stored.status_code, headers=headers)
        response = call()
        if 200 <= response.status_code < 300:
            IdempotencyKey.objects.create(
                user_id=user_id,
                key=key,
                request_hash=digest,
                status_code=response.status_code,
                body=response.data,
                location=response.get("Location", "")[:255],
            )
        return response


def purge_expired() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return deleted
