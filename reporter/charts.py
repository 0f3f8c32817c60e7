"""Charts: one small data description per chart, drawn two ways.

* interactive: a plotly figure as an HTML fragment (plotly.js is embedded once per report by the
  template, from the installed plotly package, so the HTML works offline);
* static SVG for the PDF: plotly through kaleido (headless Chromium) when it starts here, else the
  small SVG writer in ``svgchart.py``. Which one ran is recorded in the report's methodology.
"""

from __future__ import annotations

import html
import os
import threading
import warnings
from dataclasses import dataclass, field

PALETTE = {"on-demand": "#1f4e79", "spot": "#e07b00", "reserved-1y": "#2e8b57", "reserved-3y": "#6a3d9a",
           "meets SLO": "#2e8b57", "misses SLO": "#b22222", "": "#1f4e79"}


@dataclass(frozen=True)
class ChartData:
    """kind: 'hbar' (labels vs x with error bars), 'scatter' (x vs y, one colour per group) or
    'line' (x vs y per group)."""

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
    log_x: bool = False
    extra: dict = field(default_factory=dict, hash=False)


def figure(c: ChartData):
    import plotly.graph_objects as go

    fig = go.Figure()
    if c.kind == "hbar":
        colors = [PALETTE.get(g, "#1f4e79") for g in c.groups]
        lines = [2 if i == c.highlight else 0 for i in range(len(c.labels))]
        fig.add_bar(
            y=list(c.labels), x=list(c.x), orientation="h", marker=dict(color=colors, line=dict(width=lines, color="#111")),
            error_x=dict(type="data", symmetric=False, array=[h - v for h, v in zip(c.err_high, c.x)],
                         arrayminus=[v - lo for lo, v in zip(c.err_low, c.x)], color="#444", thickness=1.2),
            hovertext=list(c.hover), hoverinfo="text", showlegend=False,
        )
        for g in dict.fromkeys(c.groups):  # legend entries for the pricing options shown
            fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(color=PALETTE.get(g, "#1f4e79"), size=10, symbol="square"), name=g)
        fig.update_yaxes(autorange="reversed")
        height = max(260, 26 * len(c.labels) + 110)
    else:
        mode = "markers" if c.kind == "scatter" else "lines+markers"
        for g in dict.fromkeys(c.groups):
            idx = [i for i, gg in enumerate(c.groups) if gg == g]
            fig.add_scatter(x=[c.x[i] for i in idx], y=[c.y[i] for i in idx], mode=mode, name=g or c.y_title,
                            marker=dict(color=PALETTE.get(g, None), size=7, opacity=0.8),
                            hovertext=[c.hover[i] for i in idx] if c.hover else None, hoverinfo="text" if c.hover else None)
        height = 340
    fig.update_layout(
        title=dict(text=c.title, font=dict(size=14)), template="simple_white", height=height, width=760,
        margin=dict(l=10, r=20, t=50, b=40), font=dict(family="Helvetica, Arial, sans-serif", size=11),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        xaxis_title=c.x_title, yaxis_title=c.y_title,
    )
    if c.log_x:
        fig.update_xaxes(type="log")
    return fig


def interactive_html(c: ChartData) -> str:
    return figure(c).to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{c.id}",
                             config={"displaylogo": False, "responsive": True})


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


class StaticRenderer:
    """Renders ChartData to SVG text. Tries kaleido once (one Chromium for all charts); on any
    failure falls back to svgchart for the rest of the run. ``engine`` says which one drew."""

    def __init__(self, prefer_kaleido: bool = True, background: bool = False):
        """``background=True`` boots Chromium on a worker thread (it takes ~1.5 s) so it overlaps
        the prediction and simulation stages; the first ``svg`` call waits for it."""
        self.engine = "svgchart"
        self.note = ""
        self._kaleido = False
        self._boot: threading.Thread | None = None
        if prefer_kaleido and os.environ.get("PHANTOM_STATIC_CHARTS", "kaleido") == "kaleido":
            if background:
                self._boot = threading.Thread(target=self._start, name="kaleido-boot", daemon=True)
                self._boot.start()
            else:
                self._start()

    def _start(self) -> None:
        try:
            import kaleido

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kaleido.start_sync_server(silence_warnings=True)
                self._kaleido = True
                self.engine = "kaleido"
                # render a blank figure: this is what actually launches Chromium
                figure(ChartData(id="warm", title="", kind="line", x_title="", y_title="")).to_image(format="svg")
        except Exception as exc:  # no Chromium here: the fallback is an honest SVG of the same data
            self.close()
            self.engine = "svgchart"
            self.note = f"kaleido unavailable ({type(exc).__name__}); charts drawn by the built-in SVG writer"

    def svg(self, c: ChartData) -> str:
        if self._boot is not None:
            self._boot.join()
            self._boot = None
        if self._kaleido:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = figure(c).to_image(format="svg")
                return out.decode("utf-8") if isinstance(out, bytes) else out
            except Exception as exc:
                self.close()
                self.engine = "svgchart"
                self.note = f"kaleido failed ({type(exc).__name__}: {html.escape(str(exc))[:120]}); charts drawn by the built-in SVG writer"
        from phantom_report.reporter import svgchart

        return svgchart.render(c)

    def close(self) -> None:
        if self._boot is not None:
            self._boot.join()
            self._boot = None
        if self._kaleido:
            try:
                import kaleido

                kaleido.stop_sync_server(silence_warnings=True)
            except Exception:
                pass
            self._kaleido = False
