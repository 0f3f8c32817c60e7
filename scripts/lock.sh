#!/usr/bin/env bash
# Refreshes constraints.txt: resolves the project's dependencies (all extras) in a throw-away venv
# without the old pins and freezes the result. Review the diff, run the tests, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip
"$tmp/venv/bin/python" -m pip install -q 'torch==2.13.0' -e '.[all]'
{
  echo "# Exact versions for scripts/install.sh and CI (pip constraints). Refresh: bash scripts/lock.sh"
  # the CPU wheel carries a local version tag (+cpu) that other indexes do not know
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable | grep -v '^phantom-report' | sed -E 's/^torch==([0-9.]+)\+cpu$/torch==\1/'
} > constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) pinned packages"
