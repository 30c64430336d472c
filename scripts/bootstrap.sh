#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements: requirements.txt (what runs) and
# requirements-dev.txt (tests, sandbox, benchmarks, devtools); constraints.txt pins the whole tree.
# Re-running is cheap: it reinstalls only when one of the three files changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
stamp=.venv/.installed-$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# This machine's pip config names local package folders that may not exist: pip warns for each.
quiet_pip() { .venv/bin/python -m pip "$@" 2>&1 | sed "/^WARNING: Location 'file:/d"; }
quiet_pip install --quiet --upgrade pip
quiet_pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
rm -f .venv/.installed-*
touch "$stamp"
