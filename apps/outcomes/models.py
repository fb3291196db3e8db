"""Follow-up records of a patient (API.md ``follow-ups/``): progression, death, last contact.

They are the outcomes the survival analytics read (apps/outcomes/survival.py). They are not
inputs of the clinical rules, so writing one queues no recompute and leaves the assessment
fresh; they are audited like every clinical record (database triggers, ``audited``).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from apps.core.models import ClinicalRecord, audited
from apps.imaging.models import ImagingStudy
from apps.patients.models import Patient


class FollowUpKind(models.TextChoices):
    PROGRESSION = "progression"
    DEATH = "death"
    LAST_CONTACT = "last_contact", "Last contact"


class ProgressionBasis(models.TextChoices):
    RECIST = "recist", "RECIST 1.1"
    PERCIST = "percist", "PERCIST 1.0"
    CLINICAL = "clinical"
    BIOCHEMICAL = "biochemical"


@audited()
class FollowUp(ClinicalRecord):
    """One follow-up event. ``basis`` (required) and ``study`` (optional, the study that showed
    it) belong to a progression only, ``cause`` (optional) to a death only; a patient has at
    most one death. The study is one of the patient's own (a composite foreign key, migration
    0002), and cannot be deleted while a progression names it."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="follow_ups")
    kind = models.CharField(max_length=16, choices=FollowUpKind.choices)
    occurred_on = models.DateField()
    basis = models.CharField(  # noqa: DJ001 - API.md: null except on a progression
        max_length=12, choices=ProgressionBasis.choices, null=True, blank=True
    )
    study = models.ForeignKey(
        ImagingStudy,
        on_delete=models.RESTRICT,
        null=True,
        blank=True,
        related_name="follow_ups",
        help_text="The study that showed the progression, where there is one.",
    )
    cause = models.CharField(  # noqa: DJ001 - API.md: null = not recorded (death only)
        "cause of death", max_length=255, null=True, blank=True
    )

    class Meta:
        verbose_name = "follow-up record"
        ordering = ["patient_id", "occurred_on", "id"]
        permissions = [("view_survival", "Can view survival analytics")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=FollowUpKind.values), name="followup_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    kind=FollowUpKind.PROGRESSION,
                    basis__isnull=False,
                    basis__in=ProgressionBasis.values,
                )
                | (~Q(kind=FollowUpKind.PROGRESSION) & Q(basis__isnull=True)),
                name="followup_basis_on_progression_only",
            ),
            models.CheckConstraint(
                condition=Q(study__isnull=True) | Q(kind=FollowUpKind.PROGRESSION),
                name="followup_study_on_progression_only",
            ),
            models.CheckConstraint(
                condition=Q(cause__isnull=True) | (Q(kind=FollowUpKind.DEATH) & ~Q(cause="")),
                name="followup_cause_on_death_only",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(kind=FollowUpKind.DEATH),
                name="followup_one_death_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_on}"
