"""Building outcome cohorts for the tests: stored assessments (as a worker stores them),
follow-up records written through the service, and the Freireich 6-MP remission times."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from apps.outcomes.models import FollowUp
from apps.outcomes.services import follow_up_record
from apps.patients.models import Patient
from apps.scoring.models import PhenotypeAssessment, assessment_summary

# Gehan 1965, the Freireich et al. trial: weeks of remission, "+" censored, as printed.
GEHAN_6MP = "6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+"
GEHAN_PLACEBO = "1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23"
FREIREICH_6MP = GEHAN_6MP.split()
FREIREICH_PLACEBO = GEHAN_PLACEBO.split()

# A timepoint: (SSTR PET date, FDG PET date or None, NETPET grade, Karfis group, Zidan group).
Timepoint = tuple[date, date | None, str | None, str | None, str | None]


def store_assessment(patient: Patient, timepoints: Sequence[Timepoint]) -> PhenotypeAssessment:
    """The patient's stored assessment with these timepoints, as the worker stores it (the
    phenotype and its summary): the grades are null where no FDG PET pairs."""
    phenotype: dict[str, Any] = {
        "patient": patient.pk,
        "timepoints": [
            {
                "sstr_study": None,
                "fdg_study": 1 if fdg_on else None,
                "sstr_performed_on": sstr_on.isoformat(),
                "fdg_performed_on": fdg_on.isoformat() if fdg_on else None,
                "netpet": {"grade": netpet, "pattern": (netpet or "")[:2]} if fdg_on else None,
                "karfis": {"group": karfis} if fdg_on else None,
                "zidan": {"group": zidan} if fdg_on else None,
                "lesion_scores": [],
            }
            for sstr_on, fdg_on, netpet, karfis, zidan in timepoints
        ],
    }
    assessment, _ = PhenotypeAssessment.objects.update_or_create(
        patient=patient,
        defaults={
            "phenotype": phenotype,
            "response": {},
            "summary": assessment_summary(phenotype, {}),
            "rules_version": "test",
            "rules_fingerprint": "test",
            "inputs_digest": uuid.uuid4().hex,
            "inputs_version": 1,
            "computed_at": timezone.now(),
        },
    )
    return assessment


def record(patient: Patient, kind: str, on: date, **values: Any) -> FollowUp:
    """A follow-up record written as every write path writes it (the service)."""
    return follow_up_record(
        follow_up=FollowUp(), values={"patient": patient, "kind": kind, "occurred_on": on, **values}
    )


def outcome(patient: Patient, index: date, weeks: str, *, as_progression: bool) -> None:
    """``weeks`` after ``index`` (Gehan's notation: "6" an event, "6+" censored): a death, or
    with ``as_progression`` a progression (clinical); censored as a last contact."""
    censored = weeks.endswith("+")
    day = index + timedelta(weeks=int(weeks.rstrip("+")))
    if censored:
        record(patient, "last_contact", day)
    elif as_progression:
        record(patient, "progression", day, basis="clinical")
    else:
        record(patient, "death", day)
