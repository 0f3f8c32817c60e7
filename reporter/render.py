"""The output formats: one registered renderer per format, turning a run's context into file bytes.

``RENDERERS`` maps a format name (``vocab.REPORT_FORMATS``: html, pdf, md, json, csv) to an
``OutputFormat``: its file name, media type (the service's download and the e-mail attachment use
it) and the function that renders it. ``run.py`` renders every requested format in memory first;
reporter.outputs writes the set only when every format succeeded, all-or-nothing. A new format is
one ``register(OutputFormat(...))`` here and its name in ``vocab.REPORT_FORMATS``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from phantom_report.jsonsafe import to_jsonable
from phantom_report.reporter import templating
from phantom_report.reporter import pdf as pdf_mod
from phantom_report.reporter.pdf import html_to_pdf

# report.csv's columns, in order: the economics stage's `rows` frame (a column the frame lacks is left out)
CSV_COLUMNS = [
    "workload", "task", "gpu", "precision", "batch_size", "gpu_count", "provider", "region", "instance_type",
    "instance_gpus", "option", "usd_per_instance_hour", "usd_per_gpu_hour", "overhead", "spot_interruption_bucket",
    "spot_overhead", "spot_placement_score", "spot_risk_basis", "price_source",
    "price_sku_ids",
    "latency_ms", "latency_ms_low", "latency_ms_high", "throughput_per_s", "ttft_ms", "tpot_ms",
    "per_stream_tokens_per_s", "tokens_per_request", "latency_ms_p95", "meets_slo", "slo_probability", "slo_confidence", "reason",
    "fleet_ok", "replicas", "replicas_needed", "replicas_low",
    "replicas_high", "instances", "gpus", "gpus_low", "gpus_high", "monthly_cost_usd", "monthly_cost_usd_low",
    "monthly_cost_usd_high", "unit", "unit_cost_usd", "unit_cost_usd_low", "unit_cost_usd_high",
    "cost_per_1m_tokens_usd", "cost_per_1k_inferences_usd", "cost_per_training_run_usd", "run_hours",
    "units_per_usd", "units_per_usd_label", "energy_kwh_per_month", "energy_kwh_per_month_low",
    "energy_kwh_per_month_high", "energy_j_per_sample", "busy_gpu_hours_per_month", "idle_gpu_hours_per_month",
    "idle_power_w", "idle_power_estimated", "grid_kgco2e_per_kwh", "pue", "carbon_kgco2e_per_month",
    "carbon_kgco2e_per_month_low", "carbon_kgco2e_per_month_high", "baseline_monthly_cost_usd",
    "savings_usd_per_month", "savings_usd_per_month_low", "savings_usd_per_month_high", "savings_pct",
    "commitment_months", "cost_over_horizon_usd", "savings_over_horizon_usd", "owned_gpus", "purchase_usd",
    "owned_usd_per_month", "buy_breakeven_months", "buy_breakeven_text",
    "availability_regions", "availability_providers",
]


@dataclass(frozen=True)
class RenderInput:
    """Everything a renderer may use: the template context (``context_types.template_dict`` of
    the run's ReportContext), report.json's payload (``timings_s`` filled only for renderers with
    ``after_timings``), the economics ``rows`` frame (columns ``CSV_COLUMNS``), the sandboxed Jinja
    environment with the run's entry template, and the PDF child process started early (or None)."""

    context: Mapping[str, Any]
    payload: Mapping[str, Any]
    rows: pd.DataFrame
    env: Any
    entry: str
    pdf_child: Any = None


@dataclass(frozen=True)
class OutputFormat:
    """One output format: ``render`` turns a RenderInput into the bytes of ``file_name``, served as
    ``media_type``. ``after_timings``: rendered in the write stage, once the stage timings are known
    (report.json carries them); the others render in the render stage. ``begin``, when set, starts
    the same render in the background and returns a pending render (``result()`` waits for the
    bytes, ``cancel()`` abandons it): run.py begins such formats first, so the PDF's layout (in its
    child process) overlaps the other renders."""

    name: str
    file_name: str
    media_type: str
    render: Callable[[RenderInput], bytes]
    after_timings: bool = False
    begin: Callable[[RenderInput], Any] | None = None


RENDERERS: dict[str, OutputFormat] = {}


def register(fmt: OutputFormat) -> OutputFormat:
    """Add (or replace) the renderer of ``fmt.name``; returns it."""
    RENDERERS[fmt.name] = fmt
    return fmt


def unregister(name: str) -> None:
    """Remove a registered format (tests that register their own)."""
    RENDERERS.pop(name, None)


def media_type(name: str) -> str:
    """The media type of format ``name`` (``text/html``, ``application/pdf``, ...)."""
    return RENDERERS[name].media_type


def svg_data_uri(svg: str) -> str:
    """SVG text as a base64 ``data:image/svg+xml`` URI (the PDF's static charts)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def payload_from_context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The context without presentation-only markup (charts, plotly.js)."""
    # to_jsonable builds new dicts and lists all the way down, so only the containers changed here
    # are copied (a deep copy of the whole context took 3-4x as long: ~10 ms against ~3 ms, quickstart)
    data = {k: v for k, v in ctx.items() if k != "plotly_js"}
    if "workloads" in data:
        data["workloads"] = [{**w, "charts": {k: {"id": v["id"], "title": v["title"], "caption": v.get("caption", ""),
                                                  "data": v.get("data")} for k, v in w.get("charts", {}).items()}}
                             for w in data["workloads"]]
    data["report"] = {k: v for k, v in data["report"].items() if k != "logo"}
    return to_jsonable(data)


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    """report.json's bytes: ``payload`` indented, UTF-8, newline-terminated (non-JSON values as text)."""
    return (json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def csv_bytes(rows: pd.DataFrame, columns: list[str]) -> bytes:
    """``rows`` as CSV with the ``columns`` it has, in that order, floats to 6 significant digits."""
    cols = [c for c in columns if c in rows.columns]
    return rows[cols].to_csv(index=False, float_format="%.6g").encode("utf-8")


def render_template(env, name: str, ctx: Mapping[str, Any]) -> str:
    """Render template ``name`` of ``env`` with ``ctx`` under the template limits (reporter/templating.py)."""
    return templating.render(env, name, ctx)


def for_output(ctx: Mapping[str, Any], output: str) -> dict[str, Any]:
    """The context as rendered for ``output`` (``report.output``); HTML and PDF get the charts'
    HTML as markup (it is the chart module's own plotly div, not user text)."""
    from markupsafe import Markup

    out = {**ctx, "report": {**ctx["report"], "output": output}}
    if output in ("html", "pdf"):
        out["workloads"] = [{**w, "charts": {k: {**c, "html": Markup(c["html"])} for k, c in w["charts"].items()}}
                            for w in ctx["workloads"]]
    return out


def _html(inp: RenderInput) -> bytes:
    from markupsafe import Markup

    from phantom_report.reporter.charts import plotly_js

    ctx = {**for_output(inp.context, "html"), "plotly_js": Markup(plotly_js())}
    return render_template(inp.env, inp.entry, ctx).encode("utf-8")


def _pdf(inp: RenderInput) -> bytes:
    html = render_template(inp.env, inp.entry, for_output(inp.context, "pdf"))
    dirs = templating.template_dirs(inp.env)
    return html_to_pdf(html, dirs[0], dirs, child=inp.pdf_child)


def _begin_pdf(inp: RenderInput) -> pdf_mod.PendingPdf:
    html = render_template(inp.env, inp.entry, for_output(inp.context, "pdf"))
    dirs = templating.template_dirs(inp.env)
    return pdf_mod.submit(html, dirs[0], dirs, child=inp.pdf_child)


def _md(inp: RenderInput) -> bytes:
    return render_template(inp.env, "report.md.j2", for_output(inp.context, "md")).encode("utf-8")


def _json(inp: RenderInput) -> bytes:
    return json_bytes(inp.payload)


def _csv(inp: RenderInput) -> bytes:
    return csv_bytes(inp.rows, CSV_COLUMNS) if len(inp.rows) else b""


for _fmt in (OutputFormat("html", "report.html", "text/html", _html),
             OutputFormat("pdf", "report.pdf", "application/pdf", _pdf, begin=_begin_pdf),
             OutputFormat("md", "report.md", "text/markdown", _md),
             OutputFormat("json", "report.json", "application/json", _json, after_timings=True),
             OutputFormat("csv", "report.csv", "text/csv", _csv)):
    register(_fmt)
