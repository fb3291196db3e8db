"""The flags of DOMAIN.md §2 (``observation_uptake(...).flags``) as a reader reads them: a short
name for a badge or a tooltip, and a sentence beside the row that raised it."""

from __future__ import annotations

# What each §2 flag means to the reader, beside the row that raised it.
FLAG_TEXT = {
    "spleen_reference_missing": "Above liver but no spleen SUV: computed 3, 4 cannot be computed.",
    "reference_order_invalid": (
        "Reference SUVs out of order (liver ≤ blood pool, or spleen ≤ liver): no computed score."
    ),
    "score_disagreement": "Visual score differs from the computed score: please check.",
    "pet_may_overestimate": (
        "Lesion under {mm} mm: the PET score may overestimate the planar Krenning score."
    ),
}
FLAG_SHORT = {
    "spleen_reference_missing": "no spleen",
    "reference_order_invalid": "references",
    "score_disagreement": "disagreement",
    "pet_may_overestimate": "small lesion",
}
