"""Time `phantom-report run` end to end and per stage.

    python benchmarks/speed/bench_run.py                      # mixed example, HTML + PDF
    python benchmarks/speed/bench_run.py examples/quickstart.yaml --formats html,pdf --repeat 3

Each repetition runs in a fresh Python process (cold: imports, engine load, Chromium start for
kaleido, WeasyPrint fonts), so the wall time is what a user waits for; the stage timings come
from `RunResult.timings_s` of that process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# the child runs a report as the phantom-report executable does (phantom_report/cli.py::console_main):
# the collector set for one job, and its objects frozen before the exit
CHILD = r"""
import gc, json, sys, time
t0 = time.perf_counter()
from phantom_report import gc_tuning
gc_tuning.collect_rarely()
from phantom_report.reporter.run import run_report
from phantom_report.reporter.spec import load_spec
t_import = time.perf_counter() - t0
r = run_report(load_spec(sys.argv[1]), out_dir=sys.argv[2], formats=sys.argv[3].split(","), offline=True)
print(json.dumps({"import_s": round(t_import, 3), "stages": r.timings_s,
                  "chart_engine": r.payload.get("methodology", {}).get("chart_engine", "?"),
                  "sizes": {k: p.stat().st_size for k, p in r.outputs.items()}}))
gc.freeze()
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", nargs="?", default=str(ROOT / "examples" / "mixed.yaml"))
    ap.add_argument("--formats", default="html,pdf")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--charts", default=os.environ.get("PHANTOM_STATIC_CHARTS", "auto"),
                    help="static chart engine for the PDF (PHANTOM_STATIC_CHARTS); default auto")
    args = ap.parse_args()
    env = {**os.environ, "PHANTOM_OFFLINE": "1", "PHANTOM_STATIC_CHARTS": args.charts}
    load_before = os.getloadavg()[0]
    walls, runs = [], []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", CHILD, args.spec, out, args.formats],
                                  capture_output=True, text=True, env=env)
            wall = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit(f"run failed:\n{proc.stderr}")
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        walls.append(wall)
        runs.append(data)
        stages = "  ".join(f"{k} {v:.2f}" for k, v in data["stages"].items() if k != "total")
        print(f"run {i + 1}: wall {wall:.2f} s (import {data['import_s']:.2f} s, stages {data['stages']['total']:.2f} s: {stages})")
    sizes = ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in runs[-1]["sizes"].items())
    print(f"{Path(args.spec).name} [{args.formats}] on {os.cpu_count()} CPUs: median wall {statistics.median(walls):.2f} s "
          f"over {len(walls)} cold run(s); outputs: {sizes}; charts: {runs[-1]['chart_engine']}; "
          f"load {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
