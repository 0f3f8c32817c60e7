#!/usr/bin/env bash
# One command: install (including test dependencies), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PHANTOM_OFFLINE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# --durations: CI logs name the slowest tests, so a regression of the suite time (issue 15: <= 4 min
# on 2 cores) points at its cause.
# -n auto: one pytest-xdist worker per core; --dist loadfile keeps each test file on one worker, so a
# module's shared fixtures (a served app, a cross-validation run) are built once, not once per worker.
# Pass -n 0 to run in one process (e.g. with --pdb).
exec .venv/bin/python -m pytest -n auto --dist loadfile --durations=25 "$@"
