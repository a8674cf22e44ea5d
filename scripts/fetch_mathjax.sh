#!/usr/bin/env bash
# Put MathJax 3 (its es5 build) into _vendor/mathjax (served as _static/mathjax), so the built
# book renders its maths with no network at view time (a classroom, a cluster). Fetched once from
# the npm registry, pinned by version and checked against the registry's sha512; git-ignored.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="3.2.2"
SHA512="Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
DEST="$ROOT/_vendor/mathjax"  # not _static/: Jupyter Book would add each of its .js files to every page
if [ -f "$DEST/tex-chtml.js" ] && [ "$(cat "$DEST/.version" 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi
source "$ROOT/scripts/npm_fetch.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm_fetch mathjax "$VERSION" "$SHA512" "$work"
rm -rf "$DEST"
mkdir -p "$DEST"
cp -r "$work/package/es5/." "$DEST/"
echo "$VERSION" > "$DEST/.version"
echo "[setup] MathJax $VERSION installed in _vendor/mathjax"
