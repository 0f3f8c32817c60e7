"""The accuracy validation report (HTML with offline plotly charts, PDF with static SVG charts).

Builds one context dict from validation results and renders `templates/validation.html.j2` in a
Jinja2 SandboxedEnvironment with autoescape. Every number is formatted here: the template only
presents. PDF = the same template with `static=True` (inline SVG scatter plots instead of plotly,
which WeasyPrint cannot run), printed by WeasyPrint.

Context fields: title, generated_at, mode (`cross-validation` | `user data`), static, confidence_pct,
calibration {version, fitted_at, n_rows, n_params}, corpus {rows, rejected, files, sources, gpus,
models}, schemes [{key, title, n_folds, seconds, summary{n, median_ape, mape, within_10pct,
within_25pct, coverage, median_log_bias}}], breakdowns [{title, column, rows [{label, ...summary}]}],
charts [{gpu, n, svg, plotly_html}], rejected / unpredictable [{row_id, gpu, model, metric, reason}],
rows [{row_id, gpu, model, metric, value, predicted, low, high, ape, inside}] (user data only),
legend [{metric, color}], plotly_js, methodology [str].
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import jinja2
import pandas as pd
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from phantom_report.atomic import write_atomic
from phantom_report.engine.intervals import MIN_ROWS_PER_GROUP as MIN_ROWS_PER_INTERVAL_GROUP
from phantom_report.engine.validation import BREAKDOWNS, SCHEME_TITLES
from phantom_report.errors import PhantomError

TEMPLATE = "validation.html.j2"
_METRIC_COLORS = {
    "throughput_per_s": "#1f4e79", "latency_ms": "#e07b00", "tokens_per_s": "#2e8b57",
    "prefill_tokens_per_s": "#6a3d9a", "ttft_ms": "#b22222", "tpot_ms": "#8c564b",
}


def pct(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * float(x):.1f}%"


def num(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    x = float(x)
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def format_summary(s: Mapping[str, Any]) -> dict[str, str]:
    return {
        "n": str(s.get("n", 0)), "median_ape": pct(s.get("median_ape")), "mape": pct(s.get("mape")),
        "within_10pct": pct(s.get("within_10pct")), "within_25pct": pct(s.get("within_25pct")),
        "coverage": pct(s.get("coverage")),
        "median_log_bias": "—" if s.get("median_log_bias") is None else f"{float(s['median_log_bias']):+.3f}",
    }


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
        parts.append(f'<text x="{sx(v):.1f}" y="{pad_t + ph + 12}" text-anchor="middle">{num(v)}</text>')
        parts.append(f'<text x="{pad_l - 3}" y="{sy(v) + 3:.1f}" text-anchor="end">{num(v)}</text>')
    parts.append(f'<text x="{pad_l + pw / 2}" y="{height - 4}" text-anchor="middle">measured</text>')
    parts.append(f'<text x="10" y="{pad_t + ph / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 10 {pad_t + ph / 2})">predicted</text>')
    for xv, yv, m in zip(x, y, frame["metric"]):
        color = _METRIC_COLORS.get(m, "#333")
        parts.append(f'<circle cx="{sx(xv):.1f}" cy="{sy(min(max(yv, a), b)):.1f}" r="2.2" fill="{color}" '
                     'fill-opacity="0.75"/>')
    parts.append("</svg>")
    return "".join(parts)


def plotly_scatter(frame: pd.DataFrame, title: str, div_id: str) -> str:
    """Interactive version of `svg_scatter` (plotly.js is embedded once by the template)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for metric, part in frame.groupby("metric"):
        hover = [f"{r.model} · {r.precision} · batch {r.batch_size} · {r.runtime}<br>{r.source}<br>"
                 f"APE {100 * r.ape:.1f}%" for r in part.itertuples()]
        fig.add_trace(go.Scatter(x=part["value"], y=part["predicted"], mode="markers", name=metric,
                                 text=hover, hovertemplate="measured %{x:.4g}<br>predicted %{y:.4g}<br>%{text}",
                                 marker={"color": _METRIC_COLORS.get(metric, "#333"), "size": 6, "opacity": 0.75}))
    lo = float(min(frame["value"].min(), frame["predicted"].min())) / 1.3
    hi = float(max(frame["value"].max(), frame["predicted"].max())) * 1.3
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="predicted = measured",
                             line={"dash": "dash", "color": "#555"}))
    fig.update_layout(title=title, xaxis_type="log", yaxis_type="log", xaxis_title="measured",
                      yaxis_title="predicted", height=360, margin={"l": 50, "r": 10, "t": 40, "b": 40},
                      legend={"font": {"size": 10}})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)


def _charts(frame: pd.DataFrame, static: bool) -> list[dict[str, Any]]:
    out = []
    for i, (gpu, part) in enumerate(frame.groupby("gpu", sort=True)):
        title = f"{gpu} ({len(part)} rows)"
        out.append({
            "gpu": gpu, "n": len(part),
            "svg": Markup(svg_scatter(part, title)) if static else "",
            "plotly_html": "" if static else Markup(plotly_scatter(part, title, f"scatter-{i}")),
        })
    return out


