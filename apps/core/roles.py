"""The roles of NETboard as Django groups, with the model permissions each one holds.

reader       enters and edits imaging data (patients' studies, lesions, observations) and
             the clinical record (follow-up records included)
clinician    views everything clinical, records decisions, reads the survival analytics
coordinator  manages meetings and their cases
auditor      reads the audit trail (history, access and security events) and the survival
             analytics
admin        everything
"""

from __future__ import annotations

from typing import Any

READER = "reader"
CLINICIAN = "clinician"
COORDINATOR = "coordinator"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (READER, CLINICIAN, COORDINATOR, AUDITOR, ADMIN)

CLINICAL_MODELS = {
    "patients": ["patient", "pathology", "biomarker", "treatment", "treatmentcycle"],
    "imaging": ["lesion", "imagingstudy", "observation"],
    "decisions": ["meeting", "case", "decision"],
    "scoring": ["phenotypeassessment"],
    "outcomes": ["followup"],
}
AUDIT_MODELS = {"core": ["accessevent", "securityevent"]}


def _perms(models: dict[str, list[str]], actions: tuple[str, ...]) -> set[tuple[str, str]]:
    return {
        (app, f"{action}_{model}")
        for app, names in models.items()
        for model in names
        for action in actions
    }


# Asking for a fresh computation changes no data: every role that works with patients may.
_VIEW_CLINICAL = _perms(CLINICAL_MODELS, ("view",))
_RECOMPUTE = {("scoring", "recompute_phenotypeassessment")}
# The survival analytics (cohort figures, no patient named): clinicians and auditors.
_SURVIVAL = {("outcomes", "view_survival")}
ROLE_PERMISSIONS: dict[str, set[tuple[str, str]]] = {
    READER: _VIEW_CLINICAL
    | _RECOMPUTE
    | _perms(
        {
            "patients": CLINICAL_MODELS["patients"],
            "imaging": CLINICAL_MODELS["imaging"],
            "outcomes": CLINICAL_MODELS["outcomes"],
        },
        ("add", "change", "delete"),
    ),
    CLINICIAN: _VIEW_CLINICAL
    | _RECOMPUTE
    | _SURVIVAL
    | _perms({"decisions": ["decision"]}, ("add",)),
    COORDINATOR: _VIEW_CLINICAL
    | _RECOMPUTE
    | _perms({"decisions": ["meeting", "case"]}, ("add", "change", "delete")),
    AUDITOR: _VIEW_CLINICAL | _SURVIVAL | _perms(AUDIT_MODELS, ("view",)),
}


def sync_roles(**_: Any) -> None:
    """Create the groups and give each exactly its permissions (runs after every migrate)."""
    from django.contrib.auth.models import Group, Permission

    all_perms = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.select_related("content_type")
    }
    for role in ROLES:
        group, _created = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            wanted = list(all_perms.values())
        else:
            wanted = [all_perms[key] for key in sorted(ROLE_PERMISSIONS[role]) if key in all_perms]
        group.permissions.set(wanted)
