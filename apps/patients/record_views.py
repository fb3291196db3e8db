"""Browser pages to enter and correct a patient's record, and the patient's audit page.

The record page lists what the board's decision support is computed from (demographics,
pathology, tumour markers, treatments with their PRRT cycles); the form pages create and edit
them through the API's serializers (``record_forms``), so a page and the API accept and refuse
the same input. Writes follow the API's rules: the patient comes from the URL, an edit whose
record changed meanwhile is refused (optimistic concurrency), a delete the database refuses is
explained, never a 500. Every page that shows patient data writes an access event.

The audit page shows the database-trigger history (pghistory) of all the patient's records and
who viewed the patient; it reuses the audit API's resource map and entry serializer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError, RestrictedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from pghistory.models import Events

from apps.core.access import record_access
from apps.core.api_base import etag_for
from apps.core.audit_api import AuditEntrySerializer, patient_events
from apps.core.models import AccessEvent
from apps.patients import services
from apps.patients.models import Biomarker, Pathology, Patient, Treatment
from apps.patients.record_forms import (
    VERSION_FIELD,
    BiomarkerForm,
    PathologyForm,
    PatientForm,
    RecordForm,
    TreatmentForm,
    describe,
    field_label,
    same_version,
)

AUDIT_PAGE_SIZE = 50
DELETE_CONFLICT_MESSAGE = (
    "Someone else changed this record since you opened it. Its current values are shown "
    "below; check them and confirm again if it should still be deleted. Nothing was deleted."
)


@dataclass(frozen=True)
class Kind:
    """One kind of patient-owned record the pages edit."""

    model: type[models.Model]
    form: type[RecordForm]
    perm: str  # model name in permission codenames
    noun: str  # what a reader calls one record
    section: str  # anchor of its section on the record page
    app: str = "patients"  # app label of the permissions
    # The write service that deletes one (default: the clinical record's).
    delete: Callable[..., None] = services.record_delete

    def queryset(self) -> models.QuerySet[Any]:
        if self.model is Treatment:
            return Treatment.objects.prefetch_related("cycles")
        return self.model._default_manager.all()


KINDS: dict[str, Kind] = {
    "pathology": Kind(Pathology, PathologyForm, "pathology", "pathology report", "pathology"),
    "biomarkers": Kind(Biomarker, BiomarkerForm, "biomarker", "tumour marker value", "markers"),
    "treatments": Kind(Treatment, TreatmentForm, "treatment", "treatment", "treatments"),
}


def register_kind(name: str, kind: Kind) -> None:
    """A record of the patient kept by another app (the follow-ups of apps/outcomes), edited
    by these pages: registered from that app's ``ready()``, since this app may not import it."""
    KINDS[name] = kind


def _require(request: HttpRequest, *perms: str) -> None:
    """403 unless the user holds every permission (the role check of every page here)."""
    if not request.user.has_perms(perms):  # type: ignore[union-attr]
        raise PermissionDenied


def _record_url(patient_id: int, section: str = "") -> str:
    url = reverse("patient-record", args=[patient_id])
    return f"{url}#{section}" if section else url


def _render_form(
    request: HttpRequest,
    form: RecordForm,
    *,
    title: str,
    patient: Patient | None,
    cancel_url: str,
    status: int = 200,
) -> HttpResponse:
    form.prepare_for_display()
    return render(
        request,
        "patients/record_form.html",
        {
            "form": form,
            "title": title,
            "patient": patient,
            "cancel_url": cancel_url,
            "current_values": form.current_values() if form.conflict else [],
        },
        status=status,
    )


def _form_status(form: RecordForm) -> int:
    """409 for a refused concurrent edit, 200 for a form shown again with its errors (the
    browser shows the page either way; the status tells tests and proxies what happened)."""
    return 409 if form.conflict else 200


# --- record page ------------------------------------------------------------------------------


@require_GET
def patient_record(request: HttpRequest, pk: int) -> HttpResponse:
    """The patient's entered record, with add/edit/delete controls for those who may change
    it. One query per section however long the record is."""
    _require(request, "patients.view_patient")
    patient = get_object_or_404(Patient, pk=pk)
    context = {
        "patient": patient,
        "demographics": describe(patient, PatientForm.field_names),
        "pathology": list(
            Pathology.objects.filter(patient=patient).order_by("-reported_on", "-id")
        ),
        "biomarkers": list(
            Biomarker.objects.filter(patient=patient).order_by("analyte", "-measured_on", "-id")
        ),
        "treatments": list(
            Treatment.objects.filter(patient=patient)
            .prefetch_related("cycles")
            .order_by("-started_on", "-id")
        ),
    }
    record_access(request, [patient.pk], "view_patient_record")
    return render(request, "patients/record.html", context)


