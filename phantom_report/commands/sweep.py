"""`phantom-report sweep`: a large grid in bounded memory, in-process or on Dask (engine/sweep.py)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from phantom_report.commands.options import ALLOW_PYTHON_OPT, FORMAT_OPT, PROFILES_OPT

MAX_AXIS_VALUES = 10_000  # values per axis; the product is bounded by sweep.MAX_SWEEP_POINTS
MAX_LOCAL_WORKERS = 64


def _ints(option: str, text: str | None, least: int, most: int) -> tuple:
    """A comma-separated list of integers, each in [least, most]; (None,) when not given."""
    from phantom_report.engine.limits import check_int, show
    from phantom_report.commands.output import split_list
    from phantom_report.errors import PredictionError

    if text is None:
        return (None,)
    items = split_list(text)
    if not items or len(items) > MAX_AXIS_VALUES:
        raise PredictionError(f"{option}: expected 1..{MAX_AXIS_VALUES:,} comma-separated integers, got {show(text)}")
    try:
        values = [int(v) for v in items]
    except ValueError:
        raise PredictionError(f"{option} must be comma-separated positive integers, got {show(text)}") from None
    return tuple(dict.fromkeys(check_int(option, v, least, most) for v in values))


def sweep(
    models: str = typer.Option(..., "--models", help="comma-separated zoo names/aliases or model sources"),
    gpus: str = typer.Option("all", "--gpus", help="comma-separated GPU names, or all"),
    precisions: str = typer.Option("fp16", "--precisions", help="comma-separated"),
    batch_sizes: str = typer.Option("1", "--batch-sizes", help="comma-separated"),
    seq_in: Optional[str] = typer.Option(None, "--seq-in", help="comma-separated input lengths (text models)"),
    seq_out: Optional[str] = typer.Option(None, "--seq-out", help="comma-separated output lengths (LLMs)"),
    task: str = typer.Option("inference", "--task"),
    runtime: str = typer.Option("pytorch", "--runtime"),
    chunk_points: int = typer.Option(100_000, "--chunk-points", help="points evaluated at a time (bounds memory)"),
    out: Optional[str] = typer.Option(None, "--out", help="new or empty directory for every row as CSV parts, "
                                      "best.csv and sweep.json (with --dask: a path the workers can write)"),
    dask: Optional[str] = typer.Option(None, "--dask", help="run on an existing Dask scheduler (tcp://HOST:PORT)"),
    dask_local: Optional[int] = typer.Option(None, "--dask-local", help="run on a local Dask cluster of N worker processes"),
    fmt: str = FORMAT_OPT,
    profiles: Optional[str] = PROFILES_OPT,
    allow_python: bool = ALLOW_PYTHON_OPT,
) -> None:
    """Sweep models x GPUs x precisions x batch sizes x sequence lengths in chunks; print the best
    configuration (highest throughput that fits) per model, GPU and precision."""
    from phantom_report.engine import sweep as S
    from phantom_report.engine.api import Engine
    from phantom_report.commands.predict import PRED_COLUMNS, decorate, print_notes
    from phantom_report.engine.limits import MAX_BATCH_SIZE, MAX_SEQ_LEN, check_int, check_runtime
    from phantom_report.commands.output import check_format, emit, split_list
    from phantom_report.engine.precision import resolve_precision
    from phantom_report.errors import PredictionError

    check_format(fmt)
    if dask and dask_local is not None:
        raise PredictionError("--dask and --dask-local: give one or the other")
    if dask_local is not None:
        check_int("--dask-local", dask_local, 1, MAX_LOCAL_WORKERS)
    check_int("--chunk-points", chunk_points, 1, S.MAX_CHUNK_POINTS)
    check_runtime(runtime)
    spec_axes = {"batch_sizes": _ints("--batch-sizes", batch_sizes, 1, MAX_BATCH_SIZE),
                 "seq_ins": _ints("--seq-in", seq_in, 1, MAX_SEQ_LEN),
                 "seq_outs": _ints("--seq-out", seq_out, 1, MAX_SEQ_LEN)}
    eng = Engine.load(profiles_dir=profiles)
    workloads = {w.name: w for w in (eng.workload(m, allow_python=allow_python) for m in split_list(models))}
    gpu_list = eng.catalog.names if gpus.strip().lower() == "all" else list(
        dict.fromkeys(eng.catalog.resolve(g) for g in split_list(gpus)))
    precision_list = list(dict.fromkeys(split_list(precisions)))
    for p in precision_list:  # here, not on a worker after the cluster started
        resolve_precision(p)
    for option, values in (("--models", workloads), ("--gpus", gpu_list), ("--precisions", precision_list)):
        if not values or len(values) > MAX_AXIS_VALUES:
            raise PredictionError(f"{option}: expected 1..{MAX_AXIS_VALUES:,} values, got {len(values)}")
    spec = S.GridSpec(models=tuple(workloads), gpus=tuple(gpu_list), precisions=tuple(precision_list),
                      extra=(("task", task), ("runtime", runtime)), **spec_axes)
    eng = eng.with_workloads(workloads)  # travels with the engine to Dask workers
    result = _run(S, eng, spec, chunk_points, out, dask, dask_local)
    sys.stderr.write(f"{result.n_points:,} points ({result.n_supported:,} supported, {result.n_fits:,} fit) in "
                     f"{result.n_chunks} chunks, {result.elapsed_s:.1f} s ({result.points_per_s:,.0f} points/s)"
                     + (f"; every row in {result.out_dir}" if result.out_dir else "") + "\n")
    columns = PRED_COLUMNS[:4] + [("seq_in", "Seq in", ".0f")] + PRED_COLUMNS[4:]
    if fmt != "table":
        emit(result.best, fmt, columns)
        return
    best = decorate(result.best)
    emit(best, fmt, columns, title="Best configuration per model, GPU and precision (highest throughput that fits)")
    print_notes(best)


def _run(S, eng, spec, chunk_points: int, out: str | None, dask: str | None, dask_local: int | None):
    """The sweep on the chosen executor; a local cluster lives only as long as the command."""
    if not dask and dask_local is None:
        return S.sweep_chunks(eng, spec, chunk_points, out_dir=out)
    from phantom_report.errors import PhantomError

    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise PhantomError("--dask needs the `distributed` package (pip install 'phantom-report[dask]')") from None
    if dask:
        try:
            client = Client(dask, timeout="10s")
        except (OSError, ValueError, TypeError) as exc:
            raise PhantomError(f"cannot reach Dask scheduler {dask}: {exc}") from None
        with client:
            return S.sweep_dask(client, eng, spec, chunk_points, out_dir=out)
    with LocalCluster(n_workers=dask_local, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return S.sweep_dask(client, eng, spec, chunk_points, out_dir=out)


def register(app: typer.Typer) -> None:
    """Add `sweep` to the `phantom-report` app."""
    app.command("sweep")(sweep)
