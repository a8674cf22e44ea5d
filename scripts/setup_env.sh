#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install what it needs.
# Sourced by scripts/test.sh and scripts/build_book.sh; safe to run repeatedly.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SRBOOK_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"
stamp="$VENV/.srbook-installed"
want="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  if ! python -c "import torch" 2>/dev/null; then
    echo "[setup] installing torch 2.13.0 first (so nothing pulls a newer CUDA build)"
    pip install -q "torch==2.13.0"
  fi
  echo "[setup] installing requirements"
  pip install -q -r "$ROOT/requirements.txt"
  pip install -q --no-deps -e "$ROOT"
  python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
  echo "$want" > "$stamp"
fi
# MathJax for the book's pages, served from the book itself (no CDN at view time)
bash "$ROOT/scripts/fetch_mathjax.sh" || echo "[setup] warning: MathJax could not be installed;" \
  "the built book will show raw TeX offline (scripts/check_book.py reports it)" >&2
# ONNX Runtime Web for the in-browser page (book/upscale.md), served from the book itself
bash "$ROOT/scripts/fetch_ortweb.sh" || echo "[setup] warning: ONNX Runtime Web could not be" \
  "installed; the book's upscaling page will say that it cannot run" >&2
# The real benchmark sets and the authors' released weights live beside the checkout when
# available (never committed).
if [ -z "${SR_DATA:-}" ] && [ -d "$ROOT/../shared/data/Set5" ]; then
  export SR_DATA="$(cd "$ROOT/../shared/data" && pwd)"
fi
if [ -z "${SR_WEIGHTS:-}" ] && [ -d "$ROOT/../shared/weights" ]; then
  export SR_WEIGHTS="$(cd "$ROOT/../shared/weights" && pwd)"
fi
