"""MIBG imaging read like any other study (issue 19 §2): the study grid takes 123I-MIBG planar
and SPECT/CT, 124I-MIBG and 18F-MFBG PET reads with the 0–4 visual uptake score per lesion, and
SUVs where the modality has them.

- A score is computed from SUVs only where docs/clinical-rules.md §2 and §11.1 allow it (a PET,
  and the post-therapy SPECT of §7): the grid's preview and rows, the API's
  ``krenning_computed`` and the stored per-observation scores the timeline draws all follow
  ``apps.scoring.rules.uptake.computes_score``.
- Planar scintigraphy has no SUV: the grid offers no SUV input there, and the API refuses one,
  naming the field.
- The score column says what the score is on an MIBG study, and the grid names the SSTR study
  the stored agent choice compares it with (never "No FDG PET pairs").
- An MIBG read entered through the grid's save path is stored and graded by the worker.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client, TestCase

from apps.imaging.models import ImagingStudy, Lesion, Observation
from apps.scoring.models import PhenotypeAssessment
from tests.factories import LesionFactory, ObservationFactory, PatientFactory, StudyFactory

pytestmark = pytest.mark.django_db

MIBG_REFS = {
    "blood_pool_suv": Decimal("1.0"),
    "liver_suv": Decimal("3.5"),
    "spleen_suv": Decimal("2.5"),
}


@pytest.fixture
def reader(as_role: Any) -> Client:
    return as_role("reader")


def mibg_study(modality: str, tracer: str = "i123_mibg", **fields: Any) -> ImagingStudy:
    refs = {} if modality == "planar" else MIBG_REFS
    return StudyFactory(  # type: ignore[no-any-return]
        tracer=tracer, modality=modality, performed_on=date(2024, 3, 8), **{**refs, **fields}
    )


def post_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def grid_row(html: str, lesion: Lesion) -> str:
    return html.split(f'id="row-{lesion.pk}"', 1)[1].split("</tr>", 1)[0]


# --- One rule for every computed score on the page, the API and the timeline --------------------


@pytest.mark.parametrize(
    ("tracer", "modality", "post_therapy", "computed"),
    [
        ("i123_mibg", "spect_ct", False, None),  # pre-therapy SPECT: the visual score only
        ("in111_pentetreotide", "spect_ct", False, None),  # the same for an SSTR SPECT (§2)
        ("i124_mibg", "pet_ct", False, 4),  # MIBG PET: S <= L does not invalidate (§11.1)
        ("lu177_dotatate", "spect_ct", True, 4),  # the post-therapy SPECT of §7
    ],
    ids=["123i-mibg-spect", "111in-spect", "124i-mibg-pet", "post-177lu-spect"],
)
def test_the_preview_the_api_and_the_stored_scores_compute_a_score_only_where_the_rules_do(
    reader: Client,
    token_client: Any,
    tracer: str,
    modality: str,
    post_therapy: bool,
    computed: int | None,
) -> None:
    """Before issue 19 §2 each of these showed a score computed from SUVs on a pre-therapy
    SPECT (4 here: SUVmax 30 above the spleen), which the agent choice does not count."""
    refs = MIBG_REFS if "mibg" in tracer else {}  # else the SSTR factory's B 1.5, L 6, S 18
    with TestCase.captureOnCommitCallbacks(execute=True):
        study = StudyFactory(tracer=tracer, modality=modality, post_therapy=post_therapy, **refs)
        lesion = LesionFactory(patient=study.patient, label="Left adrenal bed")
        obs = ObservationFactory(study=study, lesion=lesion, suv_max=Decimal("30"))
    # The grid's preview, as the reader types the row.
    preview = post_json(
        reader,
        f"/studies/{study.pk}/preview/",
        {"lesion": lesion.pk, "state": "scored", "suv_max": "30"},
    ).json()
    assert (preview["errors"], preview["computed"], preview["score"]) == ({}, computed, computed)
    # The grid's row as drawn.
    row = grid_row(reader.get(f"/studies/{study.pk}/").content.decode(), lesion)
    if computed is None:
        assert "computed-score" not in row  # no column for a score that cannot exist here
    else:
        assert '<span class="computed-score" title="Computed from the SUVs' in row
        assert f">{computed}</span>" in row
    # The API beside the reader's entry.
    served = token_client("reader").get(f"/api/v1/observations/{obs.pk}/").json()
    assert (served["krenning_computed"], served["flags"]) == (computed, [])
    # What the worker stored for the timeline: no score at all without a visual one.
    stored = PhenotypeAssessment.objects.get(patient=study.patient).uptake
    assert stored[str(study.pk)][str(lesion.pk)] == {
        "score": computed,
        "source": "none" if computed is None else "computed",
        "computed": computed,
        "flags": [],
    }
    page = reader.get(f"/patients/{study.patient_id}/").content.decode()
    cells = re.findall(r'<g class="cell"[^>]*aria-label="([^"]+)"', page)
    if computed is None:
        assert not [cell for cell in cells if "Left adrenal bed" in cell]
    else:
        assert [c for c in cells if "Left adrenal bed" in c and f"{computed} (computed)" in c]


def test_a_visual_mibg_score_on_a_spect_grades_the_lesion_with_no_disagreement_flag(
    reader: Client,
) -> None:
    study = mibg_study("spect_ct")
    lesion = LesionFactory(patient=study.patient)
    preview = post_json(
        reader,
        f"/studies/{study.pk}/preview/",
        {"lesion": lesion.pk, "state": "scored", "suv_max": "30", "krenning_visual": 2},
    ).json()
    assert (preview["computed"], preview["score"], preview["flags"]) == (None, 2, [])


# --- Planar scintigraphy has no SUV ----------------------------------------------------------


def test_a_planar_grid_offers_no_suv_input_and_a_spect_grid_does(reader: Client) -> None:
    planar, spect = mibg_study("planar"), mibg_study("spect_ct")
    LesionFactory(patient=planar.patient)
    LesionFactory(patient=spect.patient)
    planar_html = reader.get(f"/studies/{planar.pk}/").content.decode()
    spect_html = reader.get(f"/studies/{spect.pk}/").content.decode()
    assert 'name="suv_max"' not in planar_html and 'name="suv_peak"' not in planar_html
    assert "SUV<sub>max</sub>" not in planar_html
    assert 'name="krenning_visual"' in planar_html
    assert "Planar scintigraphy has no SUV" in planar_html
    assert 'name="suv_max"' in spect_html and "SUV<sub>max</sub>" in spect_html
    # The row template for a lesion added inline has no SUV input either.
    template = planar_html.split('<template id="row-template">', 1)[1].split("</template>", 1)[0]
    assert 'name="krenning_visual"' in template and 'name="suv_max"' not in template


@pytest.mark.parametrize("field", ["suv_max", "suv_peak"])
def test_the_api_refuses_an_suv_on_a_planar_study_naming_the_field(
    token_client: Any, field: str
) -> None:
    study = mibg_study("planar")
    lesion = LesionFactory(patient=study.patient)
    api = token_client("reader")
    body = {"study": study.pk, "lesion": lesion.pk, "state": "scored", "krenning_visual": 3}
    answer = api.post("/api/v1/observations/", {**body, field: "4.2"}, format="json")
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/problem+json")
    assert list(answer.json()["errors"]) == [field]
    assert "planar" in answer.json()["errors"][field][0].lower()
    assert not Observation.objects.filter(study=study).exists()
    # The same read without the SUV is taken; a later PATCH adding one is refused too.
    created = api.post("/api/v1/observations/", body, format="json")
    assert created.status_code == 201, created.content
    patch = api.patch(
        f"/api/v1/observations/{created.json()['id']}/",
        {field: "4.2"},
        format="json",
        HTTP_IF_MATCH=created["ETag"],
    )
    assert patch.status_code == 400 and list(patch.json()["errors"]) == [field]


def test_the_api_refuses_reference_suvs_on_a_planar_study_and_planar_for_a_read_with_suvs(
    token_client: Any,
) -> None:
    api = token_client("reader")
    patient = PatientFactory()
    body = {
        "patient": patient.pk,
        "performed_on": "2024-03-08",
        "modality": "planar",
        "tracer": "i123_mibg",
    }
    refused = api.post(
        "/api/v1/studies/", {**body, "liver_suv": "3.5", "spleen_suv": "2.5"}, format="json"
    )
    assert refused.status_code == 400
    assert sorted(refused.json()["errors"]) == ["liver_suv", "spleen_suv"]
    assert not ImagingStudy.objects.filter(patient=patient).exists()
    assert api.post("/api/v1/studies/", body, format="json").status_code == 201
    # A SPECT read with SUVs cannot become planar while it holds them.
    spect = mibg_study("spect_ct")
    ObservationFactory(study=spect, suv_max=Decimal("4.0"), krenning_visual=3)
    answer = api.patch(
        f"/api/v1/studies/{spect.pk}/",
        {"modality": "planar", "blood_pool_suv": None, "liver_suv": None, "spleen_suv": None},
        format="json",
        HTTP_IF_MATCH=api.get(f"/api/v1/studies/{spect.pk}/")["ETag"],
    )
    assert answer.status_code == 400 and list(answer.json()["errors"]) == ["modality"]
    spect.refresh_from_db()
    assert spect.modality == "spect_ct"


# --- What the grid says on an MIBG study ----------------------------------------------------------


def ppgl_with_reads(mibg_modality: str = "planar") -> tuple[ImagingStudy, ImagingStudy, Lesion]:
    """A paraganglioma, an SSTR PET (Krenning 4) and an MIBG scan a week later (MIBG 3) of one
    lesion, through the write services, the assessment computed on commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        patient = PatientFactory(histology="paraganglioma", primary_site="paraganglia")
        sstr = StudyFactory(patient=patient, performed_on=date(2024, 3, 1))
        mibg = StudyFactory(
            patient=patient,
            performed_on=date(2024, 3, 8),
            tracer="i123_mibg",
            modality=mibg_modality,
            blood_pool_suv=None,
            liver_suv=None,
            spleen_suv=None,
        )
        lesion = LesionFactory(patient=patient, label="Carotid body")
        ObservationFactory(study=sstr, lesion=lesion, suv_max=None, krenning_visual=4)
        ObservationFactory(study=mibg, lesion=lesion, suv_max=None, krenning_visual=3)
    return sstr, mibg, lesion


