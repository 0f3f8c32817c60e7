#!/usr/bin/env bash
# Installs everything phantom-report needs on a fresh Debian machine into ./.venv:
# system libraries (WeasyPrint's Pango, Chromium for static charts and browser tests, poppler for
# PDF checks) and the Python package with its extras. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3 python3-venv python3-pip libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
              fonts-dejavu-core poppler-utils chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3/pip may come from elsewhere (pyenv); only ask apt for them when no python3.11+ exists
if python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  missing=($(printf '%s\n' "${missing[@]}" | grep -vE '^python3(-venv|-pip)?$' || true))
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned to the CPU build (the unpinned name pulls a multi-GB CUDA build); every other
# package to the versions in constraints.txt, so two installs a week apart get the same stack
# (refresh with scripts/lock.sh)
.venv/bin/python -m pip install -q -c constraints.txt -e '.[all]'
# The project's own bytecode, as a regular (non-editable) pip install writes it for a package: an
# editable install leaves that to the first import, which never writes it where the environment sets
# PYTHONDONTWRITEBYTECODE=1 (container images often do), so every `phantom-report` process, and each
# PDF, chart and report-worker child, compiled ~100 modules from source again: ~0.1-0.2 s of each cold
# start (`phantom-report predict` 0.52-0.78 s -> 0.40-0.62 s, same minutes, alternated). Stale files
# are harmless: Python checks each against its source's modification time.
.venv/bin/python -m compileall -q -j 0 phantom_report engine reporter pricing profiles templates benchmarks > /dev/null
