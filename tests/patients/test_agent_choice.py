"""The PPGL agent choice on the pages (issue 19 §3, docs/clinical-rules.md §11): the patient
page, presentation mode, the decision form and a decision's snapshot show the suggestion in
words, one row per graded lesion (label, SSTR uptake, MIBG uptake, covered by), the lesions
neither agent covers, the provisional state with the unpaired and ungradable lesions, and the
reason, all as the worker stored them (``apps.patients.agent_choice``); a snapshot shows its own
agent choice after the data changed; a patient §11 does not apply to shows none of it."""

from __future__ import annotations

import html as htmllib
import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from apps.decisions import services as decisions
from apps.decisions.integrity import decision_canonical, verify_chain
from apps.decisions.models import Case, Decision
from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.patients.models import Patient
from apps.patients.services import record_save
from apps.scoring.models import PhenotypeAssessment
from tests.decisions.test_tamper_evident import tamper
from tests.factories import (
    CaseFactory,
    LesionFactory,
    MeetingFactory,
    ObservationFactory,
    PatientFactory,
    StudyFactory,
    UserFactory,
    three_liver_lesions,
)

pytestmark = pytest.mark.django_db

# DEMO-0014 (the review's Fig. 8): lesion label -> (SSTR PET SUVmax, 124I-MIBG PET SUVmax).
# SSTR B 1.5, L 6, S 18: 24 -> 4, 10 -> 3, 9.0 -> 3, 5.0 -> 2. MIBG B 1.0, L 3.5, S 2.5 (liver
# above spleen, which does not invalidate an MIBG score): 12 -> 4, 9.0 -> 4, 2.0 -> 2, 11 -> 4.
FIG_8 = {
    "T7 vertebra": ("24", "12"),
    "Hepatic dome 1": ("10", "9.0"),
    "Hepatic dome 2": ("9.0", "2.0"),
    "Left upper quadrant soft tissue": ("5.0", "11"),
}
# What the table shows of them: (label, SSTR uptake, MIBG uptake, covered by).
FIG_8_ROWS = [
    ("T7 vertebra", "4", "4", "both"),
    ("Hepatic dome 1", "3", "4", "both"),
    ("Hepatic dome 2", "3", "2", "177Lu-DOTATATE"),
    ("Left upper quadrant soft tissue", "2", "4", "131I-MIBG"),
]


