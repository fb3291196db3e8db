"""The demo's synthetic outcome records (issue 18 part 5): on first run the survival analysis
shows the three NETPET groups apart (P1 without an event, P2–P4 in between, P5 dead within a
year), and loading again adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import TestCase

from apps.outcomes.models import FollowUp
from apps.outcomes.survival import SurvivalQuery, survival_figures

pytestmark = pytest.mark.django_db


def survival_at(group: dict, day: int) -> float:
    value = 1.0
    for step_day, survival in group["curve"]:
        if step_day > day:
            break
        value = survival
    return value


def test_the_demo_separates_p1_p2_p4_and_p5() -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):  # the worker's assessments
        call_command("load_demo", no_users=True, stdout=StringIO())
    figures = survival_figures(SurvivalQuery(endpoint="os", grouping="netpet"))
    groups = {g["group"]: g for g in figures["groups"]}
    assert {"P1", "P2-P4", "P5", "not_classifiable"} <= set(groups)
    assert (groups["P1"]["n"], groups["P1"]["events"]) == (2, 0)
    assert (groups["P2-P4"]["n"], groups["P2-P4"]["events"]) == (9, 4)
    assert (groups["P5"]["n"], groups["P5"]["events"]) == (1, 1)
    year = 365
    assert survival_at(groups["P1"], 2 * year) == 1.0
    assert 0.0 < survival_at(groups["P2-P4"], 2 * year) < 1.0
    assert survival_at(groups["P5"], year) == 0.0
    # Below the minimum group size: the curves, no test.
    assert figures["logrank"] is None and "Too few patients" in figures["logrank_note"]
    pfs = survival_figures(SurvivalQuery(endpoint="pfs", grouping="netpet"))
    pfs_groups = {g["group"]: g for g in pfs["groups"]}
    assert pfs_groups["P2-P4"]["events"] > groups["P2-P4"]["events"], "progressions count"


def test_loading_again_adds_no_follow_up() -> None:
    call_command("load_demo", no_users=True, stdout=StringIO())
    first = FollowUp.objects.count()
    assert first >= 20
    call_command("load_demo", no_users=True, stdout=StringIO())
    assert FollowUp.objects.count() == first
    deaths = FollowUp.objects.filter(kind="death")
    assert deaths.exists() and all(d.cause == "synthetic demo record" for d in deaths)
