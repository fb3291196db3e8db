"""Page forms for a patient's record: the patient, pathology, tumour markers and treatments.

Every form is an ``ApiForm``: the REST API's serializer validates and saves, so a page accepts
and refuses exactly what the API does, with the API's messages. On top of ``ApiForm`` these
forms add what a page needs and the API does not:

- The submission is shaped like the API's JSON body before the serializer sees it: an empty
  box means "not recorded" (``null``) where the API allows null, an empty text where it allows
  blank text, and otherwise "not given" (so the serializer answers "This field is required."
  rather than "Date has wrong format." for a date nobody typed).
- Optimistic concurrency is ApiForm's (a hidden ``etag``, the API's ETag of the record, which
  is derived from its ``updated_at``); these forms add ``current_values`` so that a refused
  page can show the other person's whole record next to what the user typed.
- Accessible rendering helpers: an error summary linking to each field, autofocus, labels for
  the cells of the cycles table, and an unknown submitted code kept visible in its select.
- The treatment form carries an editable list of cycles as rows of plain inputs
  (``cycles-<row>-<field>``), turned into the serializer's nested ``cycles`` list; the
  serializer's per-item errors are put back on the row and cell they belong to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import models
from django.forms.boundfield import BoundField
from django.utils.text import capfirst
from rest_framework import serializers

from apps.core.api_base import etag_for
from apps.core.forms import ApiForm, _messages
from apps.patients.models import Biomarker, Pathology, Patient, Treatment
from apps.patients.serializers import (
    BiomarkerSerializer,
    PathologySerializer,
    PatientSerializer,
    TreatmentSerializer,
)

VERSION_FIELD = "etag"  # the hidden field ApiForm gives every edit form


def same_version(submitted: str | None, instance: models.Model) -> bool:
    """Whether the version a page was opened with (the record's ETag, derived from its
    ``updated_at`` exactly as the API's) is still the record's. A missing token counts as
    changed: the page always sends one, so its absence means the form cannot prove it saw
    the current record."""
    current = etag_for(instance)
    return bool(submitted) and submitted == current


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _json_shaped(fields: Mapping[str, serializers.Field], raw: Mapping[str, Any]) -> dict[str, Any]:
    """What a JSON client would send for these form values (see the module docstring)."""
    shaped: dict[str, Any] = {}
    for name, value in raw.items():
        field = fields.get(name)
        if field is None or field.read_only:
            continue
        if value == "" or value is None:
            if getattr(field, "allow_blank", False):
                shaped[name] = ""
            elif field.allow_null:
                shaped[name] = None
            # else: not given, and the serializer says whether that is allowed.
        else:
            shaped[name] = value
    return shaped


def display_value(instance: models.Model, name: str) -> str:
    """A field's value as a reader sees it (choice labels, dates in ISO, a dash for null)."""
    field = instance._meta.get_field(name)
    value = getattr(instance, name)
    if value is None or value == "":
        return "—"
    if getattr(field, "choices", None):
        return str(getattr(instance, f"get_{name}_display")())
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def field_label(model: type[models.Model], name: str) -> str:
    """What the pages call a field: the form's label where one is set (``Height (cm)``),
    else the model's verbose name with a capital (``MRN`` stays ``MRN``)."""
    form = FORMS_BY_MODEL.get(model)
    if form is not None and name in form.labels:
        return form.labels[name]
    return str(capfirst(getattr(model._meta.get_field(name), "verbose_name", name)))


def describe(instance: models.Model, names: Iterable[str]) -> list[tuple[str, str]]:
    """(label, value) pairs of a record, for confirmation and conflict panels."""
    return [(field_label(type(instance), name), display_value(instance, name)) for name in names]


class RecordForm(ApiForm):
    """An ``ApiForm`` with the page behaviour described in the module docstring."""

    # Form fields that only carry errors (shown next to a group of inputs), never rendered.
    error_only_fields: ClassVar[tuple[str, ...]] = ()

    # --- validation -------------------------------------------------------------------------

    def _raw(self, name: str) -> Any:
        getter = getattr(self.data, "get", None)
        return getter(name) if getter is not None else None

    def _serializer_fields(self) -> Mapping[str, serializers.Field]:
        fields: Mapping[str, serializers.Field] = self.serializer_class(
            instance=self.instance, context=self.context
        ).fields
        return fields

    def _submitted(self) -> Any:
        raw = {name: self._raw(name) for name in self.field_names if name in self.data}
        shaped = _json_shaped(self._serializer_fields(), raw)
        shaped.update(self.extra_data)  # values from the URL always win over the body
        return shaped

    def current_values(self) -> list[tuple[str, str]]:
        """The record as stored now (after a refused save: the other person's values)."""
        return describe(self.instance, self.field_names) if self.instance is not None else []

    # --- rendering --------------------------------------------------------------------------

    @property
    def main_fields(self) -> list[BoundField]:
        return [self[name] for name in self.field_names]

    def _field_label(self, name: str) -> str:
        return str(self.fields[name].label or name.replace("_", " ")).strip()

    def error_summary(self) -> list[dict[str, str]]:
        """Every error once, in form order, each linking to the input it is about."""
        items: list[dict[str, str]] = []
        for message in self.errors.get(NON_FIELD_ERRORS, []):
            items.append({"href": "", "text": str(message)})
        for name in self.fields:
            for message in self.errors.get(name, []):
                items.append(
                    {
                        "href": f"#{self[name].auto_id}",
                        "text": f"{self._field_label(name)}: {message}",
                    }
                )
        return items

    def prepare_for_display(self) -> None:
        """Last touches before the page renders: autofocus the first field (the first one in
        error, when there are errors), name the empty choice, and keep a submitted code the
        select does not know visible instead of silently showing another option."""
        shown = [self[name] for name in self.fields if name not in self.error_only_fields]
        visible = [bound for bound in shown if not bound.is_hidden]
        self.describe_fields()
        for bound in visible:
            bound.field.widget.attrs.pop("autofocus", None)
        target = next((bound for bound in visible if bound.errors), visible[0] if visible else None)
        if target is not None:
            target.field.widget.attrs["autofocus"] = True
        for bound in visible:
            field = bound.field
            if not isinstance(field, forms.ChoiceField):
                continue
            empty = "Choose…" if field.required else "Not recorded"
            offered: list[tuple[Any, Any]] = list(field.choices)  # type: ignore[arg-type]
            choices = [(value, empty if value == "" else label) for value, label in offered]
            known = {str(value) for value, _label in choices}
            submitted = bound.data if self.is_bound else None
            if isinstance(submitted, str) and submitted and submitted not in known:
                choices.insert(0, (submitted, f"{submitted} (not a known code)"))
            field.choices = choices


class PatientForm(RecordForm):
    serializer_class = PatientSerializer
    model = Patient
    widgets: ClassVar[dict[str, forms.Widget]] = {"birth_date": _date_input()}
    labels: ClassVar[dict[str, str]] = {
        "mrn": "MRN",
        "height_cm": "Height (cm)",
        "weight_kg": "Weight (kg)",
        "primary_site": "Primary site",
        "ppgl_cluster": "PPGL cluster",
    }


class PathologyForm(RecordForm):
    serializer_class = PathologySerializer
    model = Pathology
    exclude = ("patient",)  # from the URL
    widgets: ClassVar[dict[str, forms.Widget]] = {"reported_on": _date_input()}
    labels: ClassVar[dict[str, str]] = {"who_grade": "WHO grade", "ki67_percent": "Ki-67 (%)"}


class BiomarkerForm(RecordForm):
    serializer_class = BiomarkerSerializer
    model = Biomarker
    exclude = ("patient",)  # from the URL
    widgets: ClassVar[dict[str, forms.Widget]] = {"measured_on": _date_input()}
    labels: ClassVar[dict[str, str]] = {"analyte": "Marker"}


CYCLE_PARTS = ("number", "given_on", "activity_gbq")
CYCLE_LABELS = {
    "number": "cycle number",
    "given_on": "date given",
    "activity_gbq": "activity (GBq)",
}
MIN_CYCLE_ROWS = 6
SPARE_CYCLE_ROWS = 2


def cycle_name(row: int, part: str) -> str:
    return f"cycles-{row}-{part}"


class TreatmentForm(RecordForm):
    """A treatment with its cycles.

    The cycles are rows of inputs (at least ``MIN_CYCLE_ROWS``, and always a couple of blank
    ones beyond the recorded cycles); blank rows are ignored and the others become the
    serializer's ``cycles`` list, which replaces the stored list as a whole (as a PUT does).
    """

    serializer_class = TreatmentSerializer
    model = Treatment
    exclude = ("patient", "cycles")  # the patient from the URL; the cycles as rows (below)
    widgets: ClassVar[dict[str, forms.Widget]] = {
        "started_on": _date_input(),
        "ended_on": _date_input(),
    }
    # Errors about the list as a whole ("Cycle numbers must be unique.").
    cycles = forms.Field(required=False, label="Cycles", widget=forms.HiddenInput)
    error_only_fields: ClassVar[tuple[str, ...]] = ("cycles",)

    def __init__(
        self, data: Any = None, *, instance: models.Model | None = None, **kwargs: Any
    ) -> None:
        initial = dict(kwargs.pop("initial", None) or {})
        stored: list[Any] = list(instance.cycles.all()) if instance is not None else []  # type: ignore[attr-defined]
        for row, cycle in enumerate(stored):
            for part in CYCLE_PARTS:
                initial.setdefault(cycle_name(row, part), getattr(cycle, part))
        super().__init__(data, instance=instance, initial=initial, **kwargs)
        self.row_count = max(MIN_CYCLE_ROWS, len(stored) + SPARE_CYCLE_ROWS, self._submitted_rows())
        for row in range(self.row_count):
            label = f"Cycle row {row + 1}"
            self.fields[cycle_name(row, "number")] = forms.IntegerField(
                required=False,
                label=f"{label}: {CYCLE_LABELS['number']}",
                widget=forms.NumberInput(attrs={"min": 1, "step": 1, "class": "short"}),
            )
            self.fields[cycle_name(row, "given_on")] = forms.DateField(
                required=False, label=f"{label}: {CYCLE_LABELS['given_on']}", widget=_date_input()
            )
            self.fields[cycle_name(row, "activity_gbq")] = forms.DecimalField(
                required=False,
                label=f"{label}: {CYCLE_LABELS['activity_gbq']}",
                widget=forms.NumberInput(attrs={"min": 0, "step": "0.01", "class": "short"}),
            )
        # Row of the page for each item of the list the serializer saw (blank rows skipped).
        self._row_of: list[int] = []

    def _submitted_rows(self) -> int:
        """How many cycle rows the submission has (a page may have shown more than six)."""
        rows = 0
        for key in self.data if self.data is not None else ():
            parts = str(key).split("-")
            if len(parts) == 3 and parts[0] == "cycles" and parts[1].isdigit():
                rows = max(rows, int(parts[1]) + 1)
        return min(rows, 200)  # a bound on what a hand-made request can make us render

    def _submitted(self) -> Any:
        shaped = super()._submitted()
        child_fields = self._serializer_fields()["cycles"].child.fields
        self._row_of = []
        cycles: list[dict[str, Any]] = []
        for row in range(self.row_count):
            raw = {part: self._raw(cycle_name(row, part)) or "" for part in CYCLE_PARTS}
            if all(not str(value).strip() for value in raw.values()):
                continue  # a blank row is no cycle
            self._row_of.append(row)
            cycles.append(_json_shaped(child_fields, raw))
        shaped["cycles"] = cycles
        return shaped

    def _add_serializer_errors(self, errors: Mapping[str, Any]) -> None:
        rest = dict(errors)
        detail = rest.pop("cycles", None)
        super()._add_serializer_errors(rest)
        if detail is None:
            return
        # Per-item errors come as a list with one entry per item (``[{}, {"given_on": [..]}]``)
        # or, from recent DRF, as a mapping of item index to errors (``{1: {"given_on": ..}}``).
        items: list[tuple[int, Any]] = []
        if isinstance(detail, list) and any(isinstance(item, Mapping) for item in detail):
            items = list(enumerate(detail))
        elif isinstance(detail, Mapping) and detail and all(str(k).isdigit() for k in detail):
            items = [(int(str(index)), item) for index, item in detail.items()]
        if not items:
            for message in _messages(detail):
                self.add_error("cycles", message)
            return
        for index, item in items:
            if not item:
                continue
            row = self._row_of[index] if 0 <= index < len(self._row_of) else None
            if not isinstance(item, Mapping):
                item = {"non_field_errors": item}
            for part, messages in item.items():
                name = cycle_name(row, part) if row is not None else ""
                for message in _messages(messages):
                    if name in self.fields:
                        self.add_error(name, message)
                    else:
                        where = f"Row {row + 1}: " if row is not None else ""
                        self.add_error("cycles", where + message)

    @property
    def cycle_rows(self) -> list[dict[str, Any]]:
        return [
            {"number": row + 1, "cells": [self[cycle_name(row, part)] for part in CYCLE_PARTS]}
            for row in range(self.row_count)
        ]

    def current_values(self) -> list[tuple[str, str]]:
        values = super().current_values()
        if self.instance is not None:
            stored = self.instance.cycles.order_by("number")  # type: ignore[attr-defined]
            text = "; ".join(
                f"{c.number}: {c.given_on.isoformat()}"
                + (f", {c.activity_gbq} GBq" if c.activity_gbq is not None else "")
                for c in stored
            )
            values.append(("Cycles", text or "—"))
        return values


FORMS_BY_MODEL: dict[type[models.Model], type[RecordForm]] = {
    form.model: form for form in (PatientForm, PathologyForm, BiomarkerForm, TreatmentForm)
}
