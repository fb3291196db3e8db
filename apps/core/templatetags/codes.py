"""Codes of the API and DOMAIN.md (``not_classifiable``, ``new_fdg_positive_sstr_negative``) as
a reader reads them on a page: words, with the abbreviations in capitals."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

_ABBREVIATIONS = {
    "ct": "CT",
    "fdg": "FDG",
    "mri": "MRI",
    "pet": "PET",
    "percist": "PERCIST",
    "prrt": "PRRT",
    "recist": "RECIST",
    "spect": "SPECT",
    "ssa": "SSA",
    "sstr": "SSTR",
}


@register.filter
def words(code: Any) -> str:
    """``new_fdg_positive_sstr_negative`` → "new FDG positive SSTR negative"; a grade such as
    ``P2a`` or ``C1`` as it is; nothing → "—"."""
    if code is None or code == "":
        return "—"
    text = str(code)
    if "_" not in text:
        return text
    return " ".join(_ABBREVIATIONS.get(part, part) for part in text.split("_"))