def test_the_mibg_grid_names_its_score_and_the_sstr_study_of_the_agent_choice(
    reader: Client,
) -> None:
    sstr, mibg, lesion = ppgl_with_reads()
    html = reader.get(f"/studies/{mibg.pk}/").content.decode()
    assert "Krenning" not in html
    assert '<th scope="col">MIBG uptake <span class="muted small">0–4</span></th>' in html
    assert (
        'aria-label="Visual MIBG uptake score 0 to 4 (against blood pool, liver and spleen), '
        'Carotid body"'
    ) in html
    assert "No FDG PET pairs" not in html and "No SSTR PET pairs" not in html
    line = html.split('id="agent-pair"', 1)[1].split("</p>", 1)[0]
    assert f'href="/studies/{sstr.pk}/"' in line
    assert "68Ga-DOTATATE PET/CT of 2024-03-01" in line and "agent choice" in line
    config = json.loads(html.split('id="grid-config" type="application/json">', 1)[1].split("<")[0])
    assert config["score_label"] == "MIBG uptake"
    # And the SSTR grid names the MIBG study it is compared with.
    sstr_html = reader.get(f"/studies/{sstr.pk}/").content.decode()
    line = sstr_html.split('id="agent-pair"', 1)[1].split("</p>", 1)[0]
    assert (
        f'href="/studies/{mibg.pk}/"' in line
        and "123I-MIBG Planar scintigraphy of 2024-03-08" in line
    )
    assert "Krenning <span" in sstr_html


