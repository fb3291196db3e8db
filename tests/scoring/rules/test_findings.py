"""PRRT decision-support summary: DOMAIN.md §6 (codes and severities of API.md).

SSTR: B 1.5, L 6.0, S 18.0 (SUVmax 5 → Krenning 2, 12 → 3, 20 → 4).
FDG: B 1.8, L 2.5 (SUVmax 1.0 → grade 0, 2.0 → 2, 4.0 → 3).
"""

from __future__ import annotations

from typing import Any

import pytest

from .builders import (
    FINDING_ORDER,
    codes,
    dual_from_pairs,
    dual_patient,
    finding,
    obs,
    pair,
    pathology,
    strings,
    timepoint,
)

SEVERITY = {
    "sstr_majority_low": "blocks",
    "discordant_fdg_positive_sstr_negative": "blocks",
    "fdg_positive_sstr_positive": "caution",
    "sstr_positive_fdg_negative": "info",
    "sstr_heterogeneous": "caution",
    "small_lesions": "caution",
    "high_grade": "caution",
    "fdg_suvmax_prognostic": "caution",
    "grade_fdg_discordance": "caution",
    "pulmonary": "info",
    "fdg_pet_missing": "caution",
}


def tp_of(*pairs: Any, **fields: Any) -> dict[str, Any]:
    return timepoint(dual_from_pairs(*pairs, **fields))


def test_sstr_majority_low_blocks() -> None:
    tp = tp_of(pair(1, "5.0", "1.0"), pair(2, "1.0", "1.0"), pair(3, "20", "1.0"))
    low = finding(tp, "sstr_majority_low")
    assert low is not None
    assert (low["severity"], low["lesions"]) == ("blocks", [1, 2])
    assert tp["prrt_support"]["overall"] == "blocking_findings_present"


def test_no_majority_low_at_exactly_half() -> None:
    tp = tp_of(pair(1, "5.0", "1.0"), pair(2, "20", "1.0"))
    assert finding(tp, "sstr_majority_low") is None
    assert tp["prrt_support"]["overall"] == "no_blocking_finding"


def test_discordance_blocks_with_the_union_of_both_threshold_sets() -> None:
    tp = tp_of(
        pair(1, "1.0", "2.0"),  # P5: SSTR 0, FDG grade 2 (not Zidan-positive)
        pair(2, "5.0", "4.0"),  # Zidan 4: Krenning 2, FDG 3 (P4 for NETPET)
        pair(3, "20", "1.0"),
        pair(4, "20", "1.0"),
        pair(5, "20", "1.0"),
    )
    discordant = finding(tp, "discordant_fdg_positive_sstr_negative")
    assert discordant is not None
    assert (discordant["severity"], discordant["lesions"]) == ("blocks", [1, 2])
    assert "local therapy" in discordant["message"]
    assert f"biopsy lesion {tp['biopsy_target']}" in discordant["message"]


def test_no_discordance_when_every_fdg_positive_lesion_is_sstr_positive_above_liver() -> None:
    tp = tp_of(pair(1, "20", "4.0"), pair(2, "12", "2.0"))
    assert finding(tp, "discordant_fdg_positive_sstr_negative") is None


def test_widespread_discordance_points_to_systemic_therapy() -> None:
    tp = tp_of(*(pair(i, "1.0", "4.0") for i in range(1, 4)), pair(4, "20", "1.0"))
    discordant = finding(tp, "discordant_fdg_positive_sstr_negative")
    assert discordant is not None and "systemic therapy" in discordant["message"]


@pytest.mark.parametrize(
    ("pairs", "code"),
    [
        ([("24", "3.0")], "fdg_positive_sstr_positive"),  # P2
        ([("12", "5.0")], "fdg_positive_sstr_positive"),  # P3
        ([("7.0", "5.0")], "fdg_positive_sstr_positive"),  # P4
        ([("12", "1.0")], "sstr_positive_fdg_negative"),  # P1
        ([("1.0", "1.0"), ("20", "1.0"), ("20", "1.0")], "sstr_positive_fdg_negative"),  # P1
        ([("1.0", "1.0")], None),  # P0
        ([("1.0", "5.0"), ("12", "5.0"), ("20", "1.0")], None),  # P5 patient: no P2-P4 finding
    ],
    ids=["P2", "P3", "P4", "P1", "P1-with-P0", "P0", "P5"],
)
def test_netpet_pattern_findings(pairs: list[tuple[str, str]], code: str | None) -> None:
    tp = tp_of(*(pair(i, s, f) for i, (s, f) in enumerate(pairs, start=1)))
    netpet_codes = {"fdg_positive_sstr_positive", "sstr_positive_fdg_negative"}
    assert [c for c in codes(tp) if c in netpet_codes] == ([code] if code else [])


