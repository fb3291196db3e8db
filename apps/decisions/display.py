"""What the meeting pages show of an assessment: the current one and a decision's snapshot alike
(one template renders both), read from the stored phenotype and response bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from apps.core.people import display_name
from apps.patients.page import draft_reads
from apps.scoring.models import latest_timepoint

OVERALL_LABELS = {
    "no_blocking_finding": "No blocking finding",
    "blocking_findings_present": "Blocking findings present",
}
GRADE_NAMES = {"netpet": "NETPET", "karfis": "Karfis", "zidan": "Zidan"}
DEFAULT_ORDER = ["netpet", "karfis", "zidan"]


def stamp_label(stamp: str | None) -> str:
    """An ISO timestamp as a reader sees it (UTC, minutes), as on the patient page."""
    if not stamp:
        return ""
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def person_name(user: Any) -> str:
    """How every page names the signer or author of a decision (``apps.core.people``: the
    user's full name, else the user name, as for a read's reader). ``""`` for no user."""
    return display_name(user, nobody="")


def age_on(birth_date: date | None, day: date) -> int | None:
    """Age in whole years on ``day`` (the meeting's date, so the page does not change later)."""
    if birth_date is None:
        return None
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday


def grade_value(timepoint: dict[str, Any], key: str) -> Any:
    """A timepoint's grade on one scale: NETPET's ``grade``, the others' ``group``."""
    return (timepoint.get(key) or {}).get("grade" if key == "netpet" else "group")


def support_view(timepoint: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a page shows of one timepoint: the three grades in the site's order (Zidan first
    for a lung primary) with their reasons and wording, and the PRRT decision-support findings
    with the overall line. Built here because a template cannot index a dict by a variable."""
    if timepoint is None:
        return None
    grades = []
    for key in timepoint.get("grading_order") or DEFAULT_ORDER:
        result = timepoint.get(key) or {}
        grades.append(
            {
                "key": key,
                "name": GRADE_NAMES.get(key, key),
                "value": grade_value(timepoint, key),
                "reason": result.get("reason", ""),
                "suitability": result.get("suitability"),
                "note": result.get("note", ""),
                "provisional": bool(result.get("provisional")),
            }
        )
    support = timepoint.get("prrt_support") or {}
    overall = support.get("overall", "")
    return {
        "sstr_performed_on": timepoint.get("sstr_performed_on"),
        "fdg_performed_on": timepoint.get("fdg_performed_on"),
        "provisional": bool(timepoint.get("provisional")),
        "grades": grades,
        "findings": support.get("findings") or [],
        "overall": overall,
        "overall_label": OVERALL_LABELS.get(overall, overall.replace("_", " ")),
        "blocking": overall == "blocking_findings_present",
    }


def assessment_view(
    phenotype: dict[str, Any], response: dict[str, Any], agent: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The parts of a phenotype and response body that the meeting pages show, for the current
    assessment and for a decision's snapshot alike. ``agent``: the PPGL agent choice as
    ``apps.patients.agent_choice`` shows it, of the same assessment or snapshot (or None)."""
    recist = response.get("recist") or []
    percist = response.get("percist") or []
    return {
        "status": phenotype.get("status", ""),
        "preliminary": bool(phenotype.get("preliminary")),
        "draft_reads": draft_reads(phenotype.get("draft_studies") or []),
        "computed_at": phenotype.get("computed_at"),
        "computed_label": stamp_label(phenotype.get("computed_at")),
        "rules_version": phenotype.get("rules_version"),
        "support": support_view(latest_timepoint(phenotype)),
        "dual_tracer": response.get("dual_tracer") or [],
        "alerts": response.get("dual_tracer_alerts") or [],
        "recist": recist[-1] if recist else None,
        "percist": percist[-1] if percist else None,
        "agent": agent,
    }
