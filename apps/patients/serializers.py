from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from apps.patients import services
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle


def not_in_future(value: Any) -> Any:
    if value is not None and value > timezone.localdate():
        raise serializers.ValidationError("This date is in the future.")
    return value


class ClinicalRecordSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A serializer of one record of a patient's clinical record: it validates and shapes, and
    saving goes through ``apps.patients.services.record_save`` (which queues the recompute)."""

    def create(self, validated_data: dict[str, Any]) -> Any:
        return services.record_save(record=self.Meta.model(), values=validated_data)

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        return services.record_save(record=instance, values=validated_data)


class PatientSerializer(ClinicalRecordSerializer):
    birth_date = serializers.DateField(required=False, allow_null=True, validators=[not_in_future])

    class Meta:
        model = Patient
        fields = [
            "id",
            "mrn",
            "family_name",
            "given_name",
            "birth_date",
            "sex",
            "height_cm",
            "weight_kg",
            "primary_site",
            "histology",
            "ppgl_cluster",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "height_cm": {"min_value": 1},
            "weight_kg": {"min_value": 1},
            # null means "not recorded"; an empty string is not a code.
            "histology": {"allow_blank": False},
            "ppgl_cluster": {"allow_blank": False},
        }


class PathologySerializer(ClinicalRecordSerializer):
    reported_on = serializers.DateField(validators=[not_in_future])

    class Meta:
        model = Pathology
        fields = [
            "id",
            "patient",
            "reported_on",
            "specimen_site",
            "who_grade",
            "ki67_percent",
            "mitotic_count",
            "differentiation",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {
            "ki67_percent": {"min_value": 0, "max_value": 100},
            "mitotic_count": {"min_value": 0},
            # null means "not recorded"; an empty string is not a code.
            "who_grade": {"allow_blank": False},
            "differentiation": {"allow_blank": False},
        }


class BiomarkerSerializer(ClinicalRecordSerializer):
    measured_on = serializers.DateField(validators=[not_in_future])

    class Meta:
        model = Biomarker
        fields = ["id", "patient", "analyte", "value", "unit", "measured_on"]
        read_only_fields = ["id"]
        extra_kwargs = {"value": {"min_value": 0}}


class CycleSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = TreatmentCycle
        fields = ["number", "given_on", "activity_gbq"]
        extra_kwargs = {"number": {"min_value": 1}, "activity_gbq": {"min_value": 0}}


class TreatmentSerializer(ClinicalRecordSerializer):
    cycles = CycleSerializer(many=True, required=False)

    class Meta:
        model = Treatment
        fields = ["id", "patient", "kind", "regimen", "started_on", "ended_on", "cycles"]
        read_only_fields = ["id"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        started = attrs.get("started_on", getattr(self.instance, "started_on", None))
        ended = attrs.get("ended_on", getattr(self.instance, "ended_on", None))
        if started and ended and ended < started:
            raise serializers.ValidationError({"ended_on": "Must not be before started_on."})
        numbers = [cycle["number"] for cycle in attrs.get("cycles", [])]
        if len(numbers) != len(set(numbers)):
            raise serializers.ValidationError({"cycles": "Cycle numbers must be unique."})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Treatment:
        cycles = validated_data.pop("cycles", [])
        return services.treatment_save(treatment=Treatment(), values=validated_data, cycles=cycles)

    def update(self, instance: Treatment, validated_data: dict[str, Any]) -> Treatment:
        cycles = validated_data.pop("cycles", None)  # the list given is the whole list
        return services.treatment_save(treatment=instance, values=validated_data, cycles=cycles)
