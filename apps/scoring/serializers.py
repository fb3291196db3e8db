"""OpenAPI description of the computed results (API.md "Computed results").

The views return the stored JSON as it is; these serializers only describe it for the schema,
and a test checks that real bodies match them field for field.
"""

from __future__ import annotations

from rest_framework import serializers

ASSESSMENT_STATUS = ["fresh", "pending", "stale"]
STATUS_HELP = (
    "fresh: computed from the current data under the current rules; pending: a recompute is "
    "queued; stale: the data or the rules changed and no recompute is queued (the sweeper will "
    "queue one within a minute)."
)
LESIONS_HELP = "Lesion ids."


def _ids(help_text: str = LESIONS_HELP) -> serializers.ListField:
    return serializers.ListField(child=serializers.IntegerField(), help_text=help_text)


class _Thresholds(serializers.Serializer):  # type: ignore[type-arg]
    sstr_positive = serializers.CharField(help_text="The SSTR positivity rule this system uses.")
    fdg_positive = serializers.CharField(help_text="The FDG positivity rule this system uses.")
    netpet_equal_tolerance = serializers.FloatField(
        required=False, help_text="NETPET only: tolerance for 'equal' FDG and SSTR uptake."
    )


class _NetpetLesion(serializers.Serializer):  # type: ignore[type-arg]
    lesion = serializers.IntegerField()
    pattern = serializers.CharField(help_text="The lesion's NETPET pattern P0-P5.")
    sstr_score = serializers.IntegerField(help_text="Effective Krenning score 0-4 (DOMAIN.md §2).")
    fdg_score = serializers.IntegerField(help_text="Effective FDG uptake grade 0-4.")
    tlr_sstr = serializers.FloatField(allow_null=True, help_text="SSTR SUVmax / liver SUVmean.")
    tlr_fdg = serializers.FloatField(allow_null=True, help_text="FDG SUVmax / liver SUVmean.")
    ratio = serializers.FloatField(allow_null=True, help_text="tlr_fdg / tlr_sstr.")
    comparison = serializers.ChoiceField(
        choices=["higher", "equal", "lower"],
        allow_null=True,
        help_text="FDG uptake compared with SSTR uptake; null when unknown.",
    )
    comparison_source = serializers.ChoiceField(
        choices=["reader", "computed"],
        allow_null=True,
        help_text="reader: entered on the FDG observation; computed: from the TLRs.",
    )


class _Netpet(serializers.Serializer):  # type: ignore[type-arg]
    grade = serializers.CharField(
        allow_null=True,
        help_text="P0, P1, P2a/b-P4a/b, P5 or not_classifiable; null when no FDG PET pairs.",
    )
    pattern = serializers.CharField(allow_null=True, help_text="P0-P5 without the suffix.")
    suffix = serializers.ChoiceField(choices=["a", "b"], allow_null=True)
    suitability = serializers.CharField(allow_null=True, help_text="Published suitability wording.")
    representative_lesion = serializers.IntegerField(allow_null=True)
    lesions = _NetpetLesion(many=True, help_text="Every graded lesion with its pattern.")
    deciding_lesions = _ids("The lesions that decided the grade.")
    unknown_comparison_lesions = _ids("P2-P4 lesions whose FDG-vs-SSTR comparison is unknown.")
    reason = serializers.CharField(help_text="One sentence: why this grade.")
    provisional = serializers.BooleanField(help_text="True while lesions are unpaired or unknown.")
    thresholds = _Thresholds()


class _GroupLesion(serializers.Serializer):  # type: ignore[type-arg]
    lesion = serializers.IntegerField()
    sstr_positive = serializers.BooleanField()
    fdg_positive = serializers.BooleanField()


class _Group(serializers.Serializer):  # type: ignore[type-arg]
    group = serializers.CharField(
        allow_null=True, help_text="The group, not_classifiable, or null when no FDG PET pairs."
    )
    suitability = serializers.CharField(allow_null=True)
    reason = serializers.CharField(help_text="One sentence: why this group.")
    lesions = _GroupLesion(many=True, help_text="The deciding lesions.")
    provisional = serializers.BooleanField()
    thresholds = _Thresholds()


class _Karfis(_Group):
    pet_negative_lesions = _ids("Lesions negative on both tracers (Karfis C3 when all are).")


class _Zidan(_Group):
    note = serializers.CharField(allow_null=True, help_text="Zidan is for pulmonary NEN.")


