"""Time each static chart engine on a report's real charts, cold (a fresh process per repetition)
and print the SVG size it writes. "import + draw" is what the engine adds to a report: its import
and start (numpy and the report's own modules are loaded before, as in a run) and every chart.

    python benchmarks/speed/bench_charts.py                         # quickstart, 3 repetitions
    python benchmarks/speed/bench_charts.py examples/mixed.yaml --repeat 5 --engines matplotlib,kaleido

Engines: matplotlib (the default, reporter/mplchart.py), kaleido (plotly through a cold headless
Chromium, as the CLI used to), svgchart (the built-in writer) and vl-convert (Vega-Lite through
vl-convert-python; not a dependency: measured only where installed, with a spec of the same three
chart kinds written here). The report's charts are captured once from a real run.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, pickle, sys, time, warnings
import numpy, phantom_report.reporter.charts  # loaded by every report before its charts stage
engine, charts = sys.argv[1], pickle.load(open(sys.argv[2], "rb"))
t0 = time.perf_counter()
if engine == "kaleido":
    import kaleido
    from phantom_report.reporter.charts import figure
    warnings.simplefilter("ignore")
    kaleido.start_sync_server(silence_warnings=True)
    svgs = [figure(c).to_image(format="svg") for c in charts]
    svgs = [s.decode() if isinstance(s, bytes) else s for s in svgs]
    kaleido.stop_sync_server(silence_warnings=True)
elif engine == "matplotlib":
    from phantom_report.reporter import mplchart
    svgs = [mplchart.render(c) for c in charts]
elif engine == "svgchart":
    from phantom_report.reporter import svgchart
    svgs = [svgchart.render(c) for c in charts]
elif engine == "vl-convert":
    import vl_convert
    sys.path.insert(0, sys.argv[3])
    from bench_charts import vegalite_spec
    svgs = [vl_convert.vegalite_to_svg(vegalite_spec(c)) for c in charts]
print(json.dumps({"s": time.perf_counter() - t0, "bytes": sum(len(s.encode()) for s in svgs)}))
"""


def vegalite_spec(c) -> dict:
    """A Vega-Lite spec of the same chart (bars with interval whiskers, or points/lines per group)."""
    from phantom_report.reporter.charts import PALETTE

    domain = [g for g in dict.fromkeys(c.groups) if g] or [""]
    color = {"field": "group", "type": "nominal", "legend": {"orient": "top", "title": None},
             "scale": {"domain": domain, "range": [PALETTE.get(g, PALETTE[""]) for g in domain]}}
    base = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": c.title, "width": 600,
            "config": {"font": "Helvetica, Arial, sans-serif"}}
    if c.kind == "hbar":
        n = len(c.labels)
        rows = [{"i": i, "label": c.labels[i], "x": c.x[i], "group": c.groups[i] if c.groups else "",
                 "lo": c.err_low[i] if c.err_low else c.x[i], "hi": c.err_high[i] if c.err_high else c.x[i],
                 "hl": i == c.highlight} for i in range(n)]
        y = {"field": "label", "type": "nominal", "sort": {"field": "i"}, "title": None}
        return {**base, "height": {"step": 24}, "data": {"values": rows}, "layer": [
            {"mark": "bar", "encoding": {"y": y, "x": {"field": "x", "type": "quantitative", "title": c.x_title},
                                         "color": color, "strokeWidth": {"condition": {"test": "datum.hl", "value": 2}, "value": 0},
                                         "stroke": {"value": "#111"}}},
            {"mark": {"type": "errorbar", "ticks": True, "color": "#444"},
             "encoding": {"y": y, "x": {"field": "lo", "type": "quantitative"}, "x2": {"field": "hi"}}}]}
    rows = [{"x": x, "y": y, "group": g} for x, y, g in zip(c.x, c.y, c.groups or [""] * len(c.x))]
    x_enc = {"field": "x", "type": "quantitative", "title": c.x_title, "scale": {"type": "log"} if c.log_x else {}}
    mark = {"type": "line", "point": True} if c.kind == "line" else {"type": "point", "filled": True, "opacity": 0.8}
    return {**base, "height": 260, "data": {"values": rows}, "mark": mark,
            "encoding": {"x": x_enc, "y": {"field": "y", "type": "quantitative", "title": c.y_title}, "color": color}}


def capture(spec_path: str) -> list:
    """The ChartData of a real run of ``spec_path`` (HTML only: no static engine involved)."""
    from phantom_report.reporter import charts
    from phantom_report.reporter.run import run_report
    from phantom_report.reporter.spec import load_spec

    seen, original = [], charts.interactive_html
    charts.interactive_html = lambda c: (seen.append(c), original(c))[1]
    try:
        with tempfile.TemporaryDirectory() as out:
            run_report(load_spec(spec_path), out_dir=out, formats=["html"], offline=True)
    finally:
        charts.interactive_html = original
    return seen


def available(engine: str) -> bool:
    if engine != "vl-convert":
        return True
    import importlib.util

    return importlib.util.find_spec("vl_convert") is not None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("spec", nargs="?", default=str(ROOT / "examples" / "quickstart.yaml"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engines", default="matplotlib,kaleido,svgchart,vl-convert")
    args = ap.parse_args()
    import json

    charts = capture(args.spec)
    load = os.getloadavg()[0]
    print(f"{Path(args.spec).name}: {len(charts)} charts; {os.cpu_count()} CPUs, load {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        pkl = Path(tmp) / "charts.pkl"
        pkl.write_bytes(pickle.dumps(charts))
        for engine in args.engines.split(","):
            if not available(engine):
                print(f"  {engine:11s} skipped (not installed)")
                continue
            walls, draws, size = [], [], 0
            for _ in range(args.repeat):
                t = time.perf_counter()
                proc = subprocess.run([sys.executable, "-c", CHILD, engine, str(pkl), str(Path(__file__).parent)],
                                      capture_output=True, text=True, env={**os.environ, "PHANTOM_OFFLINE": "1"})
                if proc.returncode != 0:
                    print(f"  {engine:11s} failed: {proc.stderr.strip().splitlines()[-1:]}")
                    break
                out = json.loads(proc.stdout.strip().splitlines()[-1])
                walls.append(time.perf_counter() - t)
                draws.append(out["s"])
                size = out["bytes"]
            if walls:
                print(f"  {engine:11s} import + draw {statistics.median(draws):6.2f} s median (runs "
                      f"{', '.join(f'{w:.2f}' for w in draws)}); whole process {statistics.median(walls):6.2f} s; "
                      f"SVG {size / 1024:.0f} KiB")
    print(f"load after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
