"""The study grid in Chromium (issue 6 §2): a reader enters a read with the keyboard only; each
row saves itself through the API; the computed score and flags show while typing; a refused value
stays in its cell, marked; an edit by someone else meanwhile is shown, never overwritten; lesions
are added inline; copy from the previous study pre-fills rows that are saved only on request; an
MIBG planar read takes the 0–4 MIBG uptake score and offers no SUV (issue 19)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.imaging.models import Lesion, Observation
from tests.factories import (
    LesionFactory,
    ObservationFactory,
    PatientFactory,
    StudyFactory,
    UserFactory,
)

from .conftest import ARTIFACTS
from .keyboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def focused_name(page: Any) -> str:
    return str(
        page.evaluate(
            "document.activeElement.name + '@'"
            " + document.activeElement.closest('tr')?.dataset.lesion"
        )
    )


def row(page: Any, lesion: Lesion) -> Any:
    return page.locator(f"#row-{lesion.pk}")


def wait_saved(page: Any, lesion: Lesion) -> None:
    page.wait_for_selector(f"#row-{lesion.pk}[data-status=saved]")


@pytest.fixture
def reader_page(live_server: Any, chromium_page: Any) -> tuple[Any, str]:
    UserFactory(username="grid-reader", role="reader")
    log_in(chromium_page, live_server.url, "grid-reader")
    return chromium_page, live_server.url


def test_a_read_entered_with_the_keyboard_saves_row_by_row(reader_page: tuple[Any, str]) -> None:
    page, base = reader_page
    study = StudyFactory()  # 68Ga-DOTATATE, B 1.5, L 6, S 18
    first = LesionFactory(patient=study.patient, label="Liver seg 7")
    second = LesionFactory(patient=study.patient, label="Bone T8", site="bone")
    page.goto(f"{base}/studies/{study.pk}/")
    # The first unrecorded row's first cell has the focus: state "scored" is the default.
    page.wait_for_selector(f"#row-{first.pk} select[name=state]:focus")
    page.keyboard.press("Tab")
    page.keyboard.type("25")  # SUVmax above the spleen: computed 4
    expect(page.locator(f"#row-{first.pk} .computed-score")).to_have_text("4")
    page.keyboard.press("Tab")
    page.keyboard.type("19.5")
    page.keyboard.press("Tab")
    page.keyboard.type("3")  # visual Krenning 3: disagrees with the computed 4
    page.wait_for_selector(f"#row-{first.pk} .flag-score_disagreement")
    page.keyboard.press("Tab")
    page.keyboard.type("34")
    page.keyboard.press("Tab")
    page.keyboard.type("22")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # heterogeneous
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # target
    # A new row is written whole when the reader leaves it. Arrow down: the same column of the
    # next row. Enter also moves down.
    page.keyboard.press("ArrowDown")
    assert focused_name(page) == f"target@{second.pk}"
    wait_saved(page, first)
    obs = Observation.objects.get(study=study, lesion=first)
    assert (obs.suv_max, obs.suv_peak, obs.krenning_visual) == (
        Decimal("25.000"),
        Decimal("19.500"),
        3,
    )
    assert (obs.long_axis_mm, obs.short_axis_mm, obs.heterogeneous, obs.target) == (
        Decimal("34.0"),
        Decimal("22.0"),
        True,
        True,
    )

    for _ in range(6):
        page.keyboard.press("Shift+Tab")
    assert focused_name(page) == f"suv_max@{second.pk}"
    page.keyboard.type("4")
    page.keyboard.press("Enter")
    wait_saved(page, second)
    assert Observation.objects.get(study=study, lesion=second).suv_max == Decimal("4.000")
    assert "2 of 2 lesions recorded" in page.locator("#read-count").inner_text()
    page.screenshot(path=str(ARTIFACTS / "study-grid.png"), full_page=True)


def test_a_refused_value_stays_marked_in_its_cell_and_nothing_is_written(
    reader_page: tuple[Any, str],
) -> None:
    page, base = reader_page
    study = StudyFactory()
    lesion = LesionFactory(patient=study.patient, label="Node")
    page.goto(f"{base}/studies/{study.pk}/")
    page.wait_for_selector(f"#row-{lesion.pk} select[name=state]:focus")
    page.keyboard.press("Tab")
    page.keyboard.type("-3")
    page.keyboard.press("Tab")
    cell = page.locator(f"#row-{lesion.pk} input[name=suv_max]")
    page.wait_for_selector(f"#row-{lesion.pk} input[name=suv_max][aria-invalid=true]")
    message = page.locator(f"#row-{lesion.pk} [data-error=suv_max]").inner_text()
    assert "greater than or equal to 0" in message
    assert cell.input_value() == "-3"  # what was typed is kept
    page.wait_for_selector(f"#row-{lesion.pk}[data-status=error]")
    assert not Observation.objects.filter(study=study).exists()
    # Corrected, it saves.
    cell.focus()
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    wait_saved(page, lesion)
    assert Observation.objects.get(study=study).suv_max == Decimal("7.000")
    assert cell.get_attribute("aria-invalid") is None


def test_an_edit_by_someone_else_meanwhile_is_shown_and_the_reader_chooses(
    reader_page: tuple[Any, str],
) -> None:
    page, base = reader_page
    obs = ObservationFactory(suv_max=Decimal("10"), lesion__label="Liver 1")
    page.goto(f"{base}/studies/{obs.study_id}/")
    page.wait_for_selector("#read-grid")
    # Someone else changes the same observation after the page was shown.
    theirs = Observation.objects.get(pk=obs.pk)
    theirs.suv_max = Decimal("11")
    theirs.save()
    cell = page.locator(f"#row-{obs.lesion_id} input[name=suv_max]")
    cell.focus()
    page.keyboard.type("14")
    page.keyboard.press("Tab")
    alert = page.locator(f"#conflict-{obs.lesion_id}")
    alert.wait_for()
    text = alert.inner_text()
    assert "SUVmax: theirs 11.000, yours 14" in text
    assert cell.input_value() == "14"
    assert Observation.objects.get(pk=obs.pk).suv_max == Decimal("11.000")  # not overwritten
    # "Keep mine" has the focus: Enter saves ours over theirs, knowingly.
    assert page.evaluate("document.activeElement.textContent") == "Keep mine"
    page.keyboard.press("Enter")
    wait_saved(page, obs.lesion)
    assert Observation.objects.get(pk=obs.pk).suv_max == Decimal("14.000")


def test_lesions_are_added_inline_and_copy_pre_fills_rows_saved_on_request(
    reader_page: tuple[Any, str],
) -> None:
    page, base = reader_page
    patient = PatientFactory()
    earlier = StudyFactory(patient=patient, performed_on=date(2024, 1, 10))
    previous = ObservationFactory(
        study=earlier, suv_max=Decimal("9.5"), krenning_visual=3, target=True
    )
    study = StudyFactory(patient=patient, performed_on=date(2024, 6, 1))
    page.goto(f"{base}/studies/{study.pk}/")
    page.wait_for_selector("#read-grid")

    page.get_by_role("button", name="Copy 1 lesion from previous study (2024-01-10)").click()
    copied = page.locator(f"#row-{previous.lesion_id}")
    assert copied.locator("input[name=suv_max]").input_value() == "9.5"  # clinical precision
    assert "copied" in (copied.get_attribute("class") or "")
    assert not Observation.objects.filter(study=study).exists()  # not saved by copying
    page.get_by_role("button", name="Save 1 copied row").click()
    wait_saved(page, previous.lesion)
    saved = Observation.objects.get(study=study)
    assert (saved.suv_max, saved.krenning_visual, saved.target) == (Decimal("9.500"), 3, True)

    # Add a lesion with the keyboard: label, Tab, site by letter, Enter.
    page.locator("#new-label").focus()
    page.keyboard.type("Peritoneal <nodule>")
    page.keyboard.press("Tab")
    page.keyboard.type("p")  # first site starting with p: pancreas
    page.keyboard.press("Enter")
    page.wait_for_selector("tr.obs-row:last-child select[name=state]:focus")
    lesion = Lesion.objects.get(patient=patient, label="Peritoneal <nodule>")
    assert lesion.site == "pancreas"
    assert "Peritoneal <nodule>" in page.locator(f"#row-{lesion.pk} .lesion-name").inner_text()
    page.keyboard.press("Tab")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    wait_saved(page, lesion)
    assert Observation.objects.get(study=study, lesion=lesion).suv_max == Decimal("5.000")
    # A duplicate label is refused at its field.
    page.locator("#new-label").fill("Peritoneal <nodule>")
    page.locator("#new-label").press("Enter")
    page.wait_for_selector("#new-label[aria-invalid=true]")
    assert Lesion.objects.filter(patient=patient).count() == 2


def test_an_mibg_planar_read_is_entered_with_the_keyboard(reader_page: tuple[Any, str]) -> None:
    """Issue 19 §2: a 123I-MIBG planar scan is read like any other study, with the 0–4 MIBG
    uptake score; planar scintigraphy has no SUV, so the grid offers none and no computed score."""
    page, base = reader_page
    study = StudyFactory(
        tracer="i123_mibg", modality="planar", blood_pool_suv=None, liver_suv=None, spleen_suv=None
    )
    lesion = LesionFactory(patient=study.patient, label="Carotid body", site="soft_tissue")
    page.goto(f"{base}/studies/{study.pk}/")
    page.wait_for_selector(f"#row-{lesion.pk} select[name=state]:focus")
    expect(page.locator("#read-grid thead")).to_contain_text("MIBG uptake 0–4")
    assert row(page, lesion).locator("input[name=suv_max], .computed-score").count() == 0
    page.keyboard.press("Tab")  # from the state straight to the score: no SUV cell on planar
    assert focused_name(page) == f"krenning_visual@{lesion.pk}"
    label = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert label.startswith("Visual MIBG uptake score 0 to 4")
    page.keyboard.type("3")
    page.keyboard.press("Tab")
    page.keyboard.type("18")  # long axis, mm
    page.keyboard.press("Enter")  # leaves the last row: the new row is written whole
    wait_saved(page, lesion)
    saved = Observation.objects.get(study=study, lesion=lesion)
    assert (saved.krenning_visual, saved.suv_max, saved.long_axis_mm) == (3, None, Decimal("18.0"))
    assert "1 of 1 lesion recorded" in page.locator("#read-count").inner_text()


def test_a_refusal_arriving_after_the_reader_moved_on_does_not_pull_the_cursor_back(
    reader_page: tuple[Any, str],
) -> None:
    """Reported in exploratory testing: Krenning 7 on a recorded row, Enter, and the next score
    typed at once. The refusal came back after the cursor had moved to the next row and pulled
    it back to the refused cell, so the score meant for the next lesion replaced the 7 and was
    saved on the wrong lesion. The refused row is marked and said aloud; the cursor stays."""
    page, base = reader_page
    study = StudyFactory()  # 68Ga-DOTATATE
    first = LesionFactory(patient=study.patient, label="Pancreas head")
    second = LesionFactory(patient=study.patient, label="Liver 1")
    ObservationFactory(study=study, lesion=first, krenning_visual=3)
    ObservationFactory(study=study, lesion=second, krenning_visual=3)
    page.goto(f"{base}/studies/{study.pk}/")
    cell = row(page, first).locator("input[name=krenning_visual]")
    cell.focus()
    page.keyboard.type("7")  # refused: 0 to 4
    page.keyboard.press("Enter")  # on to the next lesion, same column
    assert focused_name(page) == f"krenning_visual@{second.pk}"
    page.wait_for_selector(f"#row-{first.pk}[data-status=error]")
    expect(page.locator("#grid-status")).to_contain_text("Not saved: Pancreas head")
    assert focused_name(page) == f"krenning_visual@{second.pk}"
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    wait_saved(page, second)
    scores = dict(
        Observation.objects.filter(study=study).values_list("lesion_id", "krenning_visual")
    )
    assert scores == {first.pk: 3, second.pk: 2}
    assert cell.input_value() == "7"  # still there to correct, marked
    expect(cell).to_have_attribute("aria-invalid", "true")
