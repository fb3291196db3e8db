"""The order in which transactions lock a patient's rows, so that no two wait on each other.

Every transaction that locks more than one of these takes them in this order:

1. the **patient row** (``patients_patient``);
2. its **input version** (``scoring_inputversion``), raised by the input triggers and claimed by
   the recompute;
3. its **assessment** (``scoring_phenotypeassessment``), stored by the recompute and held by a
   decision while it takes its snapshot.

How each path keeps it:

- Input writes: the input-version trigger (``scoring_bump_inputs``, migration scoring 0005) takes
  the patient rows FOR KEY SHARE before it raises their versions.
- The recompute's claim takes the patient FOR KEY SHARE in the same statement as the version row
  (``apps.scoring.services.recompute_phenotype``).
- A decision takes the patient with ``hold_patient`` before it locks the assessment.
- Rows locked for an edit are locked FOR NO KEY UPDATE (``select_for_update(no_key=True)``), the
  mode of an UPDATE that keeps the row's keys: it does not conflict with the FOR KEY SHARE of
  the foreign-key checks that other transactions run at COMMIT, so an edit never makes them
  wait. Only a delete locks FOR UPDATE (as the DELETE will anyway).

A deadlock that slips through anyway (a path not listed here) is retried once by
``apps.core.database.DatabaseErrorMiddleware``.
"""

from __future__ import annotations

from django.db import connection


def hold_patient(patient_id: int) -> None:
    """Lock the patient row FOR KEY SHARE until the transaction ends: step 1 of the order above,
    for a transaction that will lock the patient's assessment. It blocks only a delete or a key
    change (a new MRN) of that patient."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM patients_patient WHERE id = %s FOR KEY SHARE", [patient_id])
