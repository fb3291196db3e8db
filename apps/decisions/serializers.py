from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.decisions import services
from apps.decisions.models import Case, Decision, Meeting


class CaseSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Case
        fields = ["id", "patient", "question", "status"]


class MeetingSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    cases = CaseSerializer(many=True, required=False)

    class Meta:
        model = Meeting
        fields = ["id", "held_on", "title", "cases"]
        read_only_fields = ["id"]

    def validate_cases(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        patients = [case["patient"].pk for case in cases]
        if len(patients) != len(set(patients)):
            raise serializers.ValidationError("A patient can be listed only once per meeting.")
        return cases

    def create(self, validated_data: dict[str, Any]) -> Meeting:
        return services.meeting_create(**validated_data)

    def update(self, instance: Meeting, validated_data: dict[str, Any]) -> Meeting:
        return services.meeting_update(meeting=instance, **validated_data)


class DecisionSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = Decision
        fields = [
            "id",
            "case",
            "recommendation",
            "rationale",
            "attendees",
            "outside_meeting",
            "decided_by",
            "decided_at",
            "signed_at",
            "acknowledged_preliminary",
            "supersedes",
            "phenotype_snapshot",
            "response_snapshot",
        ]
        read_only_fields = [
            "id",
            "decided_by",
            "decided_at",
            "signed_at",
            "acknowledged_preliminary",
            "phenotype_snapshot",
            "response_snapshot",
        ]
