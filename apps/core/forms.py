"""Browser forms that validate and save through the API's serializers.

A page form and the REST API must accept and refuse exactly the same input: one set of rules,
one set of messages. ``ApiForm`` is a Django form used for what Django forms are good at
(widgets, labels, keeping what was typed, showing errors at the field) while validation and
saving are the serializer's. Its ``full_clean`` runs the serializer on the submitted data and
puts each serializer error on the form field of the same name (or on the form when there is
none); ``save`` saves through the serializer inside a transaction. A database rule that
refuses the write (an ``IntegrityError`` the serializer did not foresee, e.g. a race on a
unique value) becomes a form error, never a 500, and nothing is written.

Editing a record is optimistic, like the API's ``If-Match``: the form carries the record's
ETag in a hidden ``etag`` field; if the record changed since the form was shown, the save is
refused with the other person's values named, what was typed stays, and the hidden ETag is
moved to the current one, so that saving again deliberately overwrites their change.

Usage::

    class PathologyForm(ApiForm):
        serializer_class = PathologySerializer
        model = Pathology
        exclude = ("patient",)  # from the URL: the form has the serializer's other fields

    form = PathologyForm(
        request.POST or None,
        instance=pathology,
        context={"request": request},
        extra_data={"patient": patient.pk},
    )
    if request.method == "POST" and form.is_valid():
        pathology = form.save()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, models, transaction
from django.forms.utils import ErrorDict
from rest_framework import serializers

from apps.core.api_base import etag_for

CONFLICT_MESSAGE = (
    "Someone else changed this record since you opened it. Your entries are kept below; "
    "save again to replace their version"
)


def _messages(detail: Any) -> Iterable[str]:
    """Flatten one serializer error value (a list of strings, or nested lists/dicts)."""
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            for message in _messages(value):
                yield f"{key}: {message}"
    elif isinstance(detail, list | tuple):
        for item in detail:
            yield from _messages(item)
    else:
        yield str(detail)


def writable_fields(
    serializer_class: type[serializers.Serializer], exclude: Iterable[str] = ()
) -> list[str]:
    """The fields a client may send to the serializer (not read-only), in its order, less
    ``exclude``; an excluded name that is not one of them is a mistake in the form."""
    excluded = set(exclude)
    writable = [name for name, field in serializer_class().fields.items() if not field.read_only]
    unknown = excluded - set(writable)
    if unknown:
        raise ImproperlyConfigured(
            f"exclude names no writable field of {serializer_class.__name__}: {sorted(unknown)}"
        )
    return [name for name in writable if name not in excluded]


class ApiForm(forms.Form):
    """A form whose fields are the model's (for rendering) and whose rules are the serializer's.

    Subclasses set ``serializer_class`` and ``model``. The form's fields (``field_names``) are
    the serializer's writable fields, in its order, less ``exclude`` (those the URL gives, e.g.
    the patient, or that the page edits its own way); a subclass may instead set
    ``field_names`` itself. ``widgets`` and ``labels`` may override the generated ones.
    ``extra_data`` (constructor) is merged into the submitted data before validation, for
    values that come from the URL (e.g. the patient).
    """

    serializer_class: ClassVar[type[serializers.Serializer]]
    model: ClassVar[type[models.Model]]
    exclude: ClassVar[tuple[str, ...]] = ()
    field_names: ClassVar[list[str]]
    widgets: ClassVar[dict[str, forms.Widget]] = {}
    labels: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "field_names" not in own and ("serializer_class" in own or "exclude" in own):
            cls.field_names = writable_fields(cls.serializer_class, cls.exclude)

    def __init__(
        self,
        data: Any = None,
        *,
        instance: models.Model | None = None,
        context: dict[str, Any] | None = None,
        extra_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.instance = instance
        self.context = context or {}
        self.extra_data = extra_data or {}
        self.saved: models.Model | None = None
        initial = kwargs.pop("initial", None) or {}
        if instance is not None:
            initial = {**forms.model_to_dict(instance, fields=self.field_names), **initial}
        super().__init__(data, initial=initial, **kwargs)
        generated = forms.fields_for_model(
            self.model, fields=self.field_names, widgets=self.widgets, labels=self.labels
        )
        for name in self.field_names:
            field = generated.get(name)
            if field is not None and name not in self.fields:
                self.fields[name] = field
        if instance is not None:
            self.fields["etag"] = forms.CharField(widget=forms.HiddenInput, required=False)
            self.initial["etag"] = etag_for(instance) or ""
        self._serializer: serializers.Serializer | None = None
        self.conflict = False

    def _submitted(self) -> Any:
        data = self.data.copy() if hasattr(self.data, "copy") else dict(self.data)
        for key, value in self.extra_data.items():
            data[key] = value
        return data

    def full_clean(self) -> None:
        self._errors = ErrorDict()
        self.cleaned_data: dict[str, Any] = {}
        if not self.is_bound:
            return
        if self.instance is not None and self._changed_meanwhile():
            return
        serializer = self.serializer_class(
            instance=self.instance, data=self._submitted(), context=self.context
        )
        # An empty box for a required date, number or choice means "not given": let the
        # serializer say "This field is required." rather than "wrong format". An optional
        # choice left at "Not recorded" is null, as in the API (an empty string is no code).
        for name, field in serializer.fields.items():
            if serializer.initial_data.get(name) != "" or isinstance(field, serializers.CharField):
                continue
            if field.required:
                serializer.initial_data.pop(name)
            elif isinstance(field, serializers.ChoiceField) and field.allow_null:
                serializer.initial_data[name] = None
        if serializer.is_valid():
            self._serializer = serializer
            self.cleaned_data = dict(serializer.validated_data)
            return
        self._add_serializer_errors(serializer.errors)

    def _changed_meanwhile(self) -> bool:
        """Refuse (with their values named) if the record's ETag is not the one shown."""
        current = etag_for(self.instance) if self.instance is not None else None
        if current is None or self.data.get("etag", "") == current:
            return False
        self.conflict = True
        theirs = forms.model_to_dict(self.instance, fields=self.field_names)
        changed = []
        for name in self.field_names:
            value = theirs.get(name)
            shown = "" if value is None else str(value)
            if name in self.fields and shown != str(self.data.get(name, "")):
                changed.append(f"{self.fields[name].label or name}: {shown or '(empty)'}")
        detail = " (their values: " + "; ".join(changed) + ")." if changed else "."
        self.data = self.data.copy()
        self.data["etag"] = current
        self.add_error(None, CONFLICT_MESSAGE + detail)
        return True

    def _add_serializer_errors(self, errors: Mapping[str, Any]) -> None:
        for field, detail in errors.items():
            target = field if field in self.fields else None
            for message in _messages(detail):
                if target is None and field not in ("non_field_errors", "detail"):
                    message = f"{field.replace('_', ' ')}: {message}"
                self.add_error(target, message)
        self.describe_fields()

    def describe_fields(self) -> None:
        """Tie each input to its help text and its message (``aria-describedby``) by the ids the
        templates render them with: ``<input id>_helptext`` (Django's own) and
        ``<input id>-error``. Django marks an input in error ``aria-invalid`` itself."""
        for bound in self.visible_fields():
            described = [f"{bound.auto_id}_helptext"] if bound.help_text else []
            described += [f"{bound.auto_id}-error"] if bound.errors else []
            attrs = bound.field.widget.attrs
            if described:
                attrs["aria-describedby"] = " ".join(described)
            else:
                attrs.pop("aria-describedby", None)

    def save(self) -> models.Model | None:
        """Save through the serializer; ``None`` (with a form error) if the database refused."""
        if self._serializer is None:
            raise ValueError("save() needs a valid form")
        try:
            with transaction.atomic():
                self.saved = self._serializer.save()
        except IntegrityError as exc:
            rule = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
            self.add_error(
                None,
                "The database refused this change"
                + (f" ({rule})" if rule else "")
                + ": another record conflicts with it. Nothing was saved.",
            )
            return None
        return self.saved
