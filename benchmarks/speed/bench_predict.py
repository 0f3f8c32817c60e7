"""Speed benchmark of the predictor: a 100k-point sweep and a single prediction.

    python benchmarks/speed/bench_predict.py [--points 100000]

Prints points/second for the vectorised sweep (target: >= 200k points/s on one core) and the
latency of one `Engine.predict` call. Run it on an otherwise idle machine; figures vary with load.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from phantom_report.engine.api import Engine  # noqa: E402


def sweep_grid(engine: Engine, n_points: int) -> pd.DataFrame:
    models = [w.name for w in engine.models()]
    gpus = engine.catalog.names
    precisions = ["fp16", "bf16", "fp8", "int8", "fp32"]
    batches = [1, 2, 4, 8, 16, 32, 64, 128, 256]
    seqs = [128, 512, 1024, 2048, 4096]
    combos = list(itertools.product(models, gpus, precisions, batches, seqs))
    reps = -(-n_points // len(combos))
    rows = (combos * reps)[:n_points]
    df = pd.DataFrame(rows, columns=["model", "gpu", "precision", "batch_size", "seq_in"])
    df["seq_out"] = 128
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    engine = Engine.load()
    engine.models()
    print(f"engine load (profiles + zoo + calibration): {(time.perf_counter() - t0) * 1e3:.0f} ms")
    grid = sweep_grid(engine, args.points)
    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        out = engine.predict_grid(grid)
        best = min(best, time.perf_counter() - t)
    n_ok = int(out["supported"].sum())
    print(f"sweep: {len(grid):,} points ({n_ok:,} supported, {out['model'].nunique()} models x "
          f"{out['gpu'].nunique()} GPUs) in {best:.3f} s -> {len(grid) / best:,.0f} points/s (best of {args.repeat})")
    times = []
    for _ in range(50):
        t = time.perf_counter()
        engine.predict("llama-3.1-8b", "H100-SXM", "fp16", 8, seq_in=512, seq_out=128)
        times.append(time.perf_counter() - t)
    print(f"single prediction: median {np.median(times) * 1e3:.2f} ms, p95 {np.percentile(times, 95) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
