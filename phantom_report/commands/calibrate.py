"""`phantom-report calibrate`, and the computation and table/json/csv output of `validate` (issue 4).

calibrate: fit the predictor's parameters on the measured corpus, derive conformal intervals from
leave-one-source-out residuals (Mondrian by task/metric and novelty level, engine/novelty.py), write the versioned parameter file (package data
`engine/data/calibration.json` unless --out) and print the fit summary; --write-baseline also
records the cross-validation figures the accuracy regression test reads.
validate: without --data, cross-validation over the corpus; with --data, scores the given
measurements with the shipped parameters (no fitting on them), row by row and in summary. The
`validate` command itself is reporter/validation_cli.py: its HTML/PDF report is rendered by the
reporter, which the engine does not import.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import datetime, timezone
from importlib import resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import typer

from phantom_report.atomic import write_atomic
from phantom_report.errors import PhantomError
from phantom_report.vocab import VALIDATION_FORMATS

ROW_EXPORT_COLUMNS = (
    "row_id", "source", "gpu", "gpu_count", "model", "task", "runtime", "precision", "batch_size", "seq_in",
    "seq_out", "metric", "value", "predicted", "low", "high", "ape", "inside", "novelty", "extrapolation",
    "extrapolation_reason", "fold", "status", "reason",
)


def data_dir() -> Path:
    return Path(str(resources.files("phantom_report.engine").joinpath("data")))


def _engine(profiles: str | None):
    from phantom_report.engine.api import Engine

    return Engine.load(profiles_dir=profiles)


def _corpus_rows(eng, paths: list[Path] | None):
    from phantom_report.engine.calibration import with_arch
    from phantom_report.engine.corpus import load_corpus
    from phantom_report.engine.plausibility import set_aside_beyond_peak
    from phantom_report.engine.zoo import resolve_builtin

    corpus = load_corpus(paths, resolve_gpu=eng.catalog.resolve, resolve_model=resolve_builtin)
    corpus = set_aside_beyond_peak(corpus, eng)  # measurements faster than the datasheet allows
    if corpus.rows.empty:
        where = ", ".join(str(p) for p in paths) if paths else "the built-in corpus"
        raise PhantomError(f"{where}: no usable measurement rows ({len(corpus.rejected)} rejected; "
                           "`phantom-report validate --help` lists the columns)")
    return corpus, with_arch(corpus.rows, eng)


def _user_corpus_rows(eng, paths: list[Path]):
    """A user's measurement files: (engine that also knows their model_config workloads, corpus, rows)."""
    from phantom_report.engine.calibration import with_arch
    from phantom_report.engine.corpus import load_corpus
    from phantom_report.engine.model_config import ConfigWorkloads
    from phantom_report.engine.plausibility import set_aside_beyond_peak
    from phantom_report.engine.zoo import resolve_builtin

    configs = ConfigWorkloads()
    corpus = load_corpus(paths, resolve_gpu=eng.catalog.resolve, resolve_model=resolve_builtin,
                         resolve_config=configs)
    eng = eng.with_workloads(configs.workloads)
    corpus = set_aside_beyond_peak(corpus, eng)
    if corpus.rows.empty:
        return eng, corpus, None
    return eng, corpus, with_arch(corpus.rows, eng)


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


def _records(df) -> list[dict]:
    from phantom_report.engine.output import records

    return records(df)


def _distinct(results: list) -> list:
    """Each CV result once (with --refit newton the two lists are the same objects)."""
    return list({id(r): r for r in results}.values())


