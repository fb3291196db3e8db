"""The study grid's "Import measurements…" and "Export SR" (issue 16). Import: the reader
chooses one or more DICOM SR (TID 1500) files, sees row by row what they would create or
change next to what the study holds, settles each conflict and each unmapped site, and only
then imports, in one transaction, through the same service as the API
(``services.sr_import_files``). Export: the read as an SR file, as the API's GET gives it.

The chosen files are kept (``SrUpload``) between the review and "Import", so that nothing is
chosen twice and nothing reviewed is lost; "Import" reads them again and reviews them again
against the study as it is then, so a value changed meanwhile is a conflict shown, not
overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework import serializers

from apps.core.access import record_access
from apps.imaging import services
from apps.imaging.dicom_sr import SrReport
from apps.imaging.dicom_sr_export import file_response
from apps.imaging.models import ImagingStudy, Lesion, LesionSite, SrUpload, StudyStatus
from apps.imaging.sr_review import ReviewRow, shown

# The page shows the study and the patient, and imports (services.SR_IMPORT_PERMISSIONS).
PAGE_PERMISSIONS = [
    "patients.view_patient",
    "imaging.view_imagingstudy",
    *services.SR_IMPORT_PERMISSIONS,
]
UPLOAD_KEPT = timedelta(days=1)
MAX_FILES = 20

# The values an SR can carry, in the grid's column order (shown as ``sr_review.shown`` says).
COLUMNS = [
    ("suv_max", "SUVmax"),
    ("suv_peak", "SUVpeak"),
    ("krenning_visual", "Krenning"),
    ("fdg_visual", "FDG +/−"),
    ("long_axis_mm", "Long mm"),
    ("short_axis_mm", "Short mm"),
    ("volume_ml", "Volume ml"),
]
REFERENCE_COLUMNS = [
    ("blood_pool_suv", "Blood pool"),
    ("liver_suv", "Liver"),
    ("spleen_suv", "Spleen"),
]


@dataclass
class Cell:
    field: str
    imported: str
    current: str
    change: str  # "new", "changed", "same" or "" (the SR has no value)
    conflict: bool
    choice: str  # the reader's choice of a conflict: "current", "imported" or ""
    name: str  # the form field of the choice
    error: str = ""


@dataclass
class Row:
    key: str  # the row's number in its file, or "reference"
    lesion: Lesion | None
    source_label: str
    finding_site: str
    site: str
    site_mapped: bool
    label: str
    cells: list[Cell]
    action: str  # "create", "update", "unchanged"
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class FileReview:
    number: int
    name: str
    report: SrReport
    already_imported: bool
    rows: list[Row]
    reference: Row | None
    errors: list[str]


def _cells(
    row: ReviewRow,
    number: int,
    key: str,
    names: list[str],
    post: dict[str, str],
    errors: dict,
    *,
    inert: bool = False,
) -> list[Cell]:
    """The row's cells; ``inert``: the file was imported already, so it changes nothing and
    each cell shows what the study holds."""
    cells = []
    for name in names:
        imported = None if inert else row.values.get(name)
        current = row.current.get(name)
        if imported is None:
            change = ""
        elif current is None:
            change = "new"
        elif name in row.changes:
            change = "changed"
        else:
            change = "same"
        choice_name = f"choice:{number}:{key}.{name}"
        cells.append(
            Cell(
                field=name,
                imported=shown(name, imported),
                current=shown(name, current),
                change=change,
                conflict=not inert and name in row.conflicts,
                choice=post.get(choice_name, ""),
                name=choice_name,
                error=" ".join(errors.get(f"file.{number}.{key}.{name}", [])),
            )
        )
    return cells


def _action(lesion: Lesion | None, row: ReviewRow, *, inert: bool) -> str:
    """What importing does to the row's lesion: ``create`` it, ``record`` its first reading on
    this study, ``update`` that reading, or nothing (``unchanged``; a file imported already)."""
    if lesion is None and not inert:
        return "create"
    if inert or not row.changes:
        return "unchanged"
    return "update" if row.current else "record"


def _review_files(
    study: ImagingStudy,
    uploads: list[tuple[str, bytes]],
    user: Any,
    post: dict[str, str],
    errors: dict[str, list[str]],
) -> tuple[list[FileReview], list[tuple[str, str]]]:
    """Each file's review as the page shows it, and the columns any file has values in."""
    reports = services.sr_read_files(uploads)
    results = dict(services.sr_import_files(study=study, reports=reports, user=user, commit=False))
    lesions = Lesion.objects.in_bulk(
        [row.lesion for result in results.values() for row in result.review.rows if row.lesion]
    )
    used = {
        name for result in results.values() for row in result.review.rows for name in row.values
    }
    names = [name for name, _label in COLUMNS if name in used]
    reviews = []
    for number, report in reports:
        result = results[number]
        rows = []
        for index, source_row in enumerate(result.review.rows):
            source = source_row.source
            assert source is not None  # noqa: S101 - a lesion row always has its group
            key = str(index)
            lesion = lesions.get(source_row.lesion) if source_row.lesion else None
            default_label = source.tracking_identifier or f"SR lesion {index + 1}"
            inert = result.already_imported
            cells = _cells(source_row, number, key, names, post, errors, inert=inert)
            # Refusals of the row not shown at a value's cell (site, label, the row as a whole).
            prefix = f"file.{number}.{key}."
            row_errors = {
                name[len(prefix) :]: " ".join(texts)
                for name, texts in errors.items()
                if name.startswith(prefix) and name[len(prefix) :] not in names
            }
            rows.append(
                Row(
                    key=key,
                    lesion=lesion,
                    source_label=source.tracking_identifier or "",
                    finding_site=str(source.finding_site) if source.finding_site else "none",
                    site=post.get(f"choice:{number}:{key}.site", source.site or ""),
                    site_mapped=source.site is not None,
                    label=post.get(f"choice:{number}:{key}.label", default_label),
                    cells=cells,
                    action=_action(lesion, source_row, inert=inert),
                    errors=row_errors,
                )
            )
        reference_row = result.review.reference
        reference = None
        if reference_row.values:
            reference = Row(
                key="reference",
                lesion=None,
                source_label="Reference uptake",
                finding_site="",
                site="",
                site_mapped=True,
                label="",
                cells=_cells(
                    reference_row,
                    number,
                    "reference",
                    [name for name, _label in REFERENCE_COLUMNS],
                    post,
                    errors,
                    inert=result.already_imported,
                ),
                action="update"
                if reference_row.changes and not result.already_imported
                else "unchanged",
            )
        prefix = f"file.{number}."
        file_errors = [
            " ".join(messages_)
            for name, messages_ in errors.items()
            if name == f"file.{number}" or name in (f"{prefix}file", f"{prefix}study")
        ]
        reviews.append(
            FileReview(
                number=number,
                name=uploads[number][0],
                report=report,
                already_imported=result.already_imported,
                rows=rows,
                reference=reference,
                errors=file_errors,
            )
        )
    columns = [(name, label) for name, label in COLUMNS if name in names]
    return reviews, columns


