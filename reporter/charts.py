"""Charts: one small data description per chart, drawn two ways.

* interactive: a plotly figure as an HTML fragment; plotly.js is embedded once per report by the
  template (``plotly_js``): the vendored *basic* partial bundle (bar/pie/scatter, 1.2 MB) when it
  matches the installed plotly, else the plotly package's full bundle, so the HTML works offline;
* static SVG for the PDF (``StaticRenderer``), by the engine ``PHANTOM_STATIC_CHARTS`` names:
  ``auto`` (default): kaleido when this process already runs its browser (a service worker that
  called ``start_kaleido``), else matplotlib's SVG backend (``mplchart.py``, no browser);
  ``matplotlib``; ``kaleido`` (starts headless Chromium, cold: seconds, and keeps it for the
  process); ``svgchart`` (the small built-in writer, also the last fallback). Which one drew is
  recorded in the report's methodology.
"""

from __future__ import annotations

import html
import json
import math
import os
import sys
import textwrap
import threading
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Callable, Sequence

from phantom_report.errors import PhantomError

HALF_WIDTH_PX = 430  # two of these fit side by side on a page (templates' .chart-row) at a readable text size

# the accuracy report's groups: one colour per measured metric
METRIC_COLORS = {
    "throughput_per_s": "#1f4e79", "latency_ms": "#e07b00", "tokens_per_s": "#2e8b57",
    "prefill_tokens_per_s": "#6a3d9a", "ttft_ms": "#b22222", "tpot_ms": "#8c564b",
}
PALETTE = {"on-demand": "#1f4e79", "spot": "#e07b00", "reserved-1y": "#2e8b57", "reserved-3y": "#6a3d9a",
           "meets SLO": "#2e8b57", "misses SLO": "#b22222", **METRIC_COLORS, "": "#1f4e79"}
BAND_COLOR, DIAGONAL_COLOR = "#dde8f3", "#555555"


@dataclass(frozen=True)
class ChartData:
    """kind: 'hbar' (labels vs x with error bars), 'scatter' (x vs y, one colour per group) or
    'line' (x vs y per group). ``band`` (scatter/line, e.g. 1.25): draw y = x dashed and the band
    x / band .. x * band shaded behind the points (predicted vs measured)."""

    id: str
    title: str
    kind: str
    x_title: str
    y_title: str
    labels: tuple[str, ...] = ()
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    err_low: tuple[float, ...] = ()
    err_high: tuple[float, ...] = ()
    groups: tuple[str, ...] = ()
    hover: tuple[str, ...] = ()
    highlight: int | None = None  # index of the recommended bar
    caption: str = ""  # what to read from the chart (captions.py), shown under it
    width_px: int = 760  # drawing width; HALF_WIDTH_PX for a chart meant to share a row with another
    log_x: bool = False
    log_y: bool = False
    band: float | None = None
    extra: dict = field(default_factory=dict, hash=False)


# the look of plotly's "simple_white" template, spelled out: the figure is plain plotly.js JSON,
# so the HTML path needs no plotly Python import (about a second cold) and no template lookup
INK = "rgb(36,36,36)"
_AXIS = {"showgrid": False, "showline": True, "linecolor": INK, "ticks": "outside", "tickcolor": INK,
         "zeroline": False, "automargin": True}


