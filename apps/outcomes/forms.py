"""The follow-up record's form on the patient's record pages (apps/patients/record_views.py
edits it like a pathology report: registered in ``OutcomesConfig.ready``). Validated by the
API's serializer, saved through ``apps.outcomes.services``."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from apps.imaging.models import ImagingStudy
from apps.outcomes import services
from apps.outcomes.models import FollowUp
from apps.outcomes.serializers import FollowUpSerializer
from apps.patients.record_forms import RecordForm


class StudyChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return (
            f"{obj.performed_on:%Y-%m-%d} · {obj.get_tracer_display()} {obj.get_modality_display()}"
        )


class FollowUpForm(RecordForm):
    serializer_class = FollowUpSerializer
    model = FollowUp
    exclude = ("patient",)  # from the URL
    widgets: ClassVar[dict[str, forms.Widget]] = {
        "occurred_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    }
    labels: ClassVar[dict[str, str]] = {
        "kind": "Event",
        "occurred_on": "Date",
        "basis": "Progression shown by",
        "study": "Study that showed it",
        "cause": "Cause of death",
    }
    help_texts: ClassVar[dict[str, str]] = {
        "basis": "Progression only.",
        "study": "Progression only, where a study showed it.",
        "cause": "Death only; optional.",
    }

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        instance = kwargs.get("instance")
        patient = instance.patient_id if instance is not None else self.extra_data.get("patient")
        # Only the patient's own studies, newest first, by date and tracer (never all studies).
        self.fields["study"] = StudyChoice(
            queryset=ImagingStudy.objects.filter(patient_id=patient).order_by("-performed_on"),
            required=False,
            label=self.labels["study"],
            help_text=self.help_texts["study"],
            empty_label="None",
        )
        for name, text in self.help_texts.items():
            self.fields[name].help_text = text


def follow_up_delete(*, record: FollowUp) -> None:
    """The record pages' delete, through the outcomes service."""
    services.follow_up_delete(follow_up=record)
