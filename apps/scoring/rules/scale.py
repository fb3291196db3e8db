"""Fixed definitions of the uptake scales and codes (DOMAIN.md §2, §3, §4.1).

These are the definitions of the published scales, not site settings: the adjustable numbers
live in ``Thresholds`` (DOMAIN.md §10). Naming them here keeps every rule free of bare literals.
"""

from __future__ import annotations

from typing import Final

# Observation states (API.md observations.state).
SCORED: Final = "scored"
NOT_SEEN: Final = "not_seen"
NOT_EVALUABLE: Final = "not_evaluable"

# Tracer classes the rules treat specially (DOMAIN.md §1).
SSTR: Final = "SSTR"
FDG: Final = "FDG"
NET: Final = "NET"  # noradrenaline transporter: MIBG, MFBG (DOMAIN.md §11)
ANATOMIC: Final = "ANATOMIC"

# DOMAIN.md §3: positive "above background" (NETPET, Karfis) is Krenning / FDG grade >= 2;
# positive "above liver" (Zidan) and adequate SSTR expression for PRRT is >= 3.
ABOVE_BACKGROUND: Final = 2
ABOVE_LIVER: Final = 3

# DOMAIN.md §2: a plain FDG call "stands for every threshold of §3". The top FDG grade (3) clears
# both positivity thresholds and grade 0 clears neither, so these grades are exactly equivalent
# to the call for every rule that reads FDG positivity.
FDG_CALL_GRADE: Final = {"positive": 3, "negative": 0}

# DOMAIN.md §4.1: suffix "a" for 1-2 lesions showing the pattern, "b" for 3 or more.
SUFFIX_B_MIN_LESIONS: Final = 3
# DOMAIN.md §6: local therapy if 1-2 discordant lesions, systemic therapy if widespread.
LOCAL_THERAPY_MAX_LESIONS: Final = 2

# Observation flags (DOMAIN.md §2), in the order they are reported.
SPLEEN_REFERENCE_MISSING: Final = "spleen_reference_missing"
REFERENCE_ORDER_INVALID: Final = "reference_order_invalid"
SCORE_DISAGREEMENT: Final = "score_disagreement"
PET_MAY_OVERESTIMATE: Final = "pet_may_overestimate"
FLAG_ORDER: Final = (
    SPLEEN_REFERENCE_MISSING,
    REFERENCE_ORDER_INVALID,
    SCORE_DISAGREEMENT,
    PET_MAY_OVERESTIMATE,
)

# Where a score came from (Uptake.source).
SOURCE_STATE: Final = "state"
SOURCE_VISUAL: Final = "visual"
SOURCE_FDG_VISUAL: Final = "fdg_visual"
SOURCE_COMPUTED: Final = "computed"
SOURCE_NONE: Final = "none"
