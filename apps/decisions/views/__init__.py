"""Browser pages of the decisions app, one module per page family: ``meetings`` (the list and
the agenda), ``cases`` (presentation mode and a case's decision form), ``records`` (a decision
with its snapshot, the printable case summary).

Pages that show a decision show its snapshot, never the current data: a later change of the
patient's data must not rewrite what the board saw. Every page that shows patient data writes
access events (``record_access``); nothing about a patient goes to the logs or into URLs beyond
ids. Writes go through ``apps.decisions.services``.
"""

VIEW_CASES = [
    "decisions.view_meeting",
    "decisions.view_case",
    "patients.view_patient",
    "scoring.view_phenotypeassessment",
]
VIEW_DECISIONS = [*VIEW_CASES, "decisions.view_decision"]
