"""Every environment variable that netboard/settings.py reads is documented in the README's
settings table and in .env.example (the brief: "every setting is documented")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = (ROOT / "netboard" / "settings.py").read_text()
# env_str("NAME", ...), env_int(\n    "NAME", ...), and so on.
READ = sorted(set(re.findall(r'(?:env_[a-z_]+|_rate)\(\s*"([A-Z][A-Z0-9_]+)"', SETTINGS)))


def test_the_settings_file_reads_variables() -> None:
    assert {"DATABASE_URL", "CELERY_VISIBILITY_TIMEOUT", "NETBOARD_RULES"} <= set(READ)


@pytest.mark.parametrize("name", READ)
def test_every_variable_is_in_the_readme_table(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"| `{name}` |" in readme


@pytest.mark.parametrize("name", READ)
def test_every_variable_is_in_env_example(name: str) -> None:
    example = (ROOT / ".env.example").read_text()
    assert re.search(rf"^{name}=", example, re.MULTILINE)
