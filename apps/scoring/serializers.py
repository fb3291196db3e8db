"""OpenAPI description of the computed results (API.md "Computed results").

The views return the stored JSON as it is; these serializers only describe it for the schema,
and a test checks that real bodies match them field for field.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.scoring.rules.findings import FINDING_CODES

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
    sstr_score = serializers.IntegerField(
        help_text="Effective Krenning score 0-4 (docs/clinical-rules.md §2)."
    )
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
    code = serializers.ChoiceField(choices=FINDING_CODES)
    severity = serializers.ChoiceField(choices=["blocks", "caution", "info"])
    message = serializers.CharField()
    lesions = _ids()
    source = serializers.CharField(
        help_text="The rule (docs/clinical-rules.md section) behind the finding."
    )


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


class _AssessmentBody(serializers.Serializer):  # type: ignore[type-arg]
    """What the phenotype and the response bodies share: whose, how current, under which rules."""

    patient = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ASSESSMENT_STATUS, help_text=STATUS_HELP)
    computed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the shown result was computed; null before the first."
    )
    rules_version = serializers.CharField(allow_null=True)
    thresholds = serializers.DictField(
        child=serializers.FloatField(), allow_null=True, help_text="NETBOARD_RULES in force."
    )
    preliminary = serializers.BooleanField(
        help_text="True when any study behind the result is a draft read (not finished yet)."
    )
    draft_studies = serializers.ListField(
        child=serializers.IntegerField(), help_text="The draft studies, in date order."
    )


AGENT_CODES = ["lu177_dotatate", "i131_mibg", "either", "tandem"]


class _AgentChoice(serializers.Serializer):  # type: ignore[type-arg]
    sstr_study = serializers.IntegerField(help_text="The pre-therapy SSTR study compared.")
    mibg_study = serializers.IntegerField(
        help_text="The pre-therapy MIBG study (123I-/124I-MIBG, 18F-MFBG) closest to it."
    )
    provisional = serializers.BooleanField(
        help_text="True while lesions are unpaired or ungradable."
    )
    unpaired_lesions = _ids("Scored or not seen on one study, no observation on the other.")
    lutathera_covers_all = serializers.BooleanField(
        help_text="Every graded lesion at uptake >= 3 (above liver) on the SSTR study."
    )
    mibg_covers_all = serializers.BooleanField(
        help_text="Every graded lesion at uptake >= 3 (above liver) on the MIBG study."
    )
    ungradable_lesions = _ids("Lesions without a score on one of the studies: left out.")
    suggestion = serializers.ChoiceField(
        choices=[*AGENT_CODES, "partial"],
        allow_null=True,
        help_text=(
            "lu177_dotatate or i131_mibg: that agent alone covers every graded lesion (both: the "
            "higher summed uptake); either: both, with equal sums; tandem: each lesion covered by "
            "one of them; partial: some lesions covered by neither; null: no lesion graded."
        ),
    )
    rest_suggestion = serializers.ChoiceField(
        choices=AGENT_CODES,
        allow_null=True,
        help_text="With partial only: the same rule over the covered lesions; else null.",
    )
    covered_by_sstr = _ids("Graded lesions 177Lu-DOTATATE covers.")
    covered_by_mibg = _ids("Graded lesions 131I-MIBG covers.")
    uncovered = _ids("Graded lesions neither agent covers.")
    reason = serializers.CharField(help_text="One sentence: why this suggestion.")


class PhenotypeSerializer(_AssessmentBody):
    timepoints = _Timepoint(many=True, help_text="One per pre-therapy SSTR PET, in date order.")
    agent_choice = _AgentChoice(
        allow_null=True,
        help_text=(
            "PPGL: 131I-MIBG, 177Lu-DOTATATE or tandem (docs/clinical-rules.md §11); null unless "
            "the patient has PPGL histology and an SSTR and an MIBG study within the window."
        ),
    )


class RecomputeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    patient = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ASSESSMENT_STATUS, help_text=STATUS_HELP)


# --- GET patients/{id}/response/ (DOMAIN.md §7-§9) ----------------------------------------------

SERIES_HELP = "anatomic (CT/MRI), fdg (FDG PET) or sstr (pre-therapy SSTR PET)."


def _num(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, help_text=help_text)


class _Baseline(serializers.Serializer):  # type: ignore[type-arg]
    series = serializers.ChoiceField(choices=["anatomic", "fdg", "sstr"], help_text=SERIES_HELP)
    baseline_study = serializers.IntegerField(allow_null=True, help_text="Null: no such study.")
    baseline_performed_on = serializers.DateField(allow_null=True)
    source = serializers.ChoiceField(
        choices=["user", "treatment", "first"],
        allow_null=True,
        help_text=(
            "user: picked (study is_baseline); treatment: the latest study on or before the start "
            "of the most recent treatment line; first: the series' first study."
        ),
    )
    treatment = serializers.IntegerField(
        allow_null=True, help_text="The treatment line whose start set the baseline."
    )
    follow_up_studies = _ids("The later studies of the series, in date order.")
    reason = serializers.CharField(help_text="One sentence: why this baseline.")


class _RecistError(serializers.Serializer):  # type: ignore[type-arg]
    rule = serializers.ChoiceField(
        choices=["too_many_targets", "too_many_per_site", "target_not_measurable"],
        help_text="The RECIST 1.1 target rule the marked selection breaks.",
    )
    message = serializers.CharField(help_text="The rule and the lesions that break it.")


class _RecistTarget(serializers.Serializer):  # type: ignore[type-arg]
    lesion = serializers.IntegerField()
    site = serializers.CharField(help_text="The lesion's site (organ).")
    nodal = serializers.BooleanField()
    measure = serializers.ChoiceField(
        choices=["long_axis", "short_axis"], help_text="Short axis for nodal targets."
    )
    baseline_mm = _num("Diameter at baseline, mm.")
    mm = _num("Diameter at this follow-up, mm (0 when not seen; null when missing).")
    state = serializers.CharField(
        allow_null=True, help_text="Observation state at this follow-up; null when none."
    )


class _Recist(serializers.Serializer):  # type: ignore[type-arg]
    study = serializers.IntegerField(help_text="The follow-up CT/MRI.")
    baseline_study = serializers.IntegerField()
    performed_on = serializers.DateField()
    baseline_performed_on = serializers.DateField()
    category = serializers.ChoiceField(
        choices=["CR", "PR", "SD", "PD", "NE"],
        allow_null=True,
        help_text="RECIST 1.1; NE when a target is missing; null when the selection is refused.",
    )
    error = _RecistError(allow_null=True, help_text="Why the target selection is refused.")
    target_source = serializers.ChoiceField(
        choices=["marked", "picked"], help_text="Marked by the reader, or picked by the rules."
    )
    targets = _RecistTarget(many=True)
    missing_targets = _ids("Targets without a usable diameter at this follow-up (NE).")
    sum_mm = _num("Sum of target diameters, mm.")
    baseline_sum_mm = _num("Sum at baseline, mm.")
    nadir_sum_mm = _num("Smallest sum at baseline and earlier follow-ups, mm.")
    nadir_study = serializers.IntegerField(allow_null=True, help_text="Where the nadir was.")
    change_from_baseline_percent = _num("Change of the sum from baseline, %.")
    change_from_nadir_percent = _num("Change of the sum from the nadir, %.")
    change_from_nadir_mm = _num("Change of the sum from the nadir, mm.")
    new_lesions = _ids("Lesions first scored after the baseline and scored here.")
    reason = serializers.CharField(help_text="One sentence with the numbers behind the category.")


class _DualTracerGrades(serializers.Serializer):  # type: ignore[type-arg]
    sstr_study = serializers.IntegerField()
    fdg_study = serializers.IntegerField()
    sstr_performed_on = serializers.DateField()
    fdg_performed_on = serializers.DateField()
    netpet = serializers.CharField(allow_null=True, help_text="NETPET grade at this timepoint.")
    karfis = serializers.CharField(allow_null=True, help_text="Karfis group at this timepoint.")
    zidan = serializers.CharField(allow_null=True, help_text="Zidan group at this timepoint.")
    provisional = serializers.BooleanField()
    biopsy_target = serializers.IntegerField(allow_null=True)


class _Alert(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.ChoiceField(
        choices=[
            "new_fdg_positive_sstr_negative",
            "fdg_resolved",
            "fdg_growing_low_sstr",
            "ssa_started_between",
        ]
    )
    study = serializers.IntegerField(help_text="The SSTR PET of the timepoint the alert is on.")
    fdg_study = serializers.IntegerField(
        required=False, help_text="The FDG PET of the timepoint (dual-tracer alerts)."
    )
    lesions = _ids("The lesions behind the alert.")
    text = serializers.CharField(help_text="What it means, in one or two sentences.")


class _BiomarkerValue(serializers.Serializer):  # type: ignore[type-arg]
    measured_on = serializers.DateField()
    value = serializers.FloatField()


class _Biomarker(serializers.Serializer):  # type: ignore[type-arg]
    analyte = serializers.CharField()
    unit = serializers.CharField()
    values = _BiomarkerValue(many=True, help_text="In date order.")
    change_from_baseline = _num("Change of the latest value from the first, %.")
    doubling_time_days = _num("ln 2 / least-squares slope of ln(value); null unless rising.")
    rising = serializers.BooleanField(help_text="Latest value at least 25% above the first.")
    rising_with_stable_imaging = serializers.BooleanField(
        help_text="Rising while the latest RECIST category is SD."
    )
    reason = serializers.CharField()


class _Note(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.ChoiceField(
        choices=["ppgl", "insulinoma", "mtc", "pulmonary", "rising_markers_with_ssa_change"]
    )
    applies_because = serializers.CharField(help_text="What in the record brought the note up.")
    text = serializers.CharField(help_text="The docs/clinical-rules.md §9 statement.")


class _SstrLesion(serializers.Serializer):  # type: ignore[type-arg]
    lesion = serializers.IntegerField()
    baseline_state = serializers.CharField()
    follow_up_state = serializers.CharField()
    baseline_suv_max = _num("SUVmax at baseline (0 when not seen).")
    follow_up_suv_max = _num("SUVmax at this follow-up (0 when not seen).")
    suv_max_change = _num("Follow-up minus baseline SUVmax.")
    suv_max_change_percent = _num("Change of SUVmax, %; null when the baseline SUVmax is 0.")
    baseline_tlr = _num("Baseline SUVmax / liver SUVmean.")
    follow_up_tlr = _num("Follow-up SUVmax / liver SUVmean.")
    tlr_change = _num("Follow-up minus baseline TLR.")
    baseline_krenning = serializers.IntegerField(allow_null=True)
    follow_up_krenning = serializers.IntegerField(allow_null=True)
    krenning_change = serializers.IntegerField(allow_null=True)


class _SstrAlert(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.ChoiceField(choices=["ssa_started_between"])
    text = serializers.CharField()
    treatments = _ids("The SSA treatment lines that started in between.")


class _SstrFollowUp(serializers.Serializer):  # type: ignore[type-arg]
    study = serializers.IntegerField(help_text="The follow-up SSTR PET.")
    baseline_study = serializers.IntegerField()
    previous_study = serializers.IntegerField(help_text="The SSTR PET just before this one.")
    performed_on = serializers.DateField()
    category = serializers.CharField(
        allow_null=True, help_text="Always null: SSTR PET response has no validated criteria."
    )
    lesions = _SstrLesion(many=True, help_text="Lesions observed on both studies.")
    suv_max_rose_lesions = _ids("Lesions whose SUVmax rose.")
    suv_max_fell_lesions = _ids("Lesions whose SUVmax fell.")
    new_lesions = _ids("New lesions that are SSTR-avid (Krenning >= 2) here.")
    vanished_lesions = _ids("Scored at baseline, not seen here.")
    alerts = _SstrAlert(many=True)
    caution = serializers.CharField(help_text="How to read SUV changes on SSTR PET.")
    reason = serializers.CharField()


class _TheranosticLesion(serializers.Serializer):  # type: ignore[type-arg]
    lesion = serializers.IntegerField()
    pet_score = serializers.IntegerField(help_text="Krenning score on the pre-therapy SSTR PET.")
    spect_score = serializers.IntegerField(help_text="Score on the post-therapy SPECT.")
    change = serializers.ChoiceField(choices=["upgraded", "downgraded", "unchanged"])
    target_lost = serializers.BooleanField(help_text="SPECT <= 1 where the PET was >= 3.")


class _Theranostic(serializers.Serializer):  # type: ignore[type-arg]
    study = serializers.IntegerField(help_text="The post-therapy 177Lu-DOTATATE scan.")
    performed_on = serializers.DateField()
    cycle_number = serializers.IntegerField(allow_null=True)
    treatment = serializers.IntegerField(allow_null=True)
    pet_study = serializers.IntegerField(
        allow_null=True, help_text="The latest pre-therapy SSTR PET before the course."
    )
    pet_performed_on = serializers.DateField(allow_null=True)
    pet_source = serializers.CharField(
        allow_null=True,
        help_text="How the PET was found: study_treatment, latest_prrt_course or before_spect.",
    )
    signals = serializers.ListField(
        child=serializers.ChoiceField(
            choices=["high_retention_all", "low_retention_majority", "target_lost_majority"]
        )
    )
    signal_texts = serializers.ListField(child=serializers.CharField())
    lesions = _TheranosticLesion(many=True)
    upgraded_lesions = _ids()
    downgraded_lesions = _ids()
    target_lost_lesions = _ids()
    note = serializers.CharField(help_text="The affinity difference of the two tracers.")
    reason = serializers.CharField()


class _Percist(serializers.Serializer):  # type: ignore[type-arg]
    study = serializers.IntegerField(help_text="The follow-up FDG PET.")
    baseline_study = serializers.IntegerField()
    performed_on = serializers.DateField()
    category = serializers.ChoiceField(
        choices=["CMR", "PMR", "SMD", "PMD", "NE", "not_measurable"],
        help_text="PERCIST 1.0; NE when nothing can be compared; not_measurable baseline.",
    )
    measurable = serializers.BooleanField(
        help_text="Baseline hottest lesion above 1.5 x liver mean + 2 x liver SD."
    )
    quantity = serializers.CharField(
        help_text="SULpeak, else SUVpeak (no lean body mass), else SUVmax/SULmax, as used."
    )
    lean_body_mass_kg = _num("Janmahasatian lean body mass; null without height, weight, sex.")
    liver_mean = _num("Baseline liver mean, in the quantity used.")
    liver_sd = _num("Baseline liver SD, in the quantity used.")
    measurability_threshold = _num("1.5 x liver mean + 2 x liver SD.")
    baseline_hottest_lesion = serializers.IntegerField(allow_null=True)
    baseline_hottest = _num("The baseline's hottest lesion value.")
    hottest_lesion = serializers.IntegerField(allow_null=True)
    hottest = _num("This follow-up's hottest lesion value (may be another lesion).")
    change_percent = _num("Change of the hottest value, %.")
    change_units = _num("Change of the hottest value, in units of the quantity.")
    new_lesions = _ids("Lesions first scored after the baseline and scored here.")
    new_fdg_positive_lesions = _ids("New lesions at FDG grade >= 2 here (PMD).")
    ungradable_lesions = _ids("Scored lesions without an FDG grade (leave CMR unproven).")
    provisional = serializers.BooleanField(help_text="True while a lesion cannot be graded.")
    notes = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField()


class ResponseSerializer(_AssessmentBody):
    baselines = _Baseline(many=True, help_text="The baseline of each series.")
    recist = _Recist(many=True, help_text="RECIST 1.1, one per follow-up CT/MRI, date order.")
    percist = _Percist(many=True, help_text="PERCIST 1.0, one per follow-up FDG PET.")
    sstr = _SstrFollowUp(many=True, help_text="SSTR PET changes, descriptive, per follow-up.")
    dual_tracer = _DualTracerGrades(
        many=True, help_text="The §4 grades at every dual-tracer timepoint, in date order."
    )
    dual_tracer_alerts = _Alert(many=True, help_text="Alerts, in date order.")
    theranostic = _Theranostic(many=True, help_text="Post-therapy SPECT vs pre-therapy PET.")
    biomarkers = _Biomarker(many=True, help_text="One series per analyte and unit.")
    notes = _Note(many=True, help_text="Disease-specific notes (docs/clinical-rules.md §9).")
