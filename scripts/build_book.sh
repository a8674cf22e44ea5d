#!/usr/bin/env bash
# Build the book into HTML from the committed, executed notebooks and print where it is.
#   scripts/build_book.sh                   render the stored outputs (fast)
#   scripts/build_book.sh --execute book    re-run every chapter in a profile first
#                                           (smoke | book | paper), writing the outputs back
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PROFILE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --execute) PROFILE="${2:?--execute needs a profile: smoke, book or paper}"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$PROFILE" in ""|smoke|book|paper) ;; *) echo "error: profile must be smoke, book or paper" >&2; exit 2 ;; esac
source scripts/setup_env.sh
export SRBOOK_STATIC=1
export TQDM_DISABLE=1  # progress bars are for live runs, never stored in committed outputs
if [ -n "$PROFILE" ]; then
  for nb in notebooks/[0-9][0-9]_*.ipynb; do
    echo "[book] executing $nb in the '$PROFILE' profile (fresh kernel, top to bottom)"
    (cd notebooks && rm -rf "runs" && papermill "$(basename "$nb")" "$(basename "$nb")" \
        -p profile "$PROFILE" --execution-timeout 36000 --log-level ERROR)
    python scripts/provenance.py stamp "$nb"
  done
fi
python scripts/check_notebooks.py notebooks/[0-9][0-9]_*.ipynb
python scripts/provenance.py check notebooks/[0-9][0-9]_*.ipynb
python scripts/web_models.py  # the networks of the in-browser page (book/upscale.md)
jupyter-book build . -W -n --keep-going -q
python scripts/check_book.py _build/html
echo
echo "The book is at: $ROOT/_build/html/index.html"
