#!/usr/bin/env bash
# The README's first command: the library in .venv with what the default stack (dev, on
# AWS) needs to plan, and nothing else: no Node, no tritonserver wheel, no test tooling.
# Works on macOS and Linux with Python 3.11+. ./scripts/setup-test.sh adds the rest.
# Another cloud's stacks: ./scripts/setup.sh gcp (or azure, or all).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRA="${1:-aws}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$EXTRA]"
