"""`phantom-report validate`: accuracy of the predictor against measurements (issue 4).

Without --data: cross-validation over the corpus (the engine's `engine/validation.py`); with --data:
the given measurements scored with the shipped parameters (no fitting on them), row by row and in
summary. table/json/csv listings are written here; the HTML/PDF report's data comes from
`engine/validation_report.py::build_context` and is rendered by `reporter/validation_render.py`.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer

from phantom_report.atomic import write_atomic
from phantom_report.commands.options import load_engine
from phantom_report.errors import PhantomError
from phantom_report.vocab import VALIDATION_FORMATS


ROW_EXPORT_COLUMNS = (
    "row_id", "source", "gpu", "gpu_count", "model", "task", "runtime", "precision", "batch_size", "seq_in",
    "seq_out", "metric", "value", "predicted", "low", "high", "ape", "inside", "novelty", "extrapolation",
    "extrapolation_reason", "fold", "status", "reason",
)

def unused_by_reason(corpus, unpredictable):
    """Rows not scored (not interpreted + not predicted), grouped by reason with the suggested fix."""
    from phantom_report.engine.row_reasons import group_unused

    return group_unused([corpus.rejected, unpredictable])

def _schemes(text: str) -> list[str]:
    from phantom_report.engine.validation import SCHEMES

    out = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in out if s not in SCHEMES]
    if bad or not out:
        raise PhantomError(f"--schemes: unknown scheme {bad[0] if bad else text!r}; expected a comma list of "
                           f"{', '.join(SCHEMES)}")
    return out

def _export_rows(scored, rejected, unpredictable):
    import pandas as pd

    parts = [scored.assign(status="scored", reason="")]
    if len(unpredictable):
        parts.append(unpredictable.assign(status="not predicted"))
    if len(rejected):
        parts.append(rejected.assign(status="not interpreted"))
    df = pd.concat(parts, ignore_index=True)
    return df.reindex(columns=list(ROW_EXPORT_COLUMNS))

def _json_payload(mode, confidence, eng, corpus, results, scored, user_summary, user_breakdowns) -> dict:
    from phantom_report.commands.output import records

    out: dict[str, Any] = {
        "mode": mode, "confidence": confidence,
        "calibration": {"version": eng.params.version, "fitted_at": eng.params.fitted_at,
                        "n_rows": eng.params.n_rows, "n_params": eng.params.n_params},
        "corpus": corpus.summary(),
    }
    if results:
        out["schemes"] = {r.scheme: {"refit": r.refit, "n_folds": r.n_folds, "n_params_max": r.n_params_max, "seconds": r.seconds,
                                     "summary": r.summary, **({"agreement": r.agreement} if r.agreement else {}),
                                     "breakdowns": {k: records(v) for k, v in r.breakdowns.items()}}
                          for r in results}
    else:
        out["summary"] = user_summary
        out["breakdowns"] = {k: records(v) for k, v in user_breakdowns.items()}
    rej = corpus.rejected
    unpred = results[0].unpredictable if results else scored[1]
    rows = scored[0] if scored else results[0].held_out
    out["rows"] = records(_export_rows(rows, rej.iloc[0:0], rej.iloc[0:0]))
    out["not_interpreted"] = records(rej)
    out["not_predicted"] = records(unpred.reindex(columns=["row_id", "gpu", "model", "metric", "reason"]))
    out["not_used_by_reason"] = unused_by_reason(corpus, unpred).to_dict("records")
    return out

def _print_tables(mode, confidence, corpus, results, scored, user_summary, user_breakdowns, console) -> None:
    from rich.table import Table

    from phantom_report.engine.validation import SCHEME_TITLES
    from phantom_report.engine.validation_report import format_summary

    cols = ("n", "median_ape", "mape", "within_10pct", "within_25pct", "coverage", "median_log_bias")
    heads = ("rows", "median APE", "mean APE", "within 10%", "within 25%", f"{100 * confidence:.0f}% cov.", "log bias")

    def table(title, first, recs):
        t = Table(title=title, header_style="bold")
        t.add_column(first)
        for h in heads:
            t.add_column(h, justify="right")
        for label, s in recs:
            f = format_summary(s)
            t.add_row(str(label), *[f[c] for c in cols])
        console.print(t)

    if results:
        table(f"{mode}: corpus {corpus.summary()}", "scheme",
              [(f"{SCHEME_TITLES[r.scheme]} ({r.n_folds} folds, {r.refit} refit)", r.summary) for r in results])
        head = results[0]
        if head.agreement:
            _print_agreement(head.agreement, console)
        for col in ("gpu", "model", "runtime", "task_metric", "novelty"):
            b = head.breakdowns[col]
            table(f"{SCHEME_TITLES[head.scheme]}, per {col}", col, [(r[col], r) for r in b.to_dict("records")])
        unpred = head.unpredictable
    else:
        rows = scored[0]
        t = Table(title="row by row (shipped parameters, no refit)", header_style="bold")
        for h in ("row", "gpu", "model", "metric", "measured", "predicted", "low", "high", "APE", "inside"):
            t.add_column(h, justify="left" if h in ("row", "gpu", "model", "metric") else "right")
        for r in rows.to_dict("records"):
            t.add_row(r["row_id"], r["gpu"], r["model"], r["metric"], f"{r['value']:.4g}", f"{r['predicted']:.4g}",
                      f"{r['low']:.4g}", f"{r['high']:.4g}", f"{100 * r['ape']:.1f}%", "yes" if r["inside"] else "no")
        console.print(t)
        table("summary", "", [("all rows", user_summary)])
        for col in ("gpu", "model"):
            b = user_breakdowns[col]
            table(f"per {col}", col, [(r[col], r) for r in b.to_dict("records")])
        unpred = scored[1]
    rej = corpus.rejected
    if len(rej) or len(unpred):
        _print_grouped(unused_by_reason(corpus, unpred), console)
        t = Table(title=f"rows not scored: {len(rej)} not interpreted, {len(unpred)} not predicted", header_style="bold")
        for h in ("row", "reason"):
            t.add_column(h)
        listing = [(r["row_id"], r["reason"]) for r in rej.to_dict("records")]
        listing += [(r["row_id"], r["reason"]) for r in unpred.to_dict("records")]
        limit = len(listing) if mode == "user data" else 25
        for row_id, reason in listing[:limit]:
            t.add_row(row_id, reason)
        console.print(t)
        if len(listing) > limit:
            console.print(f"... {len(listing) - limit} more; `--format csv` or `--format json` lists every row")

def _print_agreement(agreement: dict, console) -> None:
    """The sources' agreement table (engine/agreement.py): on held-out rows another source also
    measured, the error of answering with what those sources measured next to the model's."""
    from rich.table import Table

    from phantom_report.engine.validation_report import AGREEMENT_KEYS, format_agreement

    t = Table(title="leave-one-source-out, on rows another source measured too: what the other sources "
                    "measured vs this model", header_style="bold")
    # the last two: over every held-out row, the model never worse than a second measurement
    # (engine/agreement.py best_of_*), the most closing the gap to the sources' agreement can give
    for h in ("other sources", "rows", "configurations", "their median APE", "their mean APE",
              "model median APE", "model mean APE", "best of both, all rows: median", "mean"):
        t.add_column(h, justify="left" if h == "other sources" else "right")
    for row in format_agreement(agreement):
        t.add_row(row["scope"], row["n"], row["configs"], *(row[k] for k in AGREEMENT_KEYS))
    console.print(t)

