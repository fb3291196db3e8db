"""Survival analytics (issue 18, part 3): the figures of ``GET /api/v1/analytics/survival/``
from records in the database, checked against published results, and the grouping from the
stored assessments at the index date."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import PathologyFactory, PatientFactory, TreatmentFactory
from tests.outcomes.cohort import (
    FREIREICH_6MP,
    FREIREICH_PLACEBO,
    outcome,
    record,
    store_assessment,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/analytics/survival/"
INDEX = date(2020, 1, 6)  # the first dual-tracer timepoint (the FDG PET's day)


def survival(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return dict(response.json())


def by_group(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {group["group"]: group for group in body["groups"]}


def freireich(*, as_progression: bool, prrt: bool = False) -> None:
    """The 6-MP arm as NETPET P1 patients, placebo as P5, each timed from its index date."""
    for grade, arm in (("P1", FREIREICH_6MP), ("P5", FREIREICH_PLACEBO)):
        for weeks in arm:
            patient = PatientFactory()
            karfis = "C1" if grade == "P1" else "C3"
            store_assessment(patient, [(INDEX - timedelta(days=3), INDEX, grade, karfis, "2")])
            if prrt:
                TreatmentFactory(patient=patient, started_on=INDEX + timedelta(days=30))
            outcome(
                patient,
                INDEX + timedelta(days=30) if prrt else INDEX,
                weeks,
                as_progression=as_progression,
            )


@pytest.mark.parametrize(
    ("endpoint", "as_progression", "index"),
    [
        ("os", False, "first_dual_tracer"),
        ("pfs", True, "first_dual_tracer"),
        ("pfs", False, "first_dual_tracer"),  # a death ends progression-free survival too
        ("os", False, "prrt_start"),
    ],
)
def test_freireich_leukaemia_remissions_give_gehans_published_figures(
    token_client: Any, endpoint: str, as_progression: bool, index: str
) -> None:
    freireich(as_progression=as_progression, prrt=index == "prrt_start")
    body = survival(token_client("clinician"), endpoint=endpoint, grouping="netpet", index=index)
    groups = by_group(body)
    assert list(groups) == ["P1", "P5"]
    six_mp, placebo = groups["P1"], groups["P5"]
    assert (six_mp["n"], six_mp["events"]) == (21, 9)
    assert (placebo["n"], placebo["events"]) == (21, 21)
    # Medians 23 and 8 weeks (Gehan 1965), in days.
    assert six_mp["median_days"] == 23 * 7
    assert placebo["median_days"] == 8 * 7
    # Log-rank chi-squared 16.79 on 1 df, p = 4.17e-5.
    assert body["logrank"]["df"] == 1
    assert body["logrank"]["chi2"] == pytest.approx(16.79, abs=0.01)
    assert body["logrank"]["p"] == pytest.approx(4.17e-5, rel=0.01)
    assert body["logrank_note"] is None
    # The 6-MP curve: 1.0 until week 6, 0.857 from week 6 (3 of 21 relapses), ends at week 35.
    assert six_mp["curve"][:2] == [[0, 1.0], [42, pytest.approx(18 / 21, abs=1e-6)]]
    assert six_mp["curve"][-1][0] == 35 * 7
    assert [42, 1] in six_mp["censored"]  # the 6+ of week 6
    # Numbers at risk at the same days for both groups, all 21 at day 0.
    assert [day for day, _ in six_mp["at_risk"]] == [day for day, _ in placebo["at_risk"]]
    assert six_mp["at_risk"][0] == [0, 21]
    assert placebo["at_risk"][0] == [0, 21]
    assert body["patients"] == body["analysed"] == 42
    assert body["excluded"] == dict.fromkeys(body["excluded"], 0)


def test_the_medians_confidence_interval_is_lifelines_exponential_greenwood(
    token_client: Any,
) -> None:
    freireich(as_progression=False)
    groups = by_group(survival(token_client("clinician")))
    # lifelines' pointwise interval (exponential Greenwood: a log-log interval) read at one
    # half: the 6-MP median's runs from week 13 with no upper bound (the upper curve never
    # reaches one half); placebo's from week 4 to week 11.
    assert groups["P1"]["ci_low_days"] == 13 * 7
    assert groups["P1"]["ci_high_days"] is None
    assert (groups["P5"]["ci_low_days"], groups["P5"]["ci_high_days"]) == (4 * 7, 11 * 7)


def one_patient(timepoints: list[Any], *, death: date | None = None, **patient: Any) -> Any:
    person = PatientFactory(**patient)
    if timepoints is not None:
        store_assessment(person, timepoints)
    record(person, "last_contact", date(2024, 6, 1))
    if death:
        record(person, "death", death)
    return person


def test_patients_enter_the_group_of_their_grade_at_the_index_date(token_client: Any) -> None:
    client = token_client("clinician")
    d = date
    # P1 at the first dual-tracer timepoint, P5 later: P1 from the first timepoint, P5 at a
    # PRRT start after the second, P1 at a PRRT start between the two.
    later_p5 = [
        (d(2021, 1, 4), d(2021, 1, 8), "P1", "C1", "2"),
        (d(2022, 1, 3), d(2022, 1, 7), "P5", "C3", "4"),
    ]
    first = one_patient(later_p5)
    TreatmentFactory(patient=first, started_on=d(2022, 3, 1))
    second = one_patient(later_p5)
    TreatmentFactory(patient=second, started_on=d(2021, 6, 1))
    # An SSTR PET alone comes first; the first dual-tracer timepoint is the P4b one after it.
    one_patient(
        [(d(2020, 5, 4), None, None, None, None), (d(2021, 2, 1), d(2021, 2, 5), "P4b", "C2", "3")]
    )

    first_dual = survival(client, grouping="netpet")
    assert {g: v["n"] for g, v in by_group(first_dual).items()} == {"P1": 2, "P2-P4": 1}
    assert first_dual["index_sources"]["first_dual_tracer"] == 3
    grades = survival(client, grouping="netpet_grades")
    assert {g: v["n"] for g, v in by_group(grades).items()} == {"P1": 2, "P4b": 1}
    karfis = survival(client, grouping="karfis")
    assert {g: v["n"] for g, v in by_group(karfis).items()} == {"C1": 2, "C2": 1}
    zidan = survival(client, grouping="zidan")
    assert [g["group"] for g in zidan["groups"]] == ["2", "3"]

    at_prrt = survival(client, grouping="netpet", index="prrt_start")
    assert {g: v["n"] for g, v in by_group(at_prrt).items()} == {"P1": 1, "P5": 1}
    # The third patient never started PRRT: excluded from that index, and counted.
    assert at_prrt["excluded"]["no_prrt"] == 1
    assert at_prrt["patients"] == 3


def test_a_patient_with_no_dual_tracer_timepoint_is_listed_as_not_classifiable(
    token_client: Any,
) -> None:
    client = token_client("clinician")
    d = date
    one_patient([(d(2021, 1, 4), d(2021, 1, 8), "P1", "C1", "2")])
    sstr_only = one_patient([(d(2021, 3, 1), None, None, None, None)])
    no_timepoint = one_patient([])
    PathologyFactory(patient=no_timepoint, reported_on=d(2020, 9, 1))
    # FDG paired but nothing graded on both: not classifiable by the rules themselves.
    one_patient(
        [(d(2021, 3, 1), d(2021, 3, 3), "not_classifiable", "not_classifiable", "not_classifiable")]
    )
    nothing = PatientFactory()
    record(nothing, "last_contact", d(2024, 6, 1))
    assert sstr_only.pk != no_timepoint.pk

    for grouping in ("netpet", "netpet_grades", "karfis", "zidan"):
        body = survival(client, grouping=grouping)
        groups = by_group(body)
        assert groups["not_classifiable"]["n"] == 3, grouping
        assert list(groups)[-1] == "not_classifiable"
        assert body["index_sources"] == {
            "first_dual_tracer": 2,
            "first_sstr_pet": 1,
            "diagnosis": 1,
            "prrt_start": 0,
        }
        # Only a patient with no date to start from at all is left out, and counted.
        assert body["excluded"]["no_index_date"] == 1
        assert body["patients"] == 5


def test_events_and_contacts_before_the_index_date_are_handled_as_documented(
    token_client: Any,
) -> None:
    client = token_client("clinician")
    d = date
    timepoint = [(d(2022, 1, 3), d(2022, 1, 7), "P1", "C1", "2")]
    # Progressed before the index, then progressed again and died after it.
    twice = PatientFactory()
    store_assessment(twice, timepoint)
    record(twice, "progression", d(2021, 6, 1), basis="recist")
    record(twice, "progression", d(2022, 7, 7), basis="recist")
    record(twice, "death", d(2023, 1, 7))
    # Last seen before the index date.
    gone = PatientFactory()
    store_assessment(gone, timepoint)
    record(gone, "last_contact", d(2021, 12, 1))
    # No follow-up record at all.
    store_assessment(PatientFactory(), timepoint)

    pfs = survival(client, endpoint="pfs")
    assert by_group(pfs)["P1"]["n"] == 1
    # The progression after the index counts, 181 days on; the earlier one does not.
    assert by_group(pfs)["P1"]["curve"] == [[0, 1.0], [181, 0.0]]
    assert pfs["excluded"]["no_follow_up_after_index"] == 1
    assert pfs["excluded"]["no_follow_up"] == 1
    os_ = survival(client, endpoint="os")
    assert by_group(os_)["P1"]["curve"] == [[0, 1.0], [365, 0.0]]


def test_censoring_is_at_the_last_date_known_alive(token_client: Any) -> None:
    client = token_client("clinician")
    patient = PatientFactory()
    store_assessment(patient, [(date(2022, 1, 3), date(2022, 1, 7), "P1", "C1", "2")])
    record(patient, "last_contact", date(2022, 6, 1))
    record(patient, "progression", date(2022, 9, 5), basis="clinical")
    os_ = by_group(survival(client, endpoint="os"))["P1"]
    # Alive at the progression, after the last contact: censored there, no event.
    assert (os_["events"], os_["censored"]) == (0, [[241, 1]])
    assert os_["median_days"] is None


def test_filters_select_the_patients(token_client: Any) -> None:
    client = token_client("clinician")
    timepoint = [(date(2022, 1, 3), date(2022, 1, 7), "P1", "C1", "2")]
    lung = one_patient(timepoint, primary_site="lung")
    PathologyFactory(patient=lung, reported_on=date(2021, 1, 1), who_grade="G3")
    PathologyFactory(patient=lung, reported_on=date(2020, 1, 1), who_grade="G1")
    pancreas = one_patient(timepoint, primary_site="pancreas")
    PathologyFactory(patient=pancreas, reported_on=date(2021, 1, 1), who_grade="G1")
    TreatmentFactory(patient=pancreas, started_on=date(2022, 2, 1))

    assert survival(client, primary_site="lung")["patients"] == 1
    # The latest report's grade: G3 for the lung patient, not its earlier G1.
    assert survival(client, who_grade="G1")["patients"] == 1
    assert survival(client, who_grade="G3", primary_site="lung")["patients"] == 1
    assert survival(client, received_prrt="true")["patients"] == 1
    assert survival(client, received_prrt="false")["patients"] == 1
    assert survival(client)["patients"] == 2
    assert survival(client, received_prrt="true")["filters"]["received_prrt"] is True


def test_below_the_minimum_group_size_there_are_curves_but_no_test(
    token_client: Any, settings: Any
) -> None:
    freireich(as_progression=False)
    client = token_client("clinician")
    settings.NETBOARD_SURVIVAL_MIN_GROUP = 22
    body = survival(client)
    assert body["logrank"] is None
    assert "fewer than 22" in body["logrank_note"]
    assert body["min_group_size"] == 22
    assert [g["n"] for g in body["groups"]] == [21, 21]
    settings.NETBOARD_SURVIVAL_MIN_GROUP = 21
    assert survival(client)["logrank"]["df"] == 1


def test_not_classifiable_is_shown_but_not_tested(token_client: Any) -> None:
    freireich(as_progression=False)
    for _ in range(12):
        one_patient([(date(2021, 3, 1), None, None, None, None)])
    body = survival(token_client("clinician"))
    assert [g["group"] for g in body["groups"]] == ["P1", "P5", "not_classifiable"]
    assert body["logrank"]["df"] == 1
    assert body["logrank"]["chi2"] == pytest.approx(16.79, abs=0.01)


def test_one_group_has_no_test(token_client: Any) -> None:
    one_patient([(date(2022, 1, 3), date(2022, 1, 7), "P1", "C1", "2")])
    body = survival(token_client("clinician"))
    assert body["logrank"] is None
    assert "two or more" in body["logrank_note"]


def test_an_empty_cohort_answers_with_no_groups(token_client: Any) -> None:
    body = survival(token_client("auditor"), endpoint="pfs", grouping="zidan", index="prrt_start")
    assert body["groups"] == []
    assert body["logrank"] is None
    assert body["patients"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"endpoint": "dfs"}, "endpoint"),
        ({"grouping": "who"}, "grouping"),
        ({"index": "diagnosis"}, "index"),
        ({"primary_site": "moon"}, "primary_site"),
        ({"who_grade": "G4"}, "who_grade"),
        ({"received_prrt": "perhaps"}, "received_prrt"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it(
    token_client: Any, params: dict[str, str], field: str
) -> None:
    response = token_client("clinician").get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("clinician", True),
        ("auditor", True),
        ("admin", True),
        ("reader", False),
        ("coordinator", False),
    ],
)
def test_clinicians_and_auditors_read_the_analytics(
    token_client: Any, role: str, allowed: bool
) -> None:
    response = token_client(role).get(URL)
    assert response.status_code == (200 if allowed else 403), response.content


def test_the_browser_session_of_a_clinician_reads_it_too(as_role: Any) -> None:
    assert as_role("clinician").get(URL).status_code == 200
    assert as_role("reader").get(URL).status_code == 403