def test_an_mibg_grid_outside_the_agent_choice_claims_no_pairing(reader: Client) -> None:
    study = mibg_study("pet_ct", tracer="f18_mfbg")  # histology net: no agent choice
    LesionFactory(patient=study.patient)
    html = reader.get(f"/studies/{study.pk}/").content.decode()
    assert "MFBG uptake <span" in html
    assert "pairs with this study" not in html and 'id="agent-pair"' not in html


# --- An MIBG read through the grid's save path ----------------------------------------------


def test_an_mibg_read_saved_through_the_grids_path_is_graded_by_the_worker(
    reader: Client,
) -> None:
    """What static/js/grid.js sends with the session's login: a new row as ``POST
    /api/v1/observations/`` with an Idempotency-Key, a changed one as ``PATCH`` with If-Match."""
    sstr, mibg, first = ppgl_with_reads("spect_ct")
    second = LesionFactory(patient=mibg.patient, label="T9 vertebra")
    ObservationFactory(study=sstr, lesion=second, suv_max=None, krenning_visual=2)
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = post_json(
            reader,
            "/api/v1/observations/",
            {
                "study": mibg.pk,
                "lesion": second.pk,
                "state": "scored",
                "suv_max": "6.1",
                "krenning_visual": 4,
                "long_axis_mm": "18",
                "heterogeneous": False,
                "target": False,
            },
            HTTP_IDEMPOTENCY_KEY="grid-row-1",
        )
    assert created.status_code == 201, created.content
    saved = Observation.objects.get(study=mibg, lesion=second)
    assert (saved.krenning_visual, saved.suv_max, saved.long_axis_mm) == (
        4,
        Decimal("6.100"),
        Decimal("18.0"),
    )
    assert created.json()["krenning_computed"] is None  # a SPECT: the visual score only
    # The grid shows it saved, with the read's values in its cells.
    html = reader.get(f"/studies/{mibg.pk}/").content.decode()
    row = grid_row(html, second)
    assert 'name="krenning_visual"' in row and 'value="4"' in row and 'value="6.1"' in row
    assert "2 of 2 lesions recorded" in html
    # The worker graded it: MIBG 4 covers the vertebra that SSTR 2 does not.
    stored = PhenotypeAssessment.objects.get(patient=mibg.patient)
    assert stored.uptake[str(mibg.pk)][str(second.pk)]["score"] == 4
    choice = stored.summary["agent_choice"]
    assert (choice["suggestion"], choice["covered_by_mibg"]) == (
        "i131_mibg",
        sorted([first.pk, second.pk]),
    )
    # A changed cell: PATCH with If-Match, as the grid sends it.
    with TestCase.captureOnCommitCallbacks(execute=True):
        changed = reader.patch(
            f"/api/v1/observations/{saved.pk}/",
            json.dumps({"krenning_visual": 1}),
            content_type="application/json",
            HTTP_IF_MATCH=created["ETag"],
        )
    assert changed.status_code == 200, changed.content
    stored.refresh_from_db()
    assert stored.summary["agent_choice"]["suggestion"] == "partial"
    assert stored.summary["agent_choice"]["uncovered"] == [second.pk]


