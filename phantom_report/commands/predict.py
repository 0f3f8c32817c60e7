"""`phantom-report predict` (one configuration) and `compare` (a grid, fastest first): the engine's
predictions with their intervals as a table, JSON or CSV. The table helpers (`PRED_COLUMNS`,
`decorate`, `print_notes`) also serve `sweep`."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from phantom_report.commands.options import ALLOW_PYTHON_OPT, FORMAT_OPT, PROFILES_OPT, load_engine


def _local_gpus(catalog) -> list[str]:
    """Profiles of this machine's GPUs for `--gpu local`, with a note on stderr saying what was found."""
    from phantom_report.engine.gpu_detect import local_gpu_profiles

    found = local_gpu_profiles(catalog)
    sys.stderr.write("local GPUs: " + "; ".join(f"{n} x {name} -> {prof}" for prof, n, name in found) + "\n")
    return [prof for prof, _, _ in found]


PRED_COLUMNS = [
    ("model", "Model", ""), ("gpu", "GPU", ""), ("precision", "Prec", ""), ("batch_size", "Batch", "d"),
    ("latency_txt", "Latency ms (interval)", ""), ("throughput_txt", "Per s (interval)", ""),
    ("llm_txt", "TTFT/TPOT ms", ""), ("memory_gb", "Mem GB", ".1f"), ("fits_txt", "Fits", ""),
    ("extrap_txt", "Corpus", ""),
]


def decorate(rows) -> list[dict]:
    """Prediction rows (a DataFrame, or dicts as `Engine.predict` gives them) as dicts with the
    table's text columns added: `latency_txt` and `throughput_txt` (mid (low–high)), `llm_txt`
    (TTFT/TPOT ms), `fits_txt` and `extrap_txt` (marks with numbered notes) and the
    `note`/`extrap_note` texts `print_notes` prints under the table. Plain Python: a single
    `predict` never loads pandas."""
    from phantom_report.numfmt import compact, compact_range

    if not isinstance(rows, list):
        rows = rows.to_dict(orient="records")
    out, n = [], 0
    for r in rows:
        r = dict(r)
        r["latency_txt"] = (compact_range(r["latency_ms"], r["latency_ms_low"], r["latency_ms_high"])
                            if r["latency_ms"] == r["latency_ms"] else "—")
        r["throughput_txt"] = (compact_range(r["throughput_per_s"], r["throughput_per_s_low"], r["throughput_per_s_high"])
                               if r["throughput_per_s"] == r["throughput_per_s"] else "—")
        r["llm_txt"] = f"{compact(r['ttft_ms'])}/{compact(r['tpot_ms'])}" if r["ttft_ms"] == r["ttft_ms"] else "—"
        r["note"] = r["fit_hint"] if r["supported"] else r["reason"]
        extrap = bool(r.get("extrapolation", False)) and r["supported"]
        r["extrap_note"] = "extrapolated: " + str(r.get("extrapolation_reason", "")) if extrap else ""
        # notes are too long for a column: number them and print them under the table
        if r["note"]:
            n += 1
            r["fits_txt"] = f"{'[red]no[/]' if r['supported'] else '[yellow]n/a[/]'} [{n}]"
        else:
            r["fits_txt"] = "[green]yes[/]"
        if r["extrap_note"]:
            n += 1
            r["extrap_txt"] = f"[yellow]⚠ extrapolated[/] [{n}]"
        else:
            r["extrap_txt"] = "inside"
        out.append(r)
    return out


def print_notes(rows: list[dict]) -> None:
    """Print the numbered fit and extrapolation notes of `decorate`d rows under their table."""
    from phantom_report.commands.output import wide_console

    # numbered in the order decorate numbered them: a row's fit note, then its extrapolation note
    pairs = ((r["model"], r["gpu"], n) for r in rows for n in (r["note"], r["extrap_note"]) if n)
    notes = [f"[{i}] {m} on {g}: {n}" for i, (m, g, n) in enumerate(pairs, start=1)]
    if notes:
        wide_console().print("\n".join(notes), highlight=False)


