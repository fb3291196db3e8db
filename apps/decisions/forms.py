"""Page forms of the MDT meeting pages.

Where a serializer of the API already holds the rules of a write (a meeting, a case's question
and status, a decision), the page form is an ``ApiForm`` on that serializer, so the page and the
API accept and refuse exactly the same input. Adding a case is the exception: the page finds the
patient by MRN or name (what a coordinator has in hand), the API names it by id, so that form
is a plain Django form that resolves what was typed (``apps.decisions.picker``) and checks the
one-listing-per-meeting rule at the field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from apps.core.forms import ApiForm
from apps.decisions.models import Case, Decision, Meeting
from apps.decisions.picker import Match, patient_matches
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
    """List a patient at a meeting, found by MRN or name, with the question put to the board.

    ``mrn`` is what the coordinator typed: an exact MRN names its patient at once; anything
    else is searched (``Patient.objects.search``) and the matches are listed (``matches``),
    each with an *Add* button that posts its id as ``pick`` — the page's picker
    (static/js/picker.js) posts the chosen patient's id as ``patient`` instead. The patient
    must exist and not be listed at this meeting yet; errors land on the ``mrn`` field with
    what was typed kept.
    """

    mrn = forms.CharField(
        label="Patient: MRN or name",
        max_length=200,
        required=False,
        help_text=(
            'Part of an MRN, or one or more name words in any order (e.g. "0013" or "Ivy Ivo").'
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    patient = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    question = forms.CharField(
        label="Question for the board", widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, meeting: Meeting, **kwargs: Any) -> None:
        self.meeting = meeting
        self.found: Patient | None = None  # the patient to add, once valid
        self.matches: list[Match] = []
        self.more_matches = False
        super().__init__(*args, **kwargs)
        if self.is_bound and self.data.get("pick"):
            # An "Add" button of the listed matches: that patient, whatever the box says.
            self.data = self.data.copy()
            self.data["patient"] = self.data["pick"]
        self.fields["mrn"].widget.attrs["aria-describedby"] = f"{self['mrn'].auto_id}_helptext"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "patient" in self.errors:  # not a number: a tampered form
            self.errors.pop("patient")
            self.add_error("mrn", "Choose the patient again.")
            return cleaned
        patient = self._patient(cleaned.get("patient"), (cleaned.get("mrn") or "").strip())
        if patient is None:
            return cleaned
        if Case.objects.filter(meeting=self.meeting, patient=patient).exists():
            self.add_error(
                "mrn",
                forms.ValidationError(
                    f"{patient.mrn} is already listed at this meeting: the agenda has this "
                    "patient once.",
                    code="already_listed",
                ),
            )
            return cleaned
        self.found = patient
        return cleaned

    def _patient(self, patient_id: int | None, text: str) -> Patient | None:
        """The patient chosen (by id) or named by an exact MRN; else None, with the matches to
        choose from listed, or an error when there are none."""
        if patient_id is not None:
            chosen = Patient.objects.filter(pk=patient_id).first()
            self.data = self.data.copy()
            self.data["patient"] = ""
            if chosen is None:
                self.add_error("mrn", "This patient no longer exists: search again.")
            else:
                # Shown again (another field refused): the box names the patient by MRN, so
                # what it says is what the next submission adds.
                self.data["mrn"] = chosen.mrn
            return chosen
        if not text:
            self.add_error("mrn", "Type an MRN or a name.")
            return None
        exact = Patient.objects.filter(mrn=text).first()
        if exact is None:
            insensitive = list(Patient.objects.filter(mrn__iexact=text)[:2])
            exact = insensitive[0] if len(insensitive) == 1 else None
        if exact is not None:
            return exact
        self.matches, self.more_matches = patient_matches(self.meeting, text)
        if not self.matches:
            self.add_error(
                "mrn",
                forms.ValidationError(
                    "No patient has this MRN or a name with these words.", code="unknown_mrn"
                ),
            )
        else:
            self.add_error("mrn", forms.ValidationError(self._choose_message(), code="choose"))
        return None

    def _choose_message(self) -> str:
        count = len(self.matches)
        if self.more_matches:
            return (
                f"More than {count} patients match: type more to narrow the list, or choose "
                "one below with its Add button."
            )
        matching = f"{count} patients match" if count > 1 else "1 patient matches"
        return f"{matching}: choose {'one' if count > 1 else 'it'} below with its Add button."

    def add_error(self, field: str | None, error: Any) -> None:
        """Also tie the invalid input to its message (rendered with the id ``<input id>-error``)
        beside its help text, as ``ApiForm`` does for the forms the serializers validate."""
        super().add_error(field, error)
        if field is not None and field in self.fields:
            bound = self[field]
            described = [f"{bound.auto_id}_helptext"] if bound.help_text else []
            self.fields[field].widget.attrs["aria-describedby"] = " ".join(
                [*described, f"{bound.auto_id}-error"]
            )


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
        "outside_meeting": "Decision outside the meeting",
    }
