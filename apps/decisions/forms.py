"""Page forms of the MDT meeting pages.

Where a serializer of the API already holds the rules of a write (a meeting, a case's question
and status, a decision), the page form is an ``ApiForm`` on that serializer, so the page and the
API accept and refuse exactly the same input. Adding a case is the exception: the page names the
patient by MRN (what a coordinator has in hand), the API by id, so that form is a plain Django
form that resolves the MRN and checks the one-listing-per-meeting rule at the field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from apps.core.forms import ApiForm
from apps.decisions.models import Case, Decision, Meeting
from apps.decisions.serializers import CaseSerializer, DecisionSerializer, MeetingSerializer
from apps.patients.models import Patient


class MeetingForm(ApiForm):
    """A new meeting: its date and title, validated by the API's ``MeetingSerializer``."""

    serializer_class = MeetingSerializer
    model = Meeting
    exclude = ("cases",)  # listed one by one (CaseAddForm)
    widgets: ClassVar[dict[str, forms.Widget]] = {
        "held_on": forms.DateInput(attrs={"type": "date"}),
        "title": forms.TextInput(attrs={"placeholder": "e.g. NET MDT"}),
    }
    labels: ClassVar[dict[str, str]] = {"held_on": "Date", "title": "Title"}


class CaseForm(ApiForm):
    """A listed case's question and status (the patient never changes: it comes from the URL)."""

    serializer_class = CaseSerializer
    model = Case
    exclude = ("patient",)
    widgets: ClassVar[dict[str, forms.Widget]] = {
        "question": forms.Textarea(attrs={"rows": 2}),
    }


class CaseAddForm(forms.Form):
    """List a patient at a meeting, by MRN, with the question put to the board.

    The MRN must name an existing patient who is not yet listed at this meeting; both are
    checked here so the error lands on the MRN field with what was typed kept.
    """

    mrn = forms.CharField(label="Patient MRN", max_length=64)
    question = forms.CharField(
        label="Question for the board", widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        self.meeting = meeting
        self.patient: Patient | None = None
        super().__init__(*args, **kwargs)

    def clean_mrn(self) -> str:
        mrn: str = self.cleaned_data["mrn"].strip()
        patient = Patient.objects.filter(mrn=mrn).first()
        if patient is None:
            raise forms.ValidationError("No patient has this MRN.", code="unknown_mrn")
        if Case.objects.filter(meeting=self.meeting, patient=patient).exists():
            raise forms.ValidationError(
                "This patient is already listed at this meeting.", code="already_listed"
            )
        self.patient = patient
        return mrn

    def add_error(self, field: str | None, error: Any) -> None:
        """Also tie the invalid input to its message (rendered with the id ``<input id>-error``),
        as ``ApiForm`` does for the forms the serializers validate."""
        super().add_error(field, error)
        if field is not None and field in self.fields:
            widget = self.fields[field].widget
            widget.attrs["aria-describedby"] = f"{self[field].auto_id}-error"


class DecisionForm(ApiForm):
    """The board's decision on a case, validated by the API's ``DecisionSerializer``.

    Saving does not go through the serializer (it would not know the author or the snapshot):
    the view calls ``apps.decisions.services`` with the validated values.
    """

    serializer_class = DecisionSerializer
    model = Decision
    exclude = ("case", "supersedes")  # the case from the URL; what it supersedes, the service's
    widgets: ClassVar[dict[str, forms.Widget]] = {
        "rationale": forms.Textarea(attrs={"rows": 4}),
        "attendees": forms.Textarea(attrs={"rows": 2}),
    }
    labels: ClassVar[dict[str, str]] = {
        "recommendation": "Recommendation",
        "rationale": "Rationale",
        "attendees": "Attendees",
    }