def baseline_payload(params, results, newton_results, corpus_summary: dict) -> dict[str, Any]:
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "calibration_version": params.version, "n_params": params.n_params, "corpus": corpus_summary,
        "confidence": results[0].confidence,
        "refit": ("full: every fold refitted by least squares (warm-started, to tolerance)" if results[0].refit == "full"
                  else "newton: approximate refit per fold (Gauss-Newton steps from the full fit)"),
        "schemes": {r.scheme: {**r.summary, "n_folds": r.n_folds} for r in results},
        "newton": {r.scheme: {**r.summary, "n_folds": r.n_folds} for r in newton_results},
        "headline_scheme": results[0].scheme,
        "breakdowns": {f"{r.scheme}/{col}": _records(r.breakdowns[col]) for r in results
                       for col in ("gpu", "model", "runtime", "task", "metric", "task_metric", "novelty")},
        "tolerance": {"median_ape_abs": 0.01, "mape_abs": 0.015, "coverage_abs_from_target": 0.02},
        "note": "written by `phantom-report calibrate --write-baseline`; tests/test_accuracy_regression.py "
                "fails when leave-one-source-out median or mean APE rises more than median_ape_abs / "
                "mape_abs above this, or coverage drifts further from the confidence than recorded + "
                "coverage_abs_from_target.",
    }


