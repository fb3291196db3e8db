"""PRRT decision-support summary of one timepoint (docs/clinical-rules.md §6).

An ordered list of findings (the order of DOMAIN.md §6 and of API.md's finding codes), each with
its severity, code, the lesions it concerns, its source and one sentence to read aloud. The
overall line says whether any finding blocks; it never says "eligible" or "approved".
"""

from __future__ import annotations

from collections.abc import Iterable

from .dualtracer import DualTracer
from .expression import Expression
from .inputs import JSON, PathologyIn, Thresholds
from .netpet import P1, P2, P3, P4
from .scale import LOCAL_THERAPY_MAX_LESIONS, SCORED
from .uptake import ScoredStudy
from .wording import LesionNames, count, is_are, sentence

BLOCKS, CAUTION, INFO = "blocks", "caution", "info"

# Every finding code, in the order findings are listed (API.md's finding codes): the API's
# schema and the tests read them from here.
FINDING_CODES = (
    "sstr_majority_low",
    "discordant_fdg_positive_sstr_negative",
    "fdg_positive_sstr_positive",
    "sstr_positive_fdg_negative",
    "sstr_heterogeneous",
    "small_lesions",
    "high_grade",
    "fdg_suvmax_prognostic",
    "grade_fdg_discordance",
    "pulmonary",
    "fdg_pet_missing",
)
NO_BLOCKING_FINDING = "no_blocking_finding"
BLOCKING_FINDINGS_PRESENT = "blocking_findings_present"

_HIGH_WHO_GRADES = ("G3", "NEC")
_LOW_WHO_GRADE = "G1"
_FDG_AND_SSTR_POSITIVE = ("P2", "P3", "P4")
# Same-day reports: the most severe one counts, so that the result is independent of input order.
_WHO_GRADE_RANK = {"G1": 1, "G2": 2, "G3": 3, "NEC": 4}


def latest_pathology(reports: Iterable[PathologyIn]) -> PathologyIn | None:
    """The latest report by ``reported_on`` of the whole record (DOMAIN.md §6)."""
    return max(
        reports,
        key=lambda r: (
            r.reported_on,
            _WHO_GRADE_RANK.get(r.who_grade or "", 0),
            r.ki67_percent is not None,
            r.ki67_percent or 0,
            r.differentiation or "",
        ),
        default=None,
    )


def _finding(code: str, severity: str, message: str, lesions: list[int], source: str) -> JSON:
    return {
        "code": code,
        "severity": severity,
        "message": sentence(message),
        "lesions": lesions,
        "source": source,
    }


def prrt_support(
    *,
    expression: Expression,
    small_lesions: list[int],
    fdg_scored: ScoredStudy | None,
    dual: DualTracer | None,
    pathology: PathologyIn | None,
    primary_site: str,
    thresholds: Thresholds,
    names: LesionNames,
) -> JSON:
    """The §6 findings of one timepoint, in DOMAIN.md §6 order, and the overall line.

    Findings about one study use all that study's lesions; findings built on §4 use the graded
    lesions (those in ``dual``). A provisional timepoint still lists its findings. ``dual`` is
    ``None`` when no FDG PET paired. ``small_lesions`` are the SSTR PET's lesions at Krenning 3-4
    under ``small_lesion_mm``, picked out in ``phenotype``'s pass over the lesions.
    """
    candidates = (
        _majority_low(expression),
        _discordant(dual, names),
        _fdg_positive_sstr_positive(dual),
        _sstr_positive_fdg_negative(dual),
        _heterogeneous(expression),
        _small_lesions(small_lesions, thresholds, names),
        _high_grade(pathology, thresholds),
        _fdg_suvmax(fdg_scored, thresholds, names),
        _grade_fdg_discordance(fdg_scored, pathology, names),
        _pulmonary(primary_site),
        _fdg_pet_missing(dual, thresholds),
    )
    findings = [finding for finding in candidates if finding is not None]
    blocking = BLOCKS in [finding["severity"] for finding in findings]
    return {
        "overall": BLOCKING_FINDINGS_PRESENT if blocking else NO_BLOCKING_FINDING,
        "findings": findings,
    }


def _majority_low(expression: Expression) -> JSON | None:
    if not expression.summary["majority_low"]:
        return None
    low = expression.low_lesions
    return _finding(
        "sstr_majority_low",
        BLOCKS,
        f"{len(low)} of {count(expression.evaluable, 'evaluable lesion')} on the SSTR PET "
        "show no or low uptake (Krenning 0-2): PRRT should not be considered when the "
        "majority of lesions show no or low avidity.",
        low,
        "sstr_study",
    )


def _discordant(dual: DualTracer | None, names: LesionNames) -> JSON | None:
    """SSTR-negative, FDG-positive lesions under either §3 threshold set (P5/C3 or Zidan 4)."""
    if dual is None or not dual.discordant:
        return None
    ids = dual.discordant
    target = names.one(dual.biopsy_target) if dual.biopsy_target is not None else "a lesion"
    if len(ids) <= LOCAL_THERAPY_MAX_LESIONS:
        therapy = f"local therapy ({count(len(ids), 'such lesion')})"
    else:
        therapy = f"systemic therapy (widespread: {count(len(ids), 'such lesion')})"
    return _finding(
        "discordant_fdg_positive_sstr_negative",
        BLOCKS,
        f"{names.many(ids)} {is_are(len(ids))} FDG-positive but SSTR-negative, so PRRT "
        f"alone is not enough: biopsy {target} and consider {therapy}.",
        ids,
        "dual_tracer",
    )


