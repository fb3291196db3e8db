"""Patient search (issue 15): every word typed is part of the given name, the family name or the
MRN, case-insensitive and in any order; one definition (``Patient.objects.search``) used by the
patient list and the agenda's patient picker. And why the list shows "—" for a NETPET grade."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import TestCase

from apps.patients.models import Patient
from apps.patients.views import NO_GRADE_REASONS
from tests.factories import ObservationFactory, PatientFactory, StudyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db: None) -> dict[str, Patient]:
    return {
        "ivy ivo": PatientFactory(mrn="SRCH-0013", given_name="Ivy", family_name="Ivo"),
        "ivan ivory": PatientFactory(mrn="SRCH-0020", given_name="Ivan", family_name="Ivory"),
        "ivy smith": PatientFactory(mrn="SRCH-0031", given_name="Ivy", family_name="Smith"),
        "anna berg": PatientFactory(mrn="SRCH-1300", given_name="Anna", family_name="Berg"),
    }


def found(text: str) -> set[str]:
    return set(Patient.objects.search(text).values_list("mrn", flat=True))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ivy Ivo", {"SRCH-0013"}),  # given name then family name
        ("ivo ivy", {"SRCH-0013"}),  # any order, any case
        ("IVO   IVY", {"SRCH-0013"}),  # several spaces
        ("Ivo, Ivy", {"SRCH-0013"}),  # as the list writes a name
        ("ivy", {"SRCH-0013", "SRCH-0031"}),  # one word: either name
        ("iv", {"SRCH-0013", "SRCH-0020", "SRCH-0031"}),  # a prefix
        ("vor", {"SRCH-0020"}),  # a substring
        ("0013", {"SRCH-0013"}),  # part of an MRN
        ("srch-0013", {"SRCH-0013"}),  # a whole MRN, any case
        ("13", {"SRCH-0013", "SRCH-1300"}),  # MRN parts anywhere
        ("0013 ivy", {"SRCH-0013"}),  # MRN part and a name word
        ("ivy berg", set()),  # every word must match the same patient
        ("ivy nobody", set()),
        ("", {"SRCH-0013", "SRCH-0020", "SRCH-0031", "SRCH-1300"}),  # nothing typed: everyone
    ],
)
def test_search_matches_every_word_in_any_order(
    people: dict[str, Patient], text: str, expected: set[str]
) -> None:
    assert found(text) == expected


def test_search_is_a_queryset_method_that_chains(people: dict[str, Patient]) -> None:
    narrowed = Patient.objects.filter(family_name="Smith").search("ivy")
    assert list(narrowed.values_list("mrn", flat=True)) == ["SRCH-0031"]
    assert Patient.objects.search("ivy").filter(family_name="Ivo").get() == people["ivy ivo"]


def mrns(html: str) -> list[str]:
    return re.findall(r">(SRCH-\d{4})</a>", html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Ivy Ivo", ["SRCH-0013"]),
        ("ivo ivy", ["SRCH-0013"]),
        ("0013", ["SRCH-0013"]),
        ("ivy", ["SRCH-0013", "SRCH-0031"]),  # sorted by name: Ivo before Smith
    ],
)
def test_the_patient_list_searches_two_words(
    people: dict[str, Patient], as_role: Any, query: str, expected: list[str]
) -> None:
    html = as_role("clinician").get("/", {"q": query}, follow=True).content.decode()
    assert mrns(html) == expected
    assert f'value="{query}"' in html  # the box keeps what was typed


# --- Why "—" -------------------------------------------------------------------------------


def committed() -> Any:
    return TestCase.captureOnCommitCallbacks(execute=True)


def _grade_cell(html: str, mrn: str) -> str:
    row = html.split(f">{mrn}</a>", 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    return cells[3]  # name, site, histology, latest NETPET


def test_the_list_says_why_a_patient_has_no_netpet_grade(as_role: Any) -> None:
    # No recompute has run (its on-commit callback is not executed): nothing computed yet.
    PatientFactory(mrn="WHY-1")
    with committed():
        PatientFactory(mrn="WHY-2")  # computed: no study, so no timepoint at all
        sstr = StudyFactory(patient=PatientFactory(mrn="WHY-3"))  # an SSTR PET alone
        ObservationFactory(study=sstr, suv_max=Decimal("20"))
        fdg_pair = StudyFactory(patient=PatientFactory(mrn="WHY-4"))  # graded on both PETs
        fdg = StudyFactory(
            patient=fdg_pair.patient, tracer="f18_fdg", spleen_suv=None, liver_suv=Decimal("2")
        )
        observation = ObservationFactory(study=fdg_pair, suv_max=Decimal("20"))
        ObservationFactory(study=fdg, lesion=observation.lesion, suv_max=Decimal("1"))
    html = as_role("clinician").get("/", {"q": "WHY-"}, follow=True).content.decode()
    expected = {
        "WHY-1": NO_GRADE_REASONS["not_computed"],
        "WHY-2": NO_GRADE_REASONS["no_timepoint"],
        "WHY-3": NO_GRADE_REASONS["no_fdg_partner"],
    }
    for mrn, reason in expected.items():
        cell = _grade_cell(html, mrn)
        assert f'title="{reason}"' in cell, (mrn, cell)
        assert f'<span class="visually-hidden">No grade: {reason}</span>' in cell, mrn
        assert '<span aria-hidden="true">—</span>' in cell
    graded = _grade_cell(html, "WHY-4")
    assert "—" not in graded and 'class="grade grade-p1"' in graded
    legend = re.search(r'id="no-grade-legend">(.*?)</p>', html, re.S)
    assert legend is not None
    for reason in NO_GRADE_REASONS.values():
        assert reason in legend.group(1)
    assert "no dual-tracer timepoint yet" in legend.group(1)
    assert "SSTR PET without an FDG PET partner" in legend.group(1)
    assert "not yet computed" in legend.group(1)
