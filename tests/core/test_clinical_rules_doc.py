"""docs/clinical-rules.md keeps up with the code: every function it points to exists, every
setting is listed with its default, and every section of the specification is there."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from apps.scoring.rules import Thresholds

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "clinical-rules.md").read_text(encoding="utf-8")

# "`apps/scoring/rules/uptake.py` `study_references`, `grade_observations`": a module, then the
# names defined in it, separated by commas, spaces or "and".
POINTER = re.compile(r"`((?:apps|netboard)/[\w/]+\.py)`((?:(?:\s|,|\band\b)*`[\w.]+`)+)")


def pointers() -> list[tuple[str, str]]:
    found = []
    for match in POINTER.finditer(DOC):
        for name in re.findall(r"`([\w.]+)`", match.group(2)):
            found.append((match.group(1), name))
    return found


def defines(source: str, name: str) -> bool:
    return bool(
        re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b", source, re.M)
        or re.search(rf"^{re.escape(name)}\s*(?::[^=\n]+)?=", source, re.M)
    )


def test_the_document_points_to_code() -> None:
    assert len(pointers()) > 60
    modules = {module for module, _ in pointers()}
    assert {"apps/scoring/rules/netpet.py", "apps/scoring/rules/recist.py"} <= modules


@pytest.mark.parametrize(("module", "name"), sorted(set(pointers())))
def test_every_function_the_document_points_to_exists(module: str, name: str) -> None:
    path = ROOT / module
    assert path.is_file(), f"{module} does not exist"
    source = path.read_text(encoding="utf-8")
    for part in name.split("."):  # ``Class.method``: both are defined in the module
        assert defines(source, part), f"{module} defines no {part}"


def test_the_check_catches_a_name_that_does_not_exist() -> None:
    source = (ROOT / "apps/scoring/rules/netpet.py").read_text(encoding="utf-8")
    assert defines(source, "netpet_lesions")
    assert defines(source, "SUITABILITY")
    assert not defines(source, "netpet_lesion")


@pytest.mark.parametrize("setting", [f.name for f in fields(Thresholds)])
def test_every_setting_is_listed_with_its_default(setting: str) -> None:
    default = getattr(Thresholds(), setting)
    section = DOC.split("## §10 ", 1)[1].split("\n## ", 1)[0]
    row = re.search(rf"^\| `{setting}` \| ([^|]+) \|", section, re.M)
    assert row, f"{setting} is not in the §10 table"
    assert float(row.group(1)) == float(default), setting


@pytest.mark.parametrize("number", range(1, 12))
def test_every_section_of_the_specification_is_there(number: int) -> None:
    assert re.search(rf"^## §{number} ", DOC, re.M), f"§{number} is missing"


def test_section_11_is_applied_and_points_to_the_agent_choice_rules() -> None:
    section = DOC.split("## §11 ", 1)[1].split("\n---", 1)[0]
    assert "Not yet applied" not in section
    assert "Applied by" in section
    assert "### §11.1 Exact reading" in section
    named = {name for module, name in pointers() if module == "apps/scoring/rules/agent_choice.py"}
    assert {"agent_choice", "agent_pair", "lesion_sets", "suggest"} <= named
