"""The auditor's page (issue 17 §6): who saw which patient and what they exported (the access
log), and every sign-in, failure, lockout, two-factor event and account change (the security
log), by user, by patient, by kind and by date. Auditors and admins only.

Both logs hold ids, user names and addresses, never patient data, so reading them is not an
access event of its own (a patient's own audit page, which shows their records, is)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.core.access import EXPORT_ACTIONS
from apps.core.models import AccessEvent, SecurityEvent, SecurityEventKind

PAGE_SIZE = 50
EXPORTS = "exports"


class AuditFilter(forms.Form):
    """The filters, from the query string; a bad value is an error on its field, not a 500."""

    tab = forms.ChoiceField(
        choices=[("access", "Access and exports"), ("security", "Sign-in and security")],
        required=False,
    )
    user = forms.CharField(label="User or system", max_length=150, required=False, strip=True)
    patient = forms.IntegerField(label="Patient id", min_value=1, required=False)
    kind = forms.CharField(label="What", max_length=64, required=False)
    since = forms.DateField(label="From", required=False)
    until = forms.DateField(label="To (inclusive)", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", "The end date is before the start date.")
        return data


def _day_start(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


def _dates(queryset: QuerySet[Any], data: dict[str, Any]) -> QuerySet[Any]:
    if data.get("since"):
        queryset = queryset.filter(at__gte=_day_start(data["since"]))
    if data.get("until"):
        queryset = queryset.filter(at__lt=_day_start(data["until"] + timedelta(days=1)))
    return queryset


def access_events(data: dict[str, Any]) -> QuerySet[AccessEvent]:
    queryset = AccessEvent.objects.all()
    if data.get("user"):
        queryset = queryset.filter(Q(username=data["user"]) | Q(api_system=data["user"]))
    if data.get("patient"):
        queryset = queryset.filter(patient_id=data["patient"])
    kind = data.get("kind")
    if kind == EXPORTS:
        queryset = queryset.filter(action__in=EXPORT_ACTIONS)
    elif kind:
        queryset = queryset.filter(action=kind)
    return _dates(queryset, data).order_by("-at", "-id")


def security_events(data: dict[str, Any]) -> QuerySet[SecurityEvent]:
    queryset = SecurityEvent.objects.all()
    if data.get("user"):
        queryset = queryset.filter(Q(username=data["user"]) | Q(actor=data["user"]))
    if data.get("kind"):
        queryset = queryset.filter(kind=data["kind"])
    return _dates(queryset, data).order_by("-at", "-id")


@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perms(["core.view_accessevent", "core.view_securityevent"]):
        raise PermissionDenied("The audit log is for auditors and administrators.")
    form = AuditFilter(request.GET or None)
    valid = form.is_valid() if request.GET else True
    data = form.cleaned_data if request.GET and valid else {}
    tab = data.get("tab") or "access"
    if tab == "security" and data.get("patient"):
        form.add_error("patient", "The security log is by user: no patient in it.")
        valid = False
    events: QuerySet[Any] = (access_events if tab == "access" else security_events)(data)
    page = Paginator(events if valid else events.none(), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    if tab == "access":
        for event in page.object_list:
            event.export_label = EXPORT_ACTIONS.get(event.action, "")
    query = request.GET.copy()
    query.pop("page", None)
    if tab == "access":
        kinds = [(EXPORTS, "Exports (all kinds)")] + [
            (action, f"Export: {label}") for action, label in EXPORT_ACTIONS.items()
        ]
    else:
        kinds = list(SecurityEventKind.choices)
    return render(
        request,
        "core/audit_log.html",
        {
            "form": form,
            "valid": valid,
            "tab": tab,
            "page": page,
            "kinds": kinds,
            "kind": data.get("kind", ""),
            "query": query.urlencode(),
            "filtered": any(data.get(k) for k in ("user", "patient", "kind", "since", "until")),
        },
        status=200 if valid else 400,
    )
