"""Presents the accuracy validation report: the engine's data (engine/validation_report.build_context)
rendered as HTML (offline interactive plotly charts) or PDF (static SVG charts).

One template environment (reporter/templating.make_env: sandboxed, autoescaped, limited, the user's
template directory first, ``default:validation.html.j2`` for the built-in), one plotly.js bundle
(reporter/charts.plotly_js) and one PDF path (reporter/pdf.html_to_pdf: child process, time limit,
safe URL fetcher) and one chart path (reporter/charts.py: ``ChartData`` drawn as plotly.js for
HTML, as static SVG by ``StaticRenderer`` for PDF), as for the run reports. PDF = the same
template with ``static=True`` (static SVG charts instead of plotly, which WeasyPrint cannot run).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from markupsafe import Markup

from phantom_report.atomic import write_atomic
from phantom_report.errors import TemplateError
from phantom_report.reporter import templating
from phantom_report.reporter.charts import (HALF_WIDTH_PX, METRIC_COLORS, ChartData, StaticRenderer, interactive_html,
                                            plotly_js as vendored_plotly_js)
from phantom_report.reporter.pdf import html_to_pdf
from phantom_report.reporter.render import svg_data_uri

TEMPLATE = "validation.html.j2"
BAND = 1.25  # the shaded band: predicted within ±25% of measured, the report's headline threshold


def chart_data(chart: Mapping[str, Any], index: int) -> ChartData:
    """One GPU's predicted-vs-measured scatter (log-log, one colour per metric, y = x and the ±25%
    band) as the report's charts are described: drawn by reporter/charts.py for HTML and by its
    StaticRenderer for PDF."""
    frame = pd.DataFrame(chart["points"])
    # html.escape: model and source names come from the user's CSV and plotly hover text is HTML
    hover = tuple(html.escape(f"{r.model} · {r.precision} · batch {r.batch_size} · {r.runtime}") + "<br>"
                  + html.escape(str(r.source)) + f"<br>measured {r.value:.4g}, predicted {r.predicted:.4g}"
                  f"<br>APE {100 * r.ape:.1f}%" for r in frame.itertuples())
    return ChartData(id=f"scatter-{index}", title=chart["title"], kind="scatter", x_title="measured",
                     y_title="predicted", x=tuple(float(v) for v in frame["value"]),
                     y=tuple(float(v) for v in frame["predicted"]), groups=tuple(str(m) for m in frame["metric"]),
                     hover=hover, log_x=True, log_y=True, band=BAND, width_px=HALF_WIDTH_PX)


def present(data: Mapping[str, Any], static: bool) -> dict[str, Any]:
    """The template context: the engine's data plus the drawn charts (``svg``: an ``<img>`` of the
    static SVG for the PDF; ``plotly_html``: the interactive chart for HTML), the legend and (HTML
    only) the vendored plotly.js bundle (scatter is all this report draws: 1.2 MB, not 4.8)."""
    charts = []
    renderer = StaticRenderer() if static else None
    try:
        for i, c in enumerate(data["charts"]):
            cd = chart_data(c, i)
            svg = plotly_html = ""
            if renderer is not None:
                svg = Markup('<img class="chart-svg" style="width:100%;height:auto" alt="{}" src="{}">').format(
                    c["title"], svg_data_uri(renderer.svg(cd)))
            else:
                plotly_html = Markup(interactive_html(cd))
            charts.append({**c, "svg": svg, "plotly_html": plotly_html})
    finally:
        if renderer is not None:
            renderer.close()
    plotly_js = "" if static else Markup(vendored_plotly_js())
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
