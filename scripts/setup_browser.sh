#!/usr/bin/env bash
# Make sure the browser test can run: Debian's Chromium (apt-get, when missing and allowed) and
# the playwright package (from requirements.txt). Playwright never downloads a browser here: it
# drives the system Chromium through its executable path.
#   scripts/setup_browser.sh        prints the Chromium path, or why there is none (exit 1)
set -uo pipefail
CHROMIUM="${SRBOOK_CHROMIUM:-}"
for c in "$CHROMIUM" /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; exit 0; fi
done
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
  if [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; then
    echo "[setup] installing Debian's chromium for the browser test" >&2
    if $SUDO apt-get update -qq >&2 && \
       DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
         chromium >&2; then
      [ -x /usr/bin/chromium ] && { echo /usr/bin/chromium; exit 0; }
    fi
  fi
fi
cat >&2 <<'MSG'
[setup] no Chromium for the browser test of the built book. Install it and run the tests again:
  Debian/Ubuntu:  sudo apt-get install chromium
  elsewhere:      any Chromium or Chrome, then  export SRBOOK_CHROMIUM=/path/to/chromium
MSG
exit 1