def _print_grouped(groups, console) -> None:
    """The unused rows grouped by reason: count, the printed values behind them, the fix."""
    from rich.table import Table

    t = Table(title="rows not used, by reason", header_style="bold")
    for h in ("reason", "rows", "printed values", "suggested fix"):
        t.add_column(h, justify="right" if h == "rows" else "left", overflow="fold")
    for g in groups.to_dict("records"):
        t.add_row(g["title"], str(g["rows"]), g["values"], g["fix"])
    console.print(t)

def _print_unused_only(corpus, data, fmt: str) -> None:
    """No row of the user's files could be used: say why, grouped, on stderr (exit status 2)."""
    import pandas as pd
    from rich.console import Console

    groups = unused_by_reason(corpus, pd.DataFrame(columns=["reason"]))
    where = ", ".join(str(p) for p in data)
    err = Console(stderr=True, width=160)
    err.print(f"{where}: no usable measurement rows ({len(corpus.rejected)} not interpreted; `phantom-report validate --help` lists the columns)")
    _print_grouped(groups, err)

@dataclass(frozen=True)
class ValidationRun:
    """What `validate` computed: cross-validation results, or the user's rows scored (scored =
    (scored rows, unpredictable rows)) with their summary and breakdowns."""

    mode: str
    confidence: float
    eng: Any
    corpus: Any
    results: list
    scored: Any = None
    user_summary: Any = None
    user_breakdowns: Any = None

def check_validate_options(fmt: str, refit: str, confidence: float) -> None:
    """The option checks, before any work (one clear line each)."""
    from phantom_report.commands.output import check_format

    check_format(fmt, VALIDATION_FORMATS)
    if refit not in ("full", "newton"):
        raise PhantomError(f"--refit must be full or newton, got {refit!r}")
    if not 0.0 < confidence < 1.0:
        raise PhantomError(f"--confidence must be between 0 and 1 (e.g. 0.9), got {confidence}")

