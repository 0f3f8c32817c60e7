"""Seeded Monte Carlo intervals for every priced row.

Three sources of uncertainty, drawn once and shared so comparisons stay consistent:

Every draw comes from its own stream (``stream``: seed + hash of the configuration key), so a
configuration's interval does not move when an unrelated workload or GPU is added to the spec.

* prediction error, one draw per engine point (workload x GPU x precision x batch x GPUs), from the
  engine's interval ``latency_ms_low/high`` at the spec's confidence: log-latency is a split normal
  whose halves hit those bounds at the matching quantile; throughput scales with 1/latency. Every
  quote of the same point sees the same draw (the error belongs to the hardware, not the price).
* demand, one draw per workload: log-normal with ``demand.uncertainty_pct`` at the confidence level.
* spot price, one draw per (provider, GPU): log-normal with the cross-region dispersion of that
  GPU's spot discount (list on-demand and reserved prices are fixed, so they get none).

Each sample is re-sized with ``economics.evaluate``; intervals are the central ``confidence``
quantiles. The same draws give each point's probability of meeting its latency SLOs.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist
from typing import Mapping

import numpy as np
import pandas as pd

from phantom_report.reporter.economics import ARRAY_INPUTS, EVAL_COLUMNS, as_arrays, evaluate, slo_thresholds
from phantom_report.reporter.grid import POINT_KEYS
from phantom_report.reporter.spec import RunSpec

SPOT_SIGMA_FLOOR = 0.05  # spot prices move even where the snapshot shows one region
# rows simulated at once: rows x samples arrays of ~2 MB stay in the CPU cache through evaluate's
# ~40 array operations; 2000 rows x 1000 samples (16 MB arrays) took ~1.6x the CPU (mixed example)
CHUNK_ELEMENTS = 256_000
MIN_CHUNK_ROWS = 16  # with 100,000 samples: 12.8 MB arrays rather than thousands of tiny chunks
# chunks simulated at once (simulate); a service runs several reports side by side, and each thread's
# chunk adds ~40 MB at peak (mixed example: 195 MB peak RSS on one thread, 236 MB on two)
MAX_THREADS = 4
INTEGER_COLUMNS = ("replicas", "instances", "gpus")
# the columns a simulated row needs: evaluate's inputs and what picks its draws (_evaluate_samples)
SAMPLE_INPUTS = (*ARRAY_INPUTS, "point_id", "workload", "option", "provider", "gpu")


def z_for(confidence: float) -> float:
    """The two-sided standard-normal quantile of a ``confidence`` level (0.9 -> 1.645)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def latency_scale(points: pd.DataFrame, z: np.ndarray, confidence: float) -> np.ndarray:
    """Multiplicative latency factor per point and sample (shape points x samples)."""
    zc = z_for(confidence)
    lat = points["latency_ms"].to_numpy(float)[:, None]
    low = points["latency_ms_low"].to_numpy(float)[:, None]
    high = points["latency_ms_high"].to_numpy(float)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        s_hi = np.nan_to_num(np.log(high / lat) / zc, nan=0.0).clip(min=0)
        s_lo = np.nan_to_num(np.log(lat / low) / zc, nan=0.0).clip(min=0)
    return np.exp(np.where(z > 0, z * s_hi, z * s_lo))


