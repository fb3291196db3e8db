"""Shared pieces of the clinical API viewsets: access logging, ETag/If-Match, Idempotency-Key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import Model
from rest_framework import exceptions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core import idempotency
from apps.core.access import record_access

# Actions that change one record (run in a transaction, so the row can be locked). Not the
# request method: DRF's OPTIONS metadata asks for the object under a pretend PUT.
WRITE_ACTIONS = {"update", "partial_update", "destroy", "replace_observations", "import_sr"}
# Actions whose response is one record (or, for the complete read, one study's observations).
ETAG_ACTIONS = {"retrieve", "create", "update", "partial_update", "replace_observations"}


class PreconditionFailed(exceptions.APIException):
    status_code = 412
    default_detail = (
        "The record changed since you read it (If-Match does not match its ETag). "
        "Read it again and reapply your change."
    )
    default_code = "precondition_failed"


def etag_for(obj: Model) -> str | None:
    """A strong ETag for one clinical record: it changes whenever the row is saved (every
    clinical record carries ``updated_at``, set on each save)."""
    updated_at = getattr(obj, "updated_at", None)
    if updated_at is None or obj.pk is None:
        return None
    token = f"{obj._meta.label_lower}:{obj.pk}:{updated_at.isoformat()}"
    return '"' + hashlib.sha256(token.encode()).hexdigest()[:32] + '"'


def if_match_holds(header: str | None, etag: str | None) -> bool:
    """RFC 9110 §13.1.1 with strong comparison; no header means no precondition."""
    if header is None:
        return True
    header = header.strip()
    if header == "*":
        return etag is not None
    candidates = {tag.strip() for tag in header.split(",")}
    return etag is not None and etag in candidates


class AccessLoggedViewSet(viewsets.ModelViewSet):  # type: ignore[type-arg]
    """A model viewset for clinical records.

    - Successful reads write access events for the patients shown.
    - Single-record responses carry an ``ETag``. ``PUT``/``PATCH``/``DELETE`` lock the row, and
      with ``If-Match`` that no longer matches answer 412 and change nothing.
    - ``POST`` honours ``Idempotency-Key`` (apps.core.idempotency).
    """

    access_action = "api_read"
    _shown: list[Any] | None = None
    _etag_object: Model | None = None

    def patient_ids(self, objects: Iterable[Model]) -> list[int]:
        return [obj.patient_id for obj in objects]  # type: ignore[attr-defined]

    def paginate_queryset(self, queryset: Any) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        self._shown = page if page is not None else list(queryset)
        return page

    def get_object(self) -> Any:
        if self.action in WRITE_ACTIONS:
            # Locked until the write commits: concurrent writers with the same If-Match
            # serialize here, and all but the first see the new ETag and get 412. An edit keeps
            # the row's keys: FOR NO KEY UPDATE, which the foreign-key checks of other
            # transactions do not wait for (apps/patients/locks.py).
            self.queryset = self.get_queryset().select_for_update(
                of=("self",), no_key=self.action != "destroy"
            )
            obj = super().get_object()
            if not if_match_holds(self.request.headers.get("If-Match"), etag_for(obj)):
                raise PreconditionFailed()
        else:
            obj = super().get_object()
            self._shown = [obj]
        self._etag_object = obj
        return obj

    def _atomic(self, action: Callable[[], Response]) -> Response:
        with transaction.atomic():
            return action()

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._atomic(
            lambda: super(AccessLoggedViewSet, self).update(request, *args, **kwargs)
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._atomic(
            lambda: super(AccessLoggedViewSet, self).destroy(request, *args, **kwargs)
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return idempotency.run_once(
            request, lambda: super(AccessLoggedViewSet, self).create(request, *args, **kwargs)
        )

    def perform_create(self, serializer: Any) -> None:
        super().perform_create(serializer)
        self._etag_object = serializer.instance

    def perform_update(self, serializer: Any) -> None:
        super().perform_update(serializer)
        self._etag_object = serializer.instance

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        shown = self._shown
        if request.method == "GET" and shown and 200 <= response.status_code < 300:
            record_access(request, self.patient_ids(shown), f"{self.access_action}:{self.action}")
        if (
            self._etag_object is not None
            and self.action in ETAG_ACTIONS
            and 200 <= response.status_code < 300
            and response.status_code != 204
            and "ETag" not in response
        ):
            etag = etag_for(self._etag_object)
            if etag:
                response["ETag"] = etag
        return super().finalize_response(request, response, *args, **kwargs)
