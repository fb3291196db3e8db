"""The OpenAPI description of ``GET analytics/survival/`` (its bodies are built as plain dicts
by apps/outcomes/survival.py; these serializers only describe them)."""

from __future__ import annotations

from rest_framework import serializers


class _Filters(serializers.Serializer):  # type: ignore[type-arg]
    primary_site = serializers.CharField(
        allow_null=True, help_text="The primary_site filter, or null."
    )
    who_grade = serializers.CharField(allow_null=True, help_text="The who_grade filter, or null.")
    received_prrt = serializers.BooleanField(
        allow_null=True, help_text="The received_prrt filter, or null."
    )


class _Pair(serializers.ListField):
    child = serializers.FloatField()


class _SurvivalGroup(serializers.Serializer):  # type: ignore[type-arg]
    group = serializers.CharField(
        help_text="The group: NETPET P0, P1, P2-P4, P5 (grouping netpet) or a grade (P2a, ...), "
        "Karfis C1-C3, Zidan 1-4, or not_classifiable (no dual-tracer grade at the index date)."
    )
    n = serializers.IntegerField(help_text="Patients in the group.")
    events = serializers.IntegerField(help_text="Deaths (os), or progressions or deaths (pfs).")
    median_days = serializers.FloatField(
        allow_null=True, help_text="Kaplan-Meier median in days; null when not reached."
    )
    ci_low_days = serializers.FloatField(
        allow_null=True, help_text="Lower bound of the median's 95% confidence interval (days)."
    )
    ci_high_days = serializers.FloatField(
        allow_null=True,
        help_text="Upper bound of the median's 95% confidence interval (days); null when the "
        "upper confidence curve does not reach one half.",
    )
    curve = serializers.ListField(
        child=_Pair(),
        help_text="The Kaplan-Meier curve as [days, survival] steps: from day 0, each day it "
        "drops, and its last day (the longest follow-up).",
    )
    curve_ci = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(allow_null=True)),
        help_text="Extension: [days, lower, upper] of the curve's pointwise 95% confidence "
        "interval at the days of curve.",
    )
    censored = serializers.ListField(
        child=_Pair(),
        help_text="Extension: [days, patients] censored on that day (the tick marks).",
    )
    at_risk = serializers.ListField(
        child=_Pair(),
        help_text="Numbers at risk: [days, patients still followed and event-free], at the "
        "same days for every group.",
    )


class _Logrank(serializers.Serializer):  # type: ignore[type-arg]
    chi2 = serializers.FloatField(help_text="The log-rank chi-squared statistic.")
    df = serializers.IntegerField(help_text="Degrees of freedom: the groups tested minus one.")
    p = serializers.FloatField(help_text="Its p-value.")


class _Excluded(serializers.Serializer):  # type: ignore[type-arg]
    no_prrt = serializers.IntegerField(help_text="index=prrt_start: never started PRRT.")
    no_index_date = serializers.IntegerField(
        help_text="No SSTR PET timepoint and no pathology report: no index date."
    )
    no_follow_up = serializers.IntegerField(help_text="No follow-up record at all.")
    no_follow_up_after_index = serializers.IntegerField(
        help_text="Follow-up ends on or before the index date, without an event."
    )
    death_before_index = serializers.IntegerField(help_text="A death dated before the index date.")


class _IndexSources(serializers.Serializer):  # type: ignore[type-arg]
    first_dual_tracer = serializers.IntegerField(
        help_text="Patients timed from their first dual-tracer timepoint."
    )
    first_sstr_pet = serializers.IntegerField(
        help_text="Patients without a dual-tracer timepoint, timed from their first SSTR PET "
        "timepoint (not_classifiable)."
    )
    diagnosis = serializers.IntegerField(
        help_text="Patients without any SSTR PET timepoint, timed from the diagnosis (the "
        "earliest pathology report; not_classifiable)."
    )
    prrt_start = serializers.IntegerField(help_text="Patients timed from the start of PRRT.")


class _SurvivalBase(serializers.Serializer):  # type: ignore[type-arg]
    endpoint = serializers.CharField(help_text="os or pfs, as asked.")
    grouping = serializers.CharField(help_text="netpet, netpet_grades, karfis or zidan.")
    index = serializers.CharField(help_text="first_dual_tracer or prrt_start.")
    filters = _Filters(help_text="The filters applied.")


class SurvivalSerializer(_SurvivalBase):
    status = serializers.CharField(help_text="ready: the figures follow.")
    min_group_size = serializers.IntegerField(
        help_text="NETBOARD_SURVIVAL_MIN_GROUP: a group below it gets its curve but no test."
    )
    patients = serializers.IntegerField(help_text="Patients matching the filters.")
    analysed = serializers.IntegerField(help_text="Of them, patients in the groups.")
    excluded = _Excluded(help_text="Of them, patients left out and why.")
    index_sources = _IndexSources(help_text="Where the analysed patients' index dates come from.")
    groups = _SurvivalGroup(
        many=True, help_text="The groups with patients, in the grouping's order."
    )
    logrank = _Logrank(
        allow_null=True,
        help_text="Log-rank test across the classified groups (not_classifiable is not "
        "tested); null when fewer than two have patients or one is below min_group_size.",
    )
    logrank_note = serializers.CharField(
        allow_null=True, help_text="Why there is no test, when logrank is null."
    )
    version = serializers.CharField(
        help_text="The cohort's input version the figures were computed from."
    )
    computed_at = serializers.DateTimeField(help_text="When they were computed (UTC).")


class SurvivalPendingSerializer(_SurvivalBase):
    status = serializers.CharField(help_text="pending: being computed.")
    version = serializers.CharField(help_text="The cohort's input version being computed.")
    status_url = serializers.URLField(
        help_text="Poll this (after Retry-After seconds) for the figures of this computation."
    )