def _note_name_readings(catalog, gpu: str, model: str, precision: str) -> None:
    """Say on stderr when a name was read with a declared default, or announces another precision."""
    from phantom_report.engine.zoo import resolve_builtin_detail
    from phantom_report.errors import ModelError

    res = catalog.resolve_detail(gpu)
    if res.via == "family default":
        sys.stderr.write(f"note: {res.explain()}\n")
    try:
        hint = resolve_builtin_detail(model).precision_hint
    except ModelError:
        return  # not a zoo name (a file or config); load_workload reports problems itself
    if hint and hint != precision.lower():
        sys.stderr.write(f"note: the model name announces precision {hint}; predicting at --precision {precision}\n")


def predict(
    model: str = typer.Option(..., "--model", "-m", help="zoo name/alias or model source path"),
    gpu: str = typer.Option(..., "--gpu", "-g", help="GPU name as written ('NVIDIA H100 80GB HBM3', 'a100 40gb'), "
                            "or 'local' for this machine's GPU"),
    precision: str = typer.Option("fp16", "--precision", "-p",
                                  help="fp32, tf32, fp16, bf16, amp, fp8, int8, int4 (GPTQ/AWQ), GGUF types (Q4_K_M, Q8_0, ...)"),
    kv_precision: Optional[str] = typer.Option(None, "--kv-precision",
                                               help="KV-cache format (fp16, fp8, int8, q8_0, q4_0, ...; default: activations')"),
    batch: int = typer.Option(1, "--batch", "-b", help="samples per replica"),
    seq_in: Optional[int] = typer.Option(None, "--seq-in", help="input tokens (text models)"),
    seq_out: Optional[int] = typer.Option(None, "--seq-out", help="generated tokens (LLMs)"),
    task: str = typer.Option("inference", "--task", help="inference or training"),
    runtime: str = typer.Option("pytorch", "--runtime", help="pytorch, tensorrt, vllm, llamacpp, ..."),
    gpu_count: int = typer.Option(1, "--gpu-count", help="GPUs (tensor/data parallel)"),
    confidence: float = typer.Option(0.9, "--confidence"),
    fmt: str = FORMAT_OPT,
    profiles: Optional[str] = PROFILES_OPT,
    allow_python: bool = ALLOW_PYTHON_OPT,
) -> None:
    """Predict latency, throughput, memory and power of one configuration."""
    from phantom_report.engine.limits import (MAX_BATCH_SIZE, MAX_GPU_COUNT, MAX_SEQ_LEN, check_int, check_runtime,
                                              context_error)
    from phantom_report.commands.output import check_format, emit
    from phantom_report.errors import PredictionError

    check_format(fmt)
    check_int("--batch", batch, 1, MAX_BATCH_SIZE)
    check_int("--gpu-count", gpu_count, 1, MAX_GPU_COUNT)
    for name, value in (("--seq-in", seq_in), ("--seq-out", seq_out)):
        if value is not None:
            check_int(name, value, 1, MAX_SEQ_LEN)
    check_runtime(runtime)
    eng = load_engine(profiles)
    if gpu.strip().lower() == "local":
        local = _local_gpus(eng.catalog)
        if len(local) > 1:
            raise PredictionError(f"--gpu local: this machine has {', '.join(local)}; name one with --gpu "
                                  "(or use `compare --gpus local`)")
        gpu = local[0]
    workload = eng.workload(model, allow_python=allow_python)
    problem = context_error(workload, seq_in, seq_out)
    if problem:
        raise PredictionError(f"--seq-in/--seq-out: {problem}")
    # notes only once the input is known to be usable: a refused command prints one error line
    _note_name_readings(eng.catalog, gpu, model, precision)
    # Engine.predict: the one-point path of predict_grid without DataFrames (a cold start without pandas)
    row = eng.predict(workload, gpu, precision, batch, seq_in=seq_in, seq_out=seq_out, task=task, runtime=runtime,
                      gpu_count=gpu_count, confidence=confidence, kv_precision=kv_precision or "")
    if not row["supported"]:
        raise PredictionError(row["reason"])
    if fmt == "json":
        from phantom_report.commands.output import records

        sys.stdout.write(json.dumps(records([row])[0], indent=2) + "\n")
        return
    rows = decorate([row])
    emit(rows, fmt, PRED_COLUMNS, title=f"{confidence:.0%} prediction intervals")
    print_notes(rows)