class _SstrCounts(serializers.Serializer):  # type: ignore[type-arg]
    def get_fields(self) -> dict[str, serializers.Field]:  # type: ignore[type-arg]
        return {str(score): serializers.IntegerField() for score in range(5)}


class _Sstr(serializers.Serializer):  # type: ignore[type-arg]
    counts = _SstrCounts(help_text="Evaluable lesions per Krenning score 0-4.")
    evaluable_lesions = serializers.IntegerField()
    share_adequate = serializers.FloatField(
        allow_null=True, help_text="Share of evaluable lesions with Krenning >= 3."
    )
    majority_low = serializers.BooleanField()
    heterogeneous = serializers.BooleanField(help_text="Intra-lesional, patient level (§5).")
    inter_lesional = serializers.BooleanField()
    target_lesions = _ids()
    targets_marked = serializers.BooleanField()
    heterogeneous_lesions = _ids()
    reason = serializers.CharField()


class _Finding(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.ChoiceField(
        choices=[
            "sstr_majority_low",
            "discordant_fdg_positive_sstr_negative",
            "fdg_positive_sstr_positive",
            "sstr_positive_fdg_negative",
            "sstr_heterogeneous",
            "small_lesions",
            "high_grade",
            "fdg_suvmax_prognostic",
            "grade_fdg_discordance",
            "pulmonary",
            "fdg_pet_missing",
        ]
    )
    severity = serializers.ChoiceField(choices=["blocks", "caution", "info"])
    message = serializers.CharField()
    lesions = _ids()
    source = serializers.CharField(help_text="The rule (DOMAIN.md section) behind the finding.")


class _PrrtSupport(serializers.Serializer):  # type: ignore[type-arg]
    overall = serializers.ChoiceField(choices=["no_blocking_finding", "blocking_findings_present"])
    findings = _Finding(many=True)


class _LesionScore(serializers.Serializer):  # type: ignore[type-arg]
    lesion = serializers.IntegerField()
    status = serializers.ChoiceField(
        choices=["graded", "unpaired", "not_evaluable", "ungradable", "no_fdg_pet"]
    )
    sstr_score = serializers.IntegerField(allow_null=True)
    sstr_source = serializers.CharField(allow_null=True, help_text="visual or computed.")
    sstr_flags = serializers.ListField(child=serializers.CharField())
    fdg_score = serializers.IntegerField(allow_null=True)
    fdg_source = serializers.CharField(allow_null=True)
    fdg_positive_background = serializers.BooleanField(allow_null=True)
    fdg_positive_liver = serializers.BooleanField(allow_null=True)
    fdg_flags = serializers.ListField(child=serializers.CharField())


class _Timepoint(serializers.Serializer):  # type: ignore[type-arg]
    sstr_study = serializers.IntegerField(help_text="The pre-therapy SSTR PET of the timepoint.")
    fdg_study = serializers.IntegerField(
        allow_null=True, help_text="The paired FDG PET; null when none lies within the window."
    )
    sstr_performed_on = serializers.DateField()
    fdg_performed_on = serializers.DateField(allow_null=True)
    provisional = serializers.BooleanField()
    unpaired_lesions = _ids("Lesions seen on one tracer only.")
    ungradable_lesions = _ids("Lesions without a usable score.")
    not_evaluable_lesions = _ids("Lesions marked not evaluable: left out.")
    unknown_comparison_lesions = _ids()
    grading_order = serializers.ListField(
        child=serializers.CharField(),
        help_text="Order to show the gradings (Zidan first for lung).",
    )
    netpet = _Netpet()
    karfis = _Karfis()
    zidan = _Zidan()
    sstr = _Sstr()
    biopsy_target = serializers.IntegerField(allow_null=True)
    prrt_support = _PrrtSupport()
    lesion_scores = _LesionScore(many=True)


class PhenotypeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    patient = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ASSESSMENT_STATUS, help_text=STATUS_HELP)
    computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the shown result was computed; null before the first."
    )
    rules_version = serializers.CharField(allow_null=True)
    thresholds = serializers.DictField(
        child=serializers.FloatField(), allow_null=True, help_text="NETBOARD_RULES in force."
    )
    timepoints = _Timepoint(many=True, help_text="One per pre-therapy SSTR PET, in date order.")


class RecomputeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    patient = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ASSESSMENT_STATUS, help_text=STATUS_HELP)
