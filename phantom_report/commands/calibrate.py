"""`phantom-report calibrate`: fit the predictor's parameters on the measured corpus (issue 4).

Derives conformal intervals from leave-one-source-out residuals (Mondrian by task/metric and novelty
level, engine/novelty.py), writes the versioned parameter file (package data
`engine/data/calibration.json` unless --out) and prints the fit summary; --write-baseline also
records the cross-validation figures the accuracy regression test reads. Which rows are fitted is
the engine's decision (`engine/calibration.py::corpus_rows`), not this command's.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import typer

from phantom_report.atomic import write_atomic
from phantom_report.commands.options import load_engine
from phantom_report.errors import PhantomError


def _records(df) -> list[dict]:
    from phantom_report.commands.output import records

    return records(df)

def _distinct(results: list) -> list:
    """Each CV result once (with --refit newton the two lists are the same objects)."""
    return list({id(r): r for r in results}.values())

def baseline_payload(params, results, newton_results, corpus_summary: dict) -> dict[str, Any]:
    """The content of engine/data/accuracy_baseline.json: each cross-validation scheme's summary and
    breakdowns (APEs as fractions), the calibration version and the tolerances the accuracy regression
    test allows."""
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "calibration_version": params.version, "n_params": params.n_params, "corpus": corpus_summary,
        "confidence": results[0].confidence,
        "refit": ("full: every fold refitted by least squares (warm-started, to tolerance)" if results[0].refit == "full"
                  else "newton: approximate refit per fold (Gauss-Newton steps from the full fit)"),
        "schemes": {r.scheme: {**r.summary, "n_folds": r.n_folds} for r in results},
        "newton": {r.scheme: {**r.summary, "n_folds": r.n_folds} for r in newton_results},
        "headline_scheme": results[0].scheme,
        # the held-out rows other sources measured too: their disagreement next to the model's error
        "source_agreement": results[0].agreement,
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
                                   "Gauss-Newton approximate refit per fold (~20x faster, ~0.8 points optimistic "
                                   "in median APE)"),
    profiles: Optional[str] = typer.Option(None, "--profiles", envvar="PHANTOM_PROFILES", help="Extra GPU profiles"),
) -> None:
    """Fit the predictor's efficiency parameters on the measured corpus and write them; the shipped
    intervals come from leave-one-source-out residuals."""
    from dataclasses import replace

    from rich.console import Console
    from rich.table import Table

    from phantom_report.commands.output import fold_progress
    from phantom_report.engine.calibration import corpus_rows, data_dir
    from phantom_report.engine.validation import (
        EnginePredictor, NewtonState, cross_validate, fit_and_validate, shipped_intervals,
    )

    if refit not in ("full", "newton"):
        raise PhantomError(f"--refit must be full or newton, got {refit!r}")
    console = Console(stderr=False)
    eng = load_engine(profiles)
    corpus, rows = corpus_rows(eng)
    # the first scheme is the headline and the one the shipped intervals are calibrated on
    schemes = ["source", "gpu", "gpu_model"] if write_baseline else ["source"]
    predict = EnginePredictor(eng)
    with fold_progress(f"fitting {len(rows):,} rows ({refit} refit per fold follows) ...") as progress:
        full, results = fit_and_validate(rows, predict, schemes, 0.9, jobs or None, refit, progress)
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

def register(app: typer.Typer) -> None:
    """Add `calibrate` to the `phantom-report` app."""
    app.command("calibrate")(calibrate)
