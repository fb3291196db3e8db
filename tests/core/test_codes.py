"""The ``words`` filter: API and DOMAIN.md codes as a reader reads them on a page."""

from __future__ import annotations

import pytest

from apps.core.templatetags.codes import words


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("not_classifiable", "not classifiable"),
        ("new_fdg_positive_sstr_negative", "new FDG positive SSTR negative"),
        ("fdg_growing_low_sstr", "FDG growing low SSTR"),
        ("P2a", "P2a"),
        ("C1", "C1"),
        ("3", "3"),
        (3, "3"),
        (None, "—"),
        ("", "—"),
    ],
)
def test_codes_become_words(code: object, shown: str) -> None:
    assert words(code) == shown
