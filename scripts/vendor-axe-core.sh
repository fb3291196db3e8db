#!/usr/bin/env bash
# Vendor axe-core (the accessibility engine of the browser tests) from the npm registry into
# static/vendor/axe-core/: axe.min.js, its licence files, VERSION and README.txt.
#
#     scripts/vendor-axe-core.sh [VERSION]      # default: the version in static/vendor/axe-core/VERSION
#
# Fetched with `npm pack` (no install, no scripts run), checked against the registry's integrity
# hash. Only tests/browser/axe.py uses the file (it injects it into pages under test); no template
# references it and it is never served to users.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/static/vendor/axe-core"
VERSION="${1:-$(cat "$DEST/VERSION" 2>/dev/null || true)}"
if [[ -z "$VERSION" ]]; then
  echo "usage: $0 VERSION   (e.g. 4.14.1)" >&2
  exit 2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

TARBALL="$(npm pack --silent "axe-core@$VERSION")"
EXPECTED="$(npm view --silent "axe-core@$VERSION" dist.integrity)"
ACTUAL="sha512-$(openssl dgst -sha512 -binary "$TARBALL" | base64 -w0)"
if [[ "$EXPECTED" != "$ACTUAL" ]]; then
  echo "integrity mismatch for $TARBALL: registry $EXPECTED, file $ACTUAL" >&2
  exit 1
fi
tar -xzf "$TARBALL"
RESOLVED="$(node -p 'require("./package/package.json").version')"

mkdir -p "$DEST"
cp package/axe.min.js "$DEST/axe.min.js"
cp package/LICENSE "$DEST/LICENSE"
cp package/LICENSE-3RD-PARTY.txt "$DEST/LICENSE-3RD-PARTY.txt"
echo "$RESOLVED" >"$DEST/VERSION"
SHA256="$(sha256sum "$DEST/axe.min.js" | cut -d' ' -f1)"
cat >"$DEST/README.txt" <<EOF
axe-core $RESOLVED (Deque Systems, Mozilla Public License 2.0: see LICENSE and
LICENSE-3RD-PARTY.txt), vendored for the browser tests only.

Fetched from the npm registry with scripts/vendor-axe-core.sh $RESOLVED, that is:
    npm pack axe-core@$RESOLVED    -> $TARBALL
    registry integrity: $EXPECTED (checked)
and copied unmodified from the package: axe.min.js, LICENSE, LICENSE-3RD-PARTY.txt.
sha256(axe.min.js) = $SHA256

Used by tests/browser/axe.py, which injects it into the page under test
(page.add_script_tag); no template references it.
EOF
echo "vendored axe-core $RESOLVED into ${DEST#"$ROOT"/}"
