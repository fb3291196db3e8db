"""Access logging: every read that returns patient data writes who, which patient, what, when."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

# Reads that take a patient's data out of NETboard (a printout, a file, a FHIR bundle): the
# auditor page lists them under "Exports" (apps/core/audit_views.py).
EXPORT_ACTIONS = {
    "view_case_summary": "Case summary (printable)",
    "fhir_read:everything": "FHIR bundle ($everything)",
    "study_sr_export": "DICOM SR file (study page)",
    "api_read:export_sr": "DICOM SR file (API)",
    "export:survival_csv": "Survival curves CSV (every patient of the cohort analysed)",
}


def record_access(request: HttpRequest, patient_ids: Iterable[int], action: str) -> None:
    """Write one access event per patient shown, in one INSERT for the lot (a page of 100
    patients costs one statement, not 100 model instances)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return
    user = getattr(request, "user", None)
    authenticated = bool(user is not None and user.is_authenticated)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_accessevent "
            "(at, user_id, username, api_system, patient_id, action, path, request_id) "
            "SELECT %s, %s, %s, %s, patient_id, %s, %s, %s FROM unnest(%s::bigint[]) AS patient_id",
            [
                timezone.now(),
                user.pk if authenticated else None,  # type: ignore[union-attr]
                user.get_username() if authenticated else "",  # type: ignore[union-attr]
                getattr(request, "api_system", ""),
                action[:64],
                request.path[:255],
                getattr(request, "request_id", ""),
                ids,
            ],
        )