def compare(
    models: str = typer.Option(..., "--models", help="comma-separated"),
    gpus: str = typer.Option("all", "--gpus", help="comma-separated, 'local' (this machine's GPUs), or all"),
    batch_sizes: str = typer.Option("1", "--batch-sizes"),
    precisions: str = typer.Option("fp16", "--precisions"),
    seq_in: Optional[int] = typer.Option(None, "--seq-in"),
    seq_out: Optional[int] = typer.Option(None, "--seq-out"),
    task: str = typer.Option("inference", "--task"),
    runtime: str = typer.Option("pytorch", "--runtime"),
    confidence: float = typer.Option(0.9, "--confidence"),
    fmt: str = FORMAT_OPT,
    profiles: Optional[str] = PROFILES_OPT,
    allow_python: bool = ALLOW_PYTHON_OPT,
) -> None:
    """Compare models x GPUs x batch sizes x precisions, sorted by throughput."""
    import itertools

    import pandas as pd

    from phantom_report.engine.limits import MAX_BATCH_SIZE, MAX_SEQ_LEN, check_int, check_runtime, context_error, show
    from phantom_report.commands.output import check_format, emit, split_list
    from phantom_report.errors import PredictionError

    check_format(fmt)
    eng = load_engine(profiles)
    gpu_list = eng.catalog.names if gpus.strip().lower() == "all" else list(dict.fromkeys(
        g for name in split_list(gpus)
        for g in (_local_gpus(eng.catalog) if name.lower() == "local" else [eng.catalog.resolve(name)])))
    try:
        batches = [int(b) for b in split_list(batch_sizes)]
    except ValueError:
        raise PredictionError(f"--batch-sizes must be comma-separated positive integers, got {show(batch_sizes)}") from None
    batches = [check_int("--batch-sizes", b, 1, MAX_BATCH_SIZE) for b in batches]
    for name, value in (("--seq-in", seq_in), ("--seq-out", seq_out)):
        if value is not None:
            check_int(name, value, 1, MAX_SEQ_LEN)
    check_runtime(runtime)
    workloads = {w.name: w for w in (eng.workload(m, allow_python=allow_python) for m in split_list(models))}
    for w in workloads.values():
        problem = context_error(w, seq_in, seq_out)
        if problem:
            raise PredictionError(f"--seq-in/--seq-out: {problem}")
    grid = pd.DataFrame(
        [{"model": m, "gpu": g, "precision": p, "batch_size": b, "seq_in": seq_in, "seq_out": seq_out,
          "task": task, "runtime": runtime, "confidence": confidence}
         for m, g, p, b in itertools.product(workloads, gpu_list, split_list(precisions), batches)])
    df = eng.predict_grid(grid, workloads)
    df = df.sort_values(["model", "batch_size", "precision", "throughput_per_s"], ascending=[True, True, True, False],
                        na_position="last")
    if fmt != "table":
        emit(df, fmt, PRED_COLUMNS)
        return
    rows = decorate(df)
    emit(rows, fmt, PRED_COLUMNS,
         title=f"Predicted performance ({confidence:.0%} intervals), fastest first per model/batch/precision")
    print_notes(rows)


def register(app: typer.Typer) -> None:
    """Add `predict` and `compare` to the `phantom-report` app."""
    app.command("predict")(predict)
    app.command("compare")(compare)