def run_validation(data: list[Path] | None, confidence: float, fmt: str, schemes: str, refit: str, jobs: int,
                   profiles: str | None) -> ValidationRun:
    """Cross-validate the corpus, or score the user's CSVs (``data``) with the shipped parameters.
    No usable row in ``data``: says why on stderr and exits 2."""
    from phantom_report.commands.output import fold_progress
    from phantom_report.engine import validation as V
    from phantom_report.engine.calibration import corpus_rows, user_corpus_rows

    check_validate_options(fmt, refit, confidence)
    eng = load_engine(profiles)
    predict = V.EnginePredictor(eng)
    if data:
        missing = [p for p in data if not p.is_file()]
        if missing:
            raise PhantomError(f"{missing[0]}: measurements file does not exist")
        eng, corpus, rows = user_corpus_rows(eng, list(data))
        if rows is None:
            _print_unused_only(corpus, data, fmt)
            raise typer.Exit(2)
        predict = V.EnginePredictor(eng)
        scored = V.score_user_rows(rows, predict, eng.params, confidence)
        return ValidationRun("user data", confidence, eng, corpus, [], scored, V.score(scored[0]),
                             {c: V.breakdown(scored[0], c) for c in V.BREAKDOWNS})
    scheme_list = _schemes(schemes)
    corpus, rows = corpus_rows(eng)
    with fold_progress(f"fitting {len(rows):,} rows, then cross-validating ({', '.join(scheme_list)}) ...") as progress:
        _, results = V.fit_and_validate(rows, predict, scheme_list, confidence, jobs or None, refit, progress)
    return ValidationRun("cross-validation", confidence, eng, corpus, results)

def report_data(run: ValidationRun) -> dict[str, Any]:
    """The validation report's data (engine/validation_report.build_context); the reporter renders it."""
    from phantom_report.engine.validation_report import build_context

    chart = run.scored[0] if run.scored else run.results[0].held_out
    unpred = run.scored[1] if run.scored else run.results[0].unpredictable
    return build_context(mode=run.mode, confidence=run.confidence, calibration=run.eng.params.to_dict(),
                         corpus=run.corpus.summary(), results=run.results, chart_frame=chart,
                         rejected=run.corpus.rejected, unpredictable=unpred, user_summary=run.user_summary,
                         user_breakdowns=run.user_breakdowns)

def write_listing(run: ValidationRun, fmt: str, out: Path | None) -> None:
    """table, json or csv output of a validation run, to ``out`` or stdout."""
    from rich.console import Console

    mode, confidence, eng, corpus = run.mode, run.confidence, run.eng, run.corpus
    results, scored, user_summary, user_breakdowns = run.results, run.scored, run.user_summary, run.user_breakdowns
    buf = io.StringIO()
    if fmt == "json":
        payload = _json_payload(mode, confidence, eng, corpus, results, scored, user_summary, user_breakdowns)
        buf.write(json.dumps(payload, indent=2, default=str) + "\n")
    elif fmt == "csv":
        rows_frame = scored[0] if scored else results[0].held_out
        unpred = scored[1] if scored else results[0].unpredictable
        _export_rows(rows_frame, corpus.rejected, unpred).to_csv(buf, index=False)
    else:
        from phantom_report.commands.output import wide_console

        console = Console(file=buf, width=160) if out else wide_console()
        _print_tables(mode, confidence, corpus, results, scored, user_summary, user_breakdowns, console)
    if out:
        write_atomic(out, buf.getvalue())
        Console(stderr=True).print(f"wrote {out}")
    else:
        sys.stdout.write(buf.getvalue())


def validate(
    data: Optional[list[Path]] = typer.Option(None, "--data", help="Measurements CSV (columns below); repeatable"),
    confidence: float = typer.Option(0.9, "--confidence", help="Interval confidence, between 0 and 1"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, csv, html or pdf"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (html/pdf default: validation.<format>)"),
    schemes: str = typer.Option("source,gpu,gpu_model", "--schemes",
                                help="Cross-validation schemes (no --data): source (headline), gpu, gpu_model"),
    refit: str = typer.Option("full", "--refit",
                              help="full: refit every fold (exact; ~13 min for the source scheme on 2 cores); "
                                   "newton: few-step Gauss-Newton approximate refit (seconds per scheme)"),
    jobs: int = typer.Option(0, "--jobs", help="Worker processes for cross-validation (0 = all cores)"),
    profiles: Optional[str] = typer.Option(None, "--profiles", envvar="PHANTOM_PROFILES", help="Extra GPU profiles"),
    template_dir: Optional[Path] = typer.Option(
        None, "--template-dir",
        help="html/pdf: a directory searched first for validation.html.j2 (may extend default:validation.html.j2)"),
) -> None:
    """Accuracy against measurements: grouped cross-validation, or score your own CSV (--data)."""
    from rich.console import Console

    from phantom_report.errors import TemplateError

    check_validate_options(fmt, refit, confidence)
    if template_dir is not None and not template_dir.is_dir():  # before minutes of cross-validation
        raise TemplateError(f"template directory {str(template_dir)[:200]} does not exist")
    run = run_validation(data, confidence, fmt, schemes, refit, jobs, profiles)
    if fmt not in ("html", "pdf"):
        write_listing(run, fmt, out)
        return
    from phantom_report.reporter.validation_render import write_validation_report

    path = write_validation_report(report_data(run), out or Path(f"validation.{fmt}"), fmt, template_dir)
    Console(stderr=True).print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add `validate` to the `phantom-report` app; its help ends with the measurement CSV columns."""
    from phantom_report.engine.measurement_format import COLUMNS_HELP

    app.command("validate", epilog=COLUMNS_HELP)(validate)
