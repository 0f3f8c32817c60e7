"""Speed benchmark of the predictor: sweeps (a mixed grid and an LLM prefill+decode grid) and
single predictions.

    python benchmarks/speed/bench_predict.py [--points 100000] [--repeat 3]

Prints, each as the median of --repeat runs with the machine's load average beside it:
- points/second of `Engine.predict_grid` on the mixed grid (every zoo model x GPU x precision x
  batch x sequence length) and on an LLM grid (decoder models only, inference with prefill and
  decode: seq_in x seq_out x runtime x KV format); target >= 1,000,000 points/s on one core;
- the latency of one warm `Engine.predict` (the same point repeated, and random points);
  target <= 1 ms.
Sweeps print wall and CPU rates, and the best run's CPU rate: on a shared machine the figure other
processes disturb least.
The cold CLI (`phantom-report predict`, target <= 0.4 s) is measured with --cli.
Figures vary with load: the machine's other work is printed, not subtracted.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from phantom_report.engine.api import Engine  # noqa: E402

CLI_ARGS = ["predict", "--model", "llama-3.1-8b", "--gpu", "H100-SXM", "--precision", "fp16", "--batch", "8"]


def _repeat(combos: list, n_points: int, columns: list[str]) -> pd.DataFrame:
    reps = -(-n_points // len(combos))
    return pd.DataFrame((combos * reps)[:n_points], columns=columns)


def sweep_grid(engine: Engine, n_points: int) -> pd.DataFrame:
    """Mixed grid: every zoo model on every GPU profile, five precisions, batch and sequence sizes."""
    models = [w.name for w in engine.models()]
    gpus = engine.catalog.names
    precisions = ["fp16", "bf16", "fp8", "int8", "fp32"]
    batches = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    seqs = [128, 512, 1024, 2048, 4096]
    combos = list(itertools.product(models, gpus, precisions, batches, seqs))
    df = _repeat(combos, n_points, ["model", "gpu", "precision", "batch_size", "seq_in"])
    df["seq_out"] = 128
    return df


def llm_grid(engine: Engine, n_points: int) -> pd.DataFrame:
    """LLM serving grid: decoder models only, prefill + decode per point (seq_in x seq_out), serving
    runtimes and KV-cache formats, on every GPU profile."""
    models = [w.name for w in engine.models() if w.generative]
    gpus = engine.catalog.names
    precisions = ["fp16", "fp8", "int4"]
    batches = [1, 8, 32, 128]
    seq_in = [128, 1024, 4096]
    seq_out = [32, 256, 1024]
    runtimes = ["vllm", "tensorrt-llm"]
    combos = list(itertools.product(models, gpus, precisions, batches, seq_in, seq_out, runtimes))
    return _repeat(combos, n_points, ["model", "gpu", "precision", "batch_size", "seq_in", "seq_out", "runtime"])


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def bench_sweep(engine: Engine, name: str, grid: pd.DataFrame, repeat: int) -> None:
    engine.predict_grid(grid.head(1000))  # warm the caches a first real call would fill
    rates, cpu_rates, loads = [], [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = engine.predict_grid(grid)
        rates.append(len(grid) / (time.perf_counter() - t))
        cpu_rates.append(len(grid) / (time.process_time() - c))
        loads.append(os.getloadavg()[0])
    # points per CPU second beside wall time: on a loaded machine the wall time includes waiting for a core
    print(f"sweep {name}: {len(grid):,} points ({int(out['supported'].sum()):,} supported, "
          f"{out['model'].nunique()} models x {out['gpu'].nunique()} GPUs): median {statistics.median(rates):,.0f} "
          f"points/s wall, {statistics.median(cpu_rates):,.0f} points/CPU-s, best {max(cpu_rates):,.0f} points/CPU-s "
          f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}; load {statistics.median(loads):.2f})")


def bench_single(engine: Engine, repeat: int) -> None:
    rng = np.random.default_rng(0)
    models = [w.name for w in engine.models()]
    gpus = list(engine.catalog.names)
    for label, draw in (("same point", lambda: ("llama-3.1-8b", "H100-SXM", "fp16", 8, 512, 128)),
                        ("random points", lambda: (models[rng.integers(len(models))], gpus[rng.integers(len(gpus))],
                                                   "fp16", int(rng.choice([1, 8, 64])), 512, 128))):
        medians, cpu = [], []
        for _ in range(repeat):
            times, cpu_times = [], []
            for _ in range(200):
                m, g, p, b, si, so = draw()
                t, c = time.perf_counter(), time.process_time()
                engine.predict(m, g, p, b, seq_in=si, seq_out=so)
                times.append(time.perf_counter() - t)
                cpu_times.append(time.process_time() - c)
            medians.append(np.median(times) * 1e3)
            cpu.append(np.median(cpu_times) * 1e3)
        # CPU time beside wall time: on a loaded machine the wall time includes waiting for a core
        print(f"single prediction ({label}): median {statistics.median(medians):.3f} ms wall, "
              f"{statistics.median(cpu):.3f} ms CPU (runs: {', '.join(f'{m:.3f}' for m in medians)} ms; {load()})")


def bench_cli(repeat: int) -> None:
    exe = [sys.executable, "-m", "phantom_report"] + CLI_ARGS
    env = {**os.environ, "PHANTOM_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(exe, check=True, capture_output=True, env=env, timeout=120)
        times.append(time.perf_counter() - t)
    # without the project's bytecode every start compiles its modules again (~0.1-0.2 s): say so
    # (scripts/install.sh writes it; PYTHONDONTWRITEBYTECODE=1 keeps a checkout from writing it)
    import importlib.util

    from phantom_report import cli

    cached = os.path.exists(importlib.util.cache_from_source(cli.__file__))
    note = "" if cached else "; no .pyc of the project: every start compiles it (run scripts/install.sh)"
    print(f"cold CLI `phantom-report {' '.join(CLI_ARGS)}`: median {statistics.median(times):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)}; {load()}{note})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cli", action="store_true", help="also time the cold `phantom-report predict` CLI")
    ap.add_argument("--only", choices=["sweep", "single", "cli"], help="run one part only")
    args = ap.parse_args()
    t0 = time.perf_counter()
    engine = Engine.load()
    engine.models()
    print(f"engine load (profiles + zoo + calibration): {(time.perf_counter() - t0) * 1e3:.0f} ms ({load()})")
    if args.only in (None, "sweep"):
        bench_sweep(engine, "mixed grid", sweep_grid(engine, args.points), args.repeat)
        bench_sweep(engine, "LLM prefill+decode grid", llm_grid(engine, args.points), args.repeat)
    if args.only in (None, "single"):
        bench_single(engine, args.repeat)
    if args.cli or args.only == "cli":
        bench_cli(args.repeat)


if __name__ == "__main__":
    main()