def ppgl_patient(*, unpaired: bool = False) -> tuple[Patient, ImagingStudy, dict[str, Lesion]]:
    """DEMO-0014 through the write services, its reads finished, the assessment computed on
    commit (the worker's own path without a broker). ``unpaired``: one more lesion, on the SSTR
    PET only (provisional)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = PatientFactory(
            histology="pheochromocytoma", primary_site="adrenal", mrn="PPGL-0014"
        )
        sstr = StudyFactory(patient=patient, performed_on=date(2024, 11, 4))
        mibg = StudyFactory(
            patient=patient,
            performed_on=date(2024, 11, 12),
            tracer="i124_mibg",
            blood_pool_suv=Decimal("1.0"),
            liver_suv=Decimal("3.5"),
            spleen_suv=Decimal("2.5"),
        )
        lesions = {}
        for label, (sstr_suv, mibg_suv) in FIG_8.items():
            lesions[label] = lesion = LesionFactory(patient=patient, label=label)
            ObservationFactory(study=sstr, lesion=lesion, suv_max=Decimal(sstr_suv))
            ObservationFactory(study=mibg, lesion=lesion, suv_max=Decimal(mibg_suv))
        if unpaired:
            lesions["Right iliac bone"] = lesion = LesionFactory(
                patient=patient, label="Right iliac bone", site="bone"
            )
            ObservationFactory(study=sstr, lesion=lesion, suv_max=Decimal("20"))
        ImagingStudy.objects.filter(patient=patient).update(
            status="final", finalized_at=timezone.now()
        )
    assert PhenotypeAssessment.objects.get(patient=patient).summary["agent_choice"] is not None
    return patient, mibg, lesions


def agent_block(html: str) -> str:
    found = re.search(
        r'<div class="support-block agent-choice" id="agent-choice">.*?</div>', html, re.S
    )
    assert found, "no agent choice on the page"
    return found.group(0)


def text(fragment: str) -> str:
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def table_rows(block: str) -> list[tuple[str, ...]]:
    body = block.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        tuple(text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S))
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def pages(client: Client, case: Case, decision: Decision | None = None) -> dict[str, str]:
    urls = {
        "patient page": f"/patients/{case.patient_id}/",
        "presentation": f"/meetings/{case.meeting_id}/present/{case.pk}/",
        "decision form": f"/cases/{case.pk}/decision/",
    }
    if decision is not None:
        urls["snapshot"] = f"/decisions/{decision.pk}/"
        urls["case summary"] = f"/cases/{case.pk}/summary/"
    shown = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, name
        shown[name] = response.content.decode()
    return shown


@pytest.fixture
def clinician(as_role: Any) -> Client:
    return as_role("clinician")


def test_each_page_shows_the_stored_agent_choice_with_its_lesions(clinician: Client) -> None:
    patient, _mibg, _lesions = ppgl_patient()
    case = CaseFactory(patient=patient, meeting=MeetingFactory())
    for name, html in pages(clinician, case).items():
        block = agent_block(html)
        assert "Suggested: tandem 177Lu-DOTATATE and 131I-MIBG" in text(block), name
        assert table_rows(block) == FIG_8_ROWS, name
        head = block.split("<thead>", 1)[1].split("</thead>", 1)[0]
        assert [text(th) for th in re.findall(r'<th scope="col">(.*?)</th>', head)] == [
            "Lesion",
            "SSTR uptake 0–4",
            "MIBG uptake 0–4",
            "Covered by",
        ], name
        assert "<caption>" in block and block.count('<th scope="row">') == 4, name
        assert "SSTR 68Ga-DOTATATE PET/CT 2024-11-04 · MIBG 124I-MIBG PET/CT 2024-11-12" in text(
            block
        )
        stored = PhenotypeAssessment.objects.get(patient=patient).summary["agent_choice"]
        assert htmllib.escape(stored["reason"], quote=False) in block, name
        assert "Provisional" not in block and 'id="agent-uncovered"' not in block, name
        assert "eligible" not in html.lower(), name


def test_the_pages_read_what_the_worker_stored_and_run_no_rule(clinician: Client) -> None:
    """A stored result that says otherwise is what the pages show: partial, with the uncovered
    lesion named and the unpaired and ungradable lesions listed as provisional."""
    patient, mibg, lesions = ppgl_patient()
    stored = PhenotypeAssessment.objects.get(patient=patient)
    ids = {label: lesion.pk for label, lesion in lesions.items()}
    luq, dome2 = ids["Left upper quadrant soft tissue"], ids["Hepatic dome 2"]
    choice = {
        **stored.summary["agent_choice"],
        "suggestion": "partial",
        "rest_suggestion": "lu177_dotatate",
        "covered_by_sstr": sorted([ids["T7 vertebra"], ids["Hepatic dome 1"], dome2]),
        "covered_by_mibg": [],
        "uncovered": [luq],
        "provisional": True,
        "unpaired_lesions": [ids["Hepatic dome 1"]],
        "ungradable_lesions": [ids["T7 vertebra"]],
        "reason": "A stored reason.",
    }
    uptake = {**stored.uptake, str(mibg.pk): {**stored.uptake[str(mibg.pk)]}}
    uptake[str(mibg.pk)][str(luq)] = {**uptake[str(mibg.pk)][str(luq)], "score": 1}
    PhenotypeAssessment.objects.filter(patient=patient).update(
        summary={**stored.summary, "agent_choice": choice}, uptake=uptake
    )
    block = agent_block(clinician.get(f"/patients/{patient.pk}/").content.decode())
    shown = text(block)
    assert "Partial: some lesions are covered by neither agent; the rest by 177Lu-DOTATATE" in shown
    assert table_rows(block)[-1] == ("Left upper quadrant soft tissue", "2", "1", "neither")
    assert "Covered by neither agent: Left upper quadrant soft tissue." in shown
    assert (
        "Provisional Unpaired (observed on one of the two studies only): Hepatic dome 1. "
        "Ungradable (no score on one of the two studies): T7 vertebra."
    ) in shown
    assert "A stored reason." in shown


def test_an_unpaired_lesion_makes_it_provisional_and_is_named(clinician: Client) -> None:
    patient, _mibg, _lesions = ppgl_patient(unpaired=True)
    block = agent_block(clinician.get(f"/patients/{patient.pk}/").content.decode())
    assert table_rows(block) == FIG_8_ROWS  # the unpaired lesion is not graded
    assert '<span class="sev sev-caution">Provisional</span>' in block.split("</h2>", 1)[0]
    assert "Unpaired (observed on one of the two studies only): Right iliac bone." in text(block)
    assert "Right iliac bone is observed on one of the two studies only" in text(block)


def test_a_patient_the_agent_choice_does_not_apply_to_shows_none_of_it(clinician: Client) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = three_liver_lesions(PatientFactory(histology="net"))
        # An MIBG scan of a NET patient is read, but §11 is for PPGL only.
        mibg = StudyFactory(
            patient=patient, performed_on=date(2024, 3, 5), tracer="i123_mibg", modality="planar",
            blood_pool_suv=None, liver_suv=None, spleen_suv=None,
        )  # fmt: skip
        for lesion in Lesion.objects.filter(patient=patient):
            ObservationFactory(study=mibg, lesion=lesion, suv_max=None, krenning_visual=3)
    assert PhenotypeAssessment.objects.get(patient=patient).summary["agent_choice"] is None
    case = CaseFactory(patient=patient, meeting=MeetingFactory())
    decision = decisions.decision_record(
        case=case, recommendation="ssa", rationale="r", decided_by=UserFactory()
    )
    for name, html in pages(clinician, case, decision).items():
        assert 'id="agent-choice"' not in html and "radioligand choice" not in html, name


def test_the_snapshot_shows_the_agent_choice_it_was_decided_on_after_the_data_changed(
    clinician: Client,
) -> None:
    patient, mibg, lesions = ppgl_patient()
    case = CaseFactory(patient=patient, meeting=MeetingFactory())
    decision = decisions.decision_record(
        case=case,
        recommendation="prrt",
        rationale="Tandem 177Lu-DOTATATE and 131I-MIBG.",
        decided_by=UserFactory(),
        sign=True,
    )
    assert decision.is_signed
    assert decision.phenotype_snapshot["agent_choice"]["suggestion"] == "tandem"
    # The MIBG read changes afterwards: the left upper quadrant no longer takes up MIBG, so
    # neither agent covers it and the patient's current agent choice is partial; a lesion is
    # renamed.
    with TestCase.captureOnCommitCallbacks(execute=True):
        ImagingStudy.objects.filter(pk=mibg.pk).update(status="draft")
        changed = Observation.objects.get(
            study=mibg, lesion=lesions["Left upper quadrant soft tissue"]
        )
        changed.suv_max = Decimal("0.5")
        record_save(record=changed)
        Lesion.objects.filter(pk=lesions["T7 vertebra"].pk).update(label="T7 vertebral body")
    current = PhenotypeAssessment.objects.get(patient=patient).summary["agent_choice"]
    assert current["suggestion"] == "partial"
    assert agent_block(clinician.get(f"/patients/{patient.pk}/").content.decode())

    shown = pages(clinician, case, decision)
    now = agent_block(shown["patient page"])
    assert "Partial: some lesions are covered by neither agent" in text(now)
    assert table_rows(now)[-1] == ("Left upper quadrant soft tissue", "2", "0", "neither")
    assert table_rows(now)[0][0] == "T7 vertebral body"
    for name in ("snapshot", "case summary"):
        block = agent_block(shown[name])
        assert "Suggested: tandem 177Lu-DOTATATE and 131I-MIBG" in text(block), name
        assert "Partial" not in text(block), name
        # The decision kept each lesion's label and scores as the form showed them.
        assert table_rows(block) == FIG_8_ROWS, name
        assert "The snapshot keeps which lesions each agent covers" not in block, name
        assert "SSTR 68Ga-DOTATATE PET/CT 2024-11-04 · MIBG 124I-MIBG PET/CT 2024-11-12" in text(
            block
        ), name
        reason = decision.phenotype_snapshot["agent_choice"]["reason"]
        assert htmllib.escape(reason, quote=False) in block and reason != current["reason"]


def test_a_decision_keeps_the_labels_studies_and_scores_behind_its_agent_choice() -> None:
    patient, mibg, lesions = ppgl_patient()
    stored = PhenotypeAssessment.objects.get(patient=patient)
    choice = stored.summary["agent_choice"]
    decision = decisions.decision_record(
        case=CaseFactory(patient=patient, meeting=MeetingFactory()),
        recommendation="prrt",
        rationale="Tandem.",
        decided_by=UserFactory(),
    )
    kept = Decision.objects.get(pk=decision.pk).agent_choice_lesions
    assert kept["labels"] == {str(lesion.pk): label for label, lesion in lesions.items()}
    assert kept["studies"] == {
        str(choice["sstr_study"]): "68Ga-DOTATATE PET/CT 2024-11-04",
        str(mibg.pk): "124I-MIBG PET/CT 2024-11-12",
    }
    # Exactly the stored scores of those lesions on those two studies, nothing else.
    assert kept["uptake"] == {
        study: {str(lesion.pk): stored.uptake[study][str(lesion.pk)] for lesion in lesions.values()}
        for study in (str(choice["sstr_study"]), str(mibg.pk))
    }
    assert {entry["score"] for entry in kept["uptake"][str(mibg.pk)].values()} == {2, 4}


def test_a_decision_the_agent_choice_does_not_apply_to_keeps_nothing_beside_it() -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = three_liver_lesions(PatientFactory(histology="net"))
    decision = decisions.decision_record(
        case=CaseFactory(patient=patient, meeting=MeetingFactory()),
        recommendation="ssa",
        rationale="r",
        decided_by=UserFactory(),
    )
    assert Decision.objects.get(pk=decision.pk).agent_choice_lesions == {}


def test_a_decision_recorded_before_the_scores_were_kept_shows_the_bands(
    clinician: Client,
) -> None:
    patient, _mibg, _lesions = ppgl_patient()
    case = CaseFactory(patient=patient, meeting=MeetingFactory())
    decision = decisions.decision_record(
        case=case, recommendation="prrt", rationale="Tandem.", decided_by=UserFactory()
    )
    # A draft recorded before NETboard kept the lesions beside the snapshot.
    Decision.objects.filter(pk=decision.pk).update(agent_choice_lesions={})
    block = agent_block(pages(clinician, case, decision)["snapshot"])
    assert table_rows(block) == [
        ("T7 vertebra", "3–4", "3–4", "both"),
        ("Hepatic dome 1", "3–4", "3–4", "both"),
        ("Hepatic dome 2", "3–4", "0–2", "177Lu-DOTATATE"),
        ("Left upper quadrant soft tissue", "0–2", "3–4", "131I-MIBG"),
    ]
    assert "The snapshot keeps which lesions each agent covers" in block


def test_the_kept_scores_are_signed_with_the_decision() -> None:
    patient, _mibg, lesions = ppgl_patient()
    decision = decisions.decision_record(
        case=CaseFactory(patient=patient, meeting=MeetingFactory()),
        recommendation="prrt",
        rationale="Tandem.",
        decided_by=UserFactory(),
        sign=True,
    )
    content = json.loads(decision_canonical(Decision.objects.get(pk=decision.pk)))
    assert content["agent_choice_lesions"]["labels"][str(lesions["T7 vertebra"].pk)] == (
        "T7 vertebra"
    )
    assert verify_chain().ok
    # A superuser lowers a kept score behind NETboard's back: the chain names the field.
    tamper(
        "UPDATE decisions_decision SET agent_choice_lesions = jsonb_set(agent_choice_lesions, "
        "%s, '1') WHERE id = %s",
        [
            f"{{uptake,{decision.phenotype_snapshot['agent_choice']['mibg_study']},"
            f"{lesions['T7 vertebra'].pk},score}}",
            decision.pk,
        ],
    )
    result = verify_chain()
    assert not result.ok and "agent_choice_lesions" in result.reason
