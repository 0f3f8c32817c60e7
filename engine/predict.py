"""Vectorised performance predictor: a grid of points in, latency/throughput/memory/power out.

Model (per operator j of the workload IR, per point i; see engine/ir.py for the cost terms):

    t_compute = flops / (peak_tflops[precision] * eff_compute * size_eff)
    t_memory  = bytes / (bandwidth * eff_memory)
    t_kernel  = max(t_compute, t_memory) + unhidden_fraction * min(t_compute, t_memory)
                (a kernel's loads and math overlap only partly: first tiles load before the
                 math starts, last results store after it ends)
    t_op      = max(t_kernel, launches * per_op_overhead)
                (the host launches kernels ahead of the GPU, so a launch costs time only
                 when it takes longer than the kernel it queues: small-batch passes are
                 launch-bound, large ones hide it; adding the two instead was worse in CV)
    t_pass    = sum_j t_op + host_overhead(runtime) + tensor-parallel all-reduces

eff_compute = min(1, arch_eff[arch, matmul path|other] * runtime_mult * width_factor) * clock_factor
(x the architecture's grouped_conv or attention fraction for those op classes, x moe_matmul_eff for
the expert GEMMs of mixture-of-experts layers) and eff_memory = min(1, arch_eff * runtime_mult), so
no prediction is faster than the datasheet roofline. width_factor = max(1, W_ref / W) ** a for
matmuls whose units do W FLOPs per SM per clock (narrower units are easier to feed; W_ref per matmul
path, 2048 on the 16-bit tensor path, W taken at the clock the peak is quoted at, profile
`peak_clock_mhz`); clock_factor = (base clock / peak clock) ** b (power-limited parts run below the
clock their peak is quoted at). size_eff = w / (w + w_half * SMs/108) models
under-filled GPUs for small per-op work w. LLM inference = prefill (TTFT, q = k = seq_in) then
decode steps (q = 1, k grows from seq_in to seq_in + seq_out; per-step cost is linear in k, so the
mid-point step is the average). Training step = 3 x forward (backward costs two forwards) plus
an Adam update streaming 16-28 bytes per parameter, plus exposed gradient all-reduce across
data-parallel GPUs. Every prediction carries an interval from the calibration's held-out
residuals (conformal) at the requested confidence.

Batch semantics: `batch_size` is per replica. A replica is one GPU, or a tensor-parallel group
for generative models too large for one GPU; `gpu_count` GPUs = tp x dp replicas and throughput
counts all replicas.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Mapping

import numpy as np
import pandas as pd

from phantom_report.engine import limits
from phantom_report.engine.ir import Workload
from phantom_report.engine.novelty import extrapolation_reasons, novelty_levels
from phantom_report.engine.params import (
    ATTENTION, GROUPED_CONV, MATMUL_CLASSES, MATMUL_PATH, REFERENCE_MATMUL_WIDTH, CalibrationParams,
)
from phantom_report.engine.executed import CONV_CLASSES, CONV_GROUP, MATMUL_GROUP, executed_column
from phantom_report.engine.precision import (
    ACTIVATION_BYTES, COMPUTE_COLUMN, DEQUANT_OPS, FORMATS, WEIGHT_BYTES, kv_bytes,
    resolve_kv_precision, resolve_precision,
)
from phantom_report.engine.profiles import ProfileCatalog
from phantom_report.errors import PredictionError

_CHUNK = 16384  # points per block: bounds the (points x operators) temporaries to a few MB
_SMALL_GRID = 64  # up to this many points, support flags are looked up per key (no groupby)
_MEMO_MAX = 65536  # distinct support keys an engine remembers before it starts over
IDLE_POWER_FRACTION = 0.3  # board power at idle / TDP (datacenter GPUs idle at ~20-35% of TDP)
RUNTIME_OVERHEAD_GB = 0.8  # CUDA context + allocator reserve + workspace (per GPU)
ADAM_BYTES_FP32 = 16.0  # fp32/tf32 weights+grads+m+v (4 bytes each)
ADAM_BYTES_MIXED = 18.0  # fp16/bf16 weights+grads (4) + fp32 master, m, v (12) + fp32 grad copy (2)
DP_OVERLAP = 0.8  # share of backward time that hides the gradient all-reduce (DDP bucketing)
# NVLink on a PCIe card is a bridge joining two GPUs; a larger group talks over PCIe.
NVLINK_BRIDGE_GPUS = 2
# Datasheets' "80 GB" of HBM/GDDR is binary: an 80 GB A100 reports 81920 MiB, a 24 GB RTX 4090
# 24564 MiB. Memory figures here are decimal GB (weights = params x bytes / 1e9), so capacity is
# converted once; without this, tight fits (70B fp16 on 2x80 GB) lose 7% of the room they have.
GB_PER_DATASHEET_GB = 2**30 / 1e9
# Serving engines size their KV cache from what is left after weights and workspace:
# TensorRT-LLM takes kv_cache_free_gpu_mem_fraction (default 0.9) of the *free* memory; vLLM caps
# everything at gpu_memory_utilization (default 0.9) of *total* memory. Runtimes not listed follow
# the TensorRT-LLM rule (TGI, LMDeploy, SGLang size from free memory too).
KV_CACHE_FRACTION = 0.9
KV_BUDGET_OF_TOTAL = frozenset({"vllm"})
# Serving engines prefill in chunks of at most this many tokens (TensorRT-LLM max_num_tokens and
# vLLM max_num_batched_tokens defaults are 8192), so their activation workspace does not grow with
# the number of sequences in flight.
PREFILL_CHUNK_TOKENS = 8192.0
# Weight-only formats unpack each weight once per tile of tokens a GEMM kernel multiplies it with:
# once per decode step (a GEMV), once per ~128-token tile of a prefill (the M tile of a CTA).
DEQUANT_TILE_TOKENS = 128.0

OUTPUT_COLUMNS = (
    "supported", "reason", "latency_ms", "latency_ms_low", "latency_ms_high", "throughput_per_s",
    "throughput_per_s_low", "throughput_per_s_high", "tokens_per_s", "tokens_per_s_low",
    "tokens_per_s_high", "ttft_ms", "ttft_ms_low", "ttft_ms_high", "tpot_ms", "tpot_ms_low",
    "tpot_ms_high", "memory_gb", "fits", "fit_hint", "power_w", "energy_j_per_sample", "bound",
    "tensor_parallel", "batch_used", "flops_per_sample", "params_total", "params_active",
    "novelty", "extrapolation", "extrapolation_reason",
)


class _OpTable:
    """Operator coefficients of one workload as arrays (one entry per operator)."""

    def __init__(self, w: Workload):
        ops = w.operators
        a = lambda attr: np.array([float(getattr(o, attr)) for o in ops])  # noqa: E731
        self.count = a("count")
        self.f1, self.ftok, self.fctx = a("flops_per_sample"), a("flops_per_token"), a("flops_per_token_ctx")
        self.a1, self.atok, self.actx = a("act_elems_per_sample"), a("act_elems_per_token"), a("act_elems_per_token_ctx")
        self.kv = a("kv_elems_per_ctx_token")
        self.params = a("params") * np.array([o.weights_streamed for o in ops], dtype=float)
        self.experts = a("moe_experts")
        self.topk = a("moe_top_k")
        self.is_matmul = np.array([o.op_class in MATMUL_CLASSES for o in ops])
        self.grouped = np.array([o.op_class == GROUPED_CONV for o in ops])
        self.attention = np.array([o.op_class == ATTENTION for o in ops])
        # convolutions run through cuDNN/MIOpen, whose default math mode differs from GEMMs' (TF32)
        self.conv = np.array([o.op_class in CONV_CLASSES for o in ops])
        self.has_flops = (self.f1 + self.ftok + self.fctx) > 0
        # ops with only per-sample terms (encoders, pooler) run once per request, not per decode step
        self.per_token = (self.ftok + self.fctx + self.atok + self.actx + self.kv) > 0
        self.moe = self.experts > 0


def _pass(t: _OpTable, B, q, k, per_sample, g: dict, tp, causal: bool = False
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time of one forward pass for each point (seconds), its roofline-ideal time, and compute time.

    per_sample: None for decode steps (per-sample-only operators do not run), else an array
    scaling the per-sample terms (1, or the image-area ratio for vision models).
    causal: a causal prefill (q = k) whose attention kernels skip the masked upper triangle (flash
    attention and the serving engines' fused kernels do), so query i sees (i + 1) keys, k/2 on average."""
    active = t.per_token if per_sample is None else np.ones_like(t.count, dtype=bool)
    ps = 0.0 if per_sample is None else per_sample[:, None]
    cnt = (t.count * active)[None, :]
    qc, kc = q[:, None], k[:, None]
    qk = qc * _keys_attended(kc, causal)
    per_gpu = (B / tp)[:, None]  # samples per GPU of the tensor-parallel group
    work = per_gpu * (ps * t.f1 + qc * t.ftok + qk * t.fctx)  # FLOPs of one operator instance
    act = (ps * t.a1 + qc * t.atok + qk * t.actx) * (per_gpu * cnt)
    kv = (kc * t.kv) * (per_gpu * cnt)  # KV-cache elements read, at the KV-cache precision
    weights = cnt * t.params / tp[:, None]
    if t.moe.any():
        # experts read per pass: those any of the B*q tokens routed to (expected, uniform routing)
        tokens = (B * q)[:, None]
        frac = np.where(t.moe, 1.0 - (1.0 - np.divide(t.topk, t.experts, where=t.moe, out=np.zeros_like(t.topk))) ** tokens, 1.0)
        weights = weights * np.clip(frac, 0.0, 1.0)
    bytes_ = weights * g["wbytes"][:, None] + act * g["abytes"][:, None] + kv * g["kvbytes"][:, None]
    # weight-only formats: ALU time to unpack each weight, once per tile of tokens (see DEQUANT_TILE_TOKENS)
    dequant_s = weights * np.ceil(per_gpu * qc / DEQUANT_TILE_TOKENS) * g["dequant_s_per_weight"][:, None]
    eff_c = np.where(t.is_matmul, g["eff_mm"][:, None], g["eff_other"][:, None])
    if t.conv.any():
        eff_c[:, t.conv] = g["eff_conv"][:, None]
    # op classes below the dense-matmul efficiency: grouped convolutions, the attention core and
    # expert GEMMs (grouped, uneven shapes, fewer tokens each); scaled in place, column by column,
    # as each model has only a few such operators
    for ops, key in ((t.grouped, "grouped_eff"), (t.attention, "attention_eff"), (t.moe, "moe_eff")):
        if ops.any():
            eff_c[:, ops] *= g[key][:, None]
    peak = g["peak_flops"][:, None]
    if t.conv.any():
        peak = np.where(t.conv[None, :], g["peak_conv"][:, None], peak)
    # (the (points x operators) arrays below are updated in place: fresh temporaries of this size
    # cost page faults that were a tenth of the sweep's time)
    # flops / (peak * eff * size_eff) with size_eff = work / (work + w_half), simplified: each
    # instance costs its work plus the under-filled-GPU penalty w_half (ops without FLOPs cost none)
    t_c = work + g["half_flops"][:, None]
    t_c /= np.multiply(eff_c, peak, out=eff_c)
    t_c *= cnt * t.has_flops
    t_c += dequant_s
    m_ideal = np.divide(bytes_, g["bw"][:, None], out=bytes_)
    work *= cnt
    work /= peak
    ideal = np.maximum(work, m_ideal, out=work).sum(axis=1)
    t_m = np.divide(m_ideal, g["eff_mem"][:, None], out=m_ideal)
    compute_bound = t_c >= t_m
    op_t = np.maximum(t_c, t_m)
    shorter = np.minimum(t_c, t_m, out=t_m)
    shorter *= g["unhidden"][:, None]
    op_t += shorter
    compute_t = np.multiply(op_t, compute_bound, out=t_c).sum(axis=1)
    # launches overlap the kernels queued before them: each op costs the longer of the two
    total = np.maximum(op_t, cnt * g["launch_s"][:, None], out=op_t).sum(axis=1) + g["overhead_s"]
    return total, ideal, compute_t


