"""Large sweeps (millions of points) in bounded memory, in-process or on a Dask cluster.

A sweep is the cartesian product of a `GridSpec`'s axes, numbered 0..n_points-1 in
`itertools.product` order (last axis fastest). It is evaluated in chunks of `chunk_points`
consecutive points; a chunk's rows are built from their point numbers alone, so no process ever
holds the whole grid, and memory stays at a few chunks whatever the sweep's size.

What comes out (`SweepResult`) — what a user of a 10M-point sweep acts on:
- `best`: one row per (model, gpu, precision): the supported configuration that fits in memory
  with the highest `throughput_per_s` (ties: the lowest point number), with every prediction
  column. This is a reduction, so any chunking and any execution order give the same frame.
- counts (`n_points`, `n_supported`, `n_fits`);
- optionally every predicted row, as CSV parts `part-00000.csv`, ... in `out_dir` (one per chunk,
  each written whole or not at all; with Dask the workers write them, so `out_dir` must be a path
  the workers can reach — the same machine for a `LocalCluster`). Rows carry their `point` number;
  `read_parts(out_dir)` concatenates them in point order.

The in-process path (`sweep_chunks`) and the Dask path (`sweep_dask`) run the same chunk function
on the same chunk boundaries, so their numbers are identical to the last bit.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from phantom_report.atomic import write_atomic
from phantom_report.errors import PhantomError

MAX_SWEEP_POINTS = 1_000_000_000  # ~3 h at 100k points/s; a bound against a typo, not a target
MAX_CHUNK_POINTS = 2_000_000  # a chunk's frame + intermediates stay around a GB or less
DEFAULT_CHUNK_POINTS = 100_000
GROUP_COLUMNS = ("model", "gpu", "precision")
_PART_NAME = "part-{:05d}.csv"


@dataclass(frozen=True)
class GridSpec:
    """The axes of a sweep; `extra` holds columns with one value for every point (task, runtime...).
    `seq_ins`/`seq_outs` may be `(None,)` for models without sequence inputs."""

    models: tuple[str, ...]
    gpus: tuple[str, ...]
    precisions: tuple[str, ...] = ("fp16",)
    batch_sizes: tuple[int, ...] = (1,)
    seq_ins: tuple[int | None, ...] = (None,)
    seq_outs: tuple[int | None, ...] = (None,)
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        for name, values in self._axes():
            if not values:
                raise PhantomError(f"sweep: axis {name} is empty; give at least one value")
        if self.n_points > MAX_SWEEP_POINTS:
            raise PhantomError(f"sweep: {self.n_points:,} points exceeds the limit of {MAX_SWEEP_POINTS:,}")

    def _axes(self) -> list[tuple[str, tuple]]:
        return [("model", self.models), ("gpu", self.gpus), ("precision", self.precisions),
                ("batch_size", self.batch_sizes), ("seq_in", self.seq_ins), ("seq_out", self.seq_outs)]

    @property
    def n_points(self) -> int:
        """Points in the whole grid (product of the axis lengths)."""
        return int(np.prod([len(v) for _, v in self._axes()], dtype=object))

    @property
    def group_stride(self) -> int:
        """Consecutive points sharing model, GPU and precision (the product of the later axes)."""
        return len(self.batch_sizes) * len(self.seq_ins) * len(self.seq_outs)

    def points(self, start: int, stop: int) -> pd.DataFrame:
        """Points `start..stop-1` as a `predict_grid` input frame, with their `point` number first."""
        idx = np.arange(start, min(stop, self.n_points), dtype=np.int64)
        cols: dict[str, Any] = {"point": idx}
        rest = idx
        decoded = []
        for name, values in reversed(self._axes()):  # mixed-radix digits, last axis fastest
            rest, digit = np.divmod(rest, len(values))
            decoded.append((name, digit, values))
        for name, digit, values in reversed(decoded):
            if name in ("seq_in", "seq_out"):
                arr = np.array([np.nan if v is None else float(v) for v in values])
            else:
                arr = np.asarray(values, dtype=object if isinstance(values[0], str) else None)
            cols[name] = arr[digit]
            if arr.dtype == object:  # names stay Python objects: pandas would test every cell to type them
                cols[name] = pd.Series(cols[name], dtype=object, copy=False)
        df = pd.DataFrame(cols, copy=False)
        for key, value in self.extra:
            df[key] = value
        return df


@dataclass(frozen=True)
class ChunkOutcome:
    """What one chunk sends back: counts and its per-group best rows (small whatever the chunk)."""

    index: int
    n_points: int
    n_supported: int
    n_fits: int
    best: pd.DataFrame


@dataclass(frozen=True)
class SweepResult:
    """Summary of one sweep: points predicted, supported and fitting, chunks written, the best
    configuration per (model, GPU, precision), where the chunks went and the wall time (seconds)."""

    n_points: int
    n_supported: int
    n_fits: int
    n_chunks: int
    best: pd.DataFrame  # one row per (model, gpu, precision); see the module docstring
    out_dir: str | None
    elapsed_s: float

    @property
    def points_per_s(self) -> float:
        """Points predicted per second of wall time (NaN for a zero-time sweep)."""
        return self.n_points / self.elapsed_s if self.elapsed_s > 0 else float("nan")


def chunk_bounds(n_points: int, chunk_points: int) -> list[tuple[int, int]]:
    """[start, stop) of each chunk, in order."""
    if not 1 <= chunk_points <= MAX_CHUNK_POINTS:
        raise PhantomError(f"sweep: chunk_points must be 1..{MAX_CHUNK_POINTS:,}, got {chunk_points!r}")
    return [(s, min(s + chunk_points, n_points)) for s in range(0, n_points, chunk_points)]


def predict_points(engine, spec: GridSpec, start: int, stop: int) -> pd.DataFrame:
    """Predictions of points `start..stop-1` (the `predict_grid` columns, `point` first)."""
    pts = spec.points(start, stop)
    out = engine.predict_grid(pts.drop(columns="point"))
    out.insert(0, "point", pts["point"].to_numpy())
    return out


def best_per_group(df: pd.DataFrame, within: np.ndarray | None = None) -> pd.DataFrame:
    """Per (model, gpu, precision), the fitting supported row of highest throughput (ties: lowest
    point). Associative: best of bests == best of all rows, so chunking cannot change it.
    within: optional integer key per row refining the groups (rows with one key share model, GPU
    and precision: a sweep's `point // GridSpec.group_stride`); each key's best is found on numbers
    first, so only those few rows are grouped by their names."""
    throughput = df["throughput_per_s"].to_numpy(dtype=float, na_value=np.nan)
    point = df["point"].to_numpy()
    ok = np.flatnonzero(df["supported"].to_numpy(dtype=bool) & df["fits"].to_numpy(dtype=bool) & ~np.isnan(throughput))
    if within is not None:
        ok = ok[_group_bests(np.asarray(within)[ok], throughput[ok], point[ok])]
    group = df[list(GROUP_COLUMNS)].iloc[ok].groupby(list(GROUP_COLUMNS), sort=False).ngroup().to_numpy()
    best = df.iloc[ok[_group_bests(group, throughput[ok], point[ok])]]
    return best.sort_values(list(GROUP_COLUMNS) + ["point"], kind="mergesort").reset_index(drop=True)


def _group_bests(group: np.ndarray, throughput: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Position of each group's best row: highest throughput, then lowest point (rows ranked by
    group, throughput descending, point ascending; each group's first)."""
    if len(group) > 1 and (group[1:] >= group[:-1]).all() and (point[1:] > point[:-1]).all():
        # groups are runs of rows in point order (a sweep's chunk): each run's first row at its maximum
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        at_max = throughput == np.repeat(np.maximum.reduceat(throughput, starts), np.diff(np.r_[starts, len(group)]))
        rows = np.flatnonzero(at_max)
        run = np.searchsorted(starts, rows, side="right")
        return rows[np.r_[True, run[1:] != run[:-1]]]
    order = np.lexsort((point, -throughput, group))
    if not len(order):
        return order
    return order[np.r_[True, group[order][1:] != group[order][:-1]]]


def run_chunk(engine, spec: GridSpec, index: int, start: int, stop: int, out_dir: str | None) -> ChunkOutcome:
    """One chunk, on whichever process runs it: predict, optionally write its CSV part, reduce."""
    df = predict_points(engine, spec, start, stop)
    if out_dir is not None:
        # the one atomic writer: a reader never sees half a part, a failed write leaves no temp file
        write_atomic(Path(out_dir) / _PART_NAME.format(index), df.to_csv(index=False))
    return ChunkOutcome(index, len(df), int(df["supported"].sum()), int((df["supported"] & df["fits"]).sum()),
                        best_per_group(df, df["point"].to_numpy() // spec.group_stride))


def iter_chunks(engine, spec: GridSpec, chunk_points: int = DEFAULT_CHUNK_POINTS) -> Iterator[pd.DataFrame]:
    """Every chunk's full predictions in point order, one frame at a time (for streaming consumers)."""
    for start, stop in chunk_bounds(spec.n_points, chunk_points):
        yield predict_points(engine, spec, start, stop)


def sweep_chunks(engine, spec: GridSpec, chunk_points: int = DEFAULT_CHUNK_POINTS, *,
                 out_dir: str | os.PathLike | None = None) -> SweepResult:
    """The whole sweep in this process, one chunk at a time."""
    t0 = time.perf_counter()
    bounds = chunk_bounds(spec.n_points, chunk_points)
    out = _prepare_out_dir(out_dir)
    outcomes = [run_chunk(engine, spec, i, s, e, out) for i, (s, e) in enumerate(bounds)]
    return _finish(spec, outcomes, out, time.perf_counter() - t0)


def sweep_dask(client, engine, spec: GridSpec, chunk_points: int = DEFAULT_CHUNK_POINTS, *,
               out_dir: str | os.PathLike | None = None, max_in_flight: int | None = None) -> SweepResult:
    """The sweep on a Dask cluster (`distributed.Client`): the engine is sent to every worker once,
    at most `max_in_flight` chunks (default: 2 per worker thread) are queued at a time, so neither
    the scheduler nor the client holds more than a few chunks' worth of state."""
    from distributed import as_completed

    t0 = time.perf_counter()
    bounds = chunk_bounds(spec.n_points, chunk_points)
    out = _prepare_out_dir(out_dir)
    threads = sum(client.nthreads().values()) or 1
    limit = max_in_flight or 2 * threads
    engine_f = client.scatter(engine, broadcast=True)
    pending = iter(enumerate(bounds))

    def submit_next(queue) -> None:
        nxt = next(pending, None)
        if nxt is not None:
            i, (s, e) = nxt
            queue.add(client.submit(run_chunk, engine_f, spec, i, s, e, out, pure=False))

    queue = as_completed([])
    for _ in range(min(limit, len(bounds))):
        submit_next(queue)
    outcomes: list[ChunkOutcome] = []
    for fut in queue:
        outcomes.append(fut.result())  # a worker's exception surfaces here, as the sweep's
        fut.release()
        submit_next(queue)
    return _finish(spec, outcomes, out, time.perf_counter() - t0)


def read_parts(out_dir: str | os.PathLike) -> pd.DataFrame:
    """Every predicted row of a sweep written with `out_dir`, in point order."""
    parts = sorted(Path(out_dir).glob("part-*.csv"))
    if not parts:
        raise PhantomError(f"sweep: no part-*.csv files in {out_dir}")
    df = pd.concat([pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in parts], ignore_index=True)
    for col in df.columns:  # CSV cannot tell "" from missing: text columns hold "" where empty
        if not pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col]):
            df[col] = df[col].fillna("")
    return df


def _prepare_out_dir(out_dir) -> str | None:
    if out_dir is None:
        return None
    path = Path(out_dir)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise PhantomError(f"sweep: output directory {path} exists and is not empty; give a new or empty one")
    path.mkdir(parents=True, exist_ok=True)
    return str(path.resolve())


def _finish(spec: GridSpec, outcomes: list[ChunkOutcome], out_dir: str | None, elapsed_s: float) -> SweepResult:
    outcomes = sorted(outcomes, key=lambda o: o.index)
    frames = [o.best for o in outcomes if len(o.best)]
    best = best_per_group(pd.concat(frames, ignore_index=True)) if frames else outcomes[0].best.iloc[0:0]
    result = SweepResult(sum(o.n_points for o in outcomes), sum(o.n_supported for o in outcomes),
                         sum(o.n_fits for o in outcomes), len(outcomes), best, out_dir, elapsed_s)
    if out_dir is not None:
        best.to_csv(Path(out_dir) / "best.csv", index=False)
        meta = {"spec": asdict(spec), "n_points": result.n_points, "n_supported": result.n_supported,
                "n_fits": result.n_fits, "n_chunks": result.n_chunks}
        (Path(out_dir) / "sweep.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return result
