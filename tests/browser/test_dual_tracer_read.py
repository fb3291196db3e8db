"""The dual-tracer read side by side in Chromium (issue 15 §2): the FDG grid shows each lesion's
SSTR read, fills "vs SSTR" from the lesion-to-liver ratios (marked computed; the reader's entry
overrides), shows the lesion's phenotype by label and shape, fits a 1366-pixel screen, and a
20-lesion SSTR + FDG read takes a handful of keystrokes per lesion."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from apps.imaging.models import Observation, StudyStatus
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

SCREEN = {"width": 1366, "height": 768}


def fdg_study(patient: Any, **kwargs: Any) -> Any:
    return StudyFactory(
        patient=patient,
        tracer="f18_fdg",
        performed_on=date(2024, 3, 4),
        blood_pool_suv=Decimal("1.8"),
        liver_suv=Decimal("2.5"),
        spleen_suv=None,
        **kwargs,
    )


@pytest.fixture
def reader(live_server: Any, chromium_page: Any) -> tuple[Any, str]:
    UserFactory(username="dual-reader", role="reader")
    chromium_page.set_viewport_size(SCREEN)
    log_in(chromium_page, live_server.url, "dual-reader")
    return chromium_page, live_server.url


def test_the_fdg_grid_shows_the_sstr_read_and_computes_the_comparison(
    reader: tuple[Any, str],
) -> None:
    page, base = reader
    patient = PatientFactory()
    sstr = StudyFactory(patient=patient)  # 2024-03-01, liver 6
    fdg = fdg_study(patient)  # 3 days later, liver 2.5: they pair
    both = LesionFactory(patient=patient, label="Liver seg 7")
    discordant = LesionFactory(patient=patient, label="Bone T8", site="bone")
    ObservationFactory(study=sstr, lesion=both, suv_max=Decimal("24.000"), krenning_visual=4)
    ObservationFactory(study=sstr, lesion=discordant, state="not_seen", suv_max=None)

    page.goto(f"{base}/studies/{fdg.pk}/")
    first = page.locator(f"#row-{both.pk}")
    expect(page.locator("#paired-with")).to_contain_text("SSTR PET of 2024-03-01")
    expect(first.locator(".paired-cell")).to_have_text("4 24.0")  # clinical precision
    expect(page.locator(f"#row-{discordant.pk} .paired-cell")).to_have_text("not seen")

    # TLR SSTR 24 / 6 = 4; FDG 10 / 2.5 = 4: equal, computed; positive on both (P3).
    first.locator("[name=suv_max]").fill("10")
    first.locator("[name=krenning_visual]").fill("3")
    first.locator("[name=krenning_visual]").press("Tab")
    expect(first.locator("option.vs-computed")).to_have_text("equal · computed")
    expect(first.locator(".phenotype-cell")).to_contain_text("SSTR+/FDG+")
    expect(first.locator(".phenotype-cell")).to_contain_text("P3")
    # The reader's entry overrides: higher → P4, nothing computed.
    first.locator("[name=fdg_vs_sstr]").select_option("higher")
    expect(first.locator(".phenotype-cell")).to_contain_text("P4")
    expect(first.locator("option.vs-computed")).to_have_text("–")

    # Not seen on SSTR, FDG grade 3: discordant, by its label and its glyph, not colour alone.
    second = page.locator(f"#row-{discordant.pk}")
    second.locator("[name=suv_max]").fill("7")  # leaves the first row: it is written whole
    page.wait_for_selector(f"#row-{both.pk}[data-status=saved]")
    assert Observation.objects.get(study=fdg, lesion=both).fdg_vs_sstr == "higher"
    second.locator("[name=krenning_visual]").fill("3")
    second.locator("[name=krenning_visual]").press("Tab")
    expect(second.locator(".pheno-discordant")).to_contain_text("◆ SSTR−/FDG+ discordant")
    second.locator("[name=krenning_visual]").press("Control+ArrowUp")  # leaves the row
    page.wait_for_selector(f"#row-{discordant.pk}[data-status=saved]")

    # The SSTR grid shows the FDG read back, with the same phenotype.
    page.goto(f"{base}/studies/{sstr.pk}/")
    expect(page.locator(f"#row-{discordant.pk} .paired-cell")).to_have_text("3 7.0")
    expect(page.locator(f"#row-{discordant.pk} .pheno-discordant")).to_be_visible()
    expect(page.locator(f"#row-{both.pk} .phenotype-cell")).to_contain_text("P4")

    # Every column fits a 1366-pixel screen: nothing to scroll sideways, Saved in view.
    page.goto(f"{base}/studies/{fdg.pk}/")
    widths = page.evaluate(
        "() => { const s = document.querySelector('.grid-scroll');"
        " return [s.scrollWidth, s.clientWidth]; }"
    )
    assert widths[0] <= widths[1], widths
    saved = page.locator("#read-grid thead th", has_text="Saved").bounding_box()
    assert saved is not None and saved["x"] + saved["width"] <= SCREEN["width"]
    page.screenshot(path=str(ARTIFACTS / "grid-fdg-1366.png"), full_page=True)
    # (CSSOM from a script: the page's CSP refuses an injected style sheet)
    page.evaluate("document.documentElement.style.filter = 'grayscale(1)'")
    page.screenshot(path=str(ARTIFACTS / "grid-fdg-1366-greyscale.png"), full_page=True)


class Keys:
    """Counts what a reader presses beyond the digits (and decimal points) of the values."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.count = 0

    def press(self, key: str) -> None:
        self.count += 1
        self.page.keyboard.press(key)

    def value(self, text: str) -> None:
        assert all(ch.isdigit() or ch == "." for ch in text), text
        self.page.keyboard.type(text)


