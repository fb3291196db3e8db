"""The worked examples of tests/data/cases/phenotype.json, reproduced key by key
(docs/clinical-rules.md §2-§6).

The file is the product owner's case file, kept byte for byte in the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from apps.scoring.rules import Thresholds, assess_phenotype

from .builders import FINDING_ORDER, codes, finding, patient_from_case

CASES_FILE = Path(__file__).resolve().parents[2] / "data" / "cases" / "phenotype.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]


def test_the_case_file_has_cases() -> None:
    assert len(CASES) >= 8


@pytest.mark.parametrize("case", CASES, ids=[case["title"] for case in CASES])
def test_worked_case_is_reproduced(case: dict[str, Any]) -> None:
    result = assess_phenotype(patient_from_case(case), Thresholds())
    json.dumps(result)  # JSON-serialisable as it stands
    assert len(result["timepoints"]) == len(case["expected_timepoints"])
    for tp, expected in zip(result["timepoints"], case["expected_timepoints"], strict=True):
        assert tp["sstr_study"] == expected["sstr_study"]
        assert tp["fdg_study"] == expected["fdg_study"]
        assert tp["provisional"] == expected["provisional"]
        assert tp["unpaired_lesions"] == expected["unpaired_lesions"]
        assert tp["netpet"]["grade"] == expected["netpet_grade"]
        assert tp["netpet"]["representative_lesion"] == expected["representative_lesion"]
        assert tp["karfis"]["group"] == expected["karfis_group"]
        assert tp["zidan"]["group"] == expected["zidan_group"]
        assert tp["biopsy_target"] == expected["biopsy_target"]
        for key, value in expected["sstr"].items():
            assert tp["sstr"][key] == value, key
        # The case file lists finding codes alphabetically; DOMAIN.md §6 makes the list ordered
        # in its own order. Same set here, §6 order checked below.
        assert sorted(codes(tp)) == sorted(expected["finding_codes"])
        assert codes(tp) == [code for code in FINDING_ORDER if code in codes(tp)]
        discordant = finding(tp, "discordant_fdg_positive_sstr_negative")
        assert (discordant["lesions"] if discordant else []) == expected["discordant_lesions"]
        assert tp["prrt_support"]["overall"] == expected["overall"]
