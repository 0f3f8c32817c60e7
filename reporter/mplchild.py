"""matplotlib's static charts drawn in a child process, so a run's own process never imports it.

Importing matplotlib and loading its font list costs ~0.5-0.8 s of CPU, and drawing a chart ~0.1 s;
in the run's process that time sits on the critical path (the PDF's layout can only start after
the charts). A child started with the run (`start`) imports matplotlib on the other core while
the numbers are computed, then draws the charts it is sent (`render_all`) with the same
``mplchart.render``, so the SVG bytes are the same as drawn in process. Any failure (no child,
a crash, the time limit) is an exception: the caller (charts.StaticRenderer) then draws in process.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from typing import Sequence

from phantom_report import gc_tuning
from phantom_report.reporter import children
from phantom_report.reporter.charts import ChartData

CHART_TIMEOUT_S = 60.0  # a report's few charts take well under a second once matplotlib is loaded
_TUPLE_FIELDS = tuple(f.name for f in dataclasses.fields(ChartData) if str(f.type).startswith("tuple"))


def start() -> subprocess.Popen:
    """A chart child, started ahead of need: it imports matplotlib while the caller computes, then
    waits for its one request on stdin. Hand it to `render_all`, or `stop` it."""
    return children.start("phantom_report.reporter.mplchild", keep_stderr=False)


stop = children.stop


def render_all(proc: subprocess.Popen, charts: Sequence[ChartData], timeout_s: float = CHART_TIMEOUT_S) -> list[str]:
    """The SVG text of each of ``charts``, drawn by the child ``proc`` (from `start`). Raises
    (RuntimeError, subprocess.TimeoutExpired, TypeError/ValueError for data JSON cannot carry) when
    the child cannot answer; the child is stopped either way."""
    try:
        request = json.dumps([dataclasses.asdict(c) for c in charts]).encode("utf-8")
        out, _ = proc.communicate(request, timeout=timeout_s)
    finally:
        stop(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"chart child exited with {proc.returncode}")
    svgs = json.loads(out.decode("utf-8"))
    if not isinstance(svgs, list) or len(svgs) != len(charts) or not all(isinstance(s, str) for s in svgs):
        raise RuntimeError("chart child answered something other than one SVG per chart")
    return svgs


def _chart(d: dict) -> ChartData:
    """A ChartData from its JSON form (lists back to the tuples the dataclass holds)."""
    return ChartData(**{k: tuple(v) if k in _TUPLE_FIELDS and isinstance(v, list) else v for k, v in d.items()})


def child_main() -> int:
    """Entry of the chart child: import matplotlib, then a JSON list of charts on stdin, a JSON
    list of SVG texts on stdout."""
    from phantom_report.reporter import mplchart

    mplchart.warm_up()  # before the request arrives: a child started early is warm by then
    # matplotlib's objects out of the collector's reach: its passes while drawing and at exit,
    # which the caller waits for (it reads the SVGs until the child exits), re-walked them all
    # (3 charts, from request to exit: 0.15-0.22 s, frozen 0.10-0.15 s)
    gc_tuning.freeze_loaded_and_collect_rarely()
    charts = [_chart(d) for d in json.loads(sys.stdin.buffer.read().decode("utf-8"))]
    sys.stdout.write(json.dumps([mplchart.render(c) for c in charts]))
    return 0


if __name__ == "__main__":
    sys.exit(child_main())
