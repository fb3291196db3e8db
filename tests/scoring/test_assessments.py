"""Persisted phenotype assessments: the input version triggers, freshness, idempotent recompute,
queueing after commit, the sweeper and the endpoints (issue 3, "Computation by workers").

Tasks run in-process here (no broker configured); tests/scoring/test_worker.py runs the same
paths with a real worker on Redis.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import TestCase, override_settings
from django.utils import timezone

from apps.core.models import AccessEvent
from apps.decisions.models import Decision
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.models import Biomarker, Pathology, Patient, Treatment, TreatmentCycle
from apps.patients.services import record_save
from apps.scoring import queue, services
from apps.scoring.models import InputVersion, PhenotypeAssessment
from apps.scoring.serializers import PhenotypeSerializer
from tests.factories import (
    CaseFactory,
    LesionFactory,
    ObservationFactory,
    PathologyFactory,
    PatientFactory,
    StudyFactory,
    TreatmentFactory,
    UserFactory,
    three_liver_lesions,
)

pytestmark = pytest.mark.django_db


def version_of(patient: Patient) -> int:
    return InputVersion.objects.get(patient=patient).version


def committed() -> Any:
    """Run the after-commit callbacks of the writes inside (the test's own transaction never
    commits), as a real commit would: here they queue the recompute, run in-process."""
    return TestCase.captureOnCommitCallbacks(execute=True)


def dual_tracer_patient(fdg_visual: str = "negative") -> Patient:
    """Three liver lesions, Krenning 4 on the SSTR PET; FDG as given (negative: NETPET P1)."""
    with committed():
        return three_liver_lesions(PatientFactory(), fdg_visual)


def grade(patient: Patient) -> str:
    body = services.phenotype_body(patient.pk)
    return str(body["timepoints"][0]["netpet"]["grade"])


# --- The triggers -----------------------------------------------------------------------------


def test_a_new_patient_gets_a_version_row() -> None:
    patient = PatientFactory()
    assert version_of(patient) >= 1


WRITES = {
    "patient update": lambda p: Patient.objects.filter(pk=p.pk).update(weight_kg=70),
    "pathology insert": lambda p: PathologyFactory(patient=p),
    "biomarker insert": lambda p: Biomarker.objects.create(
        patient=p,
        analyte="chromogranin_a",
        value=Decimal("100"),
        unit="ng/mL",
        measured_on=date(2024, 1, 1),
    ),
    "treatment insert": lambda p: TreatmentFactory(patient=p),
    "cycle insert": lambda p: TreatmentCycle.objects.create(
        treatment=Treatment.objects.filter(patient=p).first() or TreatmentFactory(patient=p),
        number=9,
        given_on=date(2024, 5, 1),
    ),
    "lesion insert": lambda p: LesionFactory(patient=p),
    "study update": lambda p: ImagingStudy.objects.filter(patient=p).update(
        liver_suv=Decimal("6.5")
    ),
    "observation update (bulk)": lambda p: Observation.objects.filter(patient=p).update(
        suv_max=Decimal("15")
    ),
    "observation delete": lambda p: Observation.objects.filter(patient=p).first().delete(),  # type: ignore[union-attr]
    "lesion delete": lambda p: Lesion.objects.filter(patient=p).last().delete(),  # type: ignore[union-attr]
    "pathology delete": lambda p: Pathology.objects.filter(patient=p).delete(),
    "pathology update": lambda p: Pathology.objects.filter(patient=p).update(ki67_percent=12),
    "biomarker insert (bulk)": lambda p: Biomarker.objects.bulk_create(
        [
            Biomarker(
                patient=p,
                analyte="chromogranin_a",
                value=Decimal(n),
                unit="ng/mL",
                measured_on=date(2024, 1, n),
            )
            for n in (1, 2)
        ]
    ),
    "treatment update": lambda p: Treatment.objects.filter(patient=p).update(regimen="x"),
    "lesion update": lambda p: Lesion.objects.filter(patient=p).update(site="pancreas"),
    "observation insert (bulk)": lambda p: Observation.objects.bulk_create(
        [
            Observation(study=study, lesion=LesionFactory(patient=p), patient=p)
            for study in ImagingStudy.objects.filter(patient=p)
        ]
    ),
}


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
def test_every_kind_of_write_to_an_input_raises_the_version(write: str) -> None:
    patient = dual_tracer_patient()
    PathologyFactory(patient=patient)
    TreatmentFactory(patient=patient)
    other = dual_tracer_patient()
    before, other_before = version_of(patient), version_of(other)
    WRITES[write](patient)
    assert version_of(patient) > before
    assert version_of(other) == other_before


@pytest.mark.parametrize("write", ["biomarker insert (bulk)", "lesion update", "study update"])
def test_a_statement_of_many_rows_raises_the_version_once(write: str) -> None:
    patient = dual_tracer_patient()
    before = version_of(patient)
    WRITES[write](patient)
    assert version_of(patient) == before + 1


def test_a_bulk_insert_of_observations_raises_the_version_once() -> None:
    patient = dual_tracer_patient()
    lesions = [LesionFactory(patient=patient), LesionFactory(patient=patient)]
    before = version_of(patient)
    Observation.objects.bulk_create(
        Observation(study=study, lesion=lesion, patient=patient)
        for study in ImagingStudy.objects.filter(patient=patient)
        for lesion in lesions
    )
    assert version_of(patient) == before + 1


def test_raw_sql_writes_raise_the_version_too_once_per_statement() -> None:
    # Statement-level triggers (scoring 0004): six rows of one patient, one bump.
    patient = dual_tracer_patient()
    before = version_of(patient)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE imaging_observation SET suv_peak = 3 WHERE patient_id = %s", [patient.pk]
        )
    assert version_of(patient) == before + 1


def test_one_statement_over_two_patients_raises_each_once() -> None:
    first, second, bystander = dual_tracer_patient(), dual_tracer_patient(), dual_tracer_patient()
    before = {p.pk: version_of(p) for p in (first, second, bystander)}
    Observation.objects.filter(patient__in=[first, second]).update(suv_peak=Decimal("2"))
    assert version_of(first) == before[first.pk] + 1
    assert version_of(second) == before[second.pk] + 1
    assert version_of(bystander) == before[bystander.pk]


def test_a_statement_that_touches_no_row_raises_nothing() -> None:
    patient = dual_tracer_patient()
    before = version_of(patient)
    Observation.objects.filter(patient=patient, suv_max__gt=10_000).update(suv_peak=1)
    Observation.objects.filter(patient=patient, suv_max__gt=10_000).delete()
    assert version_of(patient) == before


def test_a_row_moved_to_another_patient_raises_both() -> None:
    first, second = dual_tracer_patient(), dual_tracer_patient()
    before_first, before_second = version_of(first), version_of(second)
    Pathology.objects.create(
        patient=first, reported_on=date(2024, 1, 1), specimen_site="liver", who_grade="G2"
    )
    Pathology.objects.filter(patient=first).update(patient=second)
    assert version_of(first) == before_first + 2  # the insert, then the move
    assert version_of(second) == before_second + 1


def test_a_cycle_update_and_delete_reach_the_patient_through_the_treatment() -> None:
    treatment = TreatmentFactory()
    cycle = TreatmentCycle.objects.create(treatment=treatment, number=1, given_on=date(2024, 3, 1))
    before = version_of(treatment.patient)
    cycle.activity_gbq = Decimal("7.4")
    cycle.save()
    assert version_of(treatment.patient) == before + 1
    cycle.delete()
    assert version_of(treatment.patient) == before + 2


def test_decisions_are_not_inputs() -> None:
    case = CaseFactory()
    before = version_of(case.patient)
    Decision.objects.create(
        case=case,
        recommendation="prrt",
        rationale="MDT consensus",
        decided_at=timezone.now(),
        decided_by=UserFactory(),
    )
    assert version_of(case.patient) == before


def test_deleting_a_patient_removes_its_rows_without_error() -> None:
    patient = dual_tracer_patient()
    services.recompute_phenotype(patient.pk)
    patient.delete()
    assert not InputVersion.objects.filter(patient_id=patient.pk).exists()
    assert not PhenotypeAssessment.objects.filter(patient_id=patient.pk).exists()
    assert services.recompute_phenotype(patient.pk) == "gone"


# --- Freshness --------------------------------------------------------------------------------

NOW = timezone.now()
WINDOW = services.pending_window()


@pytest.mark.parametrize(
    ("computed_version", "fingerprint", "queued_at", "expected"),
    [
        (3, "F", None, "fresh"),
        (3, "F", NOW, "fresh"),  # a queued mark does not hide a fresh result
        (2, "F", None, "stale"),
        (2, "F", NOW, "pending"),
        (2, "F", NOW - WINDOW + timedelta(seconds=1), "pending"),
        (2, "F", NOW - WINDOW, "stale"),  # the mark is too old: considered lost
        (3, "OLD", None, "stale"),  # rules or thresholds changed
        (3, "OLD", NOW, "pending"),
        (None, "F", None, "stale"),  # never computed
        (None, "F", NOW, "pending"),
    ],
)
def test_status_of(
    computed_version: int | None, fingerprint: str, queued_at: Any, expected: str
) -> None:
    version = InputVersion(version=3, queued_at=queued_at)
    assessment = (
        None
        if computed_version is None
        else PhenotypeAssessment(inputs_version=computed_version, rules_fingerprint=fingerprint)
    )
    assert services.status_of(version, assessment, "F", now=NOW) == expected


def test_the_fingerprint_follows_the_rules_version_and_every_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = services.rules_fingerprint()
    with override_settings(NETBOARD_RULES={"krenning_tolerance": 0.15}):
        assert services.rules_fingerprint() != base
    monkeypatch.setattr(services, "RULES_VERSION", "999")
    assert services.rules_fingerprint() != base


# --- Recompute --------------------------------------------------------------------------------


def test_recompute_writes_once_and_then_nothing_for_the_same_inputs() -> None:
    patient = dual_tracer_patient()
    assert services.recompute_phenotype(patient.pk) == "unchanged"  # queued on commit already
    stored = PhenotypeAssessment.objects.get(patient=patient)
    assert grade(patient) == "P1"
    assert services.phenotype_body(patient.pk)["status"] == "fresh"

    # A save that changes nothing the rules read raises the version but not the digest.
    Patient.objects.filter(pk=patient.pk).update(given_name="Renamed")
    assert services.phenotype_body(patient.pk)["status"] == "stale"
    assert services.recompute_phenotype(patient.pk) == "confirmed"
    again = PhenotypeAssessment.objects.get(patient=patient)
    assert (again.computed_at, again.phenotype, again.inputs_digest) == (
        stored.computed_at,
        stored.phenotype,
        stored.inputs_digest,
    )
    assert again.inputs_version == version_of(patient)
    assert services.recompute_phenotype(patient.pk) == "unchanged"


def test_a_changed_input_gives_a_new_result() -> None:
    patient = dual_tracer_patient()
    first = PhenotypeAssessment.objects.get(patient=patient)
    lesion = Lesion.objects.filter(patient=patient).first()
    fdg_obs = Observation.objects.get(lesion=lesion, study__tracer="f18_fdg")
    fdg_obs.fdg_visual = "positive"
    with committed():
        record_save(record=fdg_obs)  # the write path of every page and the API
    latest = PhenotypeAssessment.objects.get(patient=patient)
    assert latest.computed_at > first.computed_at
    assert latest.inputs_digest != first.inputs_digest
    assert grade(patient) != "P1"
    assert services.phenotype_body(patient.pk)["status"] == "fresh"


def test_changed_thresholds_make_every_assessment_stale_until_recomputed() -> None:
    patients = [dual_tracer_patient() for _ in range(2)]
    assert {services.phenotype_body(p.pk)["status"] for p in patients} == {"fresh"}
    with override_settings(NETBOARD_RULES={"small_lesion_mm": 40}):
        assert {services.phenotype_body(p.pk)["status"] for p in patients} == {"stale"}
        assert queue.sweep_stale() == 2
        for patient in patients:
            body = services.phenotype_body(patient.pk)
            assert body["status"] == "fresh"
            assert body["thresholds"]["small_lesion_mm"] == 40
            codes = {f["code"] for f in body["timepoints"][0]["prrt_support"]["findings"]}
            assert "small_lesions" in codes  # 30 mm lesions are small under the new threshold


def test_a_new_rules_version_makes_assessments_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    patient = dual_tracer_patient()
    monkeypatch.setattr(services, "RULES_VERSION", "2-test")
    assert services.phenotype_body(patient.pk)["status"] == "stale"
    assert services.recompute_phenotype(patient.pk) == "written"
    assert PhenotypeAssessment.objects.get(patient=patient).rules_version == "2-test"


# --- Queueing after commit --------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The patient ids handed to the broker (the task itself is not run)."""
    from apps.scoring.tasks import recompute_patient

    calls: list[int] = []
    monkeypatch.setattr(
        recompute_patient, "apply_async", lambda args, **options: calls.append(args[0])
    )
    return calls


