"""The survival analysis page (`/analytics/`, issue 18): Kaplan-Meier curves of the cohort by
dual-tracer grade, the figures behind them, and their CSV. Clinicians, auditors and admins
(`outcomes.view_survival`). The computation is apps/outcomes/analytics.py's, as for the API:
a worker computes it when no result for the cohort as it is now is cached; meanwhile the page
says so and asks again every 2 seconds (htmx) until the figures are there."""

from __future__ import annotations

import csv
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.core.access import record_access
from apps.outcomes import analytics
from apps.outcomes.plot import months, survival_plot, time_label
from apps.outcomes.selectors import survival_cohort
from apps.outcomes.survival import NOT_CLASSIFIABLE, SurvivalQuery
from apps.patients.models import PrimarySite, WhoGrade

ENDPOINT_LABELS = {"os": "Overall survival", "pfs": "Progression-free survival"}
EVENT_FREE = {"os": "alive", "pfs": "alive without progression"}
GROUPING_LABELS = {
    "netpet": "NETPET (P1, P2–P4, P5)",
    "netpet_grades": "NETPET (every grade)",
    "karfis": "Karfis (C1–C3)",
    "zidan": "Zidan (1–4)",
}
INDEX_LABELS = {"first_dual_tracer": "The first dual-tracer timepoint", "prrt_start": "PRRT start"}
EXCLUSION_LABELS = {
    "no_prrt": "never started PRRT (index: PRRT start)",
    "no_index_date": "no index date (no SSTR PET and no pathology report)",
    "no_follow_up": "no follow-up record",
    "no_follow_up_after_index": "no follow-up after the index date",
    "death_before_index": "death recorded before the index date",
}
PRRT_CHOICES = [("", "Any"), ("yes", "Received PRRT"), ("no", "Never received PRRT")]


class SurvivalForm(forms.Form):
    endpoint = forms.ChoiceField(label="Endpoint", choices=list(ENDPOINT_LABELS.items()))
    grouping = forms.ChoiceField(label="Grouped by", choices=list(GROUPING_LABELS.items()))
    index = forms.ChoiceField(label="From", choices=list(INDEX_LABELS.items()))
    primary_site = forms.ChoiceField(
        label="Primary site", choices=[("", "Any"), *PrimarySite.choices], required=False
    )
    who_grade = forms.ChoiceField(
        label="WHO grade (latest report)", choices=[("", "Any"), *WhoGrade.choices], required=False
    )
    received_prrt = forms.ChoiceField(label="PRRT", choices=PRRT_CHOICES, required=False)

    def query(self) -> SurvivalQuery:
        data = self.cleaned_data
        prrt = {"yes": True, "no": False}.get(data.get("received_prrt") or "")
        return SurvivalQuery(
            endpoint=data["endpoint"],
            grouping=data["grouping"],
            index=data["index"],
            primary_site=data.get("primary_site") or None,
            who_grade=data.get("who_grade") or None,
            received_prrt=prrt,
        )


DEFAULTS = {"endpoint": "os", "grouping": "netpet", "index": "first_dual_tracer"}


def _bound_form(request: HttpRequest) -> SurvivalForm:
    """The form with the query string's choices, the defaults for what it leaves out."""
    fields = SurvivalForm.base_fields
    data = {name: request.GET.get(name, DEFAULTS.get(name, "")) for name in fields}
    return SurvivalForm(data)


def _query_string(query: SurvivalQuery, **extra: str) -> str:
    params = {k: v for k, v in query.as_dict().items() if v is not None}
    if "received_prrt" in params:
        params["received_prrt"] = "yes" if params["received_prrt"] else "no"
    return urlencode({**params, **extra})


def _labels(query: SurvivalQuery) -> dict[str, str]:
    return {
        "endpoint": ENDPOINT_LABELS[query.endpoint],
        "grouping": GROUPING_LABELS[query.grouping],
        "index": INDEX_LABELS[query.index],
        "event_free": EVENT_FREE[query.endpoint],
    }


def curve_rows(figures: dict[str, Any]) -> list[list[Any]]:
    """The curves step by step, as the CSV and the page's table of steps list them."""
    rows = []
    for group in figures["groups"]:
        bands = {day: (low, high) for day, low, high in group["curve_ci"]}
        for day, survival in group["curve"]:
            low, high = bands.get(day, (None, None))
            rows.append([group["group"], day, f"{months(day):.1f}", survival, low, high])
    return rows


CURVE_COLUMNS = ["group", "day", "months", "survival", "ci_low", "ci_high"]


def _check(request: HttpRequest) -> None:
    if not request.user.has_perm("outcomes.view_survival"):
        raise PermissionDenied("The survival analysis is for clinicians and auditors.")


@require_GET
def analytics_page(request: HttpRequest) -> HttpResponse:
    _check(request)
    form = _bound_form(request)
    context: dict[str, Any] = {"form": form}
    if not form.is_valid():
        return render(request, "outcomes/analytics.html", context, status=400)
    query = form.query()
    result = analytics.survival_status(query, version=request.GET.get("version") or None)
    figures = result.figures
    context.update(
        query=query,
        labels=_labels(query),
        result=result,
        poll_url=reverse("analytics")
        + "?"
        + _query_string(query, version=result.version, part="result"),
    )
    if figures is not None:
        groups = figures["groups"]
        plot = survival_plot(figures)
        ticks = [tick for tick, _ in groups[0]["at_risk"]] if groups else []
        context.update(
            figures=figures,
            plot=plot,
            tick_labels=[time_label(tick, plot.x_unit) for tick in ticks],
            curve_rows=curve_rows(figures),
            exclusions=[
                (EXCLUSION_LABELS[reason], count)
                for reason, count in figures["excluded"].items()
                if count
            ],
            not_classifiable=NOT_CLASSIFIABLE,
            csv_url=f"{reverse('analytics-csv')}?{_query_string(query, version=result.version)}",
        )
    template = (
        "outcomes/_survival_result.html"
        if request.GET.get("part") == "result"
        else "outcomes/analytics.html"
    )
    return render(request, template, context)


@require_GET
def analytics_csv(request: HttpRequest) -> HttpResponse:
    """The curves of the page's analysis as CSV (the same rows as its table of steps). An export
    of what the analysis read: an access event for each patient of the cohort."""
    _check(request)
    form = _bound_form(request)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        return HttpResponse(f"Bad query: {errors}\n", status=400, content_type="text/plain")
    query = form.query()
    result = analytics.survival_status(query, version=request.GET.get("version") or None)
    figures = result.figures or analytics.compute_and_store(query)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"netboard-{query.endpoint}-{query.grouping}-{query.index}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(CURVE_COLUMNS)
    writer.writerows(curve_rows(figures))
    _version, rows = survival_cohort(**query.filters)
    record_access(request, [row[0] for row in rows], "export:survival_csv")
    return response
