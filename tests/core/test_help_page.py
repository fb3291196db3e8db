"""The "How NETboard grades" page (``help-grading``): docs/clinical-rules.md rendered inside the
site, behind the login, with a table of contents and an anchor per section; no raw HTML, no
inline style or script (the CSP); ``{% grading_section_url "§2.1" %}`` finds every section the
templates link to; and no page points users at "DOMAIN.md" any more."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.urls import reverse

from apps.core.templatetags.grading import (
    document_path,
    grading_document,
    grading_section_url,
    render_markdown,
)
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/help/grading/"
TEMPLATES = Path(settings.BASE_DIR) / "templates"
TAG_CALL = re.compile(r"""\{%\s*grading_section_url\s+["']([^"']+)["']""")
IDS = re.compile(r'\bid="([^"]+)"')


def page(client: Client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def test_the_url_and_its_name() -> None:
    assert reverse("help-grading") == URL


def test_the_page_needs_a_login(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_page_reads_the_projects_own_document() -> None:
    assert document_path() == Path(settings.BASE_DIR) / "docs" / "clinical-rules.md"
    assert document_path().is_relative_to(Path(settings.BASE_DIR))


def test_the_page_renders_the_document_in_the_site(as_role) -> None:  # type: ignore[no-untyped-def]
    html = page(as_role("reader"))
    assert html.count("<h1") == 1 and "How NETboard grades</h1>" in html
    assert 'class="topbar"' in html  # inside base.html
    # Every section with its stable id, and the contents at the top linking to them.
    assert 'id="2-uptake-grade-the-modified-krenning-scale-on-pet"' in html
    assert 'id="21-exact-reading"' in html
    assert 'id="dual-tracer-evolution"' in html
    assert html.index('class="help-toc"') < html.index('id="1-vocabulary"')
    ids = set(IDS.findall(html))
    toc = html[
        html.index('class="help-toc"') : html.index("</nav>", html.index('class="help-toc"'))
    ]
    targets = re.findall(r'href="#([^"]+)"', toc)
    assert len(targets) >= 20 and set(targets) <= ids
    # A table of the document, and its text (Krenning bands) as written.
    assert "<table>" in html and "<th>pattern</th>" in html
    assert "U &lt; B·(1−t) → 0" in html


def test_the_page_keeps_to_the_csp(as_role) -> None:  # type: ignore[no-untyped-def]
    client = as_role("clinician")
    response = client.get(URL)
    policy = response["Content-Security-Policy"]
    assert "style-src 'self'" in policy and "script-src 'self'" in policy
    html = response.content.decode()
    assert not re.search(r"\sstyle=", html)
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\ssrc=)", html)  # no inline script
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handler
    assert "/static/css/help.css" in html


def test_raw_html_and_unsafe_links_never_get_through() -> None:
    document = render_markdown(
        "# Title\n\n"
        "<script>alert(1)</script>\n\n"
        '<div onclick="x()">block</div>\n\n'
        'Inline <b onmouseover="x()">bold</b> and <img src=x onerror=alert(1)>.\n\n'
        "[js](javascript:alert(1)) [repo](api.md) [here](#title) [out](https://example.org/)\n\n"
        "![pixel](https://example.org/p.png)\n\n"
        "| a | b |\n| :-- | --: |\n| 1 | 2 |\n"
    )
    html = str(document.html)
    for unsafe in ("<script", "<div", "<b ", "<img", "javascript:", 'href="api.md"'):
        assert unsafe not in html, unsafe
    assert not re.search(r"<[a-z][^>]*\son[a-z]+=", html)  # no event handler in a real tag
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text
    assert '<a href="#title">here</a>' in html
    assert '<a href="https://example.org/">out</a>' in html
    assert "<span>repo</span>" in html and "<span>pixel</span>" in html
    assert "style=" not in html and 'align="right"' in html  # alignment without inline style


def test_every_numbered_section_has_an_anchor() -> None:
    sections = grading_document().sections
    for number in [str(n) for n in range(1, 12)] + ["2.1", "4.1", "4.2", "4.3"]:
        assert number in sections, number
    assert sections["2"] == "2-uptake-grade-the-modified-krenning-scale-on-pet"
    assert sections["2.1"] == "21-exact-reading"


@pytest.mark.parametrize(
    ("asked", "url"),
    [
        ("§2.1", "/help/grading/#21-exact-reading"),
        ("2.1", "/help/grading/#21-exact-reading"),
        ("DOMAIN.md §2", "/help/grading/#2-uptake-grade-the-modified-krenning-scale-on-pet"),
        ("§4.1", "/help/grading/#41-netpet-p0p5-chan-et-al"),
        ("§99", "/help/grading/"),  # no such section: the top of the page, never an error
        ("no number", "/help/grading/"),
    ],
)
def test_grading_section_url(asked: str, url: str) -> None:
    assert grading_section_url(asked) == url
    rendered = Template("{% load grading %}{% grading_section_url s %}").render(
        Context({"s": asked})
    )
    assert rendered == url


def test_every_link_the_templates_make_finds_its_section() -> None:
    """Every ``grading_section_url`` call under templates/ (the grid's too, once it uses the tag)
    names a section the document has, and the page carries that anchor."""
    calls = {
        str(path.relative_to(TEMPLATES)): TAG_CALL.findall(path.read_text(encoding="utf-8"))
        for path in TEMPLATES.rglob("*.html")
    }
    used = {section for sections in calls.values() for section in sections}
    assert "§2" in used  # the study form
    html = str(grading_document().html)
    for section in used:
        anchor = grading_section_url(section).partition("#")[2]
        assert anchor and f'id="{anchor}"' in html, section


def test_no_page_points_users_at_domain_md() -> None:
    pointing = sorted(
        name
        for path in TEMPLATES.rglob("*.html")
        if "DOMAIN.md" in path.read_text(encoding="utf-8")
        and (name := str(path.relative_to(TEMPLATES)))
    )
    assert pointing == []


def test_the_study_form_links_to_the_section(as_role) -> None:  # type: ignore[no-untyped-def]
    patient = PatientFactory()
    response = as_role("reader").get(reverse("study-create", args=[patient.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'href="/help/grading/#2-uptake-grade-the-modified-krenning-scale-on-pet"' in html
    assert "DOMAIN.md" not in html
