"""The data of the accuracy validation report: one context dict built from validation results.

The engine returns data; the reporter presents it (reporter/validation_render.py renders
`templates/validation.html.j2` through the reporter's template environment, draws the charts and
prints the PDF). Summary numbers are formatted here because the `validate` table output shares
them (format_summary); the charts carry raw points.

Context fields: title, generated_at, mode (`cross-validation` | `user data`), headline,
confidence_pct, calibration {version, fitted_at, n_rows, n_params}, corpus {rows, rejected, files,
sources, gpus, models}, schemes [{key, title, n_folds, seconds, summary{n, median_ape, mape,
within_10pct, within_25pct, coverage, median_log_bias}}], agreement [{scope, n, configs,
agreement_median_ape, agreement_mape, model_median_ape, model_mape, best_of_median_ape,
best_of_mape}] (leave-one-source-out rows other sources measured too, engine/agreement.py; empty
for user data), breakdowns [{title, column, rows
[{label, ...summary}]}], charts [{gpu, n, title, points [{value, predicted, metric, model,
precision, batch_size, runtime, source, ape}]}], metrics [str], rejected / unpredictable [{row_id,
gpu, model, metric, reason}], rows [{row_id, gpu, model, metric, value, predicted, low, high, ape,
inside}] (user data only), methodology [str]. The reporter adds static, plotly_js, legend and
each chart's svg / plotly_html.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import pandas as pd

from phantom_report.engine.intervals import MIN_ROWS_PER_GROUP as MIN_ROWS_PER_INTERVAL_GROUP
from phantom_report.engine.validation import BREAKDOWNS, SCHEME_TITLES
from phantom_report.numfmt import fraction_pct as pct, num


def format_summary(s: Mapping[str, Any]) -> dict[str, str]:
    """A validation summary (fractions: median_ape, mape, within_10pct, within_25pct, coverage; a
    log bias) as the texts the report and the `validate` table show: "12.3%", "+0.021", "—"."""
    return {
        "n": str(s.get("n", 0)), "median_ape": pct(s.get("median_ape")), "mape": pct(s.get("mape")),
        "within_10pct": pct(s.get("within_10pct")), "within_25pct": pct(s.get("within_25pct")),
        "coverage": pct(s.get("coverage")),
        "median_log_bias": "—" if s.get("median_log_bias") is None else f"{float(s['median_log_bias']):+.3f}",
    }


AGREEMENT_KEYS = ("agreement_median_ape", "agreement_mape", "model_median_ape", "model_mape", "best_of_median_ape",
                  "best_of_mape")


def format_agreement(agreement: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    """The sources' agreement (engine/agreement.py: scope -> figures) as the rows the report and the
    `validate` table show: scope ("same runtime"), rows, configurations and the six APEs as texts
    ("—" for a figure a result file from an older version lacks); scopes no other source measured
    are left out."""
    return [{"scope": scope.replace("_", " "), "n": f"{a['n']:,}", "configs": f"{a['configs']:,}",
             **{k: pct(a.get(k)) for k in AGREEMENT_KEYS}}
            for scope, a in agreement.items() if a.get("n")]


CHART_COLUMNS = ("value", "predicted", "metric", "model", "precision", "batch_size", "runtime", "source", "ape")


def _charts(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One chart per GPU: the measured/predicted points the reporter draws (no drawing here)."""
    out = []
    for gpu, part in frame.groupby("gpu", sort=True):
        cols = [c for c in CHART_COLUMNS if c in part.columns]
        out.append({"gpu": gpu, "n": len(part), "title": f"{gpu} ({len(part)} rows)",
                    "points": part[cols].to_dict("records")})
    return out


def _listing(frame: pd.DataFrame) -> list[dict[str, str]]:
    cols = ("row_id", "gpu", "model", "metric", "reason")
    return [{c: str(r.get(c, "")) for c in cols} for r in frame.to_dict("records")]


def build_context(
    *, mode: str, confidence: float, calibration: Mapping[str, Any], corpus: Mapping[str, Any],
    results: Sequence[Any], chart_frame: pd.DataFrame, rejected: pd.DataFrame, unpredictable: pd.DataFrame,
    user_summary: Mapping[str, Any] | None = None, user_breakdowns: Mapping[str, pd.DataFrame] | None = None,
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
                         "value": num(r["value"], missing="—"), "predicted": num(r["predicted"], missing="—"),
                         "low": num(r["low"], missing="—"), "high": num(r["high"], missing="—"), "ape": pct(r["ape"]), "inside": "yes" if r["inside"] else "no"})
    headline = results[0].scheme if results else "user"
    # leave-one-source-out rows other publications measured too (engine/agreement.py)
    agreement = format_agreement(results[0].agreement) if results else []
    return {
        "title": "Accuracy validation report", "mode": mode, "headline": headline,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "confidence_pct": f"{100 * confidence:.0f}%",
        "calibration": {k: str(calibration.get(k, "")) for k in ("version", "fitted_at", "n_rows", "n_params")},
        "corpus": {k: str(v) for k, v in corpus.items()},
        "schemes": schemes, "agreement": agreement, "breakdowns": breakdowns, "charts": _charts(chart_frame),
        "rejected": _listing(rejected), "unpredictable": _listing(unpredictable), "rows": rows,
        "metrics": sorted(set(chart_frame.get("metric", pd.Series(dtype=str)))),
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
