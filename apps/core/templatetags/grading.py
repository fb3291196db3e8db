"""The "How NETboard grades" page (``help-grading``): the repository's own docs/clinical-rules.md
rendered server-side, and ``{% grading_section_url "§2.1" %}`` for a link to one of its
sections, so that templates never hard-code a heading's slug.

The document is read from ``settings.BASE_DIR / "docs" / "clinical-rules.md"`` (never from
outside the project) and rendered once per version of the file: the rendering is cached on the
file's modification time and size, so an edited document shows on the next request.

Rendering is Python-Markdown with ``tables`` and ``toc``: every heading gets a stable id
(``toc``'s slugify: "§2 Uptake grade: the modified Krenning scale on PET" →
``2-uptake-grade-the-modified-krenning-scale-on-pet``) and a permalink, and the table of
contents comes from the same headings. The file is ours, but nothing in it can inject markup:
raw HTML is not parsed (Python-Markdown's documented way: its ``html_block`` preprocessor and
``html`` inline pattern are removed, so ``<script>`` comes out as text), links other than to
an anchor of the page or an http(s) address become plain text (the document's links to
``api.md`` are relative to the repository, not to the site), images become their alt text,
and table alignment is an ``align`` attribute, not an inline style the CSP would refuse.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import markdown
from django import template
from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions import Extension
from markdown.extensions.toc import TocExtension
from markdown.treeprocessors import Treeprocessor

register = template.Library()
logger = logging.getLogger(__name__)

# Where the page reads the document, below the project root.
DOCUMENT = Path("docs") / "clinical-rules.md"
# "§2.1 Exact reading" → "2.1"; the document numbers its sections as DOMAIN.md does.
_HEADING_NUMBER = re.compile(r"^§\s*(\d+(?:\.\d+)*)(?!\d)")
# "§2.1", "2.1", "DOMAIN.md §2.1" → "2.1".
_ASKED_NUMBER = re.compile(r"\d+(?:\.\d+)*")
_SAFE_HREF = re.compile(r"^(#|https?://)", re.IGNORECASE)


@dataclass(frozen=True)
class GradingDocument:
    """The rendered document: its body, its table of contents and the anchor of each numbered
    section (``{"2": "2-uptake-grade-…", "2.1": "21-exact-reading", …}``)."""

    html: SafeString
    toc: SafeString
    sections: Mapping[str, str]
    found: bool = True


_MISSING = GradingDocument(SafeString(""), SafeString(""), {}, found=False)


class _PlainLinks(Treeprocessor):
    """Links that do not go to an anchor of the page or to an http(s) address become their text
    (``javascript:``, ``data:``, the repository-relative ``api.md``); images their alt text."""

    def run(self, root: Element) -> None:
        for element in root.iter():
            if element.tag == "a" and not _SAFE_HREF.match(element.get("href", "")):
                element.tag = "span"
                element.attrib.clear()
            elif element.tag == "img":
                alt = element.get("alt", "")
                element.tag = "span"
                element.attrib.clear()
                element.text = alt


class _NoRawHtml(Extension):
    """Raw HTML is never parsed, so the serializer escapes it (Python-Markdown's replacement for
    the old ``safe_mode="escape"``), and unsafe links are made plain."""

    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        # After ``toc`` (priority 5), which adds the headings' permalinks.
        md.treeprocessors.register(_PlainLinks(md), "plain_links", 4)


def render_markdown(text: str) -> GradingDocument:
    """Render the document: headings one level down (the page's own title is the ``h1``), ids
    and permalinks on every heading, a table of contents of the section levels."""
    md = markdown.Markdown(
        extensions=[
            "tables",
            TocExtension(baselevel=2, toc_depth="3-4", permalink="¶", permalink_title="Link"),
            _NoRawHtml(),
        ],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )
    html = md.convert(text)
    toc = getattr(md, "toc", "")
    sections: dict[str, str] = {}
    for token in _flatten(getattr(md, "toc_tokens", [])):
        match = _HEADING_NUMBER.match(token["name"])
        if match is not None:
            sections.setdefault(match.group(1), token["id"])
    # Python-Markdown escaped every text and raw HTML above; the markup is its own.
    return GradingDocument(mark_safe(html), mark_safe(toc), sections)  # noqa: S308


def _flatten(tokens: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for token in tokens:
        yield token
        yield from _flatten(token.get("children", []))


def document_path() -> Path:
    return Path(settings.BASE_DIR) / DOCUMENT


def grading_document() -> GradingDocument:
    """The rendered docs/clinical-rules.md, re-rendered only when the file changes; an empty
    document (``found`` false) when it is not installed, so no page fails for want of it."""
    path = document_path()
    try:
        stat = path.stat()
    except OSError:
        logger.warning("help: %s is missing; the grading page is empty", DOCUMENT)
        return _MISSING
    return _rendered(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _rendered(path: str, mtime_ns: int, size: int) -> GradingDocument:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        logger.warning("help: %s cannot be read; the grading page is empty", DOCUMENT)
        return _MISSING
    return render_markdown(text)


def section_anchor(section: object) -> str | None:
    """The anchor id of a numbered section ("§2.1", "2.1"), or None when there is none."""
    match = _ASKED_NUMBER.search(str(section))
    if match is None:
        return None
    return grading_document().sections.get(match.group(0))


@register.simple_tag
def grading_section_url(section: object) -> str:
    """``{% grading_section_url "§2.1" %}`` → ``/help/grading/#21-exact-reading``.

    A section the document does not have links to the top of the page (and is logged), so a
    renumbered document never breaks the page that links to it; tests/core/test_help_page.py
    checks that every call in the templates finds its section.
    """
    url = reverse("help-grading")
    anchor = section_anchor(section)
    if anchor is None:
        logger.warning("help: no section %r in %s", str(section), DOCUMENT)
        return url
    return f"{url}#{anchor}"