def calibrate(
    out: Optional[Path] = typer.Option(None, "--out", help="Parameter file to write (default: the shipped one)"),
    write_baseline: bool = typer.Option(False, "--write-baseline",
                                        help="Also record all CV schemes in engine/data/accuracy_baseline.json"),
    jobs: int = typer.Option(0, "--jobs", help="Worker processes for cross-validation (0 = all cores)"),
    refit: str = typer.Option("full", "--refit",
                              help="full: refit every fold (exact; the shipped default); newton: few-step "
                                   "Gauss-Newton approximate refit per fold (~20x faster, ~1 point optimistic)"),
    profiles: Optional[str] = typer.Option(None, "--profiles", envvar="PHANTOM_PROFILES", help="Extra GPU profiles"),
) -> None:
    """Fit the predictor's efficiency parameters on the measured corpus and write them; the shipped
    intervals come from leave-one-source-out residuals."""
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from phantom_report.engine.validation import (
        EnginePredictor, NewtonState, cross_validate, fit_and_validate, shipped_intervals,
    )

    if refit not in ("full", "newton"):
        raise PhantomError(f"--refit must be full or newton, got {refit!r}")
    console = Console(stderr=False)
    eng = _engine(profiles)
    corpus, rows = _corpus_rows(eng, None)
    # the first scheme is the headline and the one the shipped intervals are calibrated on
    schemes = ["source", "gpu", "gpu_model"] if write_baseline else ["source"]
    predict = EnginePredictor(eng)
    with console.status(f"fitting and cross-validating ({refit} refit per fold) ..."):
        full, results = fit_and_validate(rows, predict, schemes, 0.9, jobs or None, refit)
        if refit == "newton":
            newton_results = results
        else:
            newton = NewtonState.of(full, predict)
            newton_results = [cross_validate(rows, predict, s, 0.9, refit="newton", newton=newton) for s in schemes]
    import numpy as np

    ape = np.abs(np.expm1(full.log_residuals.to_numpy()))
    extra = {
        "corpus": corpus.summary(),
        "rows_per_parameter": round(full.n_rows / max(full.n_params, 1), 1),
        "in_sample": {"median_ape": float(np.median(ape)), "mape": float(np.mean(ape))},
        "cross_validation": {f"{r.scheme}/{r.refit}": r.summary for r in _distinct([*results, *newton_results])},
        "headline_scheme": results[0].scheme,
        "method": "scipy least_squares, soft-L1 loss on log(predicted/measured), log-parameters with bounds "
                  "and weak log-normal priors; see engine/calibration.py",
    }
    params = replace(full.params, intervals=shipped_intervals(results[0], full.rows), extra=extra)
    path = out or data_dir() / "calibration.json"
    write_atomic(path, json.dumps(params.to_dict(), indent=2, sort_keys=False) + "\n")
    t = Table(title=f"calibration {params.version}: {full.n_params} parameters fitted on {full.n_rows} rows "
                    f"({full.n_rows / max(full.n_params, 1):.0f} rows per parameter)", header_style="bold")
    t.add_column("parameter")
    t.add_column("value", justify="right")
    for name, v in full.values().items():
        t.add_row(name, f"{v:.4g}")
    console.print(t)
    console.print(f"corpus: {corpus.summary()}  (rejected rows: `phantom-report validate --format csv`)")
    console.print(f"in-sample: median APE {100 * np.median(ape):.1f}%, mean APE {100 * np.mean(ape):.1f}%; "
                  f"solver: {full.message} ({full.nfev} evaluations)")
    for r in _distinct([*results, *newton_results]):
        s = r.summary
        console.print(f"{r.scheme:>10} CV, {r.refit} refit ({r.n_folds} folds, {r.seconds:.0f}s): median APE {100 * s['median_ape']:.1f}%, "
                      f"mean APE {100 * s['mape']:.1f}%, within 25% {100 * s['within_25pct']:.0f}%, "
                      f"90% coverage {100 * s['coverage']:.1f}%")
    console.print(f"interval log half-widths (pooled): {params.intervals['log_abs_residual_quantiles']}")
    for group, table in params.intervals.get("by_task_metric", {}).items():
        console.print(f"  {group}: {table}")
    console.print(f"wrote {path}")
    if write_baseline:
        bpath = data_dir() / "accuracy_baseline.json"
        write_atomic(bpath, json.dumps(baseline_payload(params, results, newton_results, corpus.summary()), indent=2) + "\n")
        console.print(f"wrote {bpath}")


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
    from phantom_report.engine.output import records

    out: dict[str, Any] = {
        "mode": mode, "confidence": confidence,
        "calibration": {"version": eng.params.version, "fitted_at": eng.params.fitted_at,
                        "n_rows": eng.params.n_rows, "n_params": eng.params.n_params},
        "corpus": corpus.summary(),
    }
    if results:
        out["schemes"] = {r.scheme: {"refit": r.refit, "n_folds": r.n_folds, "n_params_max": r.n_params_max, "seconds": r.seconds,
                                     "summary": r.summary,
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
    from phantom_report.engine.output import check_format

    check_format(fmt, VALIDATION_FORMATS)
    if refit not in ("full", "newton"):
        raise PhantomError(f"--refit must be full or newton, got {refit!r}")
    if not 0.0 < confidence < 1.0:
        raise PhantomError(f"--confidence must be between 0 and 1 (e.g. 0.9), got {confidence}")


def run_validation(data: list[Path] | None, confidence: float, fmt: str, schemes: str, refit: str, jobs: int,
                   profiles: str | None) -> ValidationRun:
    """Cross-validate the corpus, or score the user's CSVs (``data``) with the shipped parameters.
    No usable row in ``data``: says why on stderr and exits 2."""
    from rich.console import Console

    from phantom_report.engine import validation as V

    check_validate_options(fmt, refit, confidence)
    eng = _engine(profiles)
    predict = V.EnginePredictor(eng)
    if data:
        missing = [p for p in data if not p.is_file()]
        if missing:
            raise PhantomError(f"{missing[0]}: measurements file does not exist")
        eng, corpus, rows = _user_corpus_rows(eng, list(data))
        if rows is None:
            _print_unused_only(corpus, data, fmt)
            raise typer.Exit(2)
        predict = V.EnginePredictor(eng)
        scored = V.score_user_rows(rows, predict, eng.params, confidence)
        return ValidationRun("user data", confidence, eng, corpus, [], scored, V.score(scored[0]),
                             {c: V.breakdown(scored[0], c) for c in V.BREAKDOWNS})
    scheme_list = _schemes(schemes)
    corpus, rows = _corpus_rows(eng, None)
    with Console(stderr=True).status(f"cross-validating ({', '.join(scheme_list)}) ..."):
        _, results = V.fit_and_validate(rows, predict, scheme_list, confidence, jobs or None, refit)
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
        from phantom_report.engine.output import wide_console

        console = Console(file=buf, width=160) if out else wide_console()
        _print_tables(mode, confidence, corpus, results, scored, user_summary, user_breakdowns, console)
    if out:
        write_atomic(out, buf.getvalue())
        Console(stderr=True).print(f"wrote {out}")
    else:
        sys.stdout.write(buf.getvalue())


def register(app: typer.Typer) -> None:
    # `validate` renders HTML/PDF through the reporter, so its command lives in reporter/validation_cli.py
    app.command("calibrate")(calibrate)