def _choices(post: dict[str, str]) -> dict[int, dict[str, str]]:
    """The reader's choices by file: ``choice:{file}:{row}.{field}`` → ``{file: {row.field}}``."""
    choices: dict[int, dict[str, str]] = {}
    for name, value in post.items():
        parts = name.split(":", 2)
        if len(parts) == 3 and parts[0] == "choice" and parts[1].isdigit() and value:
            choices.setdefault(int(parts[1]), {})[parts[2]] = value
    return choices


def _errors(exc: serializers.ValidationError) -> dict[str, list[str]]:
    detail = exc.detail if isinstance(exc.detail, dict) else {"file": exc.detail}
    return {
        str(name): [str(m) for m in (value if isinstance(value, list) else [value])]
        for name, value in detail.items()
    }


def _held(study: ImagingStudy, user: Any, ids: list[str]) -> list[SrUpload] | None:
    """The uploads named by the form, in its order: this reader's, for this study; None if one
    is no longer held."""
    wanted = [int(pk) for pk in ids if pk.isdigit()]
    held = SrUpload.objects.filter(study=study, uploaded_by=user).in_bulk(wanted)
    if not wanted or len(held) != len(wanted):
        return None
    return [held[pk] for pk in wanted]


def _summary(results: list[tuple[int, services.SrImportResult]]) -> str:
    written = [result for _n, result in results if result.written]
    if not written:
        return "Nothing changed: the study already holds what these reports say."
    rows = sum(len(result.review.rows) for result in written)
    new = sum(1 for result in written for row in result.review.rows if row.lesion is None)
    reference = any(result.review.reference.changes for result in written)
    text = (
        f"Imported {len(written)} SR file{'s' if len(written) != 1 else ''}: "
        f"{rows} lesion{'s' if rows != 1 else ''}"
        f"{f' ({new} new)' if new else ''}"
    )
    return text + (", and the reference uptake." if reference else ".")


