"""Where the service's report runs execute: a local process pool by default, or an existing Dask
cluster (`executor: dask` + scheduler address). Both are `concurrent.futures.Executor`s (Dask's
through `Client.get_executor()`), so callers do not care which; we never start a cluster of our
own in production.

Large sweeps are not run here: their one implementation is engine/sweep.py (`sweep_chunks` in
process, `sweep_dask` on a cluster, the same chunk function on both); `ExecutorHandle.client` is
the Dask client to hand it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd

from phantom_report.errors import PhantomError


@dataclass
class ExecutorHandle:
    """The report worker pool the service runs on: a local process pool or a Dask client's executor."""

    executor: Executor
    kind: str
    client: Any = None  # the Dask client, kept to close it

    def health(self) -> dict:
        """What /healthz shows about the pool; `ok` False means runs cannot be started now."""
        if self.client is not None:
            status = str(getattr(self.client, "status", "unknown"))
            return {"kind": self.kind, "ok": status == "running", "status": status}
        own = getattr(self.executor, "health", None)
        if own is not None:
            return {"kind": self.kind, **own()}
        broken = bool(getattr(self.executor, "_broken", False))
        return {"kind": self.kind, "ok": not broken}

    def close(self) -> None:
        """Shut the pool down without waiting; queued work is cancelled (Dask: the client is closed)."""
        if self.client is not None:  # Dask's executor has no cancel_futures; the client owns the work
            self.executor.shutdown(wait=False)
            self.client.close()
        else:
            self.executor.shutdown(wait=False, cancel_futures=True)


def make_executor(kind: str = "local", workers: int = 2, dask_address: str | None = None, *,
                  isolate: bool = False, preload: tuple[str, ...] = (),
                  task_timeout_s: float | None = None) -> ExecutorHandle:
    """`isolate` (local only): every task in a process of its own, so a crash fails that task alone
    (report runs); otherwise a shared process pool (sweeps of trusted, short tasks)."""
    if kind == "local" and isolate:
        from .isolation import IsolatedExecutor

        return ExecutorHandle(IsolatedExecutor(workers, preload=preload, task_timeout_s=task_timeout_s), "local")
    if kind == "local":
        # spawn: the service process has threads (uvicorn, scheduler); forking those is unsafe
        ctx = multiprocessing.get_context("spawn")
        return ExecutorHandle(ProcessPoolExecutor(max_workers=workers, mp_context=ctx), "local")
    if kind == "dask":
        if not dask_address:
            raise PhantomError("executor dask needs a scheduler address (tcp://HOST:PORT)")
        try:
            from distributed import Client
        except ImportError:
            raise PhantomError("executor dask needs the `distributed` package (pip install 'dask[distributed]')") from None
        try:
            client = Client(dask_address, timeout="10s")
        except OSError as exc:
            raise PhantomError(f"cannot reach Dask scheduler {dask_address}: {exc}") from None
        return ExecutorHandle(client.get_executor(pure=False), "dask", client)
    raise PhantomError(f"executor: expected local or dask, got {kind!r}")


def grid(models: list[str], gpus: list[str], precisions: list[str], batch_sizes: list[int],
         **fixed: Any) -> pd.DataFrame:
    """The cartesian product as a `predict_grid` input frame."""
    rows = [{"model": m, "gpu": g, "precision": p, "batch_size": b, **fixed}
            for m in models for g in gpus for p in precisions for b in batch_sizes]
    return pd.DataFrame(rows)
