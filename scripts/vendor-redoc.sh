#!/usr/bin/env bash
# Vendor ReDoc's standalone bundle (the /api/v1/redoc/ page) into static/vendor/redoc/, from the
# copy that the installed drf-spectacular-sidecar ships (no download), with one change: stock
# ReDoc's side menu fetches its "API docs by Redocly" logo from https://cdn.redoc.ly, and no
# ReDoc option turns that off. Hospital networks are often offline and our Content Security
# Policy refuses outside images, so the logo's address is emptied: the browser asks for
# nothing, the image's error handler removes it, and the "API docs by Redocly" link stays.
#
#     scripts/vendor-redoc.sh          # after upgrading drf-spectacular-sidecar
#
# templates/drf_spectacular/redoc.html loads the vendored file; tests/browser/test_redoc_offline.py
# checks in Chromium that the page asks no other host for anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/static/vendor/redoc"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
mkdir -p "$DEST"

"$PY" - "$DEST" <<'PY'
import hashlib
import re
import sys
from importlib.metadata import version
from pathlib import Path

import drf_spectacular_sidecar

dest = Path(sys.argv[1])
source = Path(drf_spectacular_sidecar.__file__).parent / "static/drf_spectacular_sidecar/redoc"
bundle = (source / "bundles/redoc.standalone.js").read_text(encoding="utf-8")

logo = '"https://cdn.redoc.ly/redoc/logo-mini.svg"'
if bundle.count(logo) != 1:
    sys.exit(f"expected the logo address {logo} once in the bundle; found it {bundle.count(logo)} times")
patched = bundle.replace(logo, '""')
# The source map describes the unpatched file (and is 4 MB): not vendored, so not referenced.
patched = re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", patched)
if "cdn.redoc.ly" in patched:
    sys.exit("cdn.redoc.ly is still in the patched bundle")

redoc = re.search(r'ReDoc Version: ","([^"]+)"', bundle)
sidecar = version("drf-spectacular-sidecar")
(dest / "redoc.standalone.js").write_text(patched, encoding="utf-8")
(dest / "LICENSE").write_text((source / "LICENSE").read_text(encoding="utf-8"), encoding="utf-8")
licences = (source / "bundles/redoc.standalone.js.LICENSE.txt").read_text(encoding="utf-8")
(dest / "redoc.standalone.js.LICENSE.txt").write_text(licences, encoding="utf-8")
digest = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
(dest / "README.txt").write_text(
    f"""ReDoc {redoc.group(1) if redoc else "(version unknown)"} (Redocly, MIT licence: see LICENSE; bundled
third-party licences in redoc.standalone.js.LICENSE.txt), the standalone bundle of
drf-spectacular-sidecar {sidecar}, vendored by scripts/vendor-redoc.sh.

One change from the sidecar's bundles/redoc.standalone.js: the side menu's logo address
{logo} is replaced by "" (the browser asks for nothing; the
image removes itself on error), and the sourceMappingURL comment is dropped (the map is not
vendored).
sha256(sidecar redoc.standalone.js) = {digest(bundle)}
sha256(redoc.standalone.js)         = {digest(patched)}

Loaded by templates/drf_spectacular/redoc.html (/api/v1/redoc/).
""",
    encoding="utf-8",
)
print(f"vendored ReDoc from drf-spectacular-sidecar {sidecar} into static/vendor/redoc/")
PY