def read_column(keys: Keys, values: list[str], last: str) -> None:
    """Type one column down the grid: the value, Enter; the last value leaves with ``last``."""
    for index, value in enumerate(values):
        keys.value(value)
        keys.press(last if index == len(values) - 1 else "Enter")


def test_a_20_lesion_dual_tracer_read_takes_few_keystrokes(reader: tuple[Any, str]) -> None:
    page, base = reader
    patient = PatientFactory()
    sstr = StudyFactory(patient=patient)
    fdg = fdg_study(patient)
    lesions = [LesionFactory(patient=patient, label=f"Liver {n:02d}") for n in range(1, 21)]
    sstr_suv = [f"{10 + n}.5" for n in range(20)]
    krenning = [str(3 + n % 2) for n in range(20)]
    long_axis = [str(12 + n) for n in range(20)]
    fdg_suv = [f"{2 + n % 5}.1" for n in range(20)]
    fdg_grade = [str(n % 4) for n in range(20)]

    counts = {}
    page.goto(f"{base}/studies/{sstr.pk}/")
    page.wait_for_selector(f"#row-{lesions[0].pk} select[name=state]:focus")
    keys = Keys(page)
    keys.press("ArrowRight")  # state (scored) → SUVmax
    read_column(keys, sstr_suv, "Control+ArrowUp")
    keys.press("ArrowRight")  # → SUVpeak
    keys.press("ArrowRight")  # → Krenning
    read_column(keys, krenning, "Control+ArrowUp")
    keys.press("ArrowRight")  # → long axis
    read_column(keys, long_axis, "Control+ArrowUp")
    for lesion in lesions:
        page.wait_for_selector(f"#row-{lesion.pk}[data-status=saved]")
    keys.press("Alt+Shift+F")  # Finish read
    expect(page.locator("#read-state")).to_contain_text("Final read")
    counts["sstr"] = keys.count

    page.goto(f"{base}/studies/{fdg.pk}/")
    page.wait_for_selector(f"#row-{lesions[0].pk} select[name=state]:focus")
    keys = Keys(page)
    keys.press("ArrowRight")  # → SUVmax
    read_column(keys, fdg_suv, "Control+ArrowUp")
    keys.press("ArrowRight")
    keys.press("ArrowRight")  # → FDG grade
    read_column(keys, fdg_grade, "Control+ArrowUp")
    for lesion in lesions:
        page.wait_for_selector(f"#row-{lesion.pk}[data-status=saved]")
    keys.press("Alt+Shift+F")
    expect(page.locator("#read-state")).to_contain_text("Final read")
    counts["fdg"] = keys.count

    # Everything typed is stored, and both reads are final.
    for n, lesion in enumerate(lesions):
        s = Observation.objects.get(study=sstr, lesion=lesion)
        f = Observation.objects.get(study=fdg, lesion=lesion)
        assert (s.suv_max, s.krenning_visual, s.long_axis_mm) == (
            Decimal(sstr_suv[n]),
            int(krenning[n]),
            Decimal(long_axis[n]),
        )
        assert (f.suv_max, f.krenning_visual) == (Decimal(fdg_suv[n]), int(fdg_grade[n]))
    sstr.refresh_from_db()
    fdg.refresh_from_db()
    assert sstr.status == fdg.status == StudyStatus.FINAL

    per_lesion = {study: count / len(lesions) for study, count in counts.items()}
    (ARTIFACTS / "keystrokes.json").write_text(
        json.dumps({"lesions": len(lesions), "keystrokes": counts, "per_lesion": per_lesion})
    )
    assert max(per_lesion.values()) <= 6, per_lesion
