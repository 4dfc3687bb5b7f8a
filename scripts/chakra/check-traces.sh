#!/usr/bin/env bash
# Regenerates the golden Chakra traces (netem/tests/data/chakra) with
# Python's protobuf and compares them byte for byte with the checked-in ones.
# Makes a throw-away venv with the pinned versions (requirements.txt) unless
# CHAKRA_PYTHON names a Python that has them; skips when there is no python3.
#   scripts/chakra/check-traces.sh
# Exits 1 if a file differs.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -n "${CHAKRA_PYTHON:-}" ]; then
  PY=$CHAKRA_PYTHON
elif command -v python3 > /dev/null; then
  VENV=$(mktemp -d)
  trap 'rm -rf "$VENV"' EXIT
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/chakra/requirements.txt
  PY=$VENV/bin/python
else
  echo "skipped: no python3"
  exit 0
fi
"$PY" scripts/chakra/write_traces.py --check