def _listing(frame: pd.DataFrame) -> list[dict[str, str]]:
    cols = ("row_id", "gpu", "model", "metric", "reason")
    return [{c: str(r.get(c, "")) for c in cols} for r in frame.to_dict("records")]


def build_context(
    *, mode: str, confidence: float, calibration: Mapping[str, Any], corpus: Mapping[str, Any],
    results: Sequence[Any], chart_frame: pd.DataFrame, rejected: pd.DataFrame, unpredictable: pd.DataFrame,
    static: bool, user_summary: Mapping[str, Any] | None = None, user_breakdowns: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """`results`: CvResult objects (cross-validation), or empty with user_summary for user data."""
    schemes = [{
        "key": r.scheme, "title": f"{SCHEME_TITLES[r.scheme]} ({r.refit} refit)", "n_folds": r.n_folds, "seconds": f"{r.seconds:.0f}",
        "summary": format_summary(r.summary),
    } for r in results]
    if user_summary is not None:
        schemes.append({"key": "user", "title": "your measurements, shipped parameters (no refit)",
                        "n_folds": "—", "seconds": "—", "summary": format_summary(user_summary)})
    source = results[0].breakdowns if results else (user_breakdowns or {})
    breakdowns = []
    for col in BREAKDOWNS:
        table = source.get(col)
        if table is None or table.empty:
            continue
        rows = [{"label": str(r[col]), **format_summary(r)} for r in table.to_dict("records")]
        breakdowns.append({"title": f"per {col}", "column": col, "rows": rows})
    rows = []
    if mode == "user data":
        for r in chart_frame.to_dict("records"):
            rows.append({"row_id": r["row_id"], "gpu": r["gpu"], "model": r["model"], "metric": r["metric"],
                         "value": num(r["value"]), "predicted": num(r["predicted"]), "low": num(r["low"]),
                         "high": num(r["high"]), "ape": pct(r["ape"]), "inside": "yes" if r["inside"] else "no"})
    plotly_js = ""
    if not static:  # the vendored basic bundle (scatter is all this report draws), 1.2 MB not 4.8
        from phantom_report.reporter.charts import plotly_js as vendored_plotly_js

        plotly_js = Markup(vendored_plotly_js())
    headline = results[0].scheme if results else "user"
    return {
        "title": "Accuracy validation report", "mode": mode, "static": static, "headline": headline,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "confidence_pct": f"{100 * confidence:.0f}%",
        "calibration": {k: str(calibration.get(k, "")) for k in ("version", "fitted_at", "n_rows", "n_params")},
        "corpus": {k: str(v) for k, v in corpus.items()},
        "schemes": schemes, "breakdowns": breakdowns, "charts": _charts(chart_frame, static),
        "rejected": _listing(rejected), "unpredictable": _listing(unpredictable), "rows": rows,
        "plotly_js": plotly_js,
        "legend": [{"metric": m, "color": c} for m, c in _METRIC_COLORS.items()
                   if m in set(chart_frame.get("metric", pd.Series(dtype=str)))],
        "methodology": [
            "APE = |predicted − measured| / measured, on each row's own metric and unit; "
            "prefill_tokens_per_s is compared as batch × seq_in / predicted TTFT.",
            "Cross-validation refits every fold from the uncalibrated defaults on the other folds' rows "
            "(warm-started from the full fit), so no row of the held-out group informs its prediction.",
            f"Interval: prediction × exp(±q), q = split-conformal {100 * confidence:.0f}% quantile of held-out "
            "|log(predicted/measured)|, Mondrian by the row's task and metric and by its novelty level (how many "
            "other rows share its runtime, GPU architecture and model family; engine/novelty.py), each cell with "
            f"too few rows falling back to the level's, the task/metric's ({MIN_ROWS_PER_INTERVAL_GROUP}+ rows) or the "
            "pooled table; a row's width is the widest of its level's, every lower level's and its runtime's own "
            "(runtimes with enough held-out rows). In cross-validation "
            "a row's novelty and its q come from the other folds only; the shipped intervals are calibrated on "
            "leave-one-source-out residuals. Rows outside the other folds' support (no rows of their runtime on "
            "that architecture, a batch beyond the largest measured, ...) are flagged as extrapolated.",
            "Rows that cannot be interpreted (unknown GPU or model, missing batch size, ...) or priced by the "
            "predictor are listed with the reason below, never dropped silently.",
        ],
    }


def _env() -> SandboxedEnvironment:
    root = Path(str(resources.files("phantom_report.templates")))
    return SandboxedEnvironment(loader=jinja2.FileSystemLoader(str(root)), autoescape=True,
                                undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(context: Mapping[str, Any]) -> str:
    try:
        return _env().get_template(TEMPLATE).render(**context)
    except jinja2.TemplateError as exc:
        raise PhantomError(f"{TEMPLATE}: {exc}") from None


def write_report(context: Mapping[str, Any], path: Path, fmt: str) -> Path:
    """Write HTML or PDF atomically (temp file + rename)."""
    text = render_html(context)
    if fmt == "pdf":
        from weasyprint import HTML

        return write_atomic(path, HTML(string=text).write_pdf())
    return write_atomic(path, text)
