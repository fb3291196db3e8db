"""Computed results and the bookkeeping that says whether they are current.

Two rows per patient, both keyed by the patient:

- ``InputVersion``: a counter that database triggers (migration 0002) raise in the same
  transaction as every insert, update or delete of the patient's inputs: the patient row,
  pathology, biomarkers, treatments and their cycles, lesions, studies and observations. Because
  it is a trigger, no write path can change an input without raising it: ORM, bulk, admin,
  raw SQL. ``queued_at`` marks a recompute sent to the broker and not yet picked up.
- ``PhenotypeAssessment``: the last computed results (the bodies of API.md ``phenotype/`` and
  ``response/``, computed together from the same inputs by the same task), the
  counter value it was computed from, a digest of the inputs it was computed from, and the
  rules version and thresholds fingerprint in force.

The assessment is ``fresh`` only when both the counter and the rules fingerprint match (see
``apps.scoring.services.status_of``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils import timezone

from apps.scoring.fields import ResultJSONField


def latest_timepoint(phenotype: Mapping[str, Any]) -> dict[str, Any] | None:
    """The one timepoint NETboard calls "latest", on every page and in every filter: the last
    dual-tracer timepoint (one with an FDG PET, so with NETPET, Karfis and Zidan grades), else
    the last timepoint; None before there is any.

    An SSTR PET read after the last FDG PET therefore does not hide the grades of that last
    dual-tracer timepoint (the pages say which studies the grades come from). The worker stores
    its grades with the result (``PhenotypeAssessment.latest_timepoint``, ``latest_grades``) for
    the list's filters and the agenda; pages showing a whole phenotype body (or a decision's
    snapshot) call it.
    """
    timepoints = phenotype.get("timepoints") or []
    for timepoint in reversed(timepoints):
        if timepoint.get("fdg_study") is not None:
            return dict(timepoint)
    return dict(timepoints[-1]) if timepoints else None


def latest_grades(phenotype: Mapping[str, Any]) -> dict[str, Any] | None:
    """What ``PhenotypeAssessment.latest_timepoint`` stores of ``latest_timepoint(phenotype)``:
    its dates and grades, with the same keys, so that the list's filters and the agenda read
    the latest grades without the whole timepoint (its lesions are most of its size)."""
    timepoint = latest_timepoint(phenotype)
    if timepoint is None:
        return None
    netpet = timepoint.get("netpet") or {}
    return {
        "sstr_performed_on": timepoint.get("sstr_performed_on"),
        "fdg_performed_on": timepoint.get("fdg_performed_on"),
        "provisional": timepoint.get("provisional"),
        "grading_order": timepoint.get("grading_order"),
        "netpet": {"grade": netpet.get("grade"), "pattern": netpet.get("pattern")},
        "karfis": {"group": (timepoint.get("karfis") or {}).get("group")},
        "zidan": {"group": (timepoint.get("zidan") or {}).get("group")},
        "prrt_support": {"overall": (timepoint.get("prrt_support") or {}).get("overall")},
        # Of the whole result, not of the timepoint: a draft read is behind it.
        "preliminary": bool(phenotype.get("preliminary")),
    }


def lesion_patterns(phenotype: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The NETPET pattern of each lesion graded at the latest timepoint (its ``netpet.lesions``
    rows, ``{"lesion", "pattern"}`` only), which the timeline shows as the lesion's phenotype;
    none when the latest timepoint has no FDG PET (no lesion is graded on both)."""
    latest = latest_timepoint(phenotype)
    if latest is None or latest.get("fdg_study") is None:
        return []
    rows = (latest.get("netpet") or {}).get("lesions") or []
    return [{"lesion": row["lesion"], "pattern": row.get("pattern")} for row in rows]


# The keys of a timepoint and of a grade that hold one entry per lesion.
_TIMEPOINT_PER_LESION = ("lesion_scores", "sstr")
_GRADES = ("netpet", "karfis", "zidan")


def assessment_summary(phenotype: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """What ``PhenotypeAssessment.summary`` stores: the phenotype's timepoints and the response
    without their per-lesion detail, for the pages that show a patient (apps.patients.page).
    They show every grade with its reason, the findings and the response tables, but no
    lesion's numbers but the per-study scores (``uptake``); the per-lesion lists are most of
    the bodies' size (490 of 550 kB for 24 studies x 40 lesions: 10 ms to decode).
    ``agent_choice``: the phenotype's (DOMAIN.md §11), whole. ``lesion_patterns``: each graded
    lesion's NETPET pattern at the latest timepoint (``lesion_patterns``), for the timeline.

    ``timepoints``: each timepoint without ``lesion_scores``, its SSTR study's detail (``sstr``)
    and each grade's ``lesions``. ``response``: the response with its SSTR entries' per-lesion
    changes (``sstr[*].lesions``) left out. ``preliminary`` and ``draft_studies`` as in the
    phenotype (API.md: whether a draft read is behind the result, and which)."""
    timepoints = []
    for timepoint in phenotype.get("timepoints") or []:
        kept = {k: v for k, v in timepoint.items() if k not in _TIMEPOINT_PER_LESION}
        for scale in _GRADES:
            if kept.get(scale):
                kept[scale] = {k: v for k, v in kept[scale].items() if k != "lesions"}
        timepoints.append(kept)
    sstr = [{k: v for k, v in e.items() if k != "lesions"} for e in response.get("sstr") or []]
    return {
        "timepoints": timepoints,
        # §11: small (lesion ids and one sentence), kept whole for the patient page.
        "agent_choice": phenotype.get("agent_choice"),
        "lesion_patterns": lesion_patterns(phenotype),
        "preliminary": bool(phenotype.get("preliminary")),
        "draft_studies": list(phenotype.get("draft_studies") or []),
        "response": {**response, "sstr": sstr},
    }


class InputVersion(models.Model):
    patient = models.OneToOneField(
        "patients.Patient",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="input_version",
    )
    version = models.BigIntegerField(default=1)
    changed_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="input_version_positive"
            )
        ]

    def __str__(self) -> str:
        return f"inputs of patient {self.patient_id}: version {self.version}"


class PhenotypeAssessment(models.Model):
    patient = models.OneToOneField(
        "patients.Patient",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="phenotype_assessment",
    )
    phenotype = ResultJSONField()
    # DOMAIN.md §7-§9 over the patient's whole history (API.md ``response/``): computed with
    # ``phenotype`` from the same inputs, so it shares its status.
    response = ResultJSONField(default=dict)
    # DOMAIN.md §2 per observation, as the worker computed it with ``phenotype``: by study id, then
    # lesion id (both as strings), ``{"score", "source", "computed", "flags"}``. The pages read
    # the per-lesion scores from here (the timeline), never by running the rules themselves.
    uptake = ResultJSONField(default=dict)
    # ``latest_grades(phenotype)``: the grades of ``latest_timepoint(phenotype)``, stored with it
    # so the patient list can filter and sort by them and the agenda show them without reading
    # every whole phenotype.
    latest_timepoint = models.JSONField(null=True, blank=True)
    # ``assessment_summary(phenotype, response)``: both bodies without their per-lesion lists,
    # which the pages showing a patient read instead of the whole bodies.
    summary = models.JSONField(default=dict)
    rules_version = models.CharField(max_length=16)
    rules_fingerprint = models.CharField(max_length=64)
    inputs_digest = models.CharField(max_length=64)
    inputs_version = models.BigIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        permissions = [("recompute_phenotypeassessment", "Can queue a recompute")]

    def __str__(self) -> str:
        return f"phenotype of patient {self.patient_id} (rules {self.rules_version})"
