"""Tracer catalogue: API.md tracer codes and their DOMAIN.md §1 tracer classes.

Pure data, imported by the Django models as well as by the rules; keep the names stable.
"""

from __future__ import annotations

TRACER_CLASS: dict[str, str] = {
    # SSTR: somatostatin receptor agonists/antagonists, and post-therapy 177Lu-DOTATATE imaging.
    "ga68_dotatate": "SSTR",
    "ga68_dotatoc": "SSTR",
    "ga68_dotanoc": "SSTR",
    "cu64_dotatate": "SSTR",
    "cu64_sartate": "SSTR",
    "in111_pentetreotide": "SSTR",
    "ga68_nodaga_jr11": "SSTR",
    "ga68_nodaga_lm3": "SSTR",
    "lu177_dotatate": "SSTR",
    # Glucose metabolism.
    "f18_fdg": "FDG",
    # Noradrenaline transporter, and post-therapy 131I-MIBG imaging.
    "i123_mibg": "NET",
    "i124_mibg": "NET",
    "f18_mfbg": "NET",
    "i131_mibg": "NET",
    # Amino-acid transport.
    "f18_dopa": "LAT",
    "ga68_exendin4": "GLP1R",
    "ga68_cp04": "CCK2R",
    "ga68_rgd": "INTEGRIN",
    # CT/MRI.
    "none": "ANATOMIC",
}

# Tracers given as therapy; their imaging is post-therapy and never forms a dual-tracer
# timepoint (DOMAIN.md §1).
THERAPEUTIC_TRACERS: frozenset[str] = frozenset({"lu177_dotatate", "i131_mibg"})

# Modalities that count as PET for a dual-tracer timepoint ("an SSTR PET and an FDG PET",
# DOMAIN.md §1) and for the PET-based Krenning caveat (DOMAIN.md §2).
PET_MODALITIES: frozenset[str] = frozenset({"pet_ct", "pet_mri"})
# A post-therapy SPECT/CT is the one non-PET study with a score computed from SUVs (§7;
# ``uptake.computes_score``).
SPECT_CT = "spect_ct"

# GIPR is a DOMAIN.md §1 class with no tracer code in API.md yet.
TRACER_CLASSES: frozenset[str] = frozenset(TRACER_CLASS.values()) | {"GIPR"}
