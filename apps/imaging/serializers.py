from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.imaging.models import (
    ANATOMIC_MODALITIES,
    OBSERVATION_READ_FIELDS,
    ImagingStudy,
    Lesion,
    Modality,
    Observation,
    StudyStatus,
    Tracer,
    baseline_problem,
)
from apps.imaging.services import FINAL_READ, READ_FIELDS, study_finish, study_reopen
from apps.patients.serializers import ClinicalRecordSerializer, not_in_future
from apps.scoring.rules.tracers import THERAPEUTIC_TRACERS, TRACER_CLASS
from apps.scoring.selectors import observation_uptake, rules_thresholds

# Planar scintigraphy measures counts, not SUVs (docs/clinical-rules.md §11.1: only the reader's
# visual score grades a lesion there): an SUV on a planar study is refused, naming the field.
NO_SUV_ON_PLANAR = "Planar scintigraphy has no SUV: leave this empty on a planar study."
PLANAR_NO_SUV_OBSERVATION = ("suv_max", "suv_peak")
PLANAR_NO_SUV_STUDY = ("blood_pool_suv", "liver_suv", "liver_suv_sd", "spleen_suv")


class LesionSerializer(ClinicalRecordSerializer):
    class Meta:
        model = Lesion
        fields = [
            "id", "patient", "label", "site", "nodal", "is_primary",
            "tracking_uid", "tracking_identifier",
        ]  # fmt: skip
        read_only_fields = ["id", "tracking_uid", "tracking_identifier"]
        # The (patient, label) uniqueness is checked in validate() so that the error names the
        # field to change (``label``), not the pair; the database constraint still holds it.
        validators: list[Any] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        patient = attrs.get("patient", getattr(self.instance, "patient", None))
        label = attrs.get("label", getattr(self.instance, "label", None))
        if patient is not None and label is not None:
            taken = Lesion.objects.filter(patient=patient, label=label)
            if self.instance is not None:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                raise serializers.ValidationError(
                    {"label": "This patient already has a lesion with this label."}
                )
        return attrs


class ObservationSerializer(ClinicalRecordSerializer):
    krenning_computed = serializers.SerializerMethodField(
        help_text="The uptake grade computed from the SUVs and the study's reference SUVs "
        "(docs/clinical-rules.md §2), shown beside the reader's visual score; null when it "
        "cannot be computed, and always on a planar or pre-therapy SPECT study (a PET or a "
        "post-therapy SPECT only, §11.1)."
    )
    flags = serializers.SerializerMethodField(
        help_text="spleen_reference_missing, reference_order_invalid, score_disagreement, "
        "pet_may_overestimate (docs/clinical-rules.md §2)."
    )

    class Meta:
        model = Observation
        fields = [
            "id",
            "study",
            "lesion",
            *OBSERVATION_READ_FIELDS,
            "krenning_computed",
            "flags",
        ]
        read_only_fields = ["id"]
        extra_kwargs = {
            "suv_max": {"min_value": 0},
            "suv_peak": {"min_value": 0},
            "long_axis_mm": {"min_value": 0},
            "short_axis_mm": {"min_value": 0},
            "volume_ml": {"min_value": 0},
            "krenning_visual": {"min_value": 0, "max_value": 4},
            "krenning_min": {"min_value": 0, "max_value": 4},
            "krenning_max": {"min_value": 0, "max_value": 4},
            # null means "not recorded"; an empty string is not a code.
            "fdg_visual": {"allow_blank": False},
            "fdg_vs_sstr": {"allow_blank": False},
        }

    def _uptake(self, obs: Observation) -> Any:
        # Per response: the thresholds are read once, each observation scored once for both
        # of its computed fields.
        cache = self.context.setdefault("_uptake", {})
        if obs.pk not in cache:
            thresholds = self.context.get("_thresholds")
            if thresholds is None:
                thresholds = self.context["_thresholds"] = rules_thresholds()
            cache[obs.pk] = observation_uptake(obs, obs.study, thresholds)
        return cache[obs.pk]

    @extend_schema_field(serializers.IntegerField(allow_null=True, min_value=0, max_value=4))
    def get_krenning_computed(self, obs: Observation) -> int | None:
        computed: int | None = self._uptake(obs).computed
        return computed

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_flags(self, obs: Observation) -> list[str]:
        return list(self._uptake(obs).flags)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        study = attrs.get("study", getattr(self.instance, "study", None))
        lesion = attrs.get("lesion", getattr(self.instance, "lesion", None))
        errors: dict[str, str] = {}
        if study is not None and study.status == StudyStatus.FINAL:
            raise serializers.ValidationError({"study": FINAL_READ})
        if study is not None and lesion is not None and study.patient_id != lesion.patient_id:
            errors["lesion"] = "This lesion belongs to another patient than the study."
        if study is not None and study.modality == Modality.PLANAR:
            for field in PLANAR_NO_SUV_OBSERVATION:
                if attrs.get(field, getattr(self.instance, field, None)) is not None:
                    errors[field] = NO_SUV_ON_PLANAR
        visual = attrs.get("krenning_visual", getattr(self.instance, "krenning_visual", None))
        if study is not None and study.tracer_class == "FDG" and visual is not None and visual > 3:
            errors["krenning_visual"] = "The visual FDG grade runs from 0 to 3."
        low = attrs.get("krenning_min", getattr(self.instance, "krenning_min", None))
        high = attrs.get("krenning_max", getattr(self.instance, "krenning_max", None))
        if low is not None and high is not None and low > high:
            errors["krenning_min"] = "Must not be above krenning_max."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class _PatientLesionField(serializers.IntegerField):
    """A lesion id looked up among the study patient's lesions (given in the context), so that a
    read of 40 observations costs one query for the lesions, not 40."""

    def to_internal_value(self, data: Any) -> Lesion:
        lesion_id = super().to_internal_value(data)
        lesion = self.context["lesions"].get(lesion_id)
        if lesion is None:
            raise serializers.ValidationError(
                f"No lesion {lesion_id} on this study's patient; create the lesion first."
            )
        return lesion  # type: ignore[no-any-return]


