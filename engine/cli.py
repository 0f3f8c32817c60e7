"""Engine commands: `gpus`, `models`, `predict`, `compare`."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

gpus_app = typer.Typer(help="GPU profiles (datasheet figures with sources).", no_args_is_help=True)
models_app = typer.Typer(help="Built-in model zoo and model inspection.", no_args_is_help=True)

FORMAT_OPT = typer.Option("table", "--format", "-f", help="table, json or csv")
PROFILES_OPT = typer.Option(None, "--profiles", envvar="PHANTOM_PROFILES", help="Extra GPU profile directory")
ALLOW_PYTHON_OPT = typer.Option(False, "--allow-python",
                                help="Allow pkg.module:factory model sources (imports and runs that Python code).")


def _engine(profiles: str | None):
    from phantom_report.engine.api import Engine

    return Engine.load(profiles_dir=profiles)


@gpus_app.command("list")
def gpus_list(fmt: str = FORMAT_OPT, profiles: Optional[str] = PROFILES_OPT) -> None:
    """List every known GPU with its headline figures."""
    import pandas as pd

    from phantom_report.engine.output import check_format, emit

    check_format(fmt)
    eng = _engine(profiles)
    rows = [{
        "name": p.name, "architecture": p.architecture, "memory_gb": p.memory_gb,
        "memory_bandwidth_gbps": p.memory_bandwidth_gbps, "fp16_tflops": p.peak("fp16") or float("nan"),
        "bf16_tflops": p.peak("bf16") or float("nan"), "fp8_tflops": p.peak("fp8") or float("nan"),
        "tdp_w": p.tdp_w, "aliases": ", ".join(p.aliases), "source": p.source,
    } for p in eng.catalog]
    emit(pd.DataFrame(rows), fmt, [
        ("name", "Name", ""), ("architecture", "Arch", ""), ("memory_gb", "Mem GB", ".0f"),
        ("memory_bandwidth_gbps", "BW GB/s", ",.0f"), ("fp16_tflops", "FP16 TF", ".1f"),
        ("bf16_tflops", "BF16 TF", ".1f"), ("fp8_tflops", "FP8 TF", ".1f"), ("tdp_w", "TDP W", ".0f"),
    ], title=f"{len(rows)} GPUs (dense peak TFLOPS)")


@gpus_app.command("show")
def gpus_show(name: str, fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
              profiles: Optional[str] = PROFILES_OPT) -> None:
    """Every figure of one GPU, with its source."""
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from phantom_report.engine.output import check_format

    check_format(fmt, ("table", "json"))
    p = _engine(profiles).catalog.get(name)
    data = asdict(p)
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    t = Table(title=p.name, show_header=True, header_style="bold")
    t.add_column("Figure")
    t.add_column("Value", justify="right")
    t.add_column("Source")
    for key, val in data.items():
        if key in ("peak_tflops", "sources", "name", "path"):
            continue
        t.add_row(key, str(val), p.source_for(key) if key not in ("aliases", "source") else "")
    for col, v in p.peak_tflops.items():
        t.add_row(f"peak {col} (dense {'TOPS' if col == 'int8' else 'TFLOPS'})", f"{v:g}", p.source_for(f"peak_tflops.{col}"))
    Console().print(t)


@gpus_app.command("resolve")
def gpus_resolve(names: list[str] = typer.Argument(..., help="GPU names as written, e.g. 'NVIDIA A100-SXM4-80GB'"),
                 profiles: Optional[str] = PROFILES_OPT) -> None:
    """Which profile each name resolves to, and by which rule (alias, parsed name, family default)."""
    catalog = _engine(profiles).catalog
    for name in names:
        sys.stdout.write(catalog.resolve_detail(name).explain() + "\n")


@gpus_app.command("detect")
def gpus_detect(fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
                profiles: Optional[str] = PROFILES_OPT) -> None:
    """Name this machine's GPUs (NVML, nvidia-smi or rocm-smi) and the profile each resolves to.

    Exit codes: 0 every GPU found has a profile; 1 no GPU found (one line on stderr); 2 a GPU was
    found whose name resolves to no profile (the table is printed, then the reason)."""
    from phantom_report.engine.gpu_detect import NoGpuFound, detect_gpus, no_gpu_message
    from phantom_report.engine.output import check_format
    from phantom_report.errors import ProfileError

    check_format(fmt, ("table", "json"))
    detected, notes = detect_gpus(_engine(profiles).catalog)
    if not detected:
        raise NoGpuFound(no_gpu_message(notes))
    rows = [{"index": d.device.index, "name": d.device.name, "memory_gb": d.device.memory_gb, "tool": d.device.tool,
             "profile": d.profile, "explanation": d.explanation} for d in detected]
    if fmt == "json":
        sys.stdout.write(json.dumps({"gpus": rows}, indent=2) + "\n")
    else:
        for r in rows:
            mem = f"{r['memory_gb']:.1f} GB" if r["memory_gb"] is not None else "memory not reported"
            sys.stdout.write(f"GPU {r['index']}: {r['name']} ({mem}, {r['tool']}) -> {r['profile'] or 'no profile'}\n")
    bad = [d for d in detected if d.profile is None]
    if bad:
        raise ProfileError(f"GPU {bad[0].device.index} ({bad[0].device.name!r}): {bad[0].explanation}")


def _local_gpus(catalog) -> list[str]:
    """Profiles of this machine's GPUs for `--gpu local`, with a note on stderr saying what was found."""
    from phantom_report.engine.gpu_detect import local_gpu_profiles

    found = local_gpu_profiles(catalog)
    sys.stderr.write("local GPUs: " + "; ".join(f"{n} x {name} -> {prof}" for prof, n, name in found) + "\n")
    return [prof for prof, _, _ in found]


