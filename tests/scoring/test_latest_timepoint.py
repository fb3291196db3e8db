"""One definition of "the latest timepoint" (``apps.scoring.models.latest_timepoint``), and every
place that shows it agrees: the stored column, the patient list and its NETPET filter, the
patient page, the agenda, presentation mode and a decision's snapshot (issue 14, item 3)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client, TestCase

from apps.decisions import services as decisions
from apps.decisions.display import assessment_view
from apps.decisions.models import Case
from apps.patients.models import Patient
from apps.scoring import services as scoring
from apps.scoring.models import PhenotypeAssessment, latest_timepoint
from tests.factories import (
    CaseFactory,
    LesionFactory,
    MeetingFactory,
    ObservationFactory,
    PatientFactory,
    StudyFactory,
)

pytestmark = pytest.mark.django_db


def committed() -> Any:
    return TestCase.captureOnCommitCallbacks(execute=True)


@pytest.mark.parametrize(
    ("timepoints", "expected"),
    [
        ([], None),
        ([{"n": 1, "fdg_study": None}], 1),
        ([{"n": 1, "fdg_study": 7}, {"n": 2, "fdg_study": None}], 1),
        ([{"n": 1, "fdg_study": 7}, {"n": 2, "fdg_study": 9}], 2),
        ([{"n": 1, "fdg_study": None}, {"n": 2, "fdg_study": None}], 2),
    ],
)
def test_the_latest_timepoint_is_the_last_dual_tracer_one_else_the_last(
    timepoints: list[dict[str, Any]], expected: int | None
) -> None:
    found = latest_timepoint({"timepoints": timepoints})
    assert (found or {}).get("n") == expected


def _netpet(timepoint: dict[str, Any] | None) -> str | None:
    return ((timepoint or {}).get("netpet") or {}).get("grade")


def _shown_everywhere(client: Client, case: Case) -> dict[str, Any]:
    """The NETPET grade of the latest timepoint as each page shows it for ``case``'s patient."""
    patient_id = case.patient_id
    pattern = (
        (PhenotypeAssessment.objects.get(patient_id=patient_id).latest_timepoint or {}).get(
            "netpet"
        )
        or {}
    ).get("pattern")
    listed = client.get("/", {"q": case.patient.mrn}, follow=True).context["page"].object_list
    filtered = (
        [p.pk for p in client.get("/", {"grade": pattern}).context["page"].object_list]
        if pattern
        else None
    )
    page = client.get(f"/patients/{patient_id}/")
    agenda = client.get(f"/meetings/{case.meeting_id}/").context["rows"]
    row = next(row for row in agenda if row["case"].pk == case.pk)
    present = client.get(f"/meetings/{case.meeting_id}/present/{case.pk}/").context["assessment"]
    return {
        "list": listed[0].latest_label,
        "filter keeps it": filtered is None or patient_id in filtered,
        "page": _netpet(page.context["latest"]),
        "agenda": dict(row["grades"])["NETPET"],
        "present": next(g["value"] for g in present["support"]["grades"] if g["key"] == "netpet")
        if present["support"]
        else None,
    }


def _snapshot_grade(case: Case, user: Any) -> str | None:
    decision = decisions.decision_record(
        case=case, recommendation="prrt", rationale="r", decided_by=user
    )
    support = assessment_view(decision.phenotype_snapshot, decision.response_snapshot)["support"]
    if support is None:
        return None
    return next(g["value"] for g in support["grades"] if g["key"] == "netpet")


def _expected(patient_id: int) -> str | None:
    return _netpet(latest_timepoint(scoring.phenotype_body(patient_id)))


def test_every_page_shows_the_same_latest_grade_for_every_demo_patient(
    user_with_role: Any,
) -> None:
    with committed():
        call_command("load_demo", verbosity=0)
    user = user_with_role("clinician")
    client = Client()
    client.force_login(user)
    meeting = MeetingFactory()
    patients = list(Patient.objects.order_by("mrn"))
    assert len(patients) >= 10
    graded = 0
    for patient in patients:
        case = CaseFactory(meeting=meeting, patient=patient)
        expected = _expected(patient.pk)
        graded += expected is not None
        shown = _shown_everywhere(client, case)
        assert shown == {
            "list": expected,
            "filter keeps it": True,
            "page": expected,
            "agenda": expected,
            "present": expected,
        }, patient.mrn
        assert _snapshot_grade(case, user) == expected, patient.mrn
    assert graded >= 5  # the demo has graded patients, so the comparison means something


def test_an_sstr_pet_after_the_last_fdg_pet_keeps_the_dual_tracer_grades_everywhere(
    user_with_role: Any,
) -> None:
    """The reported bug: a new SSTR PET with no FDG partner made the list show "—" (and its
    NETPET filter drop the patient) while the patient page showed P1."""
    with committed():
        patient = PatientFactory()
        lesion = LesionFactory(patient=patient, site="liver")
        sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
        ObservationFactory(study=sstr, lesion=lesion, suv_max=Decimal("30"))
        fdg = StudyFactory(
            patient=patient, performed_on=date(2024, 3, 3), tracer="f18_fdg", liver_suv=Decimal("2")
        )
        ObservationFactory(study=fdg, lesion=lesion, suv_max=None, fdg_visual="negative")
    user = user_with_role("clinician")
    client = Client()
    client.force_login(user)
    case = CaseFactory(meeting=MeetingFactory(), patient=patient)
    assert _expected(patient.pk) == "P1"
    before = _shown_everywhere(client, case)
    with committed():
        later = StudyFactory(patient=patient, performed_on=date(2024, 9, 1))
        ObservationFactory(study=later, lesion=lesion, suv_max=Decimal("28"))
    body = scoring.phenotype_body(patient.pk)
    assert body["status"] == "fresh"
    assert body["timepoints"][-1]["fdg_study"] is None  # the new SSTR-only timepoint is last
    after = _shown_everywhere(client, case)
    expected = {
        "list": "P1",
        "filter keeps it": True,
        "page": "P1",
        "agenda": "P1",
        "present": "P1",
    }
    assert before == expected
    assert after == expected
    assert _snapshot_grade(case, user) == "P1"