def _half_width(params: CalibrationParams, confidence: np.ndarray, task_masks: dict, metric: str,
                novelty: np.ndarray, runtime: np.ndarray) -> np.ndarray:
    """Log half-width of each point's interval for one output metric (see `log_half_width`);
    task_masks: task -> boolean mask of the block's points with that task; novelty: each point's
    level (engine/novelty.py), -1 where the calibration carries no corpus support summary."""
    out = np.empty(len(confidence))
    for t, sel in task_masks.items():
        for lv in np.unique(novelty[sel]):
            for rt in set(runtime[sel & (novelty == lv)].tolist()):
                cell = sel & (novelty == lv) & (runtime == rt)
                out[cell] = params.log_half_width(confidence[cell], f"{t}/{metric}", None if lv < 0 else int(lv), str(rt))
    return out


def _support_flags(cols: Mapping[str, np.ndarray], catalog: ProfileCatalog, workloads: Mapping[str, Workload],
                   params: CalibrationParams, memo: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(novelty level, extrapolation reason) per point against the corpus support stored in the
    calibration (`intervals.support`); (-1, "") everywhere when it carries none.
    memo: optional dict remembering the flags of each distinct key (kept by `Engine` for its own
    params; the flags are a pure function of the support and the key)."""
    support = params.support
    n = len(cols["gpu"])
    if support is None:
        return np.full(n, -1, dtype=int), np.full(n, "", dtype=object)
    arch = _lookup(cols["gpu"], lambda g: catalog.get(g).architecture, dtype=object)
    family = _lookup(cols["model"], lambda m: workloads[m].family, dtype=object)
    frame = {"runtime": cols["runtime"].astype(str), "arch": arch, "family": family, "task": cols["task"],
             "batch_size": cols["batch_size"], "seq_in": cols["seq_in"].astype(float), "gpu_count": cols["gpu_count"]}
    if n <= _SMALL_GRID:
        return _support_flags_small(support, frame, memo)
    frame = pd.DataFrame(frame)
    # each distinct (runtime, architecture, family, sizes) once: a sweep repeats them across models and GPUs
    codes = frame.groupby(list(frame.columns), sort=False, dropna=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(frame))).groupby(codes).first().to_numpy()
    pts = frame.iloc[first].reset_index(drop=True)
    return novelty_levels(support, pts)[codes], extrapolation_reasons(support, pts)[codes]


def _support_flags_small(support, frame: dict, memo: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """`_support_flags` for a few points: each key's flags from the memo, or computed and stored."""
    memo = {} if memo is None else memo
    keys = [tuple(None if v != v else v for v in k)  # NaN -> None so equal keys compare equal
            for k in zip(*(a.tolist() for a in frame.values()))]
    todo = [i for i, k in enumerate(keys) if k not in memo]
    if todo:
        pts = pd.DataFrame({c: a[todo] for c, a in frame.items()})
        levels, reasons = novelty_levels(support, pts), extrapolation_reasons(support, pts)
        if len(memo) > _MEMO_MAX:
            memo.clear()
        for j, i in enumerate(todo):
            memo[keys[i]] = (int(levels[j]), reasons[j])
    level = np.array([memo[k][0] for k in keys], dtype=int)
    reason = np.empty(len(keys), dtype=object)
    reason[:] = [memo[k][1] for k in keys]
    return level, reason


def _keys_attended(k, causal: bool):
    """Keys each query attends to, on average: all k, or (k + 1) / 2 under a causal mask."""
    return (k + 1.0) / 2.0 if causal else k


def _link_bps(g: dict, n_gpus) -> np.ndarray:
    """Achieved one-way bandwidth (bytes/s) for collectives among n_gpus (figures are bidirectional)."""
    bridged = g["bridge_only"] & (n_gpus > NVLINK_BRIDGE_GPUS)
    return np.where(bridged, g["pcie_bps"], g["ic_bps"]) / 2.0 * g["ic_eff"]


def _allreduce_s(volume_bytes, n_gpus, g: dict) -> np.ndarray:
    """Ring all-reduce of `volume_bytes` across n_gpus: 2(n-1)/n of the data crosses each link."""
    n = np.maximum(n_gpus, 1.0)
    return np.where(n > 1, 2.0 * (n - 1) / n * volume_bytes / _link_bps(g, n) + g["allreduce_s"], 0.0)


def _tp_comm(w: Workload, B, q, tp, g) -> np.ndarray:
    """Two all-reduces of the hidden state per layer under tensor parallelism (Megatron)."""
    per_call = _allreduce_s(B * q * w.hidden_size * g["abytes"], tp, g)
    return 2.0 * max(w.num_layers, 1) * per_call


def _memory_gb(w: Workload, B, seq_in, seq_out, task, precision_wbytes, abytes, tp, train_bytes, kvbytes=None):
    """(total GB per GPU, weights GB per GPU); kvbytes: bytes per KV-cache element (default abytes)."""
    weights = w.params_total * precision_wbytes / tp
    kv = B * _kv_bytes_per_seq(w, seq_in, seq_out, abytes if kvbytes is None else kvbytes, tp)
    tokens = np.maximum(seq_in, 1.0) if w.seq_scalable else float(w.default_seq_len)
    saved = B * tokens * w.saved_act_elems_per_token * abytes
    # inference keeps only a couple of layers' activations alive at once; generative serving
    # prefills in chunks, so its workspace is bounded by the chunk, not by the batch
    per_layer = 2.0 / w.num_layers if w.num_layers else 0.1
    infer_tokens = np.minimum(B * tokens, PREFILL_CHUNK_TOKENS) if w.generative else B * tokens
    infer_act = infer_tokens * w.saved_act_elems_per_token * abytes * per_layer
    act = np.where(task == "training", saved, infer_act) / tp
    optimizer = np.where(task == "training", w.params_total * train_bytes, 0.0)
    return (weights + kv + act + optimizer) / 1e9 + RUNTIME_OVERHEAD_GB, weights / 1e9


def _kv_bytes_per_seq(w: Workload, seq_in, seq_out, kvbytes, tp):
    """KV cache one sequence holds at its full length, per GPU (engines reserve the full length)."""
    if not w.generative:
        return 0.0
    return (seq_in + seq_out) * w.kv_elems_per_token * kvbytes / tp


def _max_batch(w: Workload, B, seq_in, seq_out, task, g, tp, train_bytes, runtime) -> np.ndarray:
    """Largest batch (<= B) that memory holds, the way serving engines size their KV cache."""
    if w.generative:
        per_seq = _kv_bytes_per_seq(w, seq_in, seq_out, g["kvbytes"], tp) / 1e9
        total, _ = _memory_gb(w, B, seq_in, seq_out, task, g["wbytes"], g["abytes"], tp, train_bytes, g["kvbytes"])
        workspace = total - B * per_seq
        of_total = np.isin(runtime, list(KV_BUDGET_OF_TOTAL))
        budget = np.where(of_total, KV_CACHE_FRACTION * g["mem_gb"] - workspace,
                          KV_CACHE_FRACTION * (g["mem_gb"] - workspace))
    else:
        m0, _ = _memory_gb(w, np.zeros_like(B), seq_in, seq_out, task, g["wbytes"], g["abytes"], tp, train_bytes)
        m1, _ = _memory_gb(w, np.ones_like(B), seq_in, seq_out, task, g["wbytes"], g["abytes"], tp, train_bytes)
        budget, per_seq = KV_CACHE_FRACTION * g["mem_gb"] - m0, m1 - m0
    b_fit = np.floor(budget / np.maximum(per_seq, 1e-12))
    return np.clip(np.minimum(B, b_fit), 1.0, None)


def _lookup(values: np.ndarray, fn, dtype=None) -> np.ndarray:
    """fn applied once per distinct value, broadcast back to every point (grids repeat values)."""
    if len(values) == 1:  # the single-point path: factorizing costs more than the call
        return np.asarray([fn(values[0])], dtype=dtype)
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    return np.asarray([fn(u) for u in uniq], dtype=dtype)[codes]


def _lookup_pairs(a: np.ndarray, b: np.ndarray, fn) -> np.ndarray:
    """fn(a_i, b_i) evaluated once per distinct pair (without building string keys per point)."""
    return _lookup_tuples((a, b), fn)


def _lookup_tuples(arrays: tuple, fn, dtype=None) -> np.ndarray:
    """fn(*values_i) evaluated once per distinct tuple of the arrays' values (mixed-radix codes)."""
    if len(arrays[0]) == 1:
        return np.asarray([fn(*(a[0] for a in arrays))], dtype=dtype)
    code = np.zeros(len(arrays[0]), dtype=np.int64)
    uniques = []
    for a in arrays:
        c, u = pd.factorize(a, use_na_sentinel=False)
        code = code * len(u) + c
        uniques.append(u)
    codes, combos = pd.factorize(code)
    values = []
    for combo in combos:
        parts = []
        for u in reversed(uniques):
            combo, r = divmod(int(combo), len(u))
            parts.append(u[r])
        values.append(fn(*reversed(parts)))
    return np.asarray(values, dtype=dtype)[codes]


def executed_columns(gpus, precision, runtime, prof: dict, group: str, strict=None) -> np.ndarray:
    """Compute column each point's op group runs at (see engine/executed.py); TF32 only on NVIDIA.
    strict: points whose precision ran exactly as stated (the runtime's TF32 default turned off)."""
    def column(g, p, rt, s) -> str:
        if s:
            return COMPUTE_COLUMN[p]
        prof_g = prof[g]
        return executed_column(rt, p, group, lambda c: prof_g.peak(c) is not None
                               and (c != "tf32" or prof_g.vendor.lower() == "nvidia"))
    flag = np.zeros(len(gpus), dtype=bool) if strict is None else np.asarray(strict, dtype=bool)
    return _lookup_tuples((gpus, precision, runtime, flag), column, dtype=object)


def _matmul_path_arrays(column, gpus, arch, prof: dict, params: CalibrationParams) -> tuple[np.ndarray, np.ndarray]:
    """Peak TFLOPS and achieved fraction (before runtime multiplier and clock) of each point's
    executed compute column: each hardware path (fp32 FMA, 16-bit tensor, 8-bit tensor) has its own
    fraction, raised for narrower matmul units (see REFERENCE_MATMUL_WIDTH)."""
    peak = _lookup_pairs(gpus, column, lambda g, c: prof[g].peak(c) or np.nan).astype(float)
    path = _lookup(column, lambda c: MATMUL_PATH.get(c, "matmul"))
    sm = _lookup(gpus, lambda g: prof[g].sm_count).astype(float)
    # matmul units' FLOPs per SM per clock at this precision (see REFERENCE_MATMUL_WIDTH)
    width = peak * 1e12 / (sm * _lookup(gpus, lambda g: prof[g].peak_clock).astype(float) * 1e6)
    reference = _lookup(path, REFERENCE_MATMUL_WIDTH.__getitem__).astype(float)
    width_factor = np.maximum(reference / width, 1.0) ** params.matmul_width_exponent
    return peak, _lookup_pairs(arch, path, params.compute_eff_for).astype(float) * width_factor


# the point columns the hardware and calibration coefficients depend on (and nothing else)
_GPU_KEYS = ("gpu", "precision", "runtime", "strict_precision", "kv_precision")


def _gpu_blocks(points: Mapping[str, np.ndarray], catalog: ProfileCatalog, params: CalibrationParams,
                memo: dict | None = None) -> tuple[np.ndarray, dict]:
    """(code of each point's (GPU, precision, runtime, ...) combination, `_gpu_arrays` of each
    distinct combination): a sweep has a few hundred combinations for millions of points, so the
    coefficients are computed per combination and gathered per block of points.
    memo: combination -> coefficients, for single points (an engine's, for its own catalog and params)."""
    keys = [points[c] for c in _GPU_KEYS if c in points]
    n = len(keys[0])
    if n <= 1:
        key = tuple((c, points[c][0]) for c in _GPU_KEYS if c in points) if n else None
        if memo is not None and key in memo:
            return np.zeros(n, dtype=np.int64), memo[key]
        g = _gpu_arrays(points, catalog, params)
        if memo is not None and n:
            if len(memo) > _MEMO_MAX:
                memo.clear()
            memo[key] = g  # read only: blocks gather copies of it
        return np.zeros(n, dtype=np.int64), g
    code = np.zeros(n, dtype=np.int64)
    for a in keys:
        c, u = pd.factorize(a, use_na_sentinel=False)
        code = code * len(u) + c
    codes, combos = pd.factorize(code)
    first = np.full(len(combos), n, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(n))  # first point of each combination
    distinct = {c: points[c][first] for c in _GPU_KEYS if c in points}
    return codes, _gpu_arrays(distinct, catalog, params)


def _gpu_arrays(points: Mapping[str, np.ndarray], catalog: ProfileCatalog, params: CalibrationParams) -> dict:
    """Per-point hardware and calibration coefficients (one evaluation per distinct value);
    points: normalised columns (see `normalize_columns`); only `_GPU_KEYS` are read."""
    gpus = points["gpu"]
    precision = points["precision"]
    runtime = points["runtime"]
    prof = {g: catalog.get(g) for g in pd.unique(gpus)}
    col = lambda fn: _lookup(gpus, lambda g: fn(prof[g]))  # noqa: E731
    arch = col(lambda p: p.architecture)
    rt_compute = _lookup(runtime, params.runtime_compute).astype(float)
    sm = col(lambda p: p.sm_count).astype(float)
    # power-limited parts run below the clock their peak is quoted at (see base_clock_exponent)
    clock_factor = col(lambda p: p.sustained_clock_mhz / p.peak_clock).astype(float) ** params.base_clock_exponent
    # what each op group actually runs at (runtime defaults: "fp32" convolutions run in TF32 on Ampere+)
    strict = np.asarray(points["strict_precision"], dtype=bool) if "strict_precision" in points else None
    executed = {grp: executed_columns(gpus, precision, runtime, prof, grp, strict) for grp in (MATMUL_GROUP, CONV_GROUP)}
    paths = {grp: _matmul_path_arrays(c, gpus, arch, prof, params) for grp, c in executed.items()}
    peak, eff_path = paths[MATMUL_GROUP]
    eff_mm = np.minimum(eff_path * rt_compute, 1.0) * clock_factor
    peak_conv, eff_conv_path = paths[CONV_GROUP]
    eff_conv = np.minimum(eff_conv_path * rt_compute, 1.0) * clock_factor
    # ALU time to unpack one weight of a weight-only format (see precision.DEQUANT_OPS): the unpack is
    # integer work (shifts, masks, int8 dot products) issued on the INT32 lanes, at the fitted fraction
    # dequant_eff of their peak (GpuProfile.int32_ops_per_s: half or a quarter of the FP32 FLOP rate)
    alu_flops = col(lambda p: p.int32_ops_per_s).astype(float) * params.dequant_eff * clock_factor
    dequant_ops = _lookup(precision, DEQUANT_OPS.__getitem__).astype(float)
    kv_fmt = points["kv_precision"] if "kv_precision" in points else np.full(len(gpus), "")
    kvb = _lookup_pairs(precision, kv_fmt, lambda p, k: kv_bytes(k) if k else ACTIVATION_BYTES[p]).astype(float)
    eff_ot = np.minimum(_lookup(arch, lambda a: params.compute_eff_for(a, "other")).astype(float) * rt_compute,
                        1.0) * clock_factor
    eff_mem = np.minimum(_lookup(arch, params.memory_eff_for).astype(float)
                         * _lookup(runtime, params.runtime_memory).astype(float), 1.0)
    grouped = _lookup(arch, lambda a: params.compute_eff_for(a, GROUPED_CONV))
    attention = _lookup(arch, lambda a: params.compute_eff_for(a, ATTENTION))
    return {
        "peak_flops": peak * 1e12,
        "peak_conv": peak_conv * 1e12,
        "eff_conv": eff_conv.astype(float),
        "dequant_s_per_weight": np.where(dequant_ops > 0, dequant_ops / alu_flops, 0.0),
        "kvbytes": kvb,
        "bw": col(lambda p: p.memory_bandwidth_gbps).astype(float) * 1e9,
        "eff_mm": eff_mm.astype(float),
        "eff_other": eff_ot.astype(float),
        "eff_mem": eff_mem.astype(float),
        "half_flops": params.size_half_gflop * 1e9 * sm / 108.0,
        "launch_s": params.per_op_overhead_us * 1e-6 * _lookup(runtime, params.launch_mult).astype(float),
        "overhead_s": _lookup(runtime, params.overhead_ms_for).astype(float) * 1e-3,
        "ic_bps": col(lambda p: p.interconnect_gbps).astype(float) * 1e9,
        "pcie_bps": col(lambda p: p.pcie_gbps or p.interconnect_gbps).astype(float) * 1e9,
        "bridge_only": col(lambda p: p.form_factor == "pcie" and p.interconnect.startswith("nvlink")).astype(bool),
        "ic_eff": np.full(len(gpus), params.interconnect_eff),
        "moe_eff": np.full(len(gpus), params.moe_matmul_eff),
        "grouped_eff": grouped.astype(float),
        "attention_eff": attention.astype(float),
        "unhidden": np.full(len(gpus), params.unhidden_fraction),
        "allreduce_s": np.full(len(gpus), params.allreduce_latency_us * 1e-6),
        "mem_gb": col(lambda p: p.memory_gb * p.usable_memory_fraction).astype(float) * GB_PER_DATASHEET_GB,
        "tdp_w": col(lambda p: p.tdp_w).astype(float),
        "fp8_ok": col(lambda p: p.peak("fp8") is not None).astype(bool),
        "wbytes": _lookup(precision, WEIGHT_BYTES.__getitem__).astype(float),
        "abytes": _lookup(precision, ACTIVATION_BYTES.__getitem__).astype(float),
    }


def normalize_points(points: pd.DataFrame, catalog: ProfileCatalog) -> pd.DataFrame:
    """Fill defaults, canonicalise GPU names and precisions, reject impossible values."""
    cols = normalize_columns(frame_columns(points), catalog)
    return pd.DataFrame(_merged_columns(points, cols, {}))


def frame_columns(points: pd.DataFrame) -> dict[str, np.ndarray]:
    """A prediction grid's columns as numpy arrays (what `normalize_columns` takes)."""
    return {c: points[c].to_numpy() for c in points.columns}


_DEFAULTS = {"seq_in": np.nan, "seq_out": np.nan, "task": "inference", "runtime": "pytorch",
             "gpu_count": 1, "confidence": 0.9, "max_batch": False, "tensor_parallel": 0}


def normalize_columns(points: Mapping[str, np.ndarray], catalog: ProfileCatalog) -> dict[str, np.ndarray]:
    """`normalize_points` on columns (name -> equal-length arrays): defaults filled, GPU names and
    precisions canonical, impossible values refused. Numpy only, so one point costs microseconds."""
    df = dict(points)
    for col in ("model", "gpu", "precision", "batch_size"):
        if col not in df:
            raise PredictionError(f"prediction grid is missing column '{col}'")
    n = len(df["model"])
    for col, val in _DEFAULTS.items():
        if col not in df:
            df[col] = np.full(n, val, dtype=object if isinstance(val, str) else None)
        elif not isinstance(val, float):
            df[col] = _fillna(df[col], val)
    df["gpu"] = _lookup(df["gpu"], lambda g: catalog.resolve(str(g)), dtype=object)
    df["precision"] = _lookup(df["precision"], lambda p: resolve_precision(str(p)), dtype=object)
    if "strict_precision" in df:
        # the precision ran exactly as stated: the runtime's defaults (TF32 for "fp32") were turned off
        df["strict_precision"] = _fillna(df["strict_precision"], False).astype(bool)
    if "kv_precision" in df:
        # optional KV-cache format (blank: the activation precision); any spelling of the vocabulary
        df["kv_precision"] = _lookup(_fillna(df["kv_precision"], ""), _kv_format, dtype=object)
    df["task"] = _lookup(df["task"], lambda t: str(t).lower(), dtype=object)
    bad = sorted(set(df["task"].tolist()) - {"inference", "training"})
    if bad:
        raise PredictionError(f"unknown task {bad[0]!r}; expected inference or training")
    df["runtime"] = _lookup(df["runtime"], lambda r: str(r).strip().lower(), dtype=object)
    for runtime in set(df["runtime"].tolist()):
        limits.check_runtime(runtime)
    for col, least, most in (("batch_size", 1, limits.MAX_BATCH_SIZE), ("gpu_count", 1, limits.MAX_GPU_COUNT),
                             ("tensor_parallel", 0, limits.MAX_GPU_COUNT)):
        # float64 first: Python ints beyond int64 (batch 1e23) must be refused, not wrapped negative
        vals = _numeric(df[col])
        bad = np.isnan(vals) | (vals < least) | (vals > most) | (vals != np.floor(vals))
        if bad.any():
            badv = _cell(df[col][bad][0])
            kind = "a positive integer" if least else "a GPU count (0 = choose automatically)"
            raise PredictionError(f"{col} must be {kind} up to {most:,}, got {limits.show(badv)}")
        df[col] = vals.astype(np.int64)
    over = df["tensor_parallel"] > df["gpu_count"]
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise PredictionError(f"tensor_parallel {df['tensor_parallel'][i]} is more than gpu_count {df['gpu_count'][i]}")
    for col in ("seq_in", "seq_out"):
        vals = _numeric(df[col])
        bad = (vals < 0) | (vals > limits.MAX_SEQ_LEN) | np.isinf(vals)
        if bad.any():
            raise PredictionError(f"{col} must be from 0 to {limits.MAX_SEQ_LEN:,} tokens, "
                                  f"got {limits.show(_cell(df[col][bad][0]))}")
        df[col] = vals
    conf = _numeric(df["confidence"])
    if np.isnan(conf).any() or ((conf <= 0) | (conf >= 1)).any():
        raise PredictionError("confidence must be between 0 and 1 (e.g. 0.9)")
    df["confidence"] = conf
    return df


def _cell(value):
    """A cell as the user wrote it: numpy scalars as Python numbers (errors say "got 0", not "np.int64(0)")."""
    return value.item() if isinstance(value, np.generic) else value


def _kv_format(value) -> str:
    """Canonical KV-cache format of a cell ("" = the activation precision)."""
    k = str(value).strip()
    return resolve_kv_precision(k) if k else ""


def _fillna(values: np.ndarray, fill) -> np.ndarray:
    """values with missing cells (None, NaN, NA) replaced by fill; unchanged when none is missing."""
    values = np.asarray(values)
    if values.dtype.kind in "biu":
        return values
    missing = pd.isna(values)
    if not missing.any():
        return values
    out = values.astype(object)
    out[missing] = fill
    return out


def _numeric(col: np.ndarray) -> np.ndarray:
    """A column as float64; non-numbers become NaN, Python ints beyond int64 become inf (not wrapped)."""
    col = np.asarray(col)
    if col.dtype.kind in "iuf":
        return col.astype(float)
    return np.array([_as_float(v) for v in col.tolist()], dtype=float)


def _as_float(v) -> float:
    """A cell as float (NaN when not numeric); huge Python ints become inf instead of overflowing."""
    try:
        return float(v)
    except OverflowError:
        return float("inf")
    except (TypeError, ValueError):
        return float("nan")


def predict_grid(points: pd.DataFrame, catalog: ProfileCatalog, workloads: Mapping[str, Workload],
                 params: CalibrationParams, cache: "PredictCache | None" = None) -> pd.DataFrame:
    """Predict every row of `points` (columns: see docs/INTERFACES.md). Vectorised per workload."""
    cols = normalize_columns(frame_columns(points), catalog)
    out = predict_columns(cols, catalog, workloads, params, cache)
    return pd.DataFrame(_merged_columns(points, cols, out))


def _merged_columns(points: pd.DataFrame, cols: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> dict:
    """The result frame's columns: the input's (normalised ones replaced, in place), then the
    defaults filled in, then the outputs; other input columns pass through unchanged."""
    merged = {c: (cols[c] if c in cols else points[c].to_numpy()) for c in points.columns}
    for c, v in cols.items():
        merged.setdefault(c, v)
    merged.update(out)
    return merged


class PredictCache:
    """What an engine reuses across calls: each workload's operator table and, for its own catalog
    and calibration, the support flags and hardware coefficients of each distinct point key (pure
    functions of their key). One cache serves one (catalog, params) pair."""

    def __init__(self) -> None:
        self.tables: dict[int, tuple[Workload, "_OpTable"]] = {}
        self.support_flags: dict[tuple, tuple[int, str]] = {}
        self.gpu: dict[tuple, dict] = {}  # (GPU, precision, runtime, ...) -> `_gpu_arrays` of that point

    def table(self, w: Workload) -> "_OpTable":
        """The operator table of `w`, built once per workload object."""
        hit = self.tables.get(id(w))
        if hit is not None and hit[0] is w:
            return hit[1]
        if len(self.tables) > _MEMO_MAX:
            self.tables.clear()
        t = _OpTable(w)
        self.tables[id(w)] = (w, t)  # keeps w alive, so its id is not reused while cached
        return t


def predict_columns(cols: Mapping[str, np.ndarray], catalog: ProfileCatalog, workloads: Mapping[str, Workload],
                    params: CalibrationParams, cache: PredictCache | None = None) -> dict[str, np.ndarray]:
    """OUTPUT_COLUMNS (name -> array) for normalised points (`normalize_columns`). cache: an
    engine's `PredictCache`; its support flags are used only when `params` is the engine's own."""
    n = len(cols["model"])
    out = {c: np.full(n, np.nan) for c in OUTPUT_COLUMNS}
    out["supported"] = np.ones(n, dtype=bool)
    out["reason"] = np.full(n, "", dtype=object)
    out["fits"] = np.ones(n, dtype=bool)
    out["fit_hint"] = np.full(n, "", dtype=object)
    out["bound"] = np.full(n, "", dtype=object)
    models = cols["model"]
    names = list(dict.fromkeys(models.tolist()))  # distinct, in order of appearance
    missing = sorted(set(names) - set(workloads))
    if missing:
        raise PredictionError(f"no workload for model {missing[0]!r}")
    g_codes, g_distinct = _gpu_blocks(cols, catalog, params, cache.gpu if cache is not None else None)
    unsupported = np.isnan(g_distinct["peak_flops"])[g_codes]
    if unsupported.any():
        out["supported"][unsupported] = False
        out["reason"][unsupported] = [f"{g} has no {COMPUTE_COLUMN[p]} compute path" for g, p in
                                      zip(cols["gpu"][unsupported].tolist(), cols["precision"][unsupported].tolist())]
    quantized = [p for p, f in FORMATS.items() if f.weight_only or f.compute == "int8"]
    train_int = (cols["task"] == "training") & np.isin(cols["precision"], quantized)
    out["supported"][train_int] = False
    out["reason"][train_int] = "training in integer or quantized weight formats is not modelled"
    memo = cache.support_flags if cache is not None else None
    novelty, extrap = _support_flags(cols, catalog, workloads, params, memo)
    out["novelty"], out["extrapolation_reason"] = novelty, extrap
    out["extrapolation"] = extrap != ""
    whole = len(names) == 1 and out["supported"].all()
    for name in names:
        table = cache.table(workloads[name]) if cache is not None else _OpTable(workloads[name])
        idx_all = np.arange(n) if whole else np.flatnonzero((models == name) & out["supported"])
        for start in range(0, len(idx_all), _CHUNK):
            idx = idx_all[start:start + _CHUNK]
            g = {k: v[g_codes[idx]] for k, v in g_distinct.items()}
            _predict_block(workloads[name], table, cols, idx, g, params, out)
    return out


def _predict_block(w: Workload, t: _OpTable, df: Mapping[str, np.ndarray], idx: np.ndarray, g: dict,
                   params: CalibrationParams, out: dict) -> None:
    """Predict the points `idx` of normalised columns `df` (all of workload `w`, table `t`) into `out`."""
    B = df["batch_size"][idx].astype(float)
    n_gpu = df["gpu_count"][idx].astype(float)
    task = df["task"][idx]
    prec = df["precision"][idx]
    seq_default = float(w.default_seq_len)
    seq_in = df["seq_in"][idx].astype(float)
    seq_out = df["seq_out"][idx].astype(float)
    area = np.ones_like(B)
    if w.generative:
        seq_in = np.where(np.isnan(seq_in), float(w.default_seq_len), seq_in)
        seq_out = np.where(np.isnan(seq_out), 128.0, seq_out)
    elif w.image_size:
        # vision: seq_in is the image side in pixels; work scales with the image area
        side = np.where(np.isnan(seq_in), float(w.image_size), seq_in)
        area = (side / w.image_size) ** 2
        seq_in = seq_default * area
        seq_out = np.zeros_like(seq_in)
    else:
        seq_in = np.where(np.isnan(seq_in) | (not w.seq_scalable), seq_default, seq_in)
        seq_out = np.zeros_like(seq_in)
    training = task == "training"
    train_bytes = np.where(np.isin(prec, ["fp32", "tf32"]), ADAM_BYTES_FP32, ADAM_BYTES_MIXED)

    # tensor parallel: as given, else the smallest power of two (<= gpu_count) whose shard fits;
    # the remaining GPUs hold data-parallel replicas
    tp = np.ones_like(B)
    if w.generative:
        for cand in (2.0, 4.0, 8.0):
            need, _ = _memory_gb(w, B, seq_in, seq_out, task, g["wbytes"], g["abytes"], tp, train_bytes, g["kvbytes"])
            grow = (need > g["mem_gb"]) & (cand <= n_gpu) & ~training
            tp = np.where(grow, cand, tp)
        given = df["tensor_parallel"][idx].astype(float)
        tp = np.where((given > 0) & ~training, given, tp)
    dp = np.maximum(np.floor(n_gpu / tp), 1.0)

    # max_batch points: batch_size is an upper bound; take the largest batch that fits in memory
    # (how max-throughput benchmarks are run: as many sequences in flight as memory allows)
    auto = df["max_batch"][idx].astype(bool)
    if auto.any():
        runtime = df["runtime"][idx]
        B = np.where(auto, _max_batch(w, B, seq_in, seq_out, task, g, tp, train_bytes, runtime), B)
        out["batch_used"][idx] = B
    mem_gb, weights_gb = _memory_gb(w, B, seq_in, seq_out, task, g["wbytes"], g["abytes"], tp, train_bytes,
                                    g["kvbytes"])
    fits = mem_gb <= g["mem_gb"]

    q_fwd = np.where(w.generative, np.maximum(seq_in, 1.0), seq_in)
    t_fwd, ideal_fwd, comp_fwd = _pass(t, B, q_fwd, q_fwd, area, g, tp, causal=w.generative)
    t_fwd = t_fwd + (_tp_comm(w, B, q_fwd, tp, g) if w.generative else 0.0)
    latency = t_fwd.copy()
    ideal, comp = ideal_fwd.copy(), comp_fwd.copy()
    ttft = np.full_like(B, np.nan)
    tpot = np.full_like(B, np.nan)
    tokens = np.full_like(B, np.nan)

    # training step: forward + backward (2x forward) + optimizer + exposed gradient all-reduce
    if training.any():
        opt_s = w.params_total * train_bytes / (g["bw"] * g["eff_mem"])
        grad_bytes = w.params_total * np.where(np.isin(prec, ["fp32", "tf32"]), 4.0, 2.0)
        comm = _allreduce_s(grad_bytes, n_gpu, g)
        exposed = np.maximum(comm - DP_OVERLAP * 2.0 * t_fwd, 0.0)
        step = 3.0 * t_fwd - 2.0 * g["overhead_s"] + opt_s + exposed
        latency = np.where(training, step, latency)
        ideal = np.where(training, 3.0 * ideal_fwd, ideal)
        comp = np.where(training, 3.0 * comp_fwd, comp)
        if w.seq_scalable:
            tokens = np.where(training, B * dp * seq_in / step, tokens)

    if w.generative:
        gen = ~training
        k_mid = seq_in + np.maximum(seq_out - 1.0, 0.0) / 2.0
        ones = np.ones_like(B)
        t_dec, ideal_dec, comp_dec = _pass(t, B, ones, k_mid, None, g, tp)
        t_dec = t_dec + _tp_comm(w, B, ones, tp, g)
        steps = np.maximum(seq_out - 1.0, 0.0)
        total = t_fwd + steps * t_dec
        ttft = np.where(gen, t_fwd * 1e3, ttft)
        tpot = np.where(gen, t_dec * 1e3, tpot)
        latency = np.where(gen, total, latency)
        tokens = np.where(gen, B * dp * np.maximum(seq_out, 1.0) / total, tokens)
        ideal = np.where(gen, ideal_fwd + steps * ideal_dec, ideal)
        comp = np.where(gen, comp_fwd + steps * comp_dec, comp)

    throughput = B * dp / latency
    util = np.clip(ideal / latency, 0.0, 1.0)
    power = g["tdp_w"] * (IDLE_POWER_FRACTION + (1 - IDLE_POWER_FRACTION) * util)
    bound = np.where(comp / latency >= 0.5, "compute", "memory")
    bound = np.where(g["overhead_s"] / latency > 0.5, "overhead", bound)

    # log-symmetric intervals, each metric with its own held-out residual quantiles (per task)
    confidence = df["confidence"][idx]
    task_masks = {t: task == t for t in set(task.tolist())}
    novelty = out["novelty"][idx]
    runtimes = df["runtime"][idx]
    for name, value in (("latency_ms", latency * 1e3), ("throughput_per_s", throughput),
                        ("tokens_per_s", tokens), ("ttft_ms", ttft), ("tpot_ms", tpot)):
        half = _half_width(params, confidence, task_masks, name, novelty, runtimes)
        out[name][idx] = value
        out[f"{name}_low"][idx] = value * np.exp(-half)
        out[f"{name}_high"][idx] = value * np.exp(half)
    out["memory_gb"][idx] = mem_gb
    out["fits"][idx] = fits
    out["power_w"][idx] = power
    out["energy_j_per_sample"][idx] = power * n_gpu * latency / (B * dp)
    out["bound"][idx] = bound
    out["tensor_parallel"][idx] = tp
    if not auto.any():
        out["batch_used"][idx] = B
    out["flops_per_sample"][idx] = (area * (t.count @ t.f1) + q_fwd * (t.count @ t.ftok)
                                    + q_fwd * _keys_attended(q_fwd, w.generative) * (t.count @ t.fctx))
    out["params_total"][idx] = w.params_total
    out["params_active"][idx] = w.params_active
    over = np.flatnonzero(~fits)
    if len(over):
        # Python scalars via tolist(): per-element numpy scalar conversions were a tenth of an LLM sweep
        args = zip(mem_gb[over].tolist(), g["mem_gb"][over].tolist(), weights_gb[over].tolist(), prec[over].tolist(),
                   B[over].tolist(), tp[over].tolist(), task[over].tolist(), g["fp8_ok"][over].tolist())
        hints = np.empty(len(over), dtype=object)
        hints[:] = [fit_hint(round(m, 1), have, round(wg, 2), str(p), int(b), int(n_tp), str(k), bool(f))
                    for m, have, wg, p, b, n_tp, k, f in args]
        out["fit_hint"][idx[over]] = hints


@lru_cache(maxsize=4096)
def fit_hint(need_gb: float, have_gb: float, weights_gb: float, precision: str, batch: int,
             tp: int, task: str, fp8_ok: bool = True) -> str:
    """What would make a configuration that does not fit in memory fit."""
    ideas = []
    rest = need_gb - weights_gb - RUNTIME_OVERHEAD_GB
    for n in (2, 4, 8):
        if n > tp and weights_gb * tp / n + rest * tp / n + RUNTIME_OVERHEAD_GB <= have_gb:
            ideas.append(f"tensor parallel over {n} GPUs")
            break
    for p in (("fp8",) if fp8_ok else ()) + ("int8", "int4"):
        if WEIGHT_BYTES[p] < WEIGHT_BYTES[precision] and task == "inference":
            scale = WEIGHT_BYTES[p] / WEIGHT_BYTES[precision]
            if weights_gb * scale + rest + RUNTIME_OVERHEAD_GB <= have_gb:
                ideas.append(f"{p} weights")
                break
    if batch > 1:
        for b in (batch // 2, batch // 4, batch // 8, 1):
            if b >= 1 and weights_gb + rest * b / batch + RUNTIME_OVERHEAD_GB <= have_gb:
                ideas.append(f"batch {b}")
                break
    base = f"needs {need_gb:.1f} GB > {have_gb:.1f} GB usable"
    return f"{base}; fits with {' or '.join(ideas)}" if ideas else f"{base}; needs more GPUs (multi-node) or a smaller model"