def test_one_transaction_queues_each_patient_once(
    sent: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with committed():
        a, b = PatientFactory(), PatientFactory()
    sent.clear()
    InputVersion.objects.update(queued_at=None)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        study = StudyFactory(patient=a)
        for _ in range(5):
            ObservationFactory(study=study)
        LesionFactory(patient=b)
    assert sorted(sent) == sorted([a.pk, b.pk])
    assert InputVersion.objects.get(patient=a).queued_at is not None
    assert services.phenotype_body(a.pk)["status"] == "pending"


def test_a_rolled_back_transaction_queues_nothing(
    sent: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with committed():
        patient = PatientFactory()
    InputVersion.objects.update(queued_at=None)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            LesionFactory(patient=patient)
            raise RuntimeError
        LesionFactory(patient=PatientFactory())  # the next transaction still queues its patient
    assert patient.pk not in sent
    assert len(sent) == 1


def test_an_already_queued_patient_is_not_sent_twice(sent: list[int]) -> None:
    patient = PatientFactory()
    InputVersion.objects.update(queued_at=None)
    sent.clear()
    assert queue.enqueue_recompute(patient.pk) is True
    assert queue.enqueue_recompute(patient.pk) is False
    # A mark older than the pending window is considered lost.
    InputVersion.objects.filter(patient=patient).update(
        queued_at=timezone.now() - services.pending_window() - timedelta(seconds=1)
    )
    assert queue.enqueue_recompute(patient.pk) is True
    assert sent == [patient.pk, patient.pk]


def test_a_broker_that_is_down_leaves_the_patient_stale_for_the_sweeper(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The except branch; tests/scoring/test_worker.py does the same against a dead port."""
    from kombu.exceptions import OperationalError

    from apps.scoring.tasks import recompute_patient

    patient = dual_tracer_patient()
    Patient.objects.filter(pk=patient.pk).update(weight_kg=81)

    def refuse(args: tuple[int], **options: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    with monkeypatch.context() as patched:
        patched.setattr(recompute_patient, "apply_async", refuse)
        with caplog.at_level(logging.WARNING, logger="apps.scoring.services"):
            assert queue.enqueue_recompute(patient.pk) is False
    assert InputVersion.objects.get(patient=patient).queued_at is None
    assert services.phenotype_body(patient.pk)["status"] == "stale"
    assert f"patient id {patient.pk}" in caplog.text
    assert patient.mrn not in caplog.text and patient.family_name not in caplog.text
    assert queue.sweep_stale() == 1
    assert services.phenotype_body(patient.pk)["status"] == "fresh"


def test_the_sweeper_skips_fresh_and_recently_queued_patients(sent: list[int]) -> None:
    fresh, queued, stale = PatientFactory(), PatientFactory(), PatientFactory()
    for patient in (fresh, queued, stale):
        services.recompute_phenotype(patient.pk)
    InputVersion.objects.update(queued_at=None)
    Patient.objects.filter(pk__in=[queued.pk, stale.pk]).update(weight_kg=60)
    InputVersion.objects.filter(patient=queued).update(queued_at=timezone.now())
    sent.clear()
    assert queue.sweep_stale() == 1
    assert sent == [stale.pk]


def test_the_sweeper_repairs_a_missing_version_row(sent: list[int]) -> None:
    patient = PatientFactory()
    InputVersion.objects.filter(patient=patient).delete()
    sent.clear()
    assert queue.sweep_stale() == 1
    assert InputVersion.objects.filter(patient=patient).exists()
    assert sent == [patient.pk]


# --- Endpoints --------------------------------------------------------------------------------


def _keys(serializer: Any) -> set[str]:
    return set(serializer.fields)


def assert_matches_schema(body: dict[str, Any]) -> None:
    """Every key of the body is documented and every documented key is present, recursively."""
    doc = PhenotypeSerializer(data=body)
    assert doc.is_valid(), doc.errors
    assert set(body) == _keys(PhenotypeSerializer())
    timepoint_doc = PhenotypeSerializer().fields["timepoints"].child
    for timepoint in body["timepoints"]:
        assert set(timepoint) == _keys(timepoint_doc)
        for name in ("netpet", "karfis", "zidan", "sstr", "prrt_support"):
            assert set(timepoint[name]) == _keys(timepoint_doc.fields[name]), name
        for row in timepoint["lesion_scores"]:
            assert set(row) == _keys(timepoint_doc.fields["lesion_scores"].child)
    if body["agent_choice"] is not None:
        assert set(body["agent_choice"]) == _keys(PhenotypeSerializer().fields["agent_choice"])


def test_get_phenotype_returns_the_api_md_body(token_client: Any) -> None:
    patient = dual_tracer_patient()
    response = token_client("reader").get(f"/api/v1/patients/{patient.pk}/phenotype/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["patient"] == patient.pk
    assert body["status"] == "fresh"
    assert body["computed_at"]
    timepoint = body["timepoints"][0]
    assert timepoint["netpet"]["grade"] == "P1"
    assert timepoint["fdg_study"] is not None
    assert_matches_schema(body)
    assert AccessEvent.objects.filter(patient_id=patient.pk, action__contains="phenotype").exists()


def test_the_demo_cohort_bodies_match_the_documented_schema(token_client: Any) -> None:
    from django.core.management import call_command

    with committed():
        call_command("load_demo", verbosity=0)
    client = token_client("clinician")
    for patient in Patient.objects.all():
        body = client.get(f"/api/v1/patients/{patient.pk}/phenotype/").json()
        assert body["status"] == "fresh"
        assert_matches_schema(body)


def test_before_the_first_computation_the_body_is_empty_and_not_fresh() -> None:
    patient = PatientFactory()
    PhenotypeAssessment.objects.filter(patient=patient).delete()
    InputVersion.objects.filter(patient=patient).update(queued_at=None)
    body = services.phenotype_body(patient.pk)
    assert body["status"] == "stale" and body["timepoints"] == [] and body["computed_at"] is None
    assert_matches_schema(body)


def test_post_recompute_is_accepted_and_the_result_turns_fresh(token_client: Any) -> None:
    patient = dual_tracer_patient()
    PhenotypeAssessment.objects.filter(patient=patient).delete()
    InputVersion.objects.filter(patient=patient).update(queued_at=None)
    response = token_client("clinician").post(f"/api/v1/patients/{patient.pk}/recompute/")
    assert response.status_code == 202
    assert response.json() == {"patient": patient.pk, "status": "fresh"}  # ran in-process
    assert grade(patient) == "P1"


@pytest.mark.parametrize(
    ("role", "method", "path", "expected"),
    [
        ("auditor", "get", "phenotype", 200),
        ("auditor", "post", "recompute", 403),
        ("reader", "post", "recompute", 202),
        ("coordinator", "post", "recompute", 202),
        ("reader", "post", "phenotype", 405),
        ("reader", "get", "recompute", 405),
    ],
)
def test_endpoint_permissions(
    token_client: Any, role: str, method: str, path: str, expected: int
) -> None:
    patient = PatientFactory()
    response = getattr(token_client(role), method)(f"/api/v1/patients/{patient.pk}/{path}/")
    assert response.status_code == expected


@pytest.mark.parametrize("path", ["phenotype", "recompute"])
def test_unknown_patient_is_a_404_problem(token_client: Any, path: str) -> None:
    client = token_client("clinician")
    call = client.get if path == "phenotype" else client.post
    response = call(f"/api/v1/patients/999999/{path}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/problem+json")


def test_anonymous_gets_401(api_client: Any) -> None:
    patient = PatientFactory()
    assert api_client.get(f"/api/v1/patients/{patient.pk}/phenotype/").status_code == 401


def test_the_sweep_stale_command_recomputes_in_process_without_a_broker() -> None:
    from io import StringIO

    from django.core.management import call_command

    patient = dual_tracer_patient()
    with override_settings(NETBOARD_RULES={"pairing_window_days": 5}):
        out = StringIO()
        call_command("sweep_stale", stdout=out)
        assert out.getvalue().strip() == "1 patient(s) queued for recompute."
        body = services.phenotype_body(patient.pk)
        assert body["status"] == "fresh"
        # The FDG PET is 9 days after the SSTR PET: outside a 5-day window, so no grade.
        assert body["timepoints"][0]["fdg_study"] is None


def test_a_sweep_that_loses_the_broker_midway_takes_back_the_unsent_marks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kombu.exceptions import OperationalError

    from apps.scoring.tasks import recompute_patient

    with committed():
        patients = [PatientFactory() for _ in range(3)]
    Patient.objects.update(weight_kg=90)  # all three stale, none queued
    sent: list[int] = []

    def flaky(args: tuple[int], **options: Any) -> None:
        if sent:
            raise OperationalError("connection lost")
        sent.append(args[0])

    monkeypatch.setattr(recompute_patient, "apply_async", flaky)
    assert queue.sweep_stale() == 1
    queued = dict(InputVersion.objects.values_list("patient_id", "queued_at"))
    assert queued[sent[0]] is not None
    assert [queued[p.pk] for p in patients if p.pk != sent[0]] == [None, None]


def test_the_stored_uptake_is_every_observation_graded_as_score_study_grades_it() -> None:
    """Each study is scored once for the phenotype and ``uptake`` (``scored_studies``): what is
    stored is §2's grade of every observation of every study with observations, CT included."""
    from apps.scoring.rules import score_study
    from apps.scoring.selectors import patient_rules_input, rules_thresholds

    patient = dual_tracer_patient(fdg_visual="positive")
    with committed():
        ct = StudyFactory(
            patient=patient, tracer="none", modality="ct", performed_on=date(2024, 3, 9)
        )
        for lesion in Lesion.objects.filter(patient=patient):
            ObservationFactory(study=ct, lesion=lesion, suv_max=None, long_axis_mm=Decimal("14"))
        StudyFactory(patient=patient, tracer="f18_fdg", performed_on=date(2024, 5, 1))  # no reads
    thresholds = rules_thresholds()
    inputs = patient_rules_input(patient.pk)
    expected = {
        str(study.id): {
            str(lesion): {
                "score": uptake.score,
                "source": uptake.source,
                "computed": uptake.computed,
                "flags": list(uptake.flags),
            }
            for lesion, uptake in score_study(study, thresholds).items()
        }
        for study in inputs.studies
        if study.observations
    }
    stored = PhenotypeAssessment.objects.get(patient=patient).uptake
    assert stored == expected
    assert len(stored) == 3 and str(ct.pk) in stored
    assert {entry["score"] for entry in stored[str(ct.pk)].values()} == {None}