# --- patient create / edit --------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    """A new patient. No patient data is shown before it exists, so no access event."""
    _require(request, "patients.add_patient")
    form = PatientForm(
        request.POST if request.method == "POST" else None, context={"request": request}
    )
    if request.method == "POST" and form.is_valid():
        patient = form.save()
        if patient is not None:
            messages.success(request, "Patient created.")
            return redirect("patient-record", pk=patient.pk)
    return _render_form(
        request, form, title="New patient", patient=None, cancel_url=reverse("home")
    )


@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a patient's demographics; refused if someone changed them meanwhile."""
    _require(request, "patients.view_patient", "patients.change_patient")
    if request.method == "POST":
        with transaction.atomic():
            patient = get_object_or_404(Patient.objects.select_for_update(no_key=True), pk=pk)
            form = PatientForm(request.POST, instance=patient, context={"request": request})
            if form.is_valid() and form.save() is not None:
                messages.success(request, "Patient details saved.")
                return redirect("patient-record", pk=patient.pk)
    else:
        patient = get_object_or_404(Patient, pk=pk)
        form = PatientForm(instance=patient, context={"request": request})
    record_access(request, [patient.pk], "edit_patient_record")
    return _render_form(
        request,
        form,
        title="Edit patient details",
        patient=patient,
        cancel_url=_record_url(patient.pk),
        status=_form_status(form),
    )


# --- pathology, tumour markers, treatments ------------------------------------------------------


