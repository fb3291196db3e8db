"""The survival page (`/analytics/`, issue 18 parts 2 and 4): records in the database → the
page's figures (the Freireich remission times give Gehan's medians and log-rank), the SVG plot
with one line style per group, numbers at risk, the too-small note, the CSV matching the page's
table of steps (and an export in the access log), the choices validated, who may see it."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest

from apps.core.models import AccessEvent
from tests.factories import PatientFactory
from tests.outcomes.cohort import record, store_assessment
from tests.outcomes.test_survival import INDEX, freireich

pytestmark = pytest.mark.django_db

URL = "/analytics/"


def figures_rows(html: str) -> dict[str, list[str]]:
    """The figures table: group → [patients, events, median, CI]."""
    table = html[
        html.index('id="survival-figures"') : html.index(
            "</table>", html.index('id="survival-figures"')
        )
    ]
    rows = {}
    for row in re.findall(r'<tr data-group="([^"]+)">(.*?)</tr>', table, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row[1], re.S)
        ]
        rows[row[0]] = cells
    return rows


def steps_table(html: str) -> list[list[str]]:
    table = html[
        html.index('id="curve-steps"') : html.index("</table>", html.index('id="curve-steps"'))
    ]
    body = table[table.index("<tbody>") :]
    return [
        [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_freireich_through_the_page_gives_gehans_medians_and_log_rank(as_role: Any) -> None:
    freireich(as_progression=False)
    response = as_role("clinician").get(URL, {"endpoint": "os", "grouping": "netpet"})
    assert response.status_code == 200
    html = response.content.decode()
    rows = figures_rows(html)
    assert list(rows) == ["P1", "P5"]
    # medians 23 and 8 weeks = 161 and 56 days = 5.3 and 1.8 months
    assert rows["P1"][:3] == ["21", "9", "5.3"]
    assert rows["P5"][:3] == ["21", "21", "1.8"]
    assert "χ² = 16.79, 1 degree of freedom, p = 4.2e-05" in html
    assert 'id="logrank-note"' not in html


def test_the_plot_has_a_line_style_per_group_and_numbers_at_risk(as_role: Any) -> None:
    freireich(as_progression=False)
    html = as_role("auditor").get(URL).content.decode()
    svg = html[html.index("<svg") : html.index("</svg>")]
    series = re.findall(r'<g class="km-series km-series-(\d+)" data-group="([^"]+)">', svg)
    assert series == [("1", "P1"), ("2", "P5")]
    dashes = re.findall(
        r'<path class="km-curve" d="M[^"]+" fill="none"( stroke-dasharray="[^"]+")?', svg
    )
    assert len(dashes) == 2 and dashes[0] != dashes[1], "greyscale: the lines differ in style"
    assert 'class="km-censor"' in svg, "censored patients are marked"
    assert "<title" in svg and 'role="img"' in svg
    at_risk = html[html.index('id="at-risk"') : html.index("</table>", html.index('id="at-risk"'))]
    assert re.search(r"<th scope=\"row\">P1</th><td>21</td>", at_risk)
    assert re.search(r"<th scope=\"row\">P5</th><td>21</td>", at_risk)
    assert not re.search(r"\sstyle=", html), "keeps to the CSP"


def test_the_csv_is_the_pages_table_of_steps_and_an_export(as_role: Any) -> None:
    freireich(as_progression=False)
    client = as_role("clinician", "dr-csv")
    html = client.get(URL).content.decode()
    csv_url = re.search(r'href="([^"]+)" id="survival-csv"', html).group(1).replace("&amp;", "&")
    response = client.get(csv_url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["group", "day", "months", "survival", "ci_low", "ci_high"]
    assert rows[1:] == steps_table(html)
    assert rows[1][:2] == ["P1", "0"] and len(rows) > 10
    exported = AccessEvent.objects.filter(username="dr-csv", action="export:survival_csv")
    assert exported.count() == 42


def test_small_groups_get_curves_and_a_note_instead_of_a_test(as_role: Any) -> None:
    for grade, deaths in (("P1", [900, 1500]), ("P5", [100, 200, 300])):
        for day in deaths:
            patient = PatientFactory()
            store_assessment(patient, [(INDEX, INDEX, grade, "C1", "1")])
            record(patient, "death", INDEX + timedelta(days=day))
    html = as_role("clinician").get(URL).content.decode()
    assert 'id="logrank-note"' in html
    assert "Too few patients for a test" in html
    assert '<g class="km-series km-series-1" data-group="P1">' in html


def test_a_patient_without_dual_tracer_timepoint_is_its_own_group(as_role: Any) -> None:
    freireich(as_progression=False)
    patient = PatientFactory()
    store_assessment(patient, [(INDEX, None, None, None, None)])
    record(patient, "last_contact", INDEX.replace(year=INDEX.year + 1))
    rows = figures_rows(as_role("clinician").get(URL).content.decode())
    assert rows["not_classifiable"][:2] == ["1", "0"]


def test_a_bad_choice_is_a_400_with_the_field_marked(as_role: Any) -> None:
    response = as_role("clinician").get(URL, {"endpoint": "dfs", "grouping": "karfis"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_endpoint-error"' in html
    assert '<option value="karfis" selected>' in html, "what was chosen is kept"


@pytest.mark.parametrize(
    ("role", "status"),
    [("clinician", 200), ("auditor", 200), ("admin", 200), ("reader", 403), ("coordinator", 403)],
)
def test_clinicians_and_auditors_see_it(as_role: Any, role: str, status: int) -> None:
    assert as_role(role).get(URL).status_code == status
    assert as_role(role).get("/analytics/survival.csv").status_code == status


def test_while_a_worker_computes_the_page_says_so_and_asks_again(
    as_role: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a worker (a shared cache and a broker) the first request only queues the
    computation: the page shows progress and polls the result part with the version it got."""
    from apps.outcomes import analytics

    freireich(as_progression=False)
    asked: list[tuple[Any, Any]] = []
    real = analytics.survival_status

    def pending_first(query: Any, version: Any = None) -> Any:
        asked.append((query, version))
        if version is None:
            return analytics.SurvivalStatus("pending", "v-42")
        return real(query)

    monkeypatch.setattr(analytics, "survival_status", pending_first)
    client = as_role("clinician")
    html = client.get(URL, {"endpoint": "pfs"}).content.decode()
    assert 'id="survival-pending"' in html and "<progress" in html
    poll = re.search(r'hx-get="([^"]+)" hx-trigger="load delay:2s"', html).group(1)
    poll = poll.replace("&amp;", "&")
    assert "version=v-42" in poll and "part=result" in poll and "endpoint=pfs" in poll
    part = client.get(poll)
    assert part.status_code == 200
    body = part.content.decode()
    assert "<html" not in body and 'id="survival-figures"' in body
    assert asked[-1][1] == "v-42" and asked[-1][0].endpoint == "pfs"
