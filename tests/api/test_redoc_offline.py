"""The ReDoc page and the files it loads name no other host to fetch from (the quick check; the
browser test tests/browser/test_redoc_offline.py records what Chromium actually asks for)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders

ROOT = Path(__file__).resolve().parents[2]
# What makes a browser fetch: an element's src (also as a React prop, `src:"…"`), a stylesheet
# link, a CSS url() or @import. Links to follow (<a href>) and XML namespaces are not fetched.
FETCHED = re.compile(
    r"""(?:\bsrc\s*[:=]\s*|<link[^>]*\bhref\s*=\s*|url\(\s*|@import\s+)["']?(https?:)?//"""
)


@pytest.mark.django_db
def test_the_redoc_page_and_its_assets_fetch_nothing_from_outside(
    token_client: Any, settings: Any
) -> None:
    page = token_client("reader").get("/api/v1/redoc/").content.decode()
    assert "<redoc " in page
    assert not re.findall(r"https?://|//[a-z]", page), "the page names another host"
    assets = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert {a.rsplit(".", 1)[-1] for a in assets} == {"js", "css"}, assets
    for asset in assets:
        assert asset.startswith(settings.STATIC_URL), asset
        path = finders.find(asset.removeprefix(settings.STATIC_URL).split("?")[0])
        assert path, f"{asset} is not among our static files"
        text = Path(path).read_text(encoding="utf-8")
        assert "cdn.redoc.ly" not in text, f"{asset} fetches Redocly's logo from cdn.redoc.ly"
        fetched = [match.group(0) for match in FETCHED.finditer(text)]
        assert fetched == [], f"{asset} fetches from another host: {fetched}"


def test_the_vendored_bundle_is_the_one_scripts_vendor_redoc_made() -> None:
    """static/vendor/redoc/redoc.standalone.js is scripts/vendor-redoc.sh's output, unedited
    since (its README.txt records the digest). Upgrading drf-spectacular-sidecar does not change
    it: re-run the script to take the new ReDoc."""
    bundle = (ROOT / "static/vendor/redoc/redoc.standalone.js").read_bytes()
    readme = (ROOT / "static/vendor/redoc/README.txt").read_text(encoding="utf-8")
    recorded = re.search(r"sha256\(redoc\.standalone\.js\) *= ([0-9a-f]{64})", readme)
    assert recorded, readme
    assert hashlib.sha256(bundle).hexdigest() == recorded.group(1)
    assert b"cdn.redoc.ly" not in bundle
    # No map is vendored, so none is named (collectstatic's manifest storage would look for it).
    assert not re.search(rb"^//# sourceMappingURL=", bundle, re.MULTILINE)
