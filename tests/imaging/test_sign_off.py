"""A read is finished, or it says it is not (issue 15, part 1): a reader finishes a study's read
(``status: final``, who and when), a finished read is locked until it is reopened (also
recorded), and every result computed from a draft read is ``preliminary`` with its draft
studies listed, in the API and on every page; signing on it needs an acknowledgement that the
decision keeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client, TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from apps.decisions.models import Decision
from apps.imaging.models import ImagingStudy, Observation
from apps.imaging.services import study_finish
from apps.scoring import services as scoring
from tests.factories import (
    CaseFactory,
    LesionFactory,
    MeetingFactory,
    PatientFactory,
    UserFactory,
    three_liver_lesions,
)

pytestmark = pytest.mark.django_db


def committed() -> Any:
    return TestCase.captureOnCommitCallbacks(execute=True)


def dual_tracer() -> tuple[Any, ImagingStudy, ImagingStudy]:
    """A patient with an SSTR PET and an FDG PET, both draft reads, assessed."""
    with committed():
        patient = three_liver_lesions(PatientFactory())
    sstr = ImagingStudy.objects.get(patient=patient, tracer="ga68_dotatate")
    fdg = ImagingStudy.objects.get(patient=patient, tracer="f18_fdg")
    return patient, sstr, fdg


def patch(client: APIClient, study: ImagingStudy, **values: Any) -> Any:
    with committed():
        return client.patch(f"/api/v1/studies/{study.pk}/", values, format="json")


def test_a_read_is_finished_and_reopened_with_who_and_when(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader", name="ris")
    patient, sstr, fdg = dual_tracer()
    body = scoring.phenotype_body(patient.pk)
    assert (body["preliminary"], body["draft_studies"]) == (True, [sstr.pk, fdg.pk])
    assert scoring.response_body(patient.pk)["draft_studies"] == [sstr.pk, fdg.pk]

    before = timezone.now()
    response = patch(client, sstr, status="final")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "final" and data["finalized_by"] == "api:ris"
    assert data["finalized_at"] >= before.isoformat()
    assert data["reopened_by"] is None and data["reopened_at"] is None
    body = scoring.phenotype_body(patient.pk)
    assert body["status"] == "fresh"
    assert (body["preliminary"], body["draft_studies"]) == (True, [fdg.pk])

    assert patch(client, fdg, status="final").status_code == 200
    body = scoring.phenotype_body(patient.pk)
    assert (body["preliminary"], body["draft_studies"]) == (False, [])
    assert scoring.response_body(patient.pk)["preliminary"] is False

    # Reopened: recorded, and preliminary again; who finished it last stays recorded.
    data = patch(client, fdg, status="draft").json()
    assert (data["status"], data["reopened_by"], data["finalized_by"]) == (
        "draft",
        "api:ris",
        "api:ris",
    )
    assert scoring.phenotype_body(patient.pk)["draft_studies"] == [fdg.pk]


def test_a_final_read_takes_no_change_until_it_is_reopened(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    patient, sstr, _fdg = dual_tracer()
    observation = Observation.objects.filter(study=sstr).first()
    assert observation is not None
    patch(client, sstr, status="final")
    lesion = LesionFactory(patient=patient, label="New one")

    refused = [
        client.post(
            "/api/v1/observations/",
            {"study": sstr.pk, "lesion": lesion.pk, "suv_max": "5"},
            format="json",
        ),
        client.patch(f"/api/v1/observations/{observation.pk}/", {"suv_max": "1"}, format="json"),
        client.delete(f"/api/v1/observations/{observation.pk}/"),
        client.put(f"/api/v1/studies/{sstr.pk}/observations/", [], format="json"),
    ]
    for response in refused:
        assert response.status_code == 400, response.content
        assert "reopen it" in str(response.json()["errors"]["study"])
    response = client.patch(f"/api/v1/studies/{sstr.pk}/", {"liver_suv": "7.0"}, format="json")
    assert response.status_code == 400
    assert "reopen it" in str(response.json()["errors"]["liver_suv"])
    # What the read held is as it was; a change that is not part of the read still goes in.
    assert Observation.objects.filter(study=sstr).count() == 3
    assert Observation.objects.get(pk=observation.pk).suv_max == observation.suv_max
    response = client.patch(
        f"/api/v1/studies/{sstr.pk}/", {"accession_number": "ACC-9"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "final"

    patch(client, sstr, status="draft")
    response = client.patch(
        f"/api/v1/observations/{observation.pk}/", {"suv_max": "1"}, format="json"
    )
    assert response.status_code == 200


def test_a_study_sent_final_is_finished_by_its_sender(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader", name="pacs")
    patient = PatientFactory()
    with committed():
        response = client.post(
            "/api/v1/studies/",
            {
                "patient": patient.pk,
                "performed_on": "2024-03-01",
                "modality": "pet_ct",
                "tracer": "ga68_dotatate",
                "status": "final",
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["finalized_by"]) == ("final", "api:pacs")
    assert scoring.phenotype_body(patient.pk)["preliminary"] is False


def test_finish_and_reopen_from_the_study_page(as_role: Callable[..., Client]) -> None:
    reader = as_role("reader", "nm-reader")
    _patient, sstr, _fdg = dual_tracer()
    page = reader.get(f"/studies/{sstr.pk}/").content.decode()
    assert "Draft read" in page and 'id="finish-read"' in page and "preliminary" in page
    with committed():
        response = reader.post(f"/studies/{sstr.pk}/finish/")
    assert response.status_code == 302
    sstr.refresh_from_db()
    assert sstr.status == "final" and sstr.finalized_by.username == "nm-reader"
    page = reader.get(f"/studies/{sstr.pk}/").content.decode()
    assert "Final read" in page and "finished by" in page and 'id="reopen-read"' in page
    assert 'name="suv_max"' in page and "disabled" in page.split('name="suv_max"')[1][:300]
    with committed():
        reader.post(f"/studies/{sstr.pk}/reopen/")
    sstr.refresh_from_db()
    assert sstr.status == "draft" and sstr.reopened_by.username == "nm-reader"
    # Only readers finish reads.
    assert as_role("coordinator").post(f"/studies/{sstr.pk}/finish/").status_code == 403


def _case_page(client: Client, case: Any) -> tuple[str, dict[str, str]]:
    import re

    html = client.get(f"/meetings/{case.meeting_id}/present/{case.pk}/").content.decode()
    form = html[html.index('id="decision-form"') :]
    hidden = dict(re.findall(r'name="(base|shown_\w+)" value="([^"]*)"', form))
    return html, hidden


def test_preliminary_grades_are_marked_everywhere_and_signing_needs_an_acknowledgement(
    as_role: Callable[..., Client],
) -> None:
    patient, sstr, fdg = dual_tracer()
    case = CaseFactory(patient=patient, meeting=MeetingFactory(held_on=date(2024, 4, 1)))
    clinician = as_role("clinician", "dr-sign")

    listed = clinician.get("/", {"q": patient.mrn}, follow=True).content.decode()
    assert "preliminary" in listed
    page = clinician.get(f"/patients/{patient.pk}/").content.decode()
    assert "Preliminary" in page and f'href="/studies/{sstr.pk}/"' in page
    assert "not finished" in page
    agenda = clinician.get(f"/meetings/{case.meeting_id}/").content.decode()
    assert "Preliminary" in agenda
    present, hidden = _case_page(clinician, case)
    assert "not finished" in present and 'name="acknowledged_preliminary"' in present

    values = {"recommendation": "prrt", "rationale": "Reads pending", "action": "sign", **hidden}
    refused = clinician.post(f"/meetings/{case.meeting_id}/present/{case.pk}/", values)
    assert refused.status_code == 200
    assert "preliminary" in refused.content.decode() and not Decision.objects.exists()
    # A draft needs no acknowledgement; signing with it records it.
    with committed():
        signed = clinician.post(
            f"/meetings/{case.meeting_id}/present/{case.pk}/",
            {**values, "acknowledged_preliminary": "on"},
        )
    assert signed.status_code == 302
    decision = Decision.objects.get()
    assert decision.is_signed and decision.acknowledged_preliminary
    assert decision.phenotype_snapshot["preliminary"] is True
    assert decision.phenotype_snapshot["draft_studies"] == [sstr.pk, fdg.pk]
    snapshot = clinician.get(f"/decisions/{decision.pk}/").content.decode()
    assert "knowing the assessment was preliminary" in snapshot and "not finished" in snapshot
    summary = clinician.get(f"/cases/{case.pk}/summary/").content.decode()
    assert "knowing the assessment was preliminary" in summary


def test_the_database_refuses_a_signed_preliminary_decision_without_the_acknowledgement() -> None:
    case = CaseFactory()
    user = UserFactory(role="clinician")
    decision = Decision(
        case=case,
        recommendation="prrt",
        rationale="r",
        decided_by=user,
        decided_at=timezone.now(),
        signed_at=timezone.now(),
        phenotype_snapshot={"preliminary": True, "draft_studies": [1]},
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        decision.save()
    decision.acknowledged_preliminary = True
    decision.save()
    assert Decision.objects.filter(pk=decision.pk, acknowledged_preliminary=True).exists()


def test_a_finished_read_behind_every_grade_is_not_preliminary(
    as_role: Callable[..., Client],
) -> None:
    patient, sstr, fdg = dual_tracer()
    reader = UserFactory(role="reader")
    with committed():
        for study in (sstr, fdg):
            study_finish(study=study, user=reader)
    assert scoring.phenotype_body(patient.pk)["preliminary"] is False
    page = as_role("clinician").get(f"/patients/{patient.pk}/").content.decode()
    assert 'class="preliminary notice"' not in page and "Assessment: <strong>fresh" in page


def test_the_fhir_report_of_grades_from_draft_reads_is_preliminary(
    token_client: Callable[..., APIClient],
) -> None:
    client = token_client("reader")
    patient, sstr, fdg = dual_tracer()

    def report_status() -> str:
        bundle = client.get(f"/fhir/R4/Patient/{patient.pk}/$everything").json()
        (report,) = [
            e["resource"]
            for e in bundle["entry"]
            if e["resource"]["resourceType"] == "DiagnosticReport"
        ]
        return str(report["status"])

    assert report_status() == "preliminary"
    patch(client, sstr, status="final")
    patch(client, fdg, status="final")
    assert report_status() == "final"
