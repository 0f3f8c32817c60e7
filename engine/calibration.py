"""Fit the predictor's efficiency parameters to the measured corpus.

What is fitted (all physically meaningful, all bounded; see `parameter_specs`):

- per GPU architecture present in the data: achieved fraction of peak matmul compute on the 16-bit
  tensor-core path (`compute_eff[arch].matmul`, in (0, 1]) and of peak memory bandwidth
  (`memory_eff[arch]`, (0, 1]); and, where rows measure them, the fractions reached on the other
  matmul paths: fp32 on the FMA pipeline (`matmul_fp32`) and 8-bit tensor cores (`matmul_8bit`,
  int8/fp8). One value for every path was the largest structural error before: fp32 rows were
  under-predicted and fp16 rows over-predicted on the same GPUs (grouped-CV median 16.2% -> 13.5%);
- per runtime present other than the PyTorch baseline: a compute and a memory multiplier relative to
  PyTorch eager (TensorRT, TensorRT-LLM, ... fuse kernels and reach more of the roofline; the
  predictor caps arch_eff x multiplier at 1, so no prediction beats the datasheet), and a
  per-kernel launch-cost multiplier (graph replay and fused engines launch fewer, cheaper kernels);
- per runtime present: host/launch overhead per forward pass (`overhead_ms`);
- a runtime built on another's kernels (params.RUNTIME_PARENT: FasterTransformer's PyTorch op, TurboMind,
  NIM, ...) has those four values as ratios to its parent's (prior 1), and the parent's are fitted on
  its own and its children's rows (scope column `runtime_root`): held out, a child starts from its parent
  instead of PyTorch eager (leave-one-source-out mean APE 20.7% -> 20.2%, NIM 56% -> 28%);
- the per-kernel launch multiplier pooled over the fitted runtimes (`runtime_launch_mult["*"]`): the
  prior centre of each fitted runtime's own (`ParamSpec.prior_of`) and the value of a runtime without
  one (torch.compile with gpt-fast held out was predicted at eager PyTorch's launch floor; LOSO median
  11.7% -> 11.5%, torch.compile coverage 79% -> 88%);
- per runtime with decode rows (LLM generation: every metric but time to first token): the multiplier
  of memory efficiency in decode steps (`runtime_decode_memory_mult`: weight-streaming matrix-vector
  products, not the activation traffic a forward pass of an encoder or a CNN is bound by), each pulled
  toward a pooled centre (`runtime_decode_memory_mult["*"]`) that a fitted runtime without decode rows
  takes. Before, decode used the runtime's single memory multiplier, so LMDeploy's TurboMind with its
  one publication held out decoded at FasterTransformer's, fitted on BERT encoders: ~2x too slow
  (leave-one-source-out median APE of its rows 46.0% -> 14.1%, interval coverage 62.8% -> 95.3%; overall
  median 11.5% -> 11.6%, coverage 90.1% -> 90.9%, leave-one-GPU-out median 15.0% -> 14.8%). A centre also
  fitted on the rows of runtimes too thin for their own values raised the mean (premai's one-row runtimes
  predicted up to 6x too fast), so those keep eager PyTorch's multipliers in decode as elsewhere;
- globally: per-operator launch/dispatch cost (`per_op_overhead_us`, up to 100 us: eager PyTorch of
  the DeepLearningExamples era with autocast pays Python dispatch plus cast kernels per op) and the
  work per op at which compute efficiency reaches half its maximum (`size_half_gflop`, scaled by SM
  count);
- per architecture with grouped/depthwise convolution rows: the fraction of its matmul efficiency those
  convolutions reach (`compute_eff[arch].grouped_conv`: many small per-group GEMMs; ResNeXt's 32
  groups of 4-32 channels leave most of a tensor-core tile empty);
- per architecture with rows of attention models: the fraction of its matmul efficiency the attention
  core reaches (`compute_eff[arch].attention`: batched GEMMs over head_dim-wide operands around a
  softmax; unfused framework kernels reach far less than dense GEMMs, fused FMHA close to them);
  one value for all architectures took grouped-CV median 12.1% -> 11.7%, one per architecture 11.3%
  (Newton-refit CV; one per runtime instead was as good on (GPU, model) folds, worse holding out a
  source or a GPU; both together were worse than either);
- globally: the share of the shorter of each op's compute and memory times its longer one does not
  hide (`unhidden_fraction`: tiles load before the math starts and results store after it ends;
  pure roofline max() -> this: 12.8% -> 12.1% median, Newton-refit CV);
- globally: how much more of its peak a GPU with narrower matmul units reaches
  (`matmul_width_exponent`; see params.REFERENCE_MATMUL_WIDTH) and how far below the boost clock
  power-limited parts run (`base_clock_exponent`). Before them one efficiency per architecture served
  A100 (2048 FLOPs/SM/clock) and RTX 3090 (512) alike: Newton-refit CV median 11.3% -> 11.05%,
  RTX 3090 47% -> 18%, RTX 5090 36% -> 7%, A10 35% -> 24%;
- for rows in weight-only formats (GGUF k-quants, GPTQ/AWQ int4): the fraction of the GPU's integer
  issue rate (`GpuProfile.int32_ops_per_s`: 64 INT32 lanes per SM from Volta to Hopper, a quarter of
  the FP32 FLOP rate on GA10x/Ada/Hopper) at which their weights are unpacked (`dequant_eff`; the ALU
  operations per weight of each format are fixed in engine/precision.py: for GGUF block types counted
  from llama.cpp's MMVQ dot products (Q4_0 1.25, Q8_0 1.4, Q4_K_M 2.5, Q2_K 4.8, Q3_K_S 6.0), a
  family count for GPTQ/AWQ and i-quants; so decode of a 4-bit
  model is bandwidth-bound on its packed bytes unless unpacking is slower). Charging the unpack to the
  FP32 FLOP rate instead made it 2-4x too cheap: llama.cpp's batch-1 decode of k-quants on an RTX 3090
  (ALU-bound, slower than Q4_0 at fewer bytes) was then explained by the per-kernel launch floor, which
  in turn held fp16 and Q4_0 decode ~40% too slow (leave-one-source-out median on llama.cpp batch-1
  decode 36.6% -> 20.9%, 12 rows; corpus median/mean unchanged within 0.1 point; counting the
  operations per GGUF block type instead of per family, with 10 more sourced rows: 20.9% -> 16.3%, 17 rows);
- for mixture-of-experts models: the fraction of the dense matmul efficiency their expert GEMMs
  reach (`moe_matmul_eff`: each expert multiplies only the tokens routed to it, in grouped GEMMs of
  uneven, smaller shapes, plus the token permutation around them);
- for multi-GPU rows: a fixed cost per all-reduce call (`allreduce_latency_us`) and the achieved
  fraction of the link's bandwidth (`interconnect_eff`, in (0, 1]) of tensor-parallel and gradient
  all-reduces.

`compute_eff[arch].other` is not fitted: the IR's non-matmul ops (norms, elementwise, embeddings)
carry ~no FLOPs, so they are memory-bound and the data cannot see it.

Objective: `scipy.optimize.least_squares` on r_i = log(predicted_i / measured_i) in log-parameter
space, with a soft-L1 loss (a mis-transcribed or mis-modelled row cannot drag every parameter) and a
weak log-normal prior per parameter (pulls a parameter the data barely constrains — e.g. an
architecture seen in one fold only — to its textbook value instead of letting it run to a bound;
for a spec with `prior_of`, to the fitted value of that other spec: partial pooling).
The Jacobian's sparsity (an architecture's parameters only touch that architecture's rows) is passed
to the solver, so finite differences perturb unrelated parameters together and one fit costs a few
dozen predictor calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from phantom_report.engine.params import (
    ATTENTION, DEFAULT_DEQUANT_EFF, FP32_MATMUL, FP32_MATMUL_TEXTBOOK_EFF, GROUPED_CONV, MATMUL_PATH, POOLED_RUNTIME,
    REFERENCE_RUNTIME, RUNTIME_PARENT, CalibrationParams,
)
from phantom_report.engine.precision import COMPUTE_COLUMN, DEQUANT_FAMILY

if TYPE_CHECKING:
    from scipy.sparse import coo_matrix

PredictFn = Callable[[pd.DataFrame, CalibrationParams], pd.DataFrame]  # points, params -> predict_grid output

POINT_COLUMNS = ("model", "gpu", "gpu_count", "task", "runtime", "precision", "batch_size", "seq_in", "seq_out")
OPTIONAL_POINT_COLUMNS = ("kv_precision", "strict_precision")  # passed on when the rows carry them
BASELINE_RUNTIME = REFERENCE_RUNTIME
# corpus metric -> predict_grid column; prefill_tokens_per_s is derived as batch * seq_in / TTFT
METRIC_COLUMN = {
    "throughput_per_s": "throughput_per_s", "latency_ms": "latency_ms", "tokens_per_s": "tokens_per_s",
    "ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms", "prefill_tokens_per_s": "ttft_ms",
}
LOSS = "soft_l1"
LOSS_SCALE_LOG = 0.05  # residuals beyond ~5% (log units) count linearly, not quadratically
VERSION_PREFIX = "1"
# An architecture or runtime gets its own parameters only with this many rows; below it, it keeps the
# textbook defaults (a handful of rows would fit 2-3 parameters to themselves, not learn anything).
MIN_ROWS_PER_SCOPE = 20


@dataclass(frozen=True)
class ParamSpec:
    """One fitted scalar: where it lives in CalibrationParams, its bounds and its prior."""

    path: tuple[str, ...]  # e.g. ("compute_eff", "ampere", "matmul"), ("per_op_overhead_us",)
    lower: float
    upper: float
    prior: float  # textbook value the weak prior pulls toward
    prior_sigma_log: float  # prior width (log units); large = weak
    scope: tuple[str, str] | None  # (corpus column, value) of the rows it affects; None = all rows
    prior_of: str | None = None  # name of the spec whose fitted value is this one's prior centre (pooling)

    @property
    def name(self) -> str:
        """Dotted path of the parameter ("compute_eff.ampere.matmul"): its key in fit reports."""
        return ".".join(self.path)


@dataclass(frozen=True)
class FitResult:
    """The outcome of one calibration fit: the fitted parameters and their log values, the rows it
    fitted with their log residuals (log predicted/measured), and the optimiser's evaluation count
    and success flag."""

    params: CalibrationParams
    specs: tuple[ParamSpec, ...]
    x_log: np.ndarray  # fitted log-parameters, in specs order
    n_rows: int
    log_residuals: pd.Series  # log(pred/measured) on the fitted rows, indexed like the rows
    rows: pd.DataFrame  # the rows actually fitted (the predictor could price them)
    nfev: int
    success: bool
    message: str

    @property
    def n_params(self) -> int:
        """Number of fitted scalars."""
        return len(self.specs)

    def values(self) -> dict[str, float]:
        """Fitted value of each parameter by `ParamSpec.name` (linear scale, the parameter's own units)."""
        return {s.name: float(math.exp(v)) for s, v in zip(self.specs, self.x_log)}


def parameter_specs(rows: pd.DataFrame) -> tuple[ParamSpec, ...]:
    """The parameters the given rows can inform (needs an `arch` column; see `with_arch`).

    Architectures and runtimes with fewer than MIN_ROWS_PER_SCOPE rows get none (defaults apply)."""
    specs: list[ParamSpec] = []
    arch_n, rt_n = rows["arch"].value_counts(), rows["runtime"].value_counts()
    for arch in sorted(arch_n.index[arch_n >= MIN_ROWS_PER_SCOPE]):
        scope = ("arch", arch)
        specs.append(ParamSpec(("compute_eff", arch, "matmul"), 0.03, 1.0, 0.6, 1.0, scope))
        specs.append(ParamSpec(("memory_eff", arch), 0.05, 1.0, 0.75, 1.0, scope))
    # matmul paths other than 16-bit tensor cores (fp32 FMA, 8-bit tensor), where rows measure them
    path_n = rows["arch_path"].value_counts()
    for arch_path in sorted(a for a in path_n.index[path_n >= MIN_ROWS_PER_SCOPE] if a):
        arch, path = arch_path.split("/")
        prior = FP32_MATMUL_TEXTBOOK_EFF if path == FP32_MATMUL else 0.5
        specs.append(ParamSpec(("compute_eff", arch, path), 0.03, 1.0, prior, 1.0, ("arch_path", arch_path)))
    # a runtime's values act on its own rows and on those of the runtimes built on it (RUNTIME_PARENT),
    # whose own values are ratios to it (prior 1: "as its parent")
    root_n = rows["runtime_root"].value_counts()
    for rt in sorted(set(rt_n.index[rt_n >= MIN_ROWS_PER_SCOPE]) | set(root_n.index[root_n >= MIN_ROWS_PER_SCOPE])):
        child = rt in RUNTIME_PARENT
        if child and rt_n.get(rt, 0) < MIN_ROWS_PER_SCOPE:
            continue
        scope = ("runtime", rt) if child else ("runtime_root", rt)
        if rt != BASELINE_RUNTIME:
            specs.append(ParamSpec(("runtime_compute_mult", rt), 0.2, 5.0, 1.0, 1.0, scope))
            specs.append(ParamSpec(("runtime_memory_mult", rt), 0.2, 5.0, 1.0, 1.0, scope))
            # graph-replaying runtimes (CUDA graphs, fused engines) pay less per-kernel launch cost; a
            # runtime's own value is pulled toward the pooled one (params.POOLED_RUNTIME), a child's
            # ratio toward 1 (its parent's value)
            pooled_launch = None if child else f"runtime_launch_mult.{POOLED_RUNTIME}"
            specs.append(ParamSpec(("runtime_launch_mult", rt), 0.01, 5.0, 1.0, 1.0, scope, pooled_launch))
        specs.append(ParamSpec(("overhead_ms", rt), *((0.01, 100.0, 1.0) if child else (1e-3, 50.0, 0.3)), 2.0, scope))
    specs.extend(_decode_memory_specs(rows))
    if any(s.prior_of == f"runtime_launch_mult.{POOLED_RUNTIME}" for s in specs):
        # scope None: rows of runtimes without their own value are predicted with it
        specs.append(ParamSpec(("runtime_launch_mult", POOLED_RUNTIME), 0.01, 5.0, 1.0, 1.0, None))
    if (rows["gpu_count"] > 1).sum() >= MIN_ROWS_PER_SCOPE:
        scope = ("multi_gpu", True)
        specs.append(ParamSpec(("allreduce_latency_us",), 1.0, 200.0, 8.0, 1.5, scope))
        specs.append(ParamSpec(("interconnect_eff",), 0.05, 1.0, 0.8, 1.0, scope))
    grouped_n = rows.loc[rows["grouped_conv"], "arch"].value_counts()
    for arch in sorted(grouped_n.index[grouped_n >= MIN_ROWS_PER_SCOPE]):
        specs.append(ParamSpec(("compute_eff", arch, GROUPED_CONV), 0.02, 1.0, 0.5, 1.0, ("arch_grouped", arch)))
    attention_n = rows.loc[rows["attention"], "arch"].value_counts()
    for arch in sorted(attention_n.index[attention_n >= MIN_ROWS_PER_SCOPE]):
        specs.append(ParamSpec(("compute_eff", arch, ATTENTION), 0.05, 1.0, 0.5, 1.0, ("arch_attention", arch)))
    if rows["moe"].sum() >= MIN_ROWS_PER_SCOPE:
        specs.append(ParamSpec(("moe_matmul_eff",), 0.1, 1.0, 0.8, 1.0, ("moe", True)))
    if rows["dequant"].sum() >= MIN_ROWS_PER_SCOPE:
        # weight-only formats' unpacking rate (see CalibrationParams.dequant_eff)
        specs.append(ParamSpec(("dequant_eff",), 0.01, 1.0, DEFAULT_DEQUANT_EFF, 1.0, ("dequant", True)))
    specs.append(ParamSpec(("unhidden_fraction",), 1e-3, 1.0, 0.1, 2.0, None))
    specs.append(ParamSpec(("matmul_width_exponent",), 1e-3, 2.0, 0.3, 2.0, None))
    specs.append(ParamSpec(("base_clock_exponent",), 1e-3, 1.0, 0.2, 2.0, None))
    specs.append(ParamSpec(("per_op_overhead_us",), 0.1, 100.0, 4.0, 1.5, None))
    specs.append(ParamSpec(("size_half_gflop",), 1e-4, 10.0, 0.05, 2.0, None))
    return tuple(specs)


def _decode_memory_specs(rows: pd.DataFrame) -> list[ParamSpec]:
    """Decode-step memory multipliers (params.CalibrationParams.decode_memory): one for each runtime
    that gets its own parameters (MIN_ROWS_PER_SCOPE rows, its children's included) and has decode rows
    (a child with its own: a ratio to its parent's, prior 1), each pulled toward a pooled centre, which
    fitted runtimes without decode rows take (partial pooling: a runtime with few decode rows stays
    near it). The centre predicts none of the fitted rows (every fitted runtime with decode rows has
    its own value; unfitted runtimes keep eager PyTorch's), so only those priors place it."""
    if "decode" not in rows or rows["decode"].sum() < MIN_ROWS_PER_SCOPE:
        return []
    pooled = f"runtime_decode_memory_mult.{POOLED_RUNTIME}"
    specs = [ParamSpec(("runtime_decode_memory_mult", POOLED_RUNTIME), 0.2, 5.0, 1.0, 1.0, ("decode", True))]
    root_n, rt_n = rows["runtime_root"].value_counts(), rows["runtime"].value_counts()
    root_dec, rt_dec = set(rows["decode_root"]), set(rows["decode_runtime"])
    for rt in sorted(r for r in root_n.index[root_n >= MIN_ROWS_PER_SCOPE] if r in root_dec):
        specs.append(ParamSpec(("runtime_decode_memory_mult", rt), 0.2, 5.0, 1.0, 1.0, ("decode_root", rt), pooled))
    for rt in sorted(r for r in rt_n.index[rt_n >= MIN_ROWS_PER_SCOPE] if r in RUNTIME_PARENT and r in rt_dec):
        specs.append(ParamSpec(("runtime_decode_memory_mult", rt), 0.2, 5.0, 1.0, 1.0, ("decode_runtime", rt)))
    return specs


def with_arch(rows: pd.DataFrame, engine) -> pd.DataFrame:
    """Corpus rows plus `arch` (the GPU profile's architecture family), `family` (the model's
    workload family: cnn, decoder, ...; engine/novelty.py), `generative` (it decodes tokens), `moe` (the model routes
    tokens to experts), `grouped_conv` / `attention` (the model has operators of that class) and
    the scope columns of `with_scopes`; engine: an `engine.api.Engine`."""
    arch = rows["gpu"].map({g: engine.catalog.get(g).architecture for g in rows["gpu"].unique()})
    workloads = {m: engine.workload(m) for m in rows["model"].unique()}
    moe = rows["model"].map({m: w.params_active < w.params_total for m, w in workloads.items()})
    has_class = lambda op_class: rows["model"].map(  # noqa: E731
        {m: any(o.op_class == op_class for o in w.operators) for m, w in workloads.items()}).astype(bool)
    family = rows["model"].map({m: w.family for m, w in workloads.items()})
    generative = rows["model"].map({m: bool(w.generative) for m, w in workloads.items()}).astype(bool)
    return with_scopes(rows.assign(arch=arch, family=family, moe=moe.astype(bool), generative=generative,
                                   grouped_conv=has_class(GROUPED_CONV), attention=has_class(ATTENTION)))


def with_scopes(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with `arch`, `moe`, `grouped_conv` and `attention` plus the derived parameter-scope columns:
    `arch_path` ("arch/matmul path" for rows whose matmuls run on a path other than 16-bit tensor
    cores, else ""), `arch_grouped` / `arch_attention` (arch for models with grouped convolutions /
    attention, else ""), `runtime_root` (the runtime whose values a row's runtime is relative to:
    params.RUNTIME_PARENT, else itself), `decode` (`decode_rows`: the measurement includes decode steps;
    needs `generative`, else False) with `decode_root` / `decode_runtime` (the row's runtime_root /
    runtime where `decode`, else ""), `dequant` (a weight-only format that unpacks its weights) and
    `multi_gpu` (the row's GPUs exchange data, so collectives apply)."""
    path = rows["precision"].map(COMPUTE_COLUMN).map(MATMUL_PATH)
    root = rows["runtime"].map(lambda rt: RUNTIME_PARENT.get(rt, rt))
    decode = decode_rows(rows)
    return rows.assign(arch_path=(rows["arch"] + "/" + path).where(path.notna(), ""),
                       runtime_root=root, decode=decode, decode_root=root.where(decode, ""),
                       decode_runtime=rows["runtime"].where(decode, ""),
                       dequant=rows["precision"].map(DEQUANT_FAMILY).fillna("").astype(bool),
                       arch_grouped=rows["arch"].where(rows["grouped_conv"], ""),
                       arch_attention=rows["arch"].where(rows["attention"], ""), multi_gpu=rows["gpu_count"] > 1)


DECODE_METRICS = frozenset({"tokens_per_s", "tpot_ms", "latency_ms", "throughput_per_s"})


def decode_rows(rows: pd.DataFrame) -> pd.Series:
    """Whether each row's measurement includes decode steps: inference of a generative model (column
    `generative`; absent: none) in a metric other than time to first token / prefill rate."""
    if "generative" not in rows:
        return pd.Series(False, index=rows.index)
    return (rows["generative"].astype(bool) & (rows["task"] == "inference")
            & rows["metric"].isin(DECODE_METRICS))


def apply_values(base: CalibrationParams, specs: Sequence[ParamSpec], values: Sequence[float]) -> CalibrationParams:
    """A new CalibrationParams with each spec's value set (base left untouched)."""
    d = base.to_dict()
    for spec, v in zip(specs, values):
        node = d
        for key in spec.path[:-1]:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node[spec.path[-1]] = float(v)
    # nested dicts were copied level by level above; rebuild parents so no alias to `base` survives
    return CalibrationParams.from_dict(d)


def corpus_points(rows: pd.DataFrame) -> pd.DataFrame:
    """predict_grid input for corpus rows (same index); a batch printed as an upper bound (queued
    requests of an offline max-throughput run) is predicted at the largest batch memory holds."""
    pts = rows[list(POINT_COLUMNS) + [c for c in OPTIONAL_POINT_COLUMNS if c in rows]].copy()
    if "batch_upper_bound" in rows:
        pts["max_batch"] = rows["batch_upper_bound"].fillna(False).astype(bool)
    if "tensor_parallel" in rows:
        pts["tensor_parallel"] = rows["tensor_parallel"].fillna(0).astype(int)
    return pts


def predicted_metric(rows: pd.DataFrame, pred: pd.DataFrame) -> np.ndarray:
    """The prediction in each row's metric and unit (NaN where the predictor has none)."""
    out = np.full(len(rows), np.nan)
    metric = rows["metric"].to_numpy()
    for m, col in METRIC_COLUMN.items():
        sel = metric == m
        if sel.any():
            out[sel] = pred[col].to_numpy(dtype=float)[sel]
    pre = metric == "prefill_tokens_per_s"
    if pre.any():
        b = rows["batch_size"].to_numpy(dtype=float)[pre]
        s = rows["seq_in"].to_numpy(dtype=float)[pre]
        out[pre] = b * s / (out[pre] / 1e3)
    return out


@dataclass(frozen=True)
class UniquePoints:
    """Distinct prediction points of some rows (throughput and latency rows of one configuration,
    or the same configuration in two sources, share one predictor evaluation)."""

    points: pd.DataFrame  # distinct predict_grid input rows
    inverse: np.ndarray  # row i of the corpus rows -> row inverse[i] of `points`

    @classmethod
    def of(cls, rows: pd.DataFrame) -> "UniquePoints":
        """The distinct predictor inputs of corpus `rows` (first occurrence of each) and each row's index
        into them."""
        pts = corpus_points(rows)
        key = pd.Series([repr(t) for t in pts.itertuples(index=False)])  # NaN-safe row key
        codes, uniques = pd.factorize(key)
        first = np.zeros(len(uniques), dtype=int)
        first[codes[::-1]] = np.arange(len(codes))[::-1]  # first occurrence of each code
        return cls(points=pts.iloc[first].reset_index(drop=True), inverse=codes)

    def predict(self, predict: PredictFn, params: CalibrationParams) -> pd.DataFrame:
        """predict_grid output expanded back to one row per corpus row (positional)."""
        return predict(self.points, params).iloc[self.inverse].reset_index(drop=True)


def predict_rows(rows: pd.DataFrame, predict: PredictFn, params: CalibrationParams) -> pd.DataFrame:
    """Predictions for corpus rows: `predicted`, `log_residual` = log(predicted/value), `reason`."""
    raw = UniquePoints.of(rows).predict(predict, params)
    pred = predicted_metric(rows, raw)
    ok = np.isfinite(pred) & (pred > 0) & raw["supported"].to_numpy(dtype=bool)
    reason = np.where(raw["supported"].to_numpy(dtype=bool), "", raw["reason"].astype(str).to_numpy())
    reason = np.where(~ok & (reason == ""), "predictor gives no value for this metric", reason)
    resid = np.where(ok, np.log(np.where(ok, pred, 1.0) / rows["value"].to_numpy(dtype=float)), np.nan)
    return pd.DataFrame({"predicted": np.where(ok, pred, np.nan), "log_residual": resid, "reason": reason},
                        index=rows.index)


def jacobian_pattern(rows: pd.DataFrame, specs: Sequence[ParamSpec]) -> "coo_matrix":
    """Which residuals (`residual_function`: one per row, then one prior term per parameter) each
    parameter can move: its scope's rows, its own prior term, and the prior terms pooled toward it."""
    from scipy.sparse import coo_matrix  # scipy only where a fit runs (see `fit`)

    n, p = len(rows), len(specs)
    ri, ci = [], []
    centre = _prior_centres(specs)
    for j, s in enumerate(specs):
        mask = np.ones(n, dtype=bool) if s.scope is None else (rows[s.scope[0]].to_numpy() == s.scope[1])
        idx = np.flatnonzero(mask)
        ri.extend((idx, [n + j]))
        ci.extend((np.full(len(idx), j), [j]))
        if centre[j] >= 0:  # its prior term also moves with the value it is pooled toward
            ri.append([n + j])
            ci.append([centre[j]])
    r, c = np.concatenate(ri), np.concatenate(ci)
    return coo_matrix((np.ones(len(r), dtype=int), (r, c)), shape=(n + p, p))


def _prior_centres(specs: Sequence[ParamSpec]) -> np.ndarray:
    """For each spec, the index of the spec its prior is centred on (`prior_of`), -1 for a fixed prior."""
    index = {s.name: j for j, s in enumerate(specs)}
    return np.array([index.get(s.prior_of, -1) if s.prior_of else -1 for s in specs], dtype=int)


def residual_function(rows: pd.DataFrame, predict: PredictFn, base: CalibrationParams,
                      specs: Sequence[ParamSpec]) -> Callable[[np.ndarray], np.ndarray]:
    """x (log-parameters) -> [log(pred/measured) per row, scaled prior deviation per parameter]."""
    points = UniquePoints.of(rows)
    measured_log = np.log(rows["value"].to_numpy(dtype=float))
    prior = np.log([s.prior for s in specs])
    sigma = np.array([s.prior_sigma_log for s in specs])

    centre = _prior_centres(specs)
    pooled = centre >= 0

    def residuals(x: np.ndarray) -> np.ndarray:
        params = apply_values(base, specs, np.exp(x))
        pred = predicted_metric(rows, points.predict(predict, params))
        # a candidate that makes a row unpredictable is pushed back hard rather than crashing
        r = np.where(np.isfinite(pred) & (pred > 0), np.log(np.where(pred > 0, pred, 1.0)) - measured_log, 10.0)
        mu = prior.copy()
        mu[pooled] = x[centre[pooled]]
        return np.concatenate([r, (x - mu) / sigma * LOSS_SCALE_LOG])

    return residuals


def loss_weights(residuals: np.ndarray) -> np.ndarray:
    """IRLS weights of the soft-L1 loss at these residuals: rho'(z) = 1 / sqrt(1 + (r / f_scale)^2)."""
    return 1.0 / np.sqrt(1.0 + (residuals / LOSS_SCALE_LOG) ** 2)


def soft_l1_cost(residuals: np.ndarray) -> float:
    """The soft-L1 cost `least_squares` minimises: sum of f^2 (sqrt(1 + (r / f)^2) - 1), f = LOSS_SCALE_LOG."""
    f = LOSS_SCALE_LOG
    return float(np.sum(f * f * (np.sqrt(1.0 + (residuals / f) ** 2) - 1.0)))


def fit(
    rows: pd.DataFrame,
    predict: PredictFn,
    base: CalibrationParams | None = None,
    x0_log: Mapping[str, float] | None = None,
    max_nfev: int | None = None,
) -> FitResult:
    """Least-squares fit on `rows` (corpus rows with `arch`); rows the predictor cannot price are skipped.

    `x0_log` (name -> log value) warm-starts from an earlier fit, e.g. the full-corpus fit inside
    cross-validation folds.
    """
    # scipy.optimize imported here, not with the module: ~0.8 s that `validate --data`, the service's
    # accuracy page and every test process importing this module for its other functions do not need
    from scipy.optimize import least_squares

    base = base or CalibrationParams()
    usable = np.isfinite(predict_rows(rows, predict, base)["log_residual"].to_numpy())
    rows = rows[usable]
    specs = parameter_specs(rows)
    lo = np.log([s.lower for s in specs])
    hi = np.log([s.upper for s in specs])
    start = np.array([(x0_log or {}).get(s.name, math.log(s.prior)) for s in specs])
    start = np.clip(start, lo + 1e-9, hi - 1e-9)

    residuals = residual_function(rows, predict, base, specs)

    sol = least_squares(
        residuals, start, bounds=(lo, hi), jac_sparsity=jacobian_pattern(rows, specs), loss=LOSS,
        f_scale=LOSS_SCALE_LOG, x_scale=1.0, max_nfev=max_nfev, xtol=1e-6, ftol=1e-6,
    )
    params = apply_values(base, specs, np.exp(sol.x))
    params = replace(
        params, version=f"{VERSION_PREFIX}.{datetime.now(timezone.utc):%Y%m%d%H%M%S}",
        fitted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        n_rows=int(len(rows)), n_params=len(specs),
    )
    r = residuals(sol.x)[: len(rows)]
    return FitResult(
        params=params, specs=specs, x_log=sol.x, n_rows=int(len(rows)),
        log_residuals=pd.Series(r, index=rows.index), rows=rows, nfev=int(sol.nfev), success=bool(sol.success),
        message=str(sol.message),
    )


def data_dir() -> Path:
    """The engine's package-data folder: the shipped `calibration.json` (what `calibrate` writes by
    default) and `accuracy_baseline.json` (the cross-validation figures `calibrate --write-baseline`
    records and tests/test_accuracy_regression.py and the service's accuracy page read)."""
    return Path(str(resources.files("phantom_report.engine").joinpath("data")))


def corpus_rows(engine, paths: Sequence[Path] | None = None):
    """The rows calibration fits and cross-validation scores: (Corpus, rows with `arch`).

    The corpus's reading rules (engine/corpus.py: columns, units, names resolved through `engine`'s
    GPU catalog and the built-in zoo) and then the plausibility rule (engine/plausibility.py: a
    measurement faster than the datasheet allows is set aside with its reason). ``paths`` None means
    the built-in corpus (benchmarks/measured). No usable row: PhantomError naming the files.
    """
    from phantom_report.engine.corpus import load_corpus
    from phantom_report.engine.plausibility import set_aside_beyond_peak
    from phantom_report.engine.zoo import resolve_builtin
    from phantom_report.errors import PhantomError

    paths = list(paths) if paths is not None else None
    corpus = load_corpus(paths, resolve_gpu=engine.catalog.resolve, resolve_model=resolve_builtin)
    corpus = set_aside_beyond_peak(corpus, engine)  # measurements faster than the datasheet allows
    if corpus.rows.empty:
        where = ", ".join(str(p) for p in paths) if paths else "the built-in corpus"
        raise PhantomError(f"{where}: no usable measurement rows ({len(corpus.rejected)} rejected; "
                           "`phantom-report validate --help` lists the columns)")
    return corpus, with_arch(corpus.rows, engine)


def user_corpus_rows(engine, paths: Sequence[Path]):
    """A user's measurement files, read by the same rules as the corpus but also accepting rows whose
    model is a `config.json` (model_config column): (engine that also knows those workloads, Corpus,
    rows with `arch` or None when no row is usable). The caller decides how to report no usable row
    (`validate --data` lists the reasons, grouped)."""
    from phantom_report.engine.corpus import load_corpus
    from phantom_report.engine.model_config import ConfigWorkloads
    from phantom_report.engine.plausibility import set_aside_beyond_peak
    from phantom_report.engine.zoo import resolve_builtin

    configs = ConfigWorkloads()
    corpus = load_corpus(list(paths), resolve_gpu=engine.catalog.resolve, resolve_model=resolve_builtin,
                         resolve_config=configs)
    engine = engine.with_workloads(configs.workloads)
    corpus = set_aside_beyond_peak(corpus, engine)
    if corpus.rows.empty:
        return engine, corpus, None
    return engine, corpus, with_arch(corpus.rows, engine)
