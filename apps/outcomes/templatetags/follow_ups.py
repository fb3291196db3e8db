"""The follow-up section of the patient's record page (templates/patients/record.html): the
records, and the progressions NETboard's stored response assessment suggests, each a link to
the form filled in for the user to check and save."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from apps.imaging.models import ImagingStudy
from apps.outcomes.models import FollowUp
from apps.outcomes.selectors import progression_suggestions

register = template.Library()

_CATEGORY = {"PD": "RECIST progressive disease", "PMD": "PERCIST progressive metabolic disease"}


@register.simple_tag
def follow_ups_of(patient: Any) -> list[FollowUp]:
    return list(
        FollowUp.objects.filter(patient=patient)
        .select_related("study")
        .order_by("occurred_on", "id")
    )


@register.simple_tag
def suggested_progressions(patient: Any) -> list[dict[str, Any]]:
    suggestions = progression_suggestions(patient.pk)
    studies = ImagingStudy.objects.in_bulk([s["study"] for s in suggestions])
    create = reverse("record-follow-up-create", args=[patient.pk])
    out = []
    for suggestion in suggestions:
        study = studies.get(suggestion["study"])
        if study is None:
            continue
        query = {
            "kind": "progression",
            "occurred_on": suggestion["occurred_on"] or f"{study.performed_on:%Y-%m-%d}",
            "basis": suggestion["basis"],
            "study": study.pk,
        }
        out.append(
            {
                "study": study,
                "category": _CATEGORY.get(suggestion["category"], suggestion["category"]),
                "url": f"{create}?{urlencode(query)}",
            }
        )
    return out
