#!/usr/bin/env bash
# Put ONNX Runtime Web (its WebAssembly build) into _vendor/ortweb (served as _static/ortweb),
# for the book's in-browser page (book/upscale.md): super-resolution runs in the reader's
# browser, with no server and no network at view time. Fetched once from the npm registry,
# pinned by version and checked against the registry's sha512; git-ignored. MIT licence (its package.json).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="1.31.1"
SHA512="5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw=="
DEST="$ROOT/_vendor/ortweb"
FILES="ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm"
complete=1
for f in $FILES; do [ -f "$DEST/$f" ] || complete=0; done
if [ "$complete" = 1 ] && grep -q "\"$VERSION\"" "$DEST/version.json" 2>/dev/null; then
  exit 0
fi
source "$ROOT/scripts/npm_fetch.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm_fetch onnxruntime-web "$VERSION" "$SHA512" "$work"
rm -rf "$DEST"
mkdir -p "$DEST"
for f in $FILES; do cp "$work/package/dist/$f" "$DEST/"; done
echo "{\"package\": \"onnxruntime-web\", \"version\": \"$VERSION\", \"licence\": \"MIT\"}" > "$DEST/version.json"
echo "[setup] ONNX Runtime Web $VERSION installed in _vendor/ortweb"