@models_app.command("list")
def models_list(fmt: str = FORMAT_OPT) -> None:
    """List the built-in models."""
    import pandas as pd

    from phantom_report.engine.output import check_format, emit
    from phantom_report.engine.zoo import builtin_workloads

    check_format(fmt)
    rows = [{
        "name": w.name, "display_name": w.display_name, "family": w.family,
        "params_total_b": w.params_total / 1e9, "params_active_b": w.params_active / 1e9,
        "gflops_per_sample": w.flops() / 1e9, "generative": w.generative,
        "aliases": ", ".join(w.aliases), "source": w.source,
    } for w in builtin_workloads().values()]
    emit(pd.DataFrame(rows), fmt, [
        ("name", "Name", ""), ("family", "Family", ""), ("params_total_b", "Params (B)", ".3f"),
        ("params_active_b", "Active (B)", ".3f"), ("gflops_per_sample", "GFLOP/sample*", ",.1f"),
    ], title="Built-in models (*at the default input size: 512 tokens for text models)")


@models_app.command("show")
def models_show(name: str, fmt: str = typer.Option("table", "--format", "-f", help="table or json")) -> None:
    """Operators, parameters and FLOPs of one built-in model."""
    from phantom_report.engine.zoo import resolve_builtin

    _inspect(resolve_builtin(name), 1, None, None, fmt)


@models_app.command("inspect")
def models_inspect(source: str = typer.Argument(..., help="zoo name, config.json, model dir, .onnx, .pt, or pkg.mod:factory"),
                   batch: int = typer.Option(1, "--batch", min=1), seq: Optional[int] = typer.Option(None, "--seq", min=1),
                   input_shape: Optional[str] = typer.Option(None, "--input-shape",
                                                             help="torch sources: 1,3,224,224 (';' between inputs)"),
                   fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
                   allow_python: bool = ALLOW_PYTHON_OPT) -> None:
    """Model report card for any front end: params, FLOPs, bytes per precision, op classes."""
    _inspect(source, batch, seq, input_shape, fmt, allow_python=allow_python)


def _parse_shapes(text: str | None):
    from phantom_report.errors import ModelError

    if not text:
        return None
    try:
        shapes = [[int(d) for d in part.split(",")] for part in text.split(";") if part.strip()]
    except ValueError:
        raise ModelError(f"--input-shape must look like 1,3,224,224 (';' between inputs), got {text!r}") from None
    return shapes[0] if len(shapes) == 1 else shapes