def figure_dict(c: ChartData) -> dict:
    """The chart as a plotly.js figure (``{"data": [...], "layout": {...}}``), plain JSON types."""
    data: list[dict] = []
    if c.kind == "hbar":
        data.append({
            "type": "bar", "orientation": "h", "y": list(c.labels), "x": list(c.x), "showlegend": False,
            "marker": {"color": [PALETTE.get(g, PALETTE[""]) for g in c.groups],
                       "line": {"width": [2 if i == c.highlight else 0 for i in range(len(c.labels))], "color": "#111"}},
            "error_x": {"type": "data", "symmetric": False, "array": [h - v for h, v in zip(c.err_high, c.x)],
                        "arrayminus": [v - lo for lo, v in zip(c.err_low, c.x)], "color": "#444", "thickness": 1.2},
            "hovertext": list(c.hover), "hoverinfo": "text"})
        for g in dict.fromkeys(c.groups):  # legend entries for the pricing options shown
            data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": g,
                         "marker": {"color": PALETTE.get(g, PALETTE[""]), "size": 10, "symbol": "square"}})
        height = max(260, 26 * len(c.labels) + 110)
    else:
        mode = "markers" if c.kind == "scatter" else "lines+markers"
        if c.band:
            data += _band_traces(c)
        for g in dict.fromkeys(c.groups):
            idx = [i for i, gg in enumerate(c.groups) if gg == g]
            color = PALETTE.get(g, PALETTE[""])
            trace = {"type": "scatter", "mode": mode, "name": g or c.y_title, "x": [c.x[i] for i in idx],
                     "y": [c.y[i] for i in idx], "marker": {"color": color, "size": 7, "opacity": 0.8},
                     "line": {"color": color}}
            if c.hover:
                trace.update(hovertext=[c.hover[i] for i in idx], hoverinfo="text")
            data.append(trace)
        if c.band:
            lo, hi = diagonal_range(c)
            data.append({"type": "scatter", "mode": "lines", "name": "predicted = measured", "x": [lo, hi],
                         "y": [lo, hi], "line": {"dash": "dash", "color": DIAGONAL_COLOR}, "hoverinfo": "skip"})
        height = 340
    # plotly never wraps a title: break it for a narrow chart (8 px per 14 px glyph) and make room
    lines = textwrap.wrap(c.title, width=max(30, (c.width_px - 40) // 8)) or [""]
    # the legend sits between the title and the plot and wraps into rows upwards: room for each row
    legend = [t["name"] for t in data if t.get("name") and t.get("showlegend", True)]
    rows = legend_grid(legend, c.width_px - 30, px_per_char=6.5, entry_px=40)[1] if len(legend) > 1 else 1
    title, extra_top = "<br>".join(lines), 18 * (len(lines) - 1) + 20 * (rows - 1)
    layout = {
        "title": {"text": title, "x": 0.05, "font": {"size": 14}}, "height": height + extra_top,
        "width": c.width_px, "paper_bgcolor": "white", "plot_bgcolor": "white", "hovermode": "closest",
        "margin": {"l": 10, "r": 20, "t": 50 + extra_top, "b": 40},
        "font": {"family": "Helvetica, Arial, sans-serif", "size": 11, "color": INK},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        "xaxis": {**_AXIS, "title": {"text": c.x_title}, **({"type": "log"} if c.log_x else {})},
        "yaxis": {**_AXIS, "title": {"text": c.y_title}, **({"autorange": "reversed"} if c.kind == "hbar" else {}),
                  **({"type": "log"} if c.log_y else {})},
    }
    return {"data": _json_safe(data), "layout": layout}


def legend_grid(names: Sequence[str], width_px: float, px_per_char: float, entry_px: float) -> tuple[int, int]:
    """(columns, rows) of a horizontal legend of ``names`` across ``width_px``: plotly and matplotlib
    both lay the entries out in columns as wide as the widest entry (symbol and gaps ``entry_px``,
    plus ``px_per_char`` per character of its name). (1, 0) without entries."""
    if not names:
        return 1, 0
    widest = entry_px + px_per_char * max(len(n) for n in names)
    columns = max(1, min(len(names), int(width_px // widest)))
    return columns, math.ceil(len(names) / columns)


def diagonal_range(c: ChartData) -> tuple[float, float]:
    """The x (and y) range of a ``band`` chart's y = x line: the finite positive data, 30% beyond."""
    vals = [v for v in (*c.x, *c.y) if math.isfinite(v) and v > 0] or [1.0]
    return min(vals) / 1.3, max(vals) * 1.3


def _band_traces(c: ChartData) -> list[dict]:
    """The shaded band x / band .. x * band as one filled polygon (no legend, no hover)."""
    lo, hi = diagonal_range(c)
    return [{"type": "scatter", "mode": "lines", "x": [lo, hi, hi, lo, lo],
             "y": [lo * c.band, hi * c.band, hi / c.band, lo / c.band, lo * c.band], "fill": "toself",
             "fillcolor": BAND_COLOR, "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False}]


def _json_safe(v):
    """NaN and infinities are not JSON: plotly.js takes null as a gap, as plotly's encoder writes."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    return v


def figure(c: ChartData):
    """The chart as a plotly ``go.Figure`` (for kaleido's static export)."""
    import plotly.graph_objects as go

    return go.Figure(figure_dict(c))


def _script_json(v) -> str:
    # inside <script>, "</" would end the element early and "<!--" opens a comment: escape both
    return json.dumps(v, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c").replace(">", "\\u003e")


# plotly's tool bar (the "mode bar") floats over the chart's top-right corner, where it covered the
# end of a long title: keep the tools a reader of a cost report uses (download, zoom, pan, reset),
# and give the bar its own strip above the title (MODE_BAR_STRIP_PX) in the interactive chart only
INTERACTIVE_CONFIG = {"displaylogo": False, "responsive": True,
                      "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "zoomIn2d", "zoomOut2d"]}
MODE_BAR_STRIP_PX = 26


def _with_mode_bar_strip(layout: dict) -> dict:
    """``layout`` grown by a MODE_BAR_STRIP_PX strip at the top, the title pinned below it."""
    title = {**layout["title"], "yref": "container", "y": 1.0, "yanchor": "top",
             "pad": {"t": MODE_BAR_STRIP_PX + 8}}
    margin = {**layout["margin"], "t": layout["margin"]["t"] + MODE_BAR_STRIP_PX}
    return {**layout, "title": title, "margin": margin, "height": layout["height"] + MODE_BAR_STRIP_PX}


def interactive_html(c: ChartData) -> str:
    """The interactive chart as an HTML fragment: a div and the ``Plotly.newPlot`` call that fills
    it; plotly.js itself comes once per page from ``plotly_js``."""
    fig = figure_dict(c)
    layout = _with_mode_bar_strip(fig["layout"])
    div_id = f"chart-{c.id}"
    args = ",".join(_script_json(v) for v in (div_id, fig["data"], layout, INTERACTIVE_CONFIG))
    return (f'<div><div id="{html.escape(div_id)}" class="plotly-graph-div" '
            f'style="height:{layout["height"]}px; width:100%;"></div>'
            f'<script type="text/javascript">if (document.getElementById({_script_json(div_id)})) '
            f'{{ Plotly.newPlot({args}); }}</script></div>')


VENDORED_JS = "plotly-basic.min.js"
VENDORED_PLOTLYJS_VERSION = "4.1.1"  # templates/static/README.md: source, licence, checksum


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js library to inline once per HTML report (offline, no CDN).

    The vendored basic bundle holds every trace type ``figure`` draws (bar, scatter); it is used
    only when its version is the one the installed plotly package writes figures for, because
    figure JSON and library must agree. Otherwise the package's full bundle (4.8 MB) is used."""
    from plotly.offline import get_plotlyjs, get_plotlyjs_version

    if get_plotlyjs_version() == VENDORED_PLOTLYJS_VERSION:
        path = resources.files("phantom_report.templates") / "static" / VENDORED_JS
        return path.read_text(encoding="utf-8")
    return get_plotlyjs()


ENGINES = ("auto", "matplotlib", "kaleido", "svgchart")


def engine_setting() -> str:
    """The static chart engine asked for by ``PHANTOM_STATIC_CHARTS`` (default ``auto``)."""
    value = os.environ.get("PHANTOM_STATIC_CHARTS", "auto").strip().lower() or "auto"
    if value not in ENGINES:
        raise PhantomError(f"PHANTOM_STATIC_CHARTS={value!r}: expected one of {', '.join(ENGINES)}")
    return value


def kaleido_running() -> bool:
    """Whether this process already runs kaleido's shared browser (never imports kaleido)."""
    server = getattr(sys.modules.get("kaleido"), "_global_server", None)
    try:
        return bool(server is not None and server.is_running())
    except Exception:  # noqa: BLE001 - an unknown kaleido version: treat as not running
        return False


def start_kaleido() -> None:
    """Start kaleido's browser for this process and draw one blank figure (what actually launches
    Chromium). It stays up until the process exits, so later reports here get it warm: meant for a
    service worker's start-up. Raises when Chromium cannot start."""
    import kaleido

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not kaleido_running():
            kaleido.start_sync_server(silence_warnings=True)
        figure(ChartData(id="warm", title="", kind="line", x_title="", y_title="")).to_image(format="svg")


def stop_kaleido() -> None:
    """Stop this process's kaleido browser if it runs (after a failure: next time starts clean)."""
    if kaleido_running():
        try:
            sys.modules["kaleido"].stop_sync_server(silence_warnings=True)
        except Exception:  # noqa: BLE001 - it is going away either way
            pass


def _matplotlib_loaded() -> bool:
    """Whether this process has imported matplotlib's figure module (then drawing here is cheaper
    than starting a chart child)."""
    return "matplotlib.figure" in sys.modules


class StaticRenderer:
    """Renders ChartData to SVG text with the engine ``engine_setting`` picks (see the module
    docstring); any failure falls back (kaleido -> matplotlib -> svgchart) for the rest of the run.
    ``engine`` says which one drew, ``note`` why it is not the one asked for."""

    def __init__(self, prefer_kaleido: bool = True, background: bool = False, process: bool = False):
        """``background=True`` prepares the engine (imports matplotlib, or boots Chromium for
        ``kaleido``) on a worker thread so it overlaps the prediction and simulation stages; the
        first ``svg`` call waits for it. ``process=True`` (with ``background``) prepares matplotlib
        in a child process instead (reporter/mplchild.py), which draws the charts passed to `svgs`
        at once, so this process never imports matplotlib; not where matplotlib is loaded already
        (a service worker that warmed it up draws faster in process). ``prefer_kaleido=False``
        never uses kaleido."""
        setting = engine_setting()
        self.note = ""
        self._boot: threading.Thread | None = None
        self._drawing: threading.Thread | None = None
        self._child = None
        if setting == "svgchart":
            self.engine = "svgchart"
            return
        want_kaleido = prefer_kaleido and (setting == "kaleido" or (setting == "auto" and kaleido_running()))
        self.engine = "kaleido" if want_kaleido else "matplotlib"
        if process and background and not want_kaleido and not _matplotlib_loaded():
            from phantom_report.reporter import mplchild

            try:
                self._child = mplchild.start()
                return
            except OSError:
                pass  # no child process here: prepare matplotlib in this one
        prepare = self._start_kaleido if want_kaleido else self._import_matplotlib
        if background:
            self._boot = threading.Thread(target=prepare, name="static-charts-boot", daemon=True)
            self._boot.start()
        else:
            prepare()

    def _start_kaleido(self) -> None:
        try:
            start_kaleido()
        except Exception as exc:  # noqa: BLE001 - no Chromium here: draw the same data without it
            self._fall_back(f"kaleido unavailable ({type(exc).__name__})")

    def _import_matplotlib(self) -> None:
        try:
            from phantom_report.reporter import mplchart

            mplchart.warm_up()
        except Exception as exc:  # noqa: BLE001 - matplotlib missing or broken
            self.engine = "svgchart"
            self.note = f"matplotlib unavailable ({type(exc).__name__}); charts drawn by the built-in SVG writer"

    def _fall_back(self, why: str) -> None:
        stop_kaleido()
        self.engine = "matplotlib"
        self._import_matplotlib()
        self.note = f"{why}; charts drawn by {self.engine}" + (f" ({self.note})" if self.note else "")

    def svgs(self, charts: Sequence[ChartData]) -> list[str]:
        """The SVG text of each of ``charts``: from the chart child when there is one (drawn in
        process, as `svg` does, if it fails), else one `svg` call per chart."""
        if not charts:
            return []  # an unused child stays for close() to stop
        if self._child is not None and self.engine == "matplotlib":
            from phantom_report.reporter import mplchild

            child, self._child = self._child, None
            try:
                return mplchild.render_all(child, charts)
            except Exception:  # noqa: BLE001 - the same charts, drawn here instead
                pass
        return [self.svg(c) for c in charts]

    def begin(self, charts: Sequence[ChartData]) -> Callable[[], list[str]]:
        """Start drawing ``charts`` and return at once; calling the result waits for their SVG
        texts (as `svgs` gives them). With a chart child the drawing runs there while the caller
        goes on (a thread sends the request and reads the answer), else it runs at the call."""
        if self._child is None or self.engine != "matplotlib" or not charts:
            return lambda: self.svgs(charts)  # no charts: the unused child is stopped by close()
        box: dict[str, list[str]] = {}

        def talk() -> None:
            try:
                box["svgs"] = self.svgs(charts)
            except BaseException:  # noqa: BLE001 - svgs falls back itself; anything else: drawn at the call
                pass

        thread = threading.Thread(target=talk, name="static-charts", daemon=True)
        thread.start()
        self._drawing = thread  # close() waits for it: a run that failed meanwhile leaves no child behind

        def result() -> list[str]:
            thread.join()
            return box["svgs"] if "svgs" in box else self.svgs(charts)
        return result

    def svg(self, c: ChartData) -> str:
        """The SVG text of ``c``."""
        if self._boot is not None:
            self._boot.join()
            self._boot = None
        if self.engine == "kaleido":
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = figure(c).to_image(format="svg")
                return out.decode("utf-8") if isinstance(out, bytes) else out
            except Exception as exc:  # noqa: BLE001
                self._fall_back(f"kaleido failed ({type(exc).__name__}: {html.escape(str(exc))[:120]})")
        if self.engine == "matplotlib":
            from phantom_report.reporter import mplchart

            try:
                return mplchart.render(c)
            except Exception as exc:  # noqa: BLE001 - a bug, but the PDF must still show the data
                self.engine = "svgchart"
                self.note = f"matplotlib failed ({type(exc).__name__}); charts drawn by the built-in SVG writer"
        from phantom_report.reporter import svgchart

        return svgchart.render(c)

    def close(self) -> None:
        """Wait for a background start. A kaleido browser is left running: it belongs to the
        process (kaleido stops it at exit) so that the next report in a service worker finds it warm.
        A chart child that was not used is stopped; charts being drawn (`begin`) are waited for."""
        if self._drawing is not None and self._drawing is not threading.current_thread():
            self._drawing.join()
            self._drawing = None
        if self._child is not None:
            from phantom_report.reporter import mplchild

            mplchild.stop(self._child)
            self._child = None
        if self._boot is not None:
            self._boot.join()
            self._boot = None
