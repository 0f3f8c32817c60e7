"""Turn the context into file contents: HTML, PDF (WeasyPrint), Markdown, JSON and CSV.

Everything is rendered in memory first; reporter.outputs writes the set only when every format
succeeded, all-or-nothing. WeasyPrint gets a URL fetcher that serves ``data:`` URIs and regular files
(of bounded size) whose real path is inside the template directories, the same rule as the template
loader (assets.inside); anything else (``file:///etc/passwd``, a symlink out of the directory,
http...) stops the render with a TemplateError.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import stat
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlparse

import pandas as pd

from phantom_report.errors import TemplateError
from phantom_report.reporter import assets, templating


MAX_ASSET_BYTES = 20_000_000  # one stylesheet, font or image a template loads into the PDF


def _fetcher_class():
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    class SafeFetcher(URLFetcher):
        """data: URIs and files under the template directories; nothing else."""

        def __init__(self, allowed_dirs: list[Path]):
            super().__init__(allowed_protocols=("data", "file"))
            self._allowed = assets.real_dirs(allowed_dirs)

        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = os.path.realpath(unquote(urlparse(url).path))
                if assets.inside(path, self._allowed):
                    _check_asset(path, url)
                    return super().fetch(url, headers)
            raise Refused(f"template tried to load {url}; only data: URIs and files in the template directories are allowed")

    class Refused(FatalURLFetchingError):
        pass

    def _check_asset(path: str, url: str) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise Refused(f"template tried to load {url}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ASSET_BYTES:
            raise Refused(f"template tried to load {url}: not a regular file of at most {MAX_ASSET_BYTES:,} bytes")

    return SafeFetcher, Refused


def html_to_pdf(html: str, base_dir: Path, allowed_dirs: list[Path]) -> bytes:
    from weasyprint import HTML

    SafeFetcher, Refused = _fetcher_class()
    try:
        return HTML(string=html, base_url=str(base_dir) + "/", url_fetcher=SafeFetcher(allowed_dirs)).write_pdf()
    except Refused as exc:
        raise TemplateError(str(exc)) from None
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, Refused):
            raise TemplateError(str(cause)) from None
        raise


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return to_jsonable(obj.item())
    return obj


def payload_from_context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The context without presentation-only markup (charts, plotly.js)."""
    data = copy.deepcopy({k: v for k, v in ctx.items() if k != "plotly_js"})
    for w in data.get("workloads", []):
        w["charts"] = {k: {"id": v["id"], "title": v["title"], "data": v.get("data")} for k, v in w.get("charts", {}).items()}
    data["report"].pop("logo", None)
    return to_jsonable(data)


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    return (json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def csv_bytes(rows: pd.DataFrame, columns: list[str]) -> bytes:
    cols = [c for c in columns if c in rows.columns]
    return rows[cols].to_csv(index=False, float_format="%.6g").encode("utf-8")


def render_template(env, name: str, ctx: Mapping[str, Any]) -> str:
    return templating.render(env, name, ctx)
