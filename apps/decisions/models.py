"""MDT meetings, the cases listed at them, and the board's recorded decisions."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import ClinicalRecord, audited
from apps.patients.models import Patient


@audited()
class Meeting(ClinicalRecord):
    held_on = models.DateField()
    title = models.CharField(max_length=200)

    class Meta:
        ordering = ["-held_on", "-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.held_on})"


class CaseStatus(models.TextChoices):
    LISTED = "listed"
    DISCUSSED = "discussed"
    DEFERRED = "deferred"


@audited()
class Case(ClinicalRecord):
    """A patient listed at a meeting with the question put to the board."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="cases")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="cases")
    question = models.TextField()
    status = models.CharField(max_length=10, choices=CaseStatus.choices, default=CaseStatus.LISTED)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["meeting_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["meeting", "patient"], name="case_once_per_meeting"),
            models.CheckConstraint(
                condition=Q(status__in=CaseStatus.values), name="case_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk} at meeting {self.meeting_id}"


class Recommendation(models.TextChoices):
    PRRT = "prrt", "PRRT (177Lu-DOTATATE)"
    SSA = "ssa", "Somatostatin analogue"
    CHEMOTHERAPY = "chemotherapy"
    LIVER_DIRECTED = "liver_directed", "Liver-directed therapy"
    SURGERY = "surgery"
    BIOPSY = "biopsy"
    SURVEILLANCE = "surveillance"
    OTHER = "other"


@audited()
class Decision(ClinicalRecord):
    """The board's decision on a case, with the assessment exactly as shown when it was made.

    Once signed it is immutable (services refuse, and a database trigger refuses UPDATE and
    DELETE of a signed row); a change of mind is a new decision that supersedes it. Signing also
    makes it tamper-evident: a SHA-256 digest of its content, chained to the decision signed
    before it (``apps.decisions.integrity``; ``manage.py verify_decisions`` checks the chain).
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="decisions")
    recommendation = models.CharField(max_length=16, choices=Recommendation.choices)
    rationale = models.TextField()
    attendees = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions"
    )
    decided_at = models.DateTimeField()
    phenotype_snapshot = models.JSONField(default=dict, blank=True)
    response_snapshot = models.JSONField(default=dict, blank=True)
    # What the decision form showed of a PPGL patient's agent choice beyond the snapshot (which
    # is the phenotype body exactly as served, without per-lesion scores): the lesion labels, the
    # two studies' names and each lesion's stored uptake score on them
    # (apps.patients.agent_choice.agent_choice_lesions); {} where §11 does not apply.
    agent_choice_lesions = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text=(
            "The lesions behind the snapshot's PPGL agent choice as shown: labels, the two "
            "studies' names and each lesion's uptake score on them."
        ),
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    # Signed on a preliminary assessment (a draft read behind its snapshot) knowingly: the
    # signer ticked the acknowledgement, which signing such a snapshot requires.
    acknowledged_preliminary = models.BooleanField(
        default=False,
        help_text="Signed knowing that the assessment was preliminary (a draft read behind it).",
    )
    # A decision taken outside the meeting (between meetings, by the board's members): only
    # such a decision may be signed before the meeting's date (services.decision_sign).
    outside_meeting = models.BooleanField(
        default=False,
        help_text=(
            "A decision outside the meeting (taken between meetings rather than at it); only "
            "such a decision may be signed before the meeting's date."
        ),
    )
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    # Tamper evidence (apps.decisions.integrity), set once, in the transaction that signs.
    chain_position = models.PositiveIntegerField(
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Place in the chain of signed decisions (1, 2, …, in the order of signing).",
    )
    previous_digest = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text=(
            "SHA-256 digest of the signed decision before this one in the chain (empty for the "
            "first)."
        ),
    )
    # The signer's user name as it was when they signed: part of the signed content, so
    # renaming the account later leaves the signature verifiable (and this name as signed).
    signer_username = models.CharField(
        max_length=150,
        blank=True,
        default="",
        editable=False,
        help_text="The signer's user name when they signed (empty until signed).",
    )
    signed_digest = models.CharField(
        max_length=64,
        blank=True,
        default="",
        editable=False,
        help_text="SHA-256 digest of the decision's canonical content when it was signed.",
    )

    class Meta:
        ordering = ["case_id", "decided_at", "id"]
        triggers = [
            pgtrigger.Protect(
                name="signed_decision_immutable",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Q(old__signed_at__isnull=False),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(recommendation__in=Recommendation.values),
                name="decision_recommendation_valid",
            ),
            models.CheckConstraint(condition=~Q(rationale=""), name="decision_rationale_not_blank"),
            models.CheckConstraint(
                condition=Q(signed_at__isnull=True)
                | Q(acknowledged_preliminary=True)
                | ~Q(phenotype_snapshot__preliminary=True),
                name="decision_preliminary_signed_knowingly",
            ),
            models.CheckConstraint(
                condition=Q(chain_position__isnull=True, signed_digest="", previous_digest="")
                | Q(chain_position__isnull=False, signed_at__isnull=False),
                name="decision_chained_only_when_signed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_recommendation_display()} for case {self.case_id}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None