def _fdg_positive_sstr_positive(dual: DualTracer | None) -> JSON | None:
    if dual is None or dual.pattern not in _FDG_AND_SSTR_POSITIVE:
        return None
    by_pattern = dual.by_pattern
    ids = sorted(by_pattern[P2] + by_pattern[P3] + by_pattern[P4])
    extra = "; P4b needs additional therapy" if dual.grade == "P4b" else ""
    return _finding(
        "fdg_positive_sstr_positive",
        CAUTION,
        f"NETPET {dual.grade}: the FDG-positive disease is all SSTR-positive, so PRRT "
        "remains an option with a worse prognosis and more urgency; consider combined "
        f"therapy such as PRRT with radiosensitising chemotherapy{extra}.",
        ids,
        "netpet",
    )


def _sstr_positive_fdg_negative(dual: DualTracer | None) -> JSON | None:
    if dual is None or dual.pattern != "P1":
        return None
    return _finding(
        "sstr_positive_fdg_negative",
        INFO,
        "NETPET P1: SSTR-positive, FDG-negative disease makes an indolent course more "
        "likely; time PRRT on uncontrolled symptoms or progression on long-acting "
        "somatostatin analogues.",
        dual.by_pattern[P1],
        "netpet",
    )


def _heterogeneous(expression: Expression) -> JSON | None:
    if not expression.summary["heterogeneous"]:
        return None
    ids = expression.heterogeneous_lesions
    return _finding(
        "sstr_heterogeneous",
        CAUTION,
        f"{len(ids)} of {count(expression.targets, 'target lesion')} show heterogeneous "
        "SSTR expression, which carries shorter overall survival and time to progression.",
        ids,
        "sstr_study",
    )


def _small_lesions(ids: list[int], thresholds: Thresholds, names: LesionNames) -> JSON | None:
    """SSTR PET lesions at Krenning 3-4 with a long axis under ``small_lesion_mm`` (§6)."""
    if not ids:
        return None
    limit = thresholds.small_lesion_mm
    return _finding(
        "small_lesions",
        CAUTION,
        f"{names.many(ids)} {is_are(len(ids))} under {limit} mm with PET Krenning 3-4, "
        "which may overestimate uptake compared with the planar Krenning score.",
        ids,
        "sstr_study",
    )


def _high_grade(pathology: PathologyIn | None, thresholds: Thresholds) -> JSON | None:
    """WHO grade 3 or NEC, or Ki-67 above ``ki67_high``, on the latest pathology (§6)."""
    if pathology is None:
        return None
    reasons = []
    if pathology.who_grade in _HIGH_WHO_GRADES:
        reasons.append(f"WHO {pathology.who_grade}")
    ki67 = pathology.ki67_percent
    if ki67 is not None and ki67 > thresholds.ki67_high:
        reasons.append(f"Ki-67 {ki67}% (above {thresholds.ki67_high}%)")
    if not reasons:
        return None
    return _finding(
        "high_grade",
        CAUTION,
        f"The latest pathology ({pathology.reported_on.isoformat()}) reports "
        f"{' and '.join(reasons)}: high response rate to PRRT but shorter durability.",
        [],
        "pathology",
    )


def _fdg_suvmax(
    fdg_scored: ScoredStudy | None, thresholds: Thresholds, names: LesionNames
) -> JSON | None:
    """Any scored lesion on the paired FDG PET, graded or not, above ``fdg_suvmax_prognostic``."""
    if fdg_scored is None:
        return None
    limit = thresholds.fdg_suvmax_prognostic
    ids = [
        lesion
        for lesion, obs in fdg_scored.observations.items()
        if obs.state == SCORED and obs.suv_max is not None and obs.suv_max > limit
    ]
    if not ids:
        return None
    return _finding(
        "fdg_suvmax_prognostic",
        CAUTION,
        f"{names.many(ids)} on the FDG PET {'has' if len(ids) == 1 else 'have'} SUVmax "
        f"above {limit}, a predictor of shorter progression-free survival.",
        ids,
        "fdg_study",
    )


def _grade_fdg_discordance(
    fdg_scored: ScoredStudy | None, pathology: PathologyIn | None, names: LesionNames
) -> JSON | None:
    """WHO G1 but an FDG-positive lesion (above background) on the paired FDG PET (§6)."""
    if fdg_scored is None or pathology is None or pathology.who_grade != _LOW_WHO_GRADE:
        return None
    ids = [lesion for lesion, uptake in fdg_scored.uptakes.items() if uptake.positive_background]
    if not ids:
        return None
    return _finding(
        "grade_fdg_discordance",
        CAUTION,
        f"The latest pathology ({pathology.reported_on.isoformat()}) reports WHO G1 but "
        f"{names.many(ids)} {is_are(len(ids))} FDG-positive: consider re-biopsy for "
        "sampling error, dedifferentiation, inflammation or a second malignancy.",
        ids,
        "pathology_and_fdg_study",
    )


def _pulmonary(primary_site: str) -> JSON | None:
    if primary_site != "lung":
        return None
    return _finding(
        "pulmonary",
        INFO,
        "Pulmonary NEN: the Zidan grouping, proposed for pulmonary NEN, is shown first.",
        [],
        "patient",
    )


def _fdg_pet_missing(dual: DualTracer | None, thresholds: Thresholds) -> JSON | None:
    if dual is not None:
        return None
    return _finding(
        "fdg_pet_missing",
        CAUTION,
        f"No FDG PET lies within {thresholds.pairing_window_days} days of this SSTR PET: "
        "disease positivity on SSTR PET does not obviate the need for an FDG PET.",
        [],
        "pairing",
    )