def _inspect(source: str, batch: int, seq: int | None, input_shape: str | None, fmt: str,
             allow_python: bool = False) -> None:
    from phantom_report.engine.frontends.card import model_card, render_card
    from phantom_report.engine.output import check_format, wide_console
    from phantom_report.engine.sources import load_workload

    check_format(fmt, ("table", "json"))
    workload = load_workload(source, batch_size=batch, seq_len=seq, input_shape=_parse_shapes(input_shape),
                             allow_python=allow_python)
    card = model_card(workload, batch_size=batch, seq_len=seq)
    if fmt == "json":
        sys.stdout.write(json.dumps(card, indent=2, default=str) + "\n")
    else:
        wide_console().print(render_card(card))


PRED_COLUMNS = [
    ("model", "Model", ""), ("gpu", "GPU", ""), ("precision", "Prec", ""), ("batch_size", "Batch", "d"),
    ("latency_txt", "Latency ms (interval)", ""), ("throughput_txt", "Per s (interval)", ""),
    ("llm_txt", "TTFT/TPOT ms", ""), ("memory_gb", "Mem GB", ".1f"), ("fits_txt", "Fits", ""),
    ("extrap_txt", "Corpus", ""),
]


def _decorate(rows: list[dict]) -> list[dict]:
    """Prediction rows (dicts, as `Engine.predict` or `DataFrame.to_dict("records")` give them) with
    the table's text columns added. Plain Python: a single `predict` never loads pandas."""
    from phantom_report.engine.output import fmt_num, fmt_range

    out, n = [], 0
    for r in rows:
        r = dict(r)
        r["latency_txt"] = fmt_range(r["latency_ms"], r["latency_ms_low"], r["latency_ms_high"]) if r["latency_ms"] == r["latency_ms"] else "—"
        r["throughput_txt"] = (fmt_range(r["throughput_per_s"], r["throughput_per_s_low"], r["throughput_per_s_high"])
                               if r["throughput_per_s"] == r["throughput_per_s"] else "—")
        r["llm_txt"] = f"{fmt_num(r['ttft_ms'])}/{fmt_num(r['tpot_ms'])}" if r["ttft_ms"] == r["ttft_ms"] else "—"
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


def _print_notes(rows: list[dict]) -> None:
    from phantom_report.engine.output import wide_console

    # numbered in the order _decorate numbered them: a row's fit note, then its extrapolation note
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
    from phantom_report.engine.output import check_format, emit
    from phantom_report.errors import PredictionError

    check_format(fmt)
    check_int("--batch", batch, 1, MAX_BATCH_SIZE)
    check_int("--gpu-count", gpu_count, 1, MAX_GPU_COUNT)
    for name, value in (("--seq-in", seq_in), ("--seq-out", seq_out)):
        if value is not None:
            check_int(name, value, 1, MAX_SEQ_LEN)
    check_runtime(runtime)
    eng = _engine(profiles)
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
        from phantom_report.engine.output import records

        sys.stdout.write(json.dumps(records([row])[0], indent=2) + "\n")
        return
    rows = _decorate([row])
    emit(rows, fmt, PRED_COLUMNS, title=f"{confidence:.0%} prediction intervals")
    _print_notes(rows)


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
    from phantom_report.engine.output import check_format, emit, split_list
    from phantom_report.errors import PredictionError

    check_format(fmt)
    eng = _engine(profiles)
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
    rows = _decorate(df.to_dict(orient="records"))
    emit(rows, fmt, PRED_COLUMNS,
         title=f"Predicted performance ({confidence:.0%} intervals), fastest first per model/batch/precision")
    _print_notes(rows)


def register(app: typer.Typer) -> None:
    app.add_typer(gpus_app, name="gpus")
    app.add_typer(models_app, name="models")
    app.command("predict")(predict)
    app.command("compare")(compare)
