#!/usr/bin/env bash
# Sets up everything popstats needs on a fresh machine with only Python 3.11:
# a virtual environment in .venv with the package and its test tools installed; Chromium
# with CJK fonts, which print the bulletin's PDF (`popstats bulletin --out FILE.pdf`) and
# drive the real-browser tests in tests/dashboards/browser/ (through Playwright, which
# downloads no browser of its own); and with `test`, the Debian programs only the tests
# need: PSPP and LibreOffice Calc to read SPSS and spreadsheet exports back, and
# poppler-utils (pdftotext, pdftoppm) to read the bulletin's PDF back.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

debs=(chromium fonts-noto-cjk)
if [ "${1:-}" = "test" ]; then
  debs+=(pspp libreoffice-calc-nogui chromium-driver poppler-utils)
fi
missing=()
for deb in "${debs[@]}"; do
  dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # another installer (unattended upgrades, a provisioning step) may hold the dpkg lock:
  # wait for it rather than fail
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.popstats-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
