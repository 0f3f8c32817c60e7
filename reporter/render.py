"""Turn the context into file contents: HTML, PDF (reporter.pdf), Markdown, JSON and CSV.

Everything is rendered in memory first; reporter.outputs writes the set only when every format
succeeded, all-or-nothing.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from phantom_report.jsonsafe import to_jsonable
from phantom_report.reporter import templating
from phantom_report.reporter.pdf import html_to_pdf  # noqa: F401 - the renderer's PDF entry point


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def payload_from_context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The context without presentation-only markup (charts, plotly.js)."""
    data = copy.deepcopy({k: v for k, v in ctx.items() if k != "plotly_js"})
    for w in data.get("workloads", []):
        w["charts"] = {k: {"id": v["id"], "title": v["title"], "caption": v.get("caption", ""), "data": v.get("data")} for k, v in w.get("charts", {}).items()}
    data["report"].pop("logo", None)
    return to_jsonable(data)


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    return (json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def csv_bytes(rows: pd.DataFrame, columns: list[str]) -> bytes:
    cols = [c for c in columns if c in rows.columns]
    return rows[cols].to_csv(index=False, float_format="%.6g").encode("utf-8")


def render_template(env, name: str, ctx: Mapping[str, Any]) -> str:
    return templating.render(env, name, ctx)