def test_p4b_finding_says_additional_therapy_is_needed() -> None:
    tp = tp_of(*(pair(i, "7.0", "5.0") for i in range(1, 4)))
    caution = finding(tp, "fdg_positive_sstr_positive")
    assert caution is not None
    assert "P4b needs additional therapy" in caution["message"]
    assert caution["lesions"] == [1, 2, 3]


def test_heterogeneous_expression_is_a_caution() -> None:
    patient = dual_patient(
        [obs(1, suv_max="20", heterogeneous=True), obs(2, suv_max="20")],
        [obs(1, suv_max="1.0"), obs(2, suv_max="1.0")],
    )
    assert finding(timepoint(patient), "sstr_heterogeneous")["lesions"] == [1]  # type: ignore[index]


@pytest.mark.parametrize(
    ("long_axis", "sstr_suv", "flagged"),
    [
        ("19.9", "12", True),
        ("20", "12", False),
        ("12", "20", True),
        ("12", "5.0", False),
        (None, "12", False),
    ],
    ids=["19.9mm-krenning-3", "20mm", "12mm-krenning-4", "12mm-krenning-2", "no-diameter"],
)
def test_small_lesions_with_krenning_3_to_4(
    long_axis: str | None, sstr_suv: str, flagged: bool
) -> None:
    patient = dual_patient(
        [obs(1, suv_max=sstr_suv, long_axis_mm=long_axis)], [obs(1, suv_max="1.0")]
    )
    assert (finding(timepoint(patient), "small_lesions") is not None) is flagged


@pytest.mark.parametrize(
    ("reports", "flagged"),
    [
        ([pathology("2024-01-01", "G3")], True),
        ([pathology("2024-01-01", "NEC")], True),
        ([pathology("2024-01-01", "G2", "55")], False),  # exactly ki67_high is not above it
        ([pathology("2024-01-01", "G2", "55.1")], True),
        ([pathology("2024-01-01", "G2", "10")], False),
        ([pathology("2020-01-01", "G3", "70"), pathology("2023-01-01", "G2", "10")], False),
        ([pathology("2023-01-01", "G2", "10"), pathology("2020-01-01", "G3", "70")], False),
        ([pathology("2025-06-01", "G3")], True),  # the latest of the record, even after the scan
        ([], False),
    ],
    ids=[
        "G3",
        "NEC",
        "ki67-55",
        "ki67-55.1",
        "G2",
        "older-G3",
        "older-G3-reversed",
        "later",
        "none",
    ],
)
def test_high_grade_uses_the_latest_pathology(reports: list[Any], flagged: bool) -> None:
    tp = tp_of(pair(1, "20", "1.0"), pathology=tuple(reports))
    high = finding(tp, "high_grade")
    assert (high is not None) is flagged
    if high:
        assert (high["severity"], high["source"]) == ("caution", "pathology")


def test_ki67_high_follows_the_setting() -> None:
    tp = timepoint(
        dual_from_pairs(pair(1, "20", "1.0"), pathology=(pathology("2024-01-01", "G2", "30"),)),
        ki67_high="20",
    )
    assert finding(tp, "high_grade") is not None


@pytest.mark.parametrize(
    ("fdg_obs", "lesions"),
    [
        ([obs(1, suv_max="3.0")], []),  # exactly the threshold is not above it
        ([obs(1, suv_max="3.01")], [1]),
        ([obs(1, "not_seen", suv_max="9")], []),  # state wins
        ([obs(1, suv_max="1.0"), obs(2, suv_max="5")], [2]),  # unpaired on FDG: graded or not
        ([obs(1, suv_max="1.0"), obs(3, "not_evaluable", suv_max="9")], []),
    ],
    ids=["3.0", "3.01", "not-seen", "unpaired", "not-evaluable"],
)
def test_fdg_suvmax_above_threshold(fdg_obs: list[Any], lesions: list[int]) -> None:
    tp = timepoint(dual_patient([obs(1, suv_max="20")], fdg_obs))
    found = finding(tp, "fdg_suvmax_prognostic")
    assert (found["lesions"] if found else []) == lesions


