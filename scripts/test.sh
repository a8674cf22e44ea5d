#!/usr/bin/env bash
# The whole test suite: lint, unit tests, every chapter in the smoke profile (papermill),
# nbval on the committed notebooks' tagged cells, and a book build that fails on any warning.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    lint + unit tests only
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/setup_env.sh
export SRBOOK_STATIC=1   # widgets draw their static view only (see sr_lib.notebook.widget)
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/srbook-test.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS
step() { echo; echo "=== $1 ($(( SECONDS - start )) s elapsed)"; }

step "ruff"
ruff check sr_lib tests benchmarks scripts

step "unit tests"
python -m pytest tests -q -rs   # -rs: say why anything was skipped

[ "${1:-}" = "--quick" ] && exit 0

step "chapters in the smoke profile (papermill, fresh kernels, outputs to a temp folder)"
# The budget is 240 CPU seconds per chapter (kernel included), so a busy machine cannot fail a
# correct run; the wall-clock time is printed beside it.
for nb in notebooks/[0-9][0-9]_*.ipynb; do
  (cd notebooks && python "$ROOT/scripts/cpu_budget.py" --budget 240 --label "$nb smoke run" -- \
      papermill "$(basename "$nb")" "$WORK/$(basename "$nb")" -p profile smoke --cwd "$WORK" \
      --execution-timeout 1800 --no-progress-bar --log-level ERROR)
done

# Checked cells that read a benchmark set declare it (srbook.needs_data); where the set is
# missing, scripts/nbval_prepare.py says which comparisons it leaves out, and the cells still run.
nbval() {  # nbval FOLDER: the committed notebooks, re-executed there in the smoke profile
  python scripts/nbval_prepare.py "$1" notebooks/[0-9][0-9]_*.ipynb
  (cd "$1" && SRBOOK_PROFILE_OVERRIDE=smoke python -m pytest --nbval-lax -q \
     -p no:cacheprovider --nbval-cell-timeout 600 ./*.ipynb)
}
step "nbval on the committed notebooks (tagged cells, re-executed in the smoke profile)"
nbval "$WORK/nbval"

if [ -n "${SR_DATA:-}${SR_WEIGHTS:-}" ]; then
  step "nbval again with the data and weights hidden (what a fresh clone with nothing beside it sees)"
  (unset SR_DATA SR_WEIGHTS; nbval "$WORK/nbval-no-data")
fi

step "committed notebooks: executed, no error outputs, state their profile"
python scripts/check_notebooks.py notebooks/[0-9][0-9]_*.ipynb
python scripts/provenance.py check notebooks/[0-9][0-9]_*.ipynb

step "book build (warnings are errors) and its Colab links"
python scripts/web_models.py   # the in-browser page's networks and samples (_vendor/srweb)
jupyter-book build . --path-output "$WORK/book" -W -n --keep-going -q
python scripts/check_book.py "$WORK/book/_build/html"

step "the built book in a real browser (headless Chromium, network blocked)"
# Chromium comes from Debian (installed here when missing and allowed); the message says what
# to install otherwise. Screenshots of every chapter (desktop and phone) go to the printed folder.
CHROMIUM="$(bash scripts/setup_browser.sh)"
python scripts/browser_check.py "$WORK/book/_build/html" --chromium "$CHROMIUM" \
  --shots "${SRBOOK_SHOTS:-$ROOT/_build/screenshots}"

step "the in-browser upscaling page: upload, every network, browser output vs PyTorch"
python scripts/browser_upscale.py "$WORK/book/_build/html" --chromium "$CHROMIUM" \
  --shots "${SRBOOK_SHOTS:-$ROOT/_build/screenshots}"

step "the book as one PDF and an offline HTML archive (scripts/book_pdf.py)"
python scripts/book_pdf.py "$WORK/book/_build/html" --out "$WORK/srbook.pdf" \
  --zip "$WORK/srbook-html.zip" --chromium "$CHROMIUM" \
  --shots "${SRBOOK_SHOTS:-$ROOT/_build/screenshots}/pdf"

step "all checks passed in $(( SECONDS - start )) s"
