#!/usr/bin/env bash
# One command: install (including test dependencies), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PHANTOM_OFFLINE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# --durations: CI logs name the slowest tests, so a regression of the suite time (issue 15: <= 4 min
# on 2 cores) points at its cause
exec .venv/bin/python -m pytest --durations=25 "$@"