@require_http_methods(["GET", "POST"])
def record_create(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Add a pathology report, a tumour-marker value or a treatment to the patient of the URL."""
    spec = KINDS[kind]
    _require(request, "patients.view_patient", f"{spec.app}.add_{spec.perm}")
    patient = get_object_or_404(Patient, pk=pk)
    form = spec.form(
        request.POST if request.method == "POST" else None,
        context={"request": request},
        extra_data={"patient": patient.pk},
        # A link may fill the form in (a suggestion to confirm); nothing is saved by a GET.
        initial={k: v for k, v in request.GET.items() if k in spec.form.field_names},
    )
    if request.method == "POST" and form.is_valid() and form.save() is not None:
        messages.success(request, f"{spec.noun.capitalize()} added.")
        return redirect(_record_url(patient.pk, spec.section))
    record_access(request, [patient.pk], "edit_patient_record")
    return _render_form(
        request,
        form,
        title=f"Add {spec.noun}",
        patient=patient,
        cancel_url=_record_url(patient.pk, spec.section),
    )


@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, record_id: int, kind: str) -> HttpResponse:
    """Correct one record; its patient is the record's own and cannot be changed here."""
    spec = KINDS[kind]
    _require(request, "patients.view_patient", f"{spec.app}.change_{spec.perm}")
    if request.method == "POST":
        with transaction.atomic():
            instance = get_object_or_404(
                spec.queryset().select_for_update(of=("self",), no_key=True), pk=record_id
            )
            form = spec.form(
                request.POST,
                instance=instance,
                context={"request": request},
                extra_data={"patient": instance.patient_id},
            )
            if form.is_valid() and form.save() is not None:
                messages.success(request, f"{spec.noun.capitalize()} saved.")
                return redirect(_record_url(instance.patient_id, spec.section))
    else:
        instance = get_object_or_404(spec.queryset(), pk=record_id)
        form = spec.form(instance=instance, context={"request": request})
    patient = Patient.objects.get(pk=instance.patient_id)
    record_access(request, [patient.pk], "edit_patient_record")
    return _render_form(
        request,
        form,
        title=f"Edit {spec.noun}",
        patient=patient,
        cancel_url=_record_url(patient.pk, spec.section),
        status=_form_status(form),
    )


def _refusal(exc: Exception, spec: Kind) -> str:
    """Why the database refused a delete, in words (a RESTRICT/PROTECT foreign key)."""
    if isinstance(exc, RestrictedError | ProtectedError):
        blocking = getattr(exc, "restricted_objects", None) or getattr(
            exc, "protected_objects", None
        )
        count = len(list(blocking or ()))
        if spec.model is Treatment:
            return (
                f"This treatment cannot be deleted: {count} post-therapy scan"
                f"{'s are' if count != 1 else ' is'} linked to it. Delete those scans or link "
                "them to another treatment first. Nothing was deleted."
            )
        return (
            f"This {spec.noun} cannot be deleted: {count} other record"
            f"{'s refer' if count != 1 else ' refers'} to it. Nothing was deleted."
        )
    return f"The database refused to delete this {spec.noun}. Nothing was deleted."


@require_http_methods(["GET", "POST"])
def record_delete(request: HttpRequest, record_id: int, kind: str) -> HttpResponse:
    """Confirm, then delete one record (POST only). Refused when it changed since the
    confirmation was shown, or when other records depend on it (a treatment with post-therapy
    scans)."""
    spec = KINDS[kind]
    _require(request, "patients.view_patient", f"{spec.app}.delete_{spec.perm}")
    error = ""
    status = 200
    if request.method == "POST":
        with transaction.atomic():
            instance = get_object_or_404(
                spec.queryset().select_for_update(of=("self",)), pk=record_id
            )
            patient_id: int = instance.patient_id
            if not same_version(request.POST.get(VERSION_FIELD), instance):
                error, status = DELETE_CONFLICT_MESSAGE, 409
            else:
                try:
                    with transaction.atomic():
                        spec.delete(record=instance)
                except (RestrictedError, ProtectedError, IntegrityError) as exc:
                    error, status = _refusal(exc, spec), 409
                else:
                    messages.success(request, f"{spec.noun.capitalize()} deleted.")
                    return redirect(_record_url(patient_id, spec.section))
    else:
        instance = get_object_or_404(spec.queryset(), pk=record_id)
    patient = Patient.objects.get(pk=instance.patient_id)
    record_access(request, [patient.pk], "edit_patient_record")
    values = describe(instance, spec.form.field_names)
    if spec.model is Treatment:
        values = spec.form(instance=instance).current_values()
    return render(
        request,
        "patients/record_confirm_delete.html",
        {
            "patient": patient,
            "spec": spec,
            "instance": instance,
            "values": values,
            "version": etag_for(instance) or "",
            "error": error,
            "cancel_url": _record_url(patient.pk, spec.section),
        },
        status=status,
    )


# --- audit ------------------------------------------------------------------------------------

# The patient-owned resources of the audit API (a meeting belongs to no patient).
_NOT_SHOWN = {"created_at", "updated_at"}
_SOURCES = {"web": "browser"}


def patient_history(patient_id: int) -> Any:
    """Every history event of the patient's records, newest first (see ``patient_events``)."""
    return patient_events(patient_id).order_by("-pgh_created_at", "-pgh_id", "-pgh_slug")


def _field_names(label: str) -> dict[str, str]:
    """Column name -> what the pages call it, for one tracked model."""
    model = apps.get_model(label)
    return {field.attname: field_label(model, field.name) for field in model._meta.concrete_fields}


def _shown(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _entry(body: dict[str, Any], event: Events) -> dict[str, Any]:
    """One audit entry as the page shows it: the API's entry plus readable changes."""
    model_label = event.pgh_obj_model
    names = _field_names(model_label)
    operation = body["operation"]
    changes: list[dict[str, str]] = []
    if operation == "update":
        for field, (before, after) in sorted((body["changes"] or {}).items()):
            if field not in _NOT_SHOWN:
                changes.append(
                    {
                        "field": names.get(field, field),
                        "before": _shown(before),
                        "after": _shown(after),
                    }
                )
    else:
        for field, value in (body["data"] or {}).items():
            if field not in _NOT_SHOWN and field != "id" and value not in (None, ""):
                changes.append(
                    {"field": names.get(field, field), "before": "", "after": _shown(value)}
                )
    model = apps.get_model(model_label)
    return {
        **body,
        "at_label": event.pgh_created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "record_type": str(model._meta.verbose_name).capitalize(),
        "source_label": _SOURCES.get(body["source"], body["source"]) or "—",
        "change_list": changes,
    }


@require_GET
def patient_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Who changed what and when in this patient's records, and who viewed the patient.
    Auditors (and admins) only; reading it is itself an access event."""
    _require(request, "core.view_accessevent", "patients.view_patient")
    patient = get_object_or_404(Patient, pk=pk)
    tab = "access" if request.GET.get("tab") == "access" else "changes"
    context: dict[str, Any] = {"patient": patient, "tab": tab}
    page: Page[Any]
    if tab == "changes":
        page = Paginator(patient_history(patient.pk), AUDIT_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        events = list(page.object_list)
        bodies = AuditEntrySerializer(events, many=True).data
        context["entries"] = [
            _entry(dict(body), event) for body, event in zip(bodies, events, strict=True)
        ]
    else:
        page = Paginator(
            AccessEvent.objects.filter(patient_id=patient.pk).order_by("-at", "-id"),
            AUDIT_PAGE_SIZE,
        ).get_page(request.GET.get("page"))
        context["accesses"] = list(page.object_list)
    context["page"] = page
    record_access(request, [patient.pk], "view_patient_audit")
    return render(request, "patients/audit.html", context)
