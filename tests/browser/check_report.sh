#!/usr/bin/env bash
# Opens an HTML report in headless Chromium: a screenshot, and a failure on any
# console error, network request or script (see check_report.py).
#
#   tests/browser/check_report.sh out/shop/report.html /tmp/report.png [WIDTH HEIGHT]
#
# Exit 0: fine; 1: a problem (printed); 77: Chromium or python3 is missing, so
# the check was skipped (on Debian: apt-get install -y chromium).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "SKIP: chromium is not installed (on Debian: apt-get install -y chromium)"
  exit 77
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "SKIP: python3 is not installed (it drives chromium through the DevTools protocol)"
  exit 77
fi
exec python3 "$here/check_report.py" "$@"