@pytest.mark.parametrize(
    ("tracer", "name"),
    [
        ("f18_dopa", "DOPA uptake"),
        ("ga68_exendin4", "GLP-1R uptake"),
        ("ga68_cp04", "CCK2R uptake"),
        ("ga68_rgd", "integrin uptake"),
    ],
)
def test_the_grids_of_the_other_receptor_tracers_name_their_score_not_krenning(
    reader: Client, tracer: str, name: str
) -> None:
    """Krenning is the SSTR score (docs/clinical-rules.md §2): a DOPA, GLP-1R, CCK2R or RGD read
    says what its 0–4 visual score is, in the column, the cell's label and the grid's config."""
    study = StudyFactory(tracer=tracer, performed_on=date(2024, 3, 8))
    lesion = LesionFactory(patient=study.patient, label="Pancreatic head")
    ObservationFactory(study=study, lesion=lesion, suv_max=Decimal("9"))
    html = reader.get(f"/studies/{study.pk}/").content.decode()
    assert "Krenning" not in html
    assert f'<th scope="col">{name} <span class="muted small">0–4</span></th>' in html
    assert (
        f'aria-label="Visual {name} score 0 to 4 (against blood pool, liver and spleen), '
        'Pancreatic head"'
    ) in html
    config = json.loads(html.split('id="grid-config" type="application/json">', 1)[1].split("<")[0])
    assert config["score_label"] == name
