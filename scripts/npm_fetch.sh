#!/usr/bin/env bash
# npm_fetch PACKAGE VERSION SHA512 WORKDIR: `npm pack` one pinned package from the npm registry
# into WORKDIR, refuse it unless its sha512 is the registry's, and unpack it to WORKDIR/package.
# Sourced by the scripts that vendor front-end files into the book (MathJax, ONNX Runtime Web).
npm_fetch() {
  local name="$1" version="$2" sha512="$3" work="$4"
  if ! command -v npm >/dev/null; then
    echo "[setup] npm not found: install Node.js (Debian: apt-get install npm) to fetch" \
         "$name for the book" >&2
    return 1
  fi
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null) || return 1
  local tarball="$work/$name-$version.tgz" got
  got="$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$got" != "$sha512" ]; then
    echo "[setup] $name-$version.tgz has sha512 $got, expected $sha512: not installing it" >&2
    return 1
  fi
  tar -xzf "$tarball" -C "$work"
}
