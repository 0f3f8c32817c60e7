#!/usr/bin/env bash
# One command: install, then run the main job on the embedded defaults (offline).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/phantom-report run examples/quickstart.yaml --offline --out reports/quickstart
echo "Open reports/quickstart/report.html (or report.pdf). Next time: .venv/bin/phantom-report run SPEC.yaml"
