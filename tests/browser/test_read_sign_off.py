"""The study grid in Chromium (issue 15, part 1): a row with a refused value is never counted as
recorded nor shown as saved, and nothing typed is dropped; a read with rows not saved cannot be
finished; "Finish read" (Alt+Shift+F) records the sign-off and locks the grid until "Reopen read".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.imaging.models import ImagingStudy, Observation
from tests.factories import LesionFactory, ObservationFactory, StudyFactory, UserFactory

from .conftest import ARTIFACTS
from .keyboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reader_page(live_server: Any, chromium_page: Any) -> tuple[Any, str]:
    UserFactory(username="sign-reader", role="reader")
    log_in(chromium_page, live_server.url, "sign-reader")
    return chromium_page, live_server.url


def test_a_row_with_a_refused_value_is_incomplete_and_keeps_everything_typed(
    reader_page: tuple[Any, str],
) -> None:
    page, base = reader_page
    study = StudyFactory()  # 68Ga-DOTATATE, B 1.5, L 6, S 18
    known = LesionFactory(patient=study.patient, label="Known")
    ObservationFactory(study=study, lesion=known, suv_max=Decimal("12"))
    new = LesionFactory(patient=study.patient, label="New lesion")
    page.goto(f"{base}/studies/{study.pk}/")
    row = page.locator(f"#row-{new.pk}")
    page.wait_for_selector(f"#row-{new.pk} select[name=state]:focus")
    page.keyboard.press("Tab")
    page.keyboard.type("11.0")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # SUVpeak left empty
    page.keyboard.type("7")  # Krenning 7: refused (0 to 4)
    page.keyboard.press("Tab")
    page.keyboard.type("25")  # long axis
    page.keyboard.press("Tab")
    page.wait_for_selector(f"#row-{new.pk} input[name=krenning_visual][aria-invalid=true]")
    page.wait_for_selector(f"#row-{new.pk}[data-status=error]")
    expect(page.locator("#read-count")).to_have_text("1 of 2 lesions recorded, 1 incomplete")
    # Nothing of the row is written while it is not valid as a whole: not the SUVmax alone.
    assert not Observation.objects.filter(study=study, lesion=new).exists()
    # Everything typed is still there.
    assert row.locator("input[name=suv_max]").input_value() == "11.0"
    assert row.locator("input[name=krenning_visual]").input_value() == "7"
    assert row.locator("input[name=long_axis_mm]").input_value() == "25"
    page.screenshot(path=str(ARTIFACTS / "grid-incomplete-row.png"), full_page=True)

    # Finishing the read is refused while a row is not saved, and says why.
    page.keyboard.press("Alt+Shift+F")
    expect(page.locator("#finish-error")).to_contain_text("1 row")
    assert ImagingStudy.objects.get(pk=study.pk).status == "draft"

    # Corrected, the whole row is saved: nothing of it was dropped.
    row.locator("input[name=krenning_visual]").focus()
    page.keyboard.type("3")
    page.keyboard.press("Enter")  # leaves the row (the last): it is written whole
    page.wait_for_selector(f"#row-{new.pk}[data-status=saved]")
    saved = Observation.objects.get(study=study, lesion=new)
    assert (saved.suv_max, saved.krenning_visual, saved.long_axis_mm) == (
        Decimal("11.000"),
        3,
        Decimal("25.0"),
    )
    expect(page.locator("#read-count")).to_have_text("2 of 2 lesions recorded")

    # Now it can be finished, from the keyboard; the grid is then locked.
    page.keyboard.press("Alt+Shift+F")
    page.wait_for_selector("#reopen-read")
    finished = ImagingStudy.objects.get(pk=study.pk)
    assert finished.status == "final" and finished.finalized_by.username == "sign-reader"
    assert row.locator("input[name=suv_max]").is_disabled()
    page.locator("#reopen-read").click()
    page.wait_for_selector("#finish-read")
    assert ImagingStudy.objects.get(pk=study.pk).status == "draft"
    assert not page.locator(f"#row-{new.pk} input[name=suv_max]").is_disabled()