class ObservationReadItemSerializer(ObservationSerializer):
    """One item of a complete read (``PUT studies/{id}/observations/``): an observation without
    its study, which the URL gives."""

    lesion = _PatientLesionField(help_text="The lesion (of the study's patient) this row scores.")

    class Meta(ObservationSerializer.Meta):
        fields = [
            field
            for field in ObservationSerializer.Meta.fields
            if field not in {"id", "study", "krenning_computed", "flags"}
        ]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        super().validate({**attrs, "study": self.context["study"]})
        return attrs


class StudySerializer(ClinicalRecordSerializer):
    performed_on = serializers.DateField(validators=[not_in_future])
    observations = ObservationSerializer(many=True, read_only=True)
    finalized_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who finished the read (status final); null for a draft or a read sent final.",
    )
    reopened_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who last reopened the read; null if it never was.",
    )

    class Meta:
        model = ImagingStudy
        fields = [
            "id",
            "patient",
            "performed_on",
            "modality",
            "tracer",
            "tracer_class",
            "post_therapy",
            "treatment",
            "cycle_number",
            "blood_pool_suv",
            "liver_suv",
            "liver_suv_sd",
            "spleen_suv",
            "accession_number",
            "study_instance_uid",
            "status",
            "finalized_by",
            "finalized_at",
            "reopened_by",
            "reopened_at",
            "is_baseline",
            "observations",
        ]
        read_only_fields = ["id", "tracer_class", "observations", "finalized_at", "reopened_at"]
        extra_kwargs = {
            "blood_pool_suv": {"min_value": 0},
            "liver_suv": {"min_value": 0},
            "liver_suv_sd": {"min_value": 0},
            "spleen_suv": {"min_value": 0},
            "cycle_number": {"min_value": 1},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        def current(field: str) -> Any:
            return attrs.get(field, getattr(self.instance, field, None))

        errors: dict[str, str] = {}
        if self.instance is not None and self.instance.status == StudyStatus.FINAL:
            for field in READ_FIELDS:
                if field in attrs and attrs[field] != getattr(self.instance, field):
                    errors[field] = FINAL_READ
        tracer, modality = current("tracer"), current("modality")
        if tracer is not None and tracer not in TRACER_CLASS:
            errors["tracer"] = "Unknown tracer."
        if current("post_therapy") and tracer not in THERAPEUTIC_TRACERS:
            errors["post_therapy"] = (
                "A post-therapy study needs a therapeutic tracer (177Lu-DOTATATE or 131I-MIBG)."
            )
        if modality is not None and tracer is not None:
            anatomic = modality in ANATOMIC_MODALITIES
            if anatomic and tracer != Tracer.NONE:
                errors["tracer"] = "CT and MRI studies take tracer 'none'."
            elif not anatomic and tracer == Tracer.NONE:
                errors["tracer"] = "A PET, SPECT or planar study needs a tracer."
        errors.update(self._planar_errors(modality, current))
        treatment, patient = current("treatment"), current("patient")
        if treatment is not None and patient is not None and treatment.patient_id != patient.pk:
            errors["treatment"] = "This treatment belongs to another patient."
        if current("cycle_number") is not None and treatment is None:
            errors["cycle_number"] = "A cycle number needs the treatment it belongs to."
        if current("is_baseline") and not errors and tracer is not None and modality is not None:
            problem = baseline_problem(
                patient, modality, tracer, bool(current("post_therapy")), self.instance
            )
            if problem:
                errors["is_baseline"] = problem
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _planar_errors(self, modality: Any, current: Callable[[str], Any]) -> dict[str, str]:
        """A planar study takes no reference SUV, and a read with SUVs cannot become planar."""
        if modality != Modality.PLANAR:
            return {}
        errors = {
            field: NO_SUV_ON_PLANAR for field in PLANAR_NO_SUV_STUDY if current(field) is not None
        }
        if self.instance is not None and self.instance.modality != Modality.PLANAR:
            with_suvs = self.instance.observations.filter(
                Q(suv_max__isnull=False) | Q(suv_peak__isnull=False)
            )
            if with_suvs.exists():
                errors["modality"] = (
                    "Planar scintigraphy has no SUV, and this read has SUVs: remove them before "
                    "changing the modality to planar."
                )
        return errors

    def create(self, validated_data: dict[str, Any]) -> Any:
        """A study sent as ``final`` is created as a draft and finished at once, by the sender."""
        final = validated_data.pop("status", StudyStatus.DRAFT) == StudyStatus.FINAL
        with transaction.atomic():
            study = super().create({**validated_data, "status": StudyStatus.DRAFT})
            return study_finish(study=study, user=self._user()) if final else study

    def update(self, instance: Any, validated_data: dict[str, Any]) -> Any:
        """A change of ``status`` finishes (``final``) or reopens (``draft``) the read, with who
        did it; the other values are saved first (a final read keeps its reference values)."""
        status = validated_data.pop("status", None)
        with transaction.atomic():
            study = super().update(instance, validated_data)
            if status == StudyStatus.FINAL:
                return study_finish(study=study, user=self._user())
            if status == StudyStatus.DRAFT:
                return study_reopen(study=study, user=self._user())
            return study

    def _user(self) -> Any:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated else None
