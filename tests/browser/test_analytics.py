"""The survival page in Chromium (issue 18): the curves drawn (one line style per group), the
numbers at risk under them, and the CSV download equal to the page's table of steps."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory
from tests.outcomes.test_survival import freireich

from .axe import assert_no_serious_violations
from .conftest import ARTIFACTS
from .keyboard import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_curves_numbers_at_risk_and_the_csv(
    live_server: Any, chromium_page: Any, settings: Any, tmp_path: Path
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    UserFactory(username="dr-km", role="clinician", is_staff=False)
    freireich(as_progression=False)
    page, base = chromium_page, live_server.url
    log_in(page, base, "dr-km")
    page.get_by_role("link", name="Survival").click()
    page.wait_for_url(base + "/analytics/")
    expect(page.locator("#survival-title")).to_contain_text("Overall survival by NETPET")

    curves = page.locator("svg.km-plot .km-series")
    expect(curves).to_have_count(2)
    assert page.locator("svg.km-plot .km-series").evaluate_all(
        "gs => gs.map(g => g.dataset.group)"
    ) == ["P1", "P5"]
    dashes = page.locator("svg.km-plot path.km-curve").evaluate_all(
        "ps => ps.map(p => p.getAttribute('stroke-dasharray'))"
    )
    assert len(set(dashes)) == 2, dashes
    box = page.locator("svg.km-plot path.km-curve").first.bounding_box()
    assert box is not None and box["width"] > 200, "the curve is drawn across the plot"
    expect(page.locator("#at-risk tbody tr")).to_have_count(2)
    expect(page.locator("#at-risk tbody tr").first.locator("td").first).to_have_text("21")
    assert_no_serious_violations(page, "survival page")
    page.screenshot(path=str(ARTIFACTS / "survival.png"), full_page=True)

    page.locator("details.km-steps summary").click()
    table = page.locator("#curve-steps tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    with page.expect_download() as download:
        page.locator("#survival-csv").click()
    saved = tmp_path / "survival.csv"
    download.value.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_text())))
    assert rows[0] == ["group", "day", "months", "survival", "ci_low", "ci_high"]
    assert rows[1:] == table
    assert len(table) > 10
