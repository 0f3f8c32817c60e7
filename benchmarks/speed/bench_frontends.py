"""Speed and memory of the Hugging Face front end on an 8B config, in a fresh process.

    python benchmarks/speed/bench_frontends.py [--repeat 3]

Prints, per run and as medians: seconds to import torch + transformers, seconds of the analysis
itself (config -> workload IR on the meta device), CPU seconds of the whole process and its peak
RSS. Targets: analysis < 5 s, peak RSS < 1 GB. Timing lives here, not in the tests, because a
busy machine makes any wall-clock or CPU-time assertion flaky.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "frontends" / "llama-3.1-8b"

CODE = textwrap.dedent(f"""
    import json, resource, time
    t0 = time.perf_counter()
    import torch, transformers, transformers.modeling_utils
    t1 = time.perf_counter()
    from phantom_report.engine.sources import load_workload
    w = load_workload({str(CONFIG_DIR)!r})
    t2 = time.perf_counter()
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({{"import_s": t1 - t0, "analysis_s": t2 - t1, "cpu_s": r.ru_utime + r.ru_stime,
                       "rss_mb": r.ru_maxrss / 1024, "params": w.params_total}}))
""")


def one_run() -> dict:
    """One cold analysis in a fresh interpreter; returns its figures."""
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [one_run() for _ in range(args.repeat)]
    for i, r in enumerate(runs, 1):
        print(f"run {i}: import {r['import_s']:.2f} s, analysis {r['analysis_s']:.2f} s, "
              f"cpu {r['cpu_s']:.2f} s, peak RSS {r['rss_mb']:.0f} MB")
    for key, unit in (("import_s", "s"), ("analysis_s", "s"), ("cpu_s", "s"), ("rss_mb", "MB")):
        print(f"median {key}: {statistics.median(r[key] for r in runs):.2f} {unit}")


if __name__ == "__main__":
    main()
