from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import serializers

from apps.core.representation import FastRepresentation
from apps.decisions.models import Case, Decision, Meeting


class CaseSerializer(FastRepresentation):
    id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Case
        fields = ["id", "patient", "question", "status"]


class MeetingSerializer(FastRepresentation):
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

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Meeting:
        cases = validated_data.pop("cases", [])
        meeting = Meeting.objects.create(**validated_data)
        for position, case in enumerate(cases):
            Case.objects.create(meeting=meeting, position=position, **case)
        return meeting

    @transaction.atomic
    def update(self, instance: Meeting, validated_data: dict[str, Any]) -> Meeting:
        cases = validated_data.pop("cases", None)
        instance = super().update(instance, validated_data)
        if cases is not None:
            # Cases are matched by patient: kept ones are updated, missing ones removed.
            existing = {case.patient_id: case for case in instance.cases.all()}
            wanted = {case["patient"].pk for case in cases}
            for patient_id, case in existing.items():
                if patient_id not in wanted:
                    case.delete()
            for position, data in enumerate(cases):
                case = existing.get(data["patient"].pk)
                if case is None:
                    Case.objects.create(meeting=instance, position=position, **data)
                else:
                    case.question, case.status, case.position = (
                        data["question"],
                        data.get("status", case.status),
                        position,
                    )
                    case.save()
        return instance


class DecisionSerializer(FastRepresentation):
    class Meta:
        model = Decision
        fields = [
            "id",
            "case",
            "recommendation",
            "rationale",
            "attendees",
            "decided_by",
            "decided_at",
            "signed_at",
            "supersedes",
            "phenotype_snapshot",
            "response_snapshot",
        ]
        read_only_fields = [
            "id",
            "decided_by",
            "decided_at",
            "signed_at",
            "phenotype_snapshot",
            "response_snapshot",
        ]
