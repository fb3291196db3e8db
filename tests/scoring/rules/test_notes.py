"""DOMAIN.md §9 disease-specific notes: each appears exactly where it applies."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from apps.scoring.rules.biomarkers import biomarker_series
from apps.scoring.rules.inputs import BiomarkerIn, PatientIn
from apps.scoring.rules.notes import disease_notes

from .builders import fdg, obs

SSA_CHANGE = [{"code": "ssa_started_between", "study": 3, "lesions": [], "text": "..."}]


def notes(
    p: PatientIn, biomarkers: list[dict[str, Any]] | None = None, ssa: bool = False
) -> dict[str, str]:
    found = disease_notes(p, biomarkers or [], SSA_CHANGE if ssa else [])
    return {note["code"]: note["text"] for note in found}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, set()),
        ({"primary_site": "pancreas", "histology": "net"}, set()),
        ({"ppgl_cluster": "1A", "primary_site": "adrenal"}, {"ppgl"}),
        ({"histology": "paraganglioma"}, {"ppgl"}),
        ({"primary_site": "paraganglia"}, {"ppgl"}),  # no histology yet: asks for the cluster
        ({"primary_site": "adrenal", "histology": "net"}, set()),
        ({"histology": "insulinoma", "primary_site": "pancreas"}, {"insulinoma"}),
        ({"histology": "mtc", "primary_site": "thyroid"}, {"mtc"}),
        ({"primary_site": "lung", "histology": "typical_carcinoid"}, {"pulmonary"}),
    ],
)
def test_each_note_appears_where_it_applies(fields: dict[str, Any], expected: set[str]) -> None:
    assert set(notes(PatientIn(id=1, **fields))) == expected


def test_cluster_1a_names_the_most_sensitive_tracer() -> None:
    text = notes(PatientIn(id=1, ppgl_cluster="1A"))["ppgl"]
    assert "SSTR PET is the most sensitive" in text and "98.6%" in text
    other = notes(PatientIn(id=1, ppgl_cluster="2"))["ppgl"]
    assert "98.6%" not in other and "highest uptake" in other


@pytest.mark.parametrize(
    ("axis", "suv", "listed"),
    [
        ("19.9", "4.99", False),
        ("20", "4.99", True),  # 20 mm is not under 20 mm
        ("19.9", "5", True),  # SUVmax 5 is not under 5
    ],
)
def test_mtc_predictors_on_the_latest_fdg_pet(axis: str, suv: str, listed: bool) -> None:
    p = PatientIn(
        id=1,
        histology="mtc",
        studies=(
            fdg(1, "2023-01-01", obs(7, suv_max="30", long_axis_mm="50")),  # older: not read
            fdg(2, "2024-01-01", obs(7, suv_max=suv, long_axis_mm=axis)),
        ),
    )
    text = notes(p)["mtc"]
    assert ("lesion 7 is 20 mm or larger" in text) is listed
    assert ("every scored lesion is under 20 mm" in text) is not listed


def test_mtc_note_carries_the_calcitonin_doubling_time() -> None:
    markers = biomarker_series(
        BiomarkerIn("calcitonin", Decimal(value), date(2024, 1, 1 + day), "pg/mL")
        for day, value in [(0, "100"), (10, "200"), (20, "400")]
    )
    assert (
        "Calcitonin doubling time: 10.0 days."
        in notes(PatientIn(id=1, histology="mtc"), markers)["mtc"]
    )


def test_rising_markers_with_an_ssa_change() -> None:
    rising = biomarker_series(
        [
            BiomarkerIn("chromogranin_a", Decimal("100"), date(2024, 1, 1)),
            BiomarkerIn("chromogranin_a", Decimal("125"), date(2024, 3, 1)),  # exactly +25%
        ]
    )
    p = PatientIn(id=1)
    assert "rising_markers_with_ssa_change" in notes(p, rising, ssa=True)
    assert "rising_markers_with_ssa_change" not in notes(p, rising, ssa=False)
    flat = biomarker_series(
        [
            BiomarkerIn("chromogranin_a", Decimal("100"), date(2024, 1, 1)),
            BiomarkerIn("chromogranin_a", Decimal("124.9"), date(2024, 3, 1)),
        ]
    )
    assert "rising_markers_with_ssa_change" not in notes(p, flat, ssa=True)


def test_notes_never_decide() -> None:
    p = PatientIn(id=1, histology="mtc", ppgl_cluster="1A", primary_site="lung")
    for text in notes(p).values():
        assert "eligible" not in text.lower() and "approved" not in text.lower()