def spot_sigma(qf: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(provider, gpu) -> sigma of log spot discount across that provider's regions/instances."""
    spot = qf[qf["option"] == "spot"][["provider", "gpu", "instance_type", "region", "usd_per_gpu_hour"]]
    od = qf[qf["option"] == "on-demand"][["provider", "instance_type", "region", "usd_per_gpu_hour"]]
    m = spot.merge(od, on=["provider", "instance_type", "region"], suffixes=("_spot", "_od"))
    out = {}
    for key, g in m.groupby(["provider", "gpu"]):
        ratio = np.log(g["usd_per_gpu_hour_spot"] / g["usd_per_gpu_hour_od"])
        sd = float(ratio.std(ddof=0)) if len(ratio) > 1 else 0.0
        out[key] = max(sd, SPOT_SIGMA_FLOOR)
    return out


@dataclass(frozen=True)
class Draws:
    """All random draws of one run: latency factor per point (points x samples), demand factor per
    workload, spot price factor per (provider, GPU), and each point's SLO probability."""

    latency_factor: np.ndarray
    demand: Mapping[str, np.ndarray]
    spot: Mapping[tuple[str, str], np.ndarray]
    slo_probability: pd.Series
    samples: int
    confidence: float


def stream(seed: int, *key) -> np.random.Generator:
    """A random stream of its own for one configuration key (a point, a workload's demand, a
    provider's GPU spot price): derived from the seed and a hash of the key, so adding or removing
    an unrelated workload or GPU never changes another configuration's draws."""
    digest = hashlib.sha256(repr((int(seed), *key)).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def draw(points: pd.DataFrame, qf: pd.DataFrame, spec: RunSpec) -> Draws:
    """The seeded Monte Carlo samples of one run (``spec.monte_carlo``): latency factors per point
    from the engine's intervals, demand and spot-price factors per workload, and each point's
    probability of meeting every SLO. Each stream is seeded by its key, so adding a point does not
    change the others' draws."""
    n = spec.monte_carlo.samples
    seed = spec.monte_carlo.seed
    conf = spec.confidence
    z = np.empty((len(points), n))
    for i, key in enumerate(points[POINT_KEYS].itertuples(index=False, name=None)):
        z[i] = stream(seed, "latency", *(k.item() if hasattr(k, "item") else k for k in key)).standard_normal(n)
    lat_f = latency_scale(points, z, conf)  # row i = points position i
    zc = z_for(conf)
    demand = {}
    for w in spec.workloads:
        sigma = np.log1p(w.demand.uncertainty_pct / 100.0) / zc
        demand[w.label] = np.exp(sigma * stream(seed, "demand", w.label).standard_normal(n))
    sig = spot_sigma(qf) if not qf.empty else {}
    spot = {g: np.exp(sig[g] * stream(seed, "spot", *g).standard_normal(n)) for g in sorted(sig)}
    return Draws(lat_f, demand, spot, _slo_probability(points, lat_f, spec), n, conf)


def simulate(rows: pd.DataFrame, d: Draws, baseline: Mapping[str, int]) -> pd.DataFrame:
    """Interval columns aligned to ``rows``: <col>_low/<col>_high for EVAL_COLUMNS and
    savings_usd_per_month. ``rows.point_id`` indexes the points the draws were made for."""
    n = d.samples
    base_samples = {w: _evaluate_samples(rows.loc[[idx]], d)["monthly_cost_usd"][0] for w, idx in baseline.items()}
    out = {f"{c}_{s}": np.full(len(rows), np.nan) for c in (*EVAL_COLUMNS, "savings_usd_per_month") for s in ("low", "high")}
    # only configurations a report can show with an interval (they meet the SLOs and the fleet
    # limit) or that serve as a baseline are simulated; the rest keep NaN intervals
    wanted = np.flatnonzero((rows["meets_slo"] & rows["fleet_ok"]).to_numpy() | rows.index.isin(list(baseline.values())))
    slim = rows[[c for c in SAMPLE_INPUTS if c in rows.columns]]  # row selection copies only these columns
    chunk_rows = max(MIN_CHUNK_ROWS, CHUNK_ELEMENTS // n)  # each row's numbers do not depend on its chunk
    positions = [wanted[start:start + chunk_rows] for start in range(0, len(wanted), chunk_rows)]
    frames = [slim.iloc[pos] for pos in positions]  # selected here: no pandas object is shared by threads

    def intervals(sub: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        base = np.stack([base_samples.get(w, np.full(n, np.nan)) for w in sub["workload"]]) if base_samples else None
        return _chunk_intervals(_evaluate_samples(sub, d), base, d.confidence)

    # chunks run on a few threads: the work is numpy on rows x samples arrays, which releases the
    # GIL (1.6x faster on 2 cores, mixed example); each thread reads only its own chunk's frame,
    # and the results are written here, in chunk order, so the numbers do not depend on threads
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, os.cpu_count() or 1, len(frames) or 1)) as pool:
        for pos, bounds in zip(positions, pool.map(intervals, frames)):
            for name, (lo, hi) in bounds.items():
                out[f"{name}_low"][pos], out[f"{name}_high"][pos] = lo, hi
    return pd.DataFrame(out, index=rows.index)


def _chunk_intervals(res: Mapping[str, np.ndarray], base: np.ndarray | None,
                     conf: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(low, high) per EVAL_COLUMNS column (and savings_usd_per_month against ``base``, the
    baseline's samples per row) from ``res``, rows x samples: the central ``conf`` quantiles."""
    q_lo, q_hi = 0.5 - conf / 2.0, 0.5 + conf / 2.0
    bounds = {}
    for c in EVAL_COLUMNS:
        if c in INTEGER_COLUMNS:  # a fleet is whole: bounds are samples, never interpolated
            bounds[c] = (np.quantile(res[c], q_lo, axis=1, method="lower"),
                         np.quantile(res[c], q_hi, axis=1, method="higher"))
        else:
            lo, hi = np.quantile(res[c], [q_lo, q_hi], axis=1)  # NaN only where a column does not apply
            bounds[c] = (lo, hi)
    if base is not None:
        saved = base - res["monthly_cost_usd"]
        # the baseline against itself (evaluated alone and again within a chunk) differs in the
        # last bits of floating point: a billionth of the cost is arithmetic, not a saving
        saved[np.abs(saved) <= 1e-9 * np.abs(base)] = 0.0
        lo, hi = np.quantile(saved, [q_lo, q_hi], axis=1)
        bounds["savings_usd_per_month"] = (lo, hi)
    return bounds


def _evaluate_samples(sub: pd.DataFrame, d: Draws) -> dict[str, np.ndarray]:
    """``economics.evaluate`` of every row of ``sub`` under every sample (rows x samples)."""
    thr = 1.0 / d.latency_factor[sub["point_id"].to_numpy()]
    dem = np.stack([d.demand[w] for w in sub["workload"]])
    price = np.ones((len(sub), d.samples))
    for i in np.flatnonzero((sub["option"] == "spot").to_numpy()):
        price[i] = d.spot.get((sub["provider"].iat[i], sub["gpu"].iat[i]), 1.0)
    return evaluate(as_arrays(sub, extra_dim=True), thr, dem, price)


def cost_samples(rows: pd.DataFrame, d: Draws) -> np.ndarray:
    """Simulated monthly cost (USD) of each row under the run's draws, shape rows x samples: the
    same samples ``simulate`` takes its intervals from (used for budget status, reporter/budget.py).
    Sample j of every row shares the draw j of demand and spot price, so rows can be summed."""
    if rows.empty:
        return np.empty((0, d.samples))
    return np.asarray(_evaluate_samples(rows, d)["monthly_cost_usd"], dtype=float)


def _slo_probability(points: pd.DataFrame, lat_f: np.ndarray, spec: RunSpec) -> pd.Series:
    """Share of samples in which every latency-type SLO of the point's workload holds. TTFT and
    time per output token scale with the same draw as latency (one error factor per point)."""
    wl = {w.label: w for w in spec.workloads}
    prob = np.ones(len(points))
    cols = [c for c in ("workload", "latency_ms", "ttft_ms", "per_stream_tokens_per_s") if c in points.columns]
    for i, p in enumerate(points[cols].to_dict("records")):  # plain dicts: iterrows' values, no Series per row
        ok = np.ones(lat_f.shape[1], dtype=bool)
        for col, limit in slo_thresholds(wl[p["workload"]]).items():
            v = p.get(col)
            if v is None or pd.isna(v):
                continue
            if col == "per_stream_tokens_per_s":
                ok &= (v / lat_f[i]) >= limit
            else:
                ok &= (v * lat_f[i]) <= limit
        prob[i] = ok.mean()
    return pd.Series(prob, index=points.index, name="slo_probability")
