"""A lesion's dual-tracer phenotype in words and shape, as the grid and the timeline show it.

The phenotype is read off the lesion's NETPET pattern (docs/clinical-rules.md §4.1, positivity
above background, §3): P0 negative on both, P1 SSTR-positive FDG-negative, P2-P4 positive on
both, P5 SSTR-negative FDG-positive (discordant). Each has a label and a glyph of its own, so
that it reads without colour (greyscale print, colour-blind readers); the colour is only a third
cue (the CSS class ``pheno-<code>`` in static/css/netboard.css).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Phenotype:
    code: str  # CSS class suffix and test handle
    label: str  # as printed beside the lesion
    glyph: str  # a shape of its own per phenotype
    text: str  # what a tooltip or a screen reader says


SSTR_ONLY = Phenotype("sstr-only", "SSTR+/FDG−", "●", "SSTR-positive, FDG-negative")
BOTH = Phenotype("both", "SSTR+/FDG+", "◐", "positive on both SSTR and FDG")
DISCORDANT = Phenotype(
    "discordant", "SSTR−/FDG+ discordant", "◆", "SSTR-negative, FDG-positive: discordant"
)
NEGATIVE = Phenotype("negative", "negative on both", "○", "negative on both SSTR and FDG")

PHENOTYPE_OF_PATTERN = {
    "P0": NEGATIVE,
    "P1": SSTR_ONLY,
    "P2": BOTH,
    "P3": BOTH,
    "P4": BOTH,
    "P5": DISCORDANT,
}


def phenotype_of(pattern: str | None) -> Phenotype | None:
    """The phenotype of a NETPET lesion pattern (``"P0"``-``"P5"``); ``None`` for no pattern
    (the lesion is not graded on both studies)."""
    if pattern is None:
        return None
    return PHENOTYPE_OF_PATTERN.get(pattern)
