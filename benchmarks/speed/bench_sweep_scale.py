"""Scale benchmark: a 10M-point chunked sweep in-process and on a local Dask cluster.

    python benchmarks/speed/bench_sweep_scale.py [--points 10000000] [--chunk-points 200000] [--workers 2]

Prints points/s for each path, the peak resident memory of this process and of every Dask worker
(target: < 4 GB for a 10M-point sweep), and whether both paths gave identical results (counts and
the best configuration per model x GPU x precision, compared exactly). Only the reduced result is
kept (no CSV parts): 10M rows of CSV would be ~6 GB of disk. Run it on an otherwise idle machine;
figures vary with load, which is printed.
"""

from __future__ import annotations

import argparse
import os
import resource

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per process, as the targets say

import pandas as pd  # noqa: E402

from phantom_report.engine import sweep as S  # noqa: E402
from phantom_report.engine.api import Engine  # noqa: E402

PRECISIONS = ("fp16", "bf16", "fp8", "int8", "fp32")
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def scale_spec(engine: Engine, n_points: int) -> S.GridSpec:
    """Every zoo model x every GPU x 5 precisions x 9 batch sizes x as many input lengths as it
    takes to reach `n_points` (the grid is a product, so it may exceed it a little)."""
    models = tuple(w.name for w in engine.models())
    gpus = tuple(engine.catalog.names)
    per_seq = len(models) * len(gpus) * len(PRECISIONS) * len(BATCHES)
    n_seq = max(1, -(-n_points // per_seq))
    return S.GridSpec(models=models, gpus=gpus, precisions=PRECISIONS, batch_sizes=BATCHES,
                      seq_ins=tuple(128 + 64 * i for i in range(n_seq)), seq_outs=(128,))


def peak_rss_mb() -> float:
    """This process's peak resident set size (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    """CPU seconds this process has used (user + system): on a shared machine, points per CPU
    second says more about the code than points per wall second."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_dask(engine: Engine, spec: S.GridSpec, chunk_points: int, workers: int):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, memory_limit="4GiB") as cluster, Client(cluster) as client:
        cpu0 = client.run(cpu_s)
        result = S.sweep_dask(client, engine, spec, chunk_points)
        worker_peaks = client.run(peak_rss_mb)
        cpu1 = client.run(cpu_s)
    return result, worker_peaks, sum(cpu1[w] - cpu0[w] for w in cpu1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--chunk-points", type=int, default=200_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-in-process", action="store_true")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    engine = Engine.load()
    spec = scale_spec(engine, args.points)
    print(f"grid: {spec.n_points:,} points ({len(spec.models)} models x {len(spec.gpus)} GPUs x "
          f"{len(spec.precisions)} precisions x {len(spec.batch_sizes)} batches x {len(spec.seq_ins)} seq_in), "
          f"chunks of {args.chunk_points:,}")
    local = None
    if not args.skip_in_process:
        cpu0 = cpu_s()
        local = S.sweep_chunks(engine, spec, args.chunk_points)
        used = cpu_s() - cpu0
        print(f"in-process: {local.elapsed_s:.1f} s -> {local.points_per_s:,.0f} points/s "
              f"({used:.0f} CPU s -> {local.n_points / used:,.0f} points per CPU s); "
              f"peak RSS {peak_rss_mb():,.0f} MB; {local.n_supported:,} supported, {len(local.best)} best rows")
    remote, worker_peaks, worker_cpu_s = run_dask(engine, spec, args.chunk_points, args.workers)
    print(f"dask LocalCluster ({args.workers} workers x 1 thread, 127.0.0.1): {remote.elapsed_s:.1f} s -> "
          f"{remote.points_per_s:,.0f} points/s ({worker_cpu_s:.0f} worker CPU s -> "
          f"{remote.n_points / worker_cpu_s:,.0f} points per CPU s); worker peak RSS "
          + ", ".join(f"{mb:,.0f} MB" for mb in worker_peaks.values()) + f"; client peak RSS {peak_rss_mb():,.0f} MB")
    if local is not None:
        same = ((local.n_points, local.n_supported, local.n_fits) == (remote.n_points, remote.n_supported, remote.n_fits)
                and local.best.equals(remote.best))
        if not same:
            pd.testing.assert_frame_equal(local.best, remote.best)  # shows where they differ
        print(f"identical results in-process vs dask: {same}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