@require_http_methods(["GET", "POST"])
@permission_required(PAGE_PERMISSIONS, raise_exception=True)
def study_sr_import(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose SR files → review row by row → import (or cancel)."""
    study = get_object_or_404(ImagingStudy.objects.select_related("patient"), pk=pk)
    record_access(request, [study.patient_id], "study_sr_import")
    context: dict[str, Any] = {
        "study": study,
        "patient": study.patient,
        "final": study.status == StudyStatus.FINAL,
        "sites": LesionSite.choices,
        "max_files": MAX_FILES,
        "reference_columns": REFERENCE_COLUMNS,
        "max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    }
    if request.method == "GET":
        return render(request, "imaging/sr_import.html", context)
    post = {name: value for name, value in request.POST.items() if name != "csrfmiddlewaretoken"}
    if request.POST.get("step") == "import":
        return _import(request, study, post, context)
    chosen = request.FILES.getlist("file")
    if not chosen:
        context["upload_error"] = "Choose one or more DICOM SR files (.dcm) to review."
        return render(request, "imaging/sr_import.html", context, status=400)
    if len(chosen) > MAX_FILES:
        context["upload_error"] = f"Choose at most {MAX_FILES} files at a time."
        return render(request, "imaging/sr_import.html", context, status=400)
    uploads = [(upload.name or "file", upload.read()) for upload in chosen]
    try:
        reviews, columns = _review_files(study, uploads, request.user, {}, {})
    except serializers.ValidationError as exc:
        context["upload_errors"] = _named(_errors(exc), uploads)
        return render(request, "imaging/sr_import.html", context, status=400)
    SrUpload.objects.filter(uploaded_at__lt=timezone.now() - UPLOAD_KEPT).delete()
    held = [
        SrUpload.objects.create(study=study, uploaded_by=request.user, name=name[:255], data=data)
        for name, data in uploads
    ]
    context.update(reviews=reviews, columns=columns, uploads=[upload.pk for upload in held])
    return render(request, "imaging/sr_import.html", context)


def _named(errors: dict[str, list[str]], uploads: list[tuple[str, bytes]]) -> list[str]:
    """Refusals before a review, in words: each names its file."""
    out = []
    for name, texts in errors.items():
        parts = name.split(".")
        number = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        where = uploads[number][0] if number is not None and number < len(uploads) else ""
        text = " ".join(texts)
        out.append(text if not where or text.startswith(where) else f"{where}: {text}")
    return out


def _import(
    request: HttpRequest, study: ImagingStudy, post: dict[str, str], context: dict[str, Any]
) -> HttpResponse:
    held = _held(study, request.user, request.POST.getlist("upload"))
    if held is None:
        context["upload_error"] = (
            "These files are no longer held (imported already, or chosen over a day ago): "
            "choose them again."
        )
        return render(request, "imaging/sr_import.html", context, status=400)
    uploads = [(upload.name, bytes(upload.data)) for upload in held]
    try:
        results = services.sr_import_files(
            study=study,
            reports=services.sr_read_files(uploads),
            user=request.user,
            choices=_choices(post),
        )
    except serializers.ValidationError as exc:
        errors = _errors(exc)
        try:
            reviews, columns = _review_files(study, uploads, request.user, post, errors)
        except serializers.ValidationError as again:
            context["upload_errors"] = _named(_errors(again), uploads)
            return render(request, "imaging/sr_import.html", context, status=400)
        context.update(
            reviews=reviews,
            columns=columns,
            uploads=[upload.pk for upload in held],
            import_error="Nothing was imported: "
            + (
                "settle the marked rows below."
                if any(name.count(".") >= 3 for name in errors)
                else " ".join(" ".join(texts) for texts in errors.values())
            ),
        )
        return render(request, "imaging/sr_import.html", context, status=400)
    SrUpload.objects.filter(pk__in=[upload.pk for upload in held]).delete()
    messages.success(request, _summary(results))
    return redirect("study-grid", pk=study.pk)


@require_GET
@permission_required(["patients.view_patient", "imaging.view_imagingstudy"], raise_exception=True)
def study_sr_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The study page's "Export SR": the read as a TID 1500 SR file (as the API's GET)."""
    study = get_object_or_404(ImagingStudy.objects.select_related("patient"), pk=pk)
    record_access(request, [study.patient_id], "study_sr_export")
    return file_response(study)
