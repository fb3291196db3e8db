"""Accessibility checks in the browser tests: axe-core (vendored from npm, static/vendor/axe-core,
see scripts/vendor-axe-core.sh) injected into the page under test.

``assert_no_serious_violations(page, "patient page")`` fails listing every violation of impact
"serious" or "critical" (rule id, help text, the first few target selectors). Minor and moderate
findings are not failures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_DIR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe-core"
AXE = AXE_DIR / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")
TARGETS_SHOWN = 3

# Only violations: passes and incomplete results make the answer large and are not read here.
_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    helpUrl: v.helpUrl,
    targets: v.nodes.map(n => n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : t).join(' ')),
  }));
}"""


def _has_axe(page: Any) -> bool:
    return bool(page.evaluate("typeof window.axe === 'object' && typeof axe.run === 'function'"))


def _inject(page: Any) -> None:
    """The vendored file as a script tag (``page.add_script_tag(path=...)``).

    A tag added with ``path=`` is an inline script, which the application's
    Content-Security-Policy (``script-src 'self'``) rightly blocks, and Playwright then raises.
    The page keeps its policy (the pages are checked as users get them); the same source is
    then evaluated through the DevTools protocol, which a page's CSP does not govern.
    """
    from playwright.sync_api import Error

    if _has_axe(page):
        return
    try:
        page.add_script_tag(path=str(AXE))
    except Error as error:
        if "Content Security Policy" not in str(error):
            raise
    if not _has_axe(page):
        page.evaluate("source => { (0, eval)(source); }", AXE.read_text(encoding="utf-8"))
    if not _has_axe(page):
        raise RuntimeError(f"axe-core could not be injected into {page.url}")


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """The violations of impact "serious" or "critical" on the page as it is now."""
    _inject(page)
    violations: list[dict[str, Any]] = page.evaluate(_RUN)
    return [v for v in violations if v["impact"] in FAILING_IMPACTS]


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = v["targets"]
        shown = ", ".join(targets[:TARGETS_SHOWN])
        more = f" (+{len(targets) - TARGETS_SHOWN} more)" if len(targets) > TARGETS_SHOWN else ""
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} — {shown}{more}")
    return "\n".join(lines)


def assert_no_serious_violations(page: Any, context: str) -> None:
    """Fail listing each serious or critical axe-core violation on ``page`` (``context`` names
    the page in the message)."""
    violations = serious_violations(page)
    assert not violations, (
        f"{len(violations)} serious/critical accessibility violation(s) on {context} "
        f"({page.url}):\n{format_violations(violations)}"
    )
