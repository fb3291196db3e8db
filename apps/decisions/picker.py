"""The agenda's patient picker: the patients matching what a coordinator typed to add a case,
each marked when it is already on the meeting's agenda.

The matching is the patient list's (``Patient.objects.search``: every word typed is part of the
given name, the family name or the MRN, in any order). The page's form lists the matches when a
typed query is submitted (no JavaScript needed); ``static/js/picker.js`` asks
``meeting_patient_search`` for them as one types and picks one with the keyboard or the mouse.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import BooleanField, ExpressionWrapper, Q

from apps.decisions.models import Case, Meeting
from apps.patients.models import Patient

PICKER_LIMIT = 10


@dataclass(frozen=True)
class Match:
    patient: Patient
    listed: bool  # already on this meeting's agenda

    @property
    def name(self) -> str:
        given = self.patient.given_name
        return f"{self.patient.family_name}, {given}" if given else self.patient.family_name


def patient_matches(
    meeting: Meeting, text: str, limit: int = PICKER_LIMIT
) -> tuple[list[Match], bool]:
    """Up to ``limit`` patients matching ``text`` (an MRN typed whole first, then by name), and
    whether more match. Two queries, whatever the number of matches."""
    text = text.strip()
    if not text:
        return [], False
    found = list(
        Patient.objects.search(text)
        .annotate(exact=ExpressionWrapper(Q(mrn__iexact=text), output_field=BooleanField()))
        .order_by("-exact", "family_name", "given_name", "id")
        .only("id", "mrn", "family_name", "given_name", "birth_date")[: limit + 1]
    )
    listed = set(
        Case.objects.filter(meeting=meeting, patient_id__in=[p.pk for p in found]).values_list(
            "patient_id", flat=True
        )
    )
    return [Match(p, p.pk in listed) for p in found[:limit]], len(found) > limit
