"""Presents the accuracy validation report: the engine's data (engine/validation_report.build_context)
rendered as HTML (offline interactive plotly charts) or PDF (static SVG charts).

One template environment (reporter/templating.make_env: sandboxed, autoescaped, limited, the user's
template directory first, ``default:validation.html.j2`` for the built-in), one plotly.js bundle
(reporter/charts.plotly_js) and one PDF path (reporter/pdf.html_to_pdf: child process, time limit,
safe URL fetcher), as for the run reports. PDF = the same template with ``static=True`` (inline SVG
scatter plots instead of plotly, which WeasyPrint cannot run).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from markupsafe import Markup

from phantom_report.atomic import write_atomic
from phantom_report.errors import TemplateError
from phantom_report.numfmt import num
from phantom_report.reporter import templating
from phantom_report.reporter.pdf import html_to_pdf

TEMPLATE = "validation.html.j2"
METRIC_COLORS = {
    "throughput_per_s": "#1f4e79", "latency_ms": "#e07b00", "tokens_per_s": "#2e8b57",
    "prefill_tokens_per_s": "#6a3d9a", "ttft_ms": "#b22222", "tpot_ms": "#8c564b",
}


def _tick(v: float) -> str:
    return num(v, missing="—")


def svg_scatter(frame: pd.DataFrame, title: str, width: int = 330, height: int = 280) -> str:
    """Log-log predicted-vs-measured scatter with the y = x line and a +-25% band, as inline SVG."""
    x = frame["value"].to_numpy(dtype=float)
    y = frame["predicted"].to_numpy(dtype=float)
    lo = math.log10(max(min(x.min(), y.min()), 1e-9)) - 0.1
    hi = math.log10(max(x.max(), y.max())) + 0.1
    pad_l, pad_b, pad_t, pad_r = 46, 34, 22, 8
    pw, ph = width - pad_l - pad_r, height - pad_t - pad_b

    def sx(v: float) -> float:
        return pad_l + (math.log10(v) - lo) / (hi - lo) * pw

    def sy(v: float) -> float:
        return pad_t + ph - (math.log10(v) - lo) / (hi - lo) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="9">',
             f'<text x="{width / 2}" y="13" text-anchor="middle" font-size="11" font-weight="bold">'
             f'{html.escape(title)}</text>',
             f'<rect x="{pad_l}" y="{pad_t}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#999"/>']
    a, b = 10 ** lo, 10 ** hi
    band = [(a, a * 1.25), (b, b * 1.25), (b, b / 1.25), (a, a / 1.25)]
    parts.append('<polygon fill="#dde8f3" points="' + " ".join(
        f"{sx(px):.1f},{sy(min(max(py, a), b)):.1f}" for px, py in band) + '"/>')
    parts.append(f'<line x1="{sx(a):.1f}" y1="{sy(a):.1f}" x2="{sx(b):.1f}" y2="{sy(b):.1f}" stroke="#555" '
                 'stroke-dasharray="3,2"/>')
    for e in range(math.ceil(lo), math.floor(hi) + 1):
        v = 10.0 ** e
        parts.append(f'<text x="{sx(v):.1f}" y="{pad_t + ph + 12}" text-anchor="middle">{_tick(v)}</text>')
        parts.append(f'<text x="{pad_l - 3}" y="{sy(v) + 3:.1f}" text-anchor="end">{_tick(v)}</text>')
    parts.append(f'<text x="{pad_l + pw / 2}" y="{height - 4}" text-anchor="middle">measured</text>')
    parts.append(f'<text x="10" y="{pad_t + ph / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 10 {pad_t + ph / 2})">predicted</text>')
    for xv, yv, m in zip(x, y, frame["metric"]):
        color = METRIC_COLORS.get(m, "#333")
        parts.append(f'<circle cx="{sx(xv):.1f}" cy="{sy(min(max(yv, a), b)):.1f}" r="2.2" fill="{color}" '
                     'fill-opacity="0.75"/>')
    parts.append("</svg>")
    return "".join(parts)


def plotly_scatter(frame: pd.DataFrame, title: str, div_id: str) -> str:
    """Interactive version of `svg_scatter` (plotly.js is embedded once by the template)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for metric, part in frame.groupby("metric"):
        # html.escape: model and source names come from the user's CSV and plotly hover text is HTML
        hover = [html.escape(f"{r.model} · {r.precision} · batch {r.batch_size} · {r.runtime}") + "<br>"
                 + html.escape(str(r.source)) + f"<br>APE {100 * r.ape:.1f}%" for r in part.itertuples()]
        fig.add_trace(go.Scatter(x=part["value"], y=part["predicted"], mode="markers", name=metric,
                                 text=hover, hovertemplate="measured %{x:.4g}<br>predicted %{y:.4g}<br>%{text}",
                                 marker={"color": METRIC_COLORS.get(metric, "#333"), "size": 6, "opacity": 0.75}))
    lo = float(min(frame["value"].min(), frame["predicted"].min())) / 1.3
    hi = float(max(frame["value"].max(), frame["predicted"].max())) * 1.3
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="predicted = measured",
                             line={"dash": "dash", "color": "#555"}))
    fig.update_layout(title=title, xaxis_type="log", yaxis_type="log", xaxis_title="measured",
                      yaxis_title="predicted", height=360, margin={"l": 50, "r": 10, "t": 40, "b": 40},
                      legend={"font": {"size": 10}})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)


def present(data: Mapping[str, Any], static: bool) -> dict[str, Any]:
    """The template context: the engine's data plus the drawn charts, the legend and (HTML only)
    the vendored plotly.js bundle (scatter is all this report draws: 1.2 MB, not 4.8)."""
    charts = []
    for i, c in enumerate(data["charts"]):
        frame = pd.DataFrame(c["points"])
        charts.append({**c, "svg": Markup(svg_scatter(frame, c["title"])) if static else "",
                       "plotly_html": "" if static else Markup(plotly_scatter(frame, c["title"], f"scatter-{i}"))})
    plotly_js = ""
    if not static:
        from phantom_report.reporter.charts import plotly_js as vendored_plotly_js

        plotly_js = Markup(vendored_plotly_js())
    legend = [{"metric": m, "color": col} for m, col in METRIC_COLORS.items() if m in set(data.get("metrics", ()))]
    return {**data, "static": static, "charts": charts, "plotly_js": plotly_js, "legend": legend}


def write_validation_report(data: Mapping[str, Any], path: Path, fmt: str, template_dir: Path | None = None) -> Path:
    """Render ``validation.html.j2`` (the user's ``template_dir`` first) and write HTML or PDF
    atomically (temp file + rename); a template error is one TemplateError line."""
    if template_dir is not None and not template_dir.is_dir():
        raise TemplateError(f"template directory {str(template_dir)[:200]} does not exist")
    env = templating.make_env(template_dir)
    text = templating.render(env, TEMPLATE, present(data, static=fmt == "pdf"))
    if fmt == "pdf":
        dirs = templating.template_dirs(env)
        return write_atomic(path, html_to_pdf(text, dirs[0], dirs))
    return write_atomic(path, text)
