"""Access logging: every read that returns patient data writes who, which patient, what, when."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest

from apps.core.models import AccessEvent


def record_access(request: HttpRequest, patient_ids: Iterable[int], action: str) -> None:
    """Write one access event per patient shown (one INSERT for the lot)."""
    user = getattr(request, "user", None)
    authenticated = bool(user is not None and user.is_authenticated)
    common = {
        "user_id": user.pk if authenticated else None,
        "username": user.get_username() if authenticated else "",
        "api_system": getattr(request, "api_system", ""),
        "action": action,
        "path": request.path[:255],
        "request_id": getattr(request, "request_id", ""),
    }
    events = [AccessEvent(patient_id=pid, **common) for pid in sorted(set(patient_ids))]
    if events:
        AccessEvent.objects.bulk_create(events)
