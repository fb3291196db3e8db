"""The study form of the browser: validated and saved by the API's ``StudySerializer``."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from apps.core.forms import ApiForm
from apps.imaging.models import ImagingStudy
from apps.imaging.serializers import StudySerializer
from apps.patients.models import Treatment


def _decimal(step: str) -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "step": step})


class StudyForm(ApiForm):
    """Tracer, modality, date, reference SUVs (DOMAIN.md §2) and, for a post-therapy scan, the
    treatment and cycle. The patient comes from the URL, never from a field."""

    serializer_class = StudySerializer
    model = ImagingStudy
    # The patient comes from the URL; the DICOM UID and the status are not edited on this page.
    exclude = ("patient", "study_instance_uid", "status")
    widgets: ClassVar[dict[str, forms.Widget]] = {
        "performed_on": forms.DateInput(attrs={"type": "date", "autofocus": True}),
        "blood_pool_suv": _decimal("0.001"),
        "liver_suv": _decimal("0.001"),
        "liver_suv_sd": _decimal("0.001"),
        "spleen_suv": _decimal("0.001"),
        "cycle_number": forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    }
    labels: ClassVar[dict[str, str]] = {
        "blood_pool_suv": "Blood pool SUVmean (B)",
        "liver_suv": "Liver SUVmean (L)",
        "liver_suv_sd": "Liver SUV SD",
        "spleen_suv": "Spleen SUVmean (S)",
        "is_baseline": "Use as the baseline of its series",
        "post_therapy": "Post-therapy scan",
    }

    def __init__(self, *args: Any, patient_id: int, **kwargs: Any) -> None:
        kwargs["extra_data"] = {"patient": patient_id}
        super().__init__(*args, **kwargs)
        treatment = self.fields["treatment"]
        assert isinstance(treatment, forms.ModelChoiceField)  # noqa: S101 - generated field type
        treatment.queryset = Treatment.objects.filter(patient_id=patient_id).order_by("started_on")
        treatment.help_text = "Only for a post-therapy scan: the treatment and its cycle number."