@pytest.mark.parametrize(
    ("grade", "fdg_obs", "lesions"),
    [
        ("G1", [obs(1, suv_max="2.0")], [1]),  # grade 2: positive above background
        ("G1", [obs(1, fdg_visual="positive")], [1]),
        ("G1", [obs(1, suv_max="1.0"), obs(2, suv_max="9")], [2]),  # unpaired still counts
        ("G1", [obs(1, suv_max="1.0")], []),
        ("G2", [obs(1, suv_max="9")], []),
    ],
    ids=["G1-grade-2", "G1-positive-call", "G1-unpaired", "G1-negative", "G2"],
)
def test_g1_with_fdg_positive_disease_suggests_rebiopsy(
    grade: str, fdg_obs: list[Any], lesions: list[int]
) -> None:
    patient = dual_patient(
        [obs(1, suv_max="20")], fdg_obs, pathology=(pathology("2023-01-01", grade),)
    )
    found = finding(timepoint(patient), "grade_fdg_discordance")
    assert (found["lesions"] if found else []) == lesions
    if found:
        assert "re-biopsy" in found["message"]


def test_pulmonary_is_info_and_fdg_pet_missing_is_a_caution() -> None:
    tp = timepoint(dual_patient([obs(1, suv_max="20")], None, primary_site="lung"))
    assert codes(tp) == ["pulmonary", "fdg_pet_missing"]
    assert "obviate" in finding(tp, "fdg_pet_missing")["message"]  # type: ignore[index]
    assert tp["prrt_support"]["overall"] == "no_blocking_finding"


def test_every_finding_in_section_6_order_with_its_severity() -> None:
    patient = dual_patient(
        [
            obs(1, suv_max="5.0", heterogeneous=True),  # Krenning 2
            obs(2, suv_max="1.0"),  # Krenning 0
            obs(3, suv_max="20", long_axis_mm="10", heterogeneous=True),
        ],
        [obs(1, suv_max="4.0"), obs(2, suv_max="4.0"), obs(3, suv_max="1.0")],
        primary_site="lung",
        pathology=(pathology("2024-01-01", "G3"),),
    )
    tp = timepoint(patient)
    assert codes(tp) == [
        "sstr_majority_low",
        "discordant_fdg_positive_sstr_negative",
        "sstr_heterogeneous",
        "small_lesions",
        "high_grade",
        "fdg_suvmax_prognostic",
        "pulmonary",
    ]
    assert codes(tp) == [code for code in FINDING_ORDER if code in codes(tp)]
    for found in tp["prrt_support"]["findings"]:
        assert found["severity"] == SEVERITY[found["code"]]
        assert found["message"].endswith(".")
        assert found["source"]


def test_a_provisional_result_still_lists_its_findings() -> None:
    patient = dual_patient([obs(1, suv_max="1.0"), obs(2, suv_max="20")], [obs(1, suv_max="4.0")])
    tp = timepoint(patient)
    assert tp["provisional"] is True
    assert "discordant_fdg_positive_sstr_negative" in codes(tp)


@pytest.mark.parametrize("word", ["eligible", "approved"])
def test_output_never_says_eligible_or_approved(word: str) -> None:
    scenarios = [
        tp_of(pair(1, "20", "1.0")),
        tp_of(pair(1, "1.0", "5.0"), pathology=(pathology("2024-01-01", "NEC", "80"),)),
        tp_of(*(pair(i, "7.0", "5.0") for i in range(1, 4)), primary_site="lung"),
        timepoint(dual_patient([obs(1, suv_max="20")], None)),
    ]
    for scenario in scenarios:
        assert not [text for text in strings(scenario) if word in text.lower()]


def test_the_finding_codes_are_those_of_the_api_contract_in_its_order() -> None:
    """One list of codes (``FINDING_CODES``, which the API's schema offers and these tests
    use), the same as docs/api.md's, in the order DOMAIN.md §6 lists the findings."""
    from pathlib import Path

    from apps.scoring.rules.findings import FINDING_CODES

    api = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    line = next(line for line in api.splitlines() if line.startswith("- Finding codes:"))
    documented = tuple(code.strip(" `.") for code in line.split(":", 1)[1].split(","))
    assert documented == FINDING_CODES
