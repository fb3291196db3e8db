"""Version of the clinical rules, stored with every computed result."""

from __future__ import annotations

# Bump whenever a rule's outcome can change for the same inputs and thresholds.
RULES_VERSION = "4"  # 4: the PPGL agent choice (§11); scores from SUVs on PET, post-therapy SPECT
