from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.imaging.models import ImagingStudy
from apps.outcomes import services
from apps.outcomes.models import FollowUp


class FollowUpSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A follow-up record (API.md ``follow-ups/``). It validates and shapes; saving goes through
    ``apps.outcomes.services.follow_up_record``, which checks the record against the patient's
    others again under a lock."""

    kind = serializers.ChoiceField(
        choices=FollowUp._meta.get_field("kind").choices,
        help_text="progression, death or last_contact (the last date the patient was known "
        "alive; survival is censored there).",
    )
    occurred_on = serializers.DateField(
        help_text="When it happened: not in the future, not before the diagnosis (the earliest "
        "pathology report); a death not before the patient's progressions and last contacts."
    )
    basis = serializers.ChoiceField(
        choices=FollowUp._meta.get_field("basis").choices,
        required=False,
        allow_null=True,
        help_text="What showed the progression: recist, percist, clinical or biochemical. "
        "Required on a progression, null on anything else.",
    )
    study = serializers.PrimaryKeyRelatedField(
        queryset=ImagingStudy.objects.all(),
        required=False,
        allow_null=True,
        help_text="The patient's study that showed the progression, where there is one "
        "(progression only).",
    )
    cause = serializers.CharField(
        max_length=255,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Cause of death, if known (death only; blank is stored as null).",
    )

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "patient",
            "kind",
            "occurred_on",
            "basis",
            "study",
            "cause",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # One death per patient is checked with the other rules (``follow_up_refusals``, naming
        # ``kind``), not by DRF's validator of the unique constraint.
        validators: list[object] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("cause") == "":
            attrs["cause"] = None
        state = {
            field: attrs.get(field, getattr(self.instance, field, None))
            for field in ("kind", "occurred_on", "basis", "study", "cause")
        }
        patient = attrs.get("patient", getattr(self.instance, "patient", None))
        if patient is not None:
            # Every refusal at once; the service checks again under its lock.
            refusals = services.follow_up_refusals(
                patient_id=patient.pk, values=state, instance=self.instance
            )
            if refusals:
                raise serializers.ValidationError(refusals)
        return attrs

    def create(self, validated_data: dict[str, Any]) -> FollowUp:
        return self._save(FollowUp(), validated_data)

    def update(self, instance: FollowUp, validated_data: dict[str, Any]) -> FollowUp:
        return self._save(instance, validated_data)

    @staticmethod
    def _save(follow_up: FollowUp, values: dict[str, Any]) -> FollowUp:
        try:
            return services.follow_up_record(follow_up=follow_up, values=values)
        except DjangoValidationError as exc:
            # A write that passed validation meanwhile (a concurrent one): a 400 naming the
            # field, never a 500.
            raise serializers.ValidationError(exc.message_dict) from exc


class ProgressionSuggestionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    study = serializers.IntegerField(help_text="The follow-up study classed as progression.")
    occurred_on = serializers.DateField(help_text="Its date: the suggested occurred_on.")
    basis = serializers.CharField(help_text="The suggested basis: recist or percist.")
    category = serializers.CharField(
        help_text="The stored response category behind it: RECIST PD or PERCIST PMD."
    )
