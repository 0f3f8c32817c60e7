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
the expert GEMMs of mixture-of-experts layers) and eff_memory = min(1, arch_eff * runtime_mult) (in
decode steps the runtime's decode-step multiplier: params.CalibrationParams.decode_memory), so
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

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Mapping, NamedTuple

import numpy as np

from phantom_report.engine.executed import CONV_CLASSES
from phantom_report.engine.gpu_arrays import GpuArrays, gpu_blocks
from phantom_report.engine.ir import Workload
from phantom_report.engine.lookup import MEMO_MAX, ColumnCodes, combined_codes, filled
from phantom_report.engine.novelty import extrapolation_reasons, novelty_levels
from phantom_report.engine.params import ATTENTION, GROUPED_CONV, MATMUL_CLASSES, CalibrationParams
from phantom_report.engine.points import frame_columns, merged_columns, normalize_columns
from phantom_report.engine.precision import COMPUTE_COLUMN, FORMATS, VOCAB_EXTRA_BYTES, WEIGHT_BYTES
from phantom_report.engine.profiles import ProfileCatalog
from phantom_report.errors import PredictionError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OUTPUT_COLUMNS", "PredictCache", "fit_hint", "predict_columns", "predict_grid"]

_CHUNK = 16384  # points per block: bounds the (points x operators) temporaries to a few MB
_SMALL_GRID = 64  # up to this many points, support flags are looked up per key (no groupby)
# Board power / TDP of a GPU that is running the workload but whose units are idle (clocks up,
# memory refreshed, kernels in flight: datacenter GPUs draw ~20-35% of TDP there). Not the parked
# idle power of GpuProfile.idle_power() (clocks down, nothing resident; ~12% of TDP), which the
# reporter charges for provisioned GPU-hours that run nothing.
IDLE_POWER_FRACTION = 0.3
RUNTIME_OVERHEAD_GB = 0.8  # CUDA context + allocator reserve + workspace (per GPU)
# Adam optimizer state per parameter; fp32 storage formats keep everything in 4-byte floats
FP32_STORAGE = frozenset({"fp32", "tf32"})
# formats whose training is not modelled: integer math or weights only stored quantized
_NOT_TRAINABLE = frozenset(p for p, f in FORMATS.items() if f.weight_only or f.compute == "int8")
ADAM_BYTES_FP32 = 16.0  # fp32/tf32 weights+grads+m+v (4 bytes each)
ADAM_BYTES_MIXED = 18.0  # fp16/bf16 weights+grads (4) + fp32 master, m, v (12) + fp32 grad copy (2)
DP_OVERLAP = 0.8  # share of backward time that hides the gradient all-reduce (DDP bucketing)
# NVLink on a PCIe card is a bridge joining two GPUs; a larger group talks over PCIe.
NVLINK_BRIDGE_GPUS = 2
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


# signature of an operator's compute path: (runs on the matmul path, convolution library, grouped
# convolution, attention core, expert GEMM); operators of one signature share a compute rate
_Signature = tuple[bool, bool, bool, bool, bool]
_POINT_BLOCK_ELEMS = 65536  # (operators x points) elements per pass block: its arrays stay in cache


class _OpTable:
    """Operator coefficients of one workload as arrays (one entry per distinct operator).

    Operators that differ only in name and count are merged (counts summed): every cost of the
    pass is linear in the count, so a ResNet's 63 operators are 44 columns and an EfficientNet's
    149 are 86. The entries are ordered by compute signature, so the operators sharing a compute
    rate are one contiguous slice (`groups`), and the pass's costs are matrix products of these
    coefficient rows with a few per-point rows (`_pass`)."""

    def __init__(self, ops):
        merged: dict[tuple, list] = {}
        for o in ops:
            sig = (o.op_class in MATMUL_CLASSES, o.op_class in CONV_CLASSES, o.op_class == GROUPED_CONV,
                   o.op_class == ATTENTION, o.moe_experts > 0)
            key = (sig[1], sig, float(o.flops_per_sample), float(o.flops_per_token), float(o.flops_per_token_ctx),
                   float(o.params) * float(o.weights_streamed), float(o.act_elems_per_sample),
                   float(o.act_elems_per_token), float(o.act_elems_per_token_ctx), float(o.kv_elems_per_ctx_token),
                   float(o.moe_experts), float(o.moe_top_k), float(o.vocabulary))
            merged.setdefault(key, [key, 0.0])[1] += float(o.count)
        # sorted by (convolution, signature): equal rates and equal peaks are contiguous
        rows = sorted(merged.values(), key=lambda r: r[0][:2])
        self.sigs: list[_Signature] = [r[0][1] for r in rows]
        cols = np.array([r[0][2:] for r in rows], dtype=float).reshape(len(rows), 11)
        self.count = np.array([r[1] for r in rows], dtype=float)
        (self.f1, self.ftok, self.fctx, self.params, self.a1, self.atok, self.actx, self.kv,
         self.experts, self.topk, self.vocab) = (np.ascontiguousarray(c) for c in cols.T)
        self.conv = np.array([s[1] for s in self.sigs], dtype=bool)
        self.moe = self.experts > 0
        self.has_flops = (self.f1 + self.ftok + self.fctx) > 0
        # ops with only per-sample terms (encoders, pooler) run once per request, not per decode step
        self.per_token = (self.ftok + self.fctx + self.atok + self.actx + self.kv) > 0
        self.any_moe = bool(self.moe.any())
        self._decode: _OpTable | None = None
        self._coefficients()

    def _coefficients(self) -> None:
        """The rows the pass multiplies with per-point rows: compute (FLOPs x count, launches that
        cost FLOP time, streamed weights outside expert banks) and memory (weights, activations,
        KV-cache elements, x count); and the streamed vocabulary matrices (`vocab_rows`, their
        weights `vocab_w`), whose width may differ from the format's (`_add_vocabulary_width`)."""
        c = self.count
        flop_c = c * self.has_flops
        dense_w = np.where(self.moe, 0.0, self.params) * c  # expert banks: scaled per point by routing
        self.compute_rows = np.column_stack([self.f1 * c, self.ftok * c, self.fctx * c, flop_c, dense_w])
        self.memory_rows = np.column_stack([dense_w, self.a1 * c, self.atok * c, self.actx * c, self.kv * c])
        self.vocab_rows = np.flatnonzero(dense_w * self.vocab)
        self.vocab_w = dense_w[self.vocab_rows]
        self.launch_count = c
        change = [i for i in range(1, len(self.sigs)) if self.sigs[i] != self.sigs[i - 1]]
        self.groups = [(slice(s, e), self.sigs[s]) for s, e in zip([0] + change, change + [len(self.sigs)]) if e > s]
        n_plain = len(c) - int(self.conv.sum())  # convolutions last (sorted): their peak is the conv column's
        self.peak_groups = [(slice(0, n_plain), False), (slice(n_plain, len(c)), True)]
        self.block = max(256, _POINT_BLOCK_ELEMS // max(len(c), 1))

    def decode(self) -> "_OpTable":
        """The operators a decode step runs (those with per-token terms), as a table of their own."""
        if self._decode is None:
            sub = _OpTable.__new__(_OpTable)
            keep = self.per_token
            sub.sigs = [s for s, k in zip(self.sigs, keep) if k]
            for name in ("count", "f1", "ftok", "fctx", "params", "a1", "atok", "actx", "kv", "experts", "topk",
                         "vocab", "conv", "moe", "has_flops", "per_token"):
                setattr(sub, name, getattr(self, name)[keep])
            sub.any_moe, sub._decode = bool(sub.moe.any()), None
            sub._coefficients()
            sub._decode = sub
            self._decode = sub
        return self._decode


class _PassTimes(NamedTuple):
    """One forward pass per point (seconds): its time, its roofline-ideal time (every operator at
    the datasheet peak of its bound resource) and the part spent in compute-bound operators."""
    total_s: np.ndarray
    ideal_s: np.ndarray
    compute_s: np.ndarray


def _pass(t: _OpTable, B, q, k, per_sample, g: GpuArrays, tp, causal: bool = False) -> _PassTimes:
    """Time of one forward pass for each point (seconds), its roofline-ideal time, and compute time.

    per_sample: None for decode steps (per-sample-only operators do not run), else an array
    scaling the per-sample terms (1, or the image-area ratio for vision models).
    causal: a causal prefill (q = k) whose attention kernels skip the masked upper triangle (flash
    attention and the serving engines' fused kernels do), so query i sees (i + 1) keys, k/2 on average.
    Evaluated in blocks of points small enough that the (operators x points) arrays stay in cache:
    equal blocks of about `t.block` points each (a short remainder joins them instead of being a
    block of its own: each block costs some fifty numpy calls however few its points)."""
    if per_sample is None:
        t, per_sample = t.decode(), np.zeros_like(B)
    n = len(B)
    total, ideal, compute = np.empty(n), np.empty(n), np.empty(n)
    per_gpu = B / tp  # samples per GPU of the tensor-parallel group
    qk = q * _keys_attended(k, causal)
    n_blocks = max(1, round(n / t.block))
    size = max(1, -(-n // n_blocks))  # at most 1.5 x t.block
    for s in range(0, n, size):
        sl = slice(s, s + size)
        gs = g if n_blocks == 1 else _GpuSlice(g, sl)
        total[sl], ideal[sl], compute[sl] = _pass_block(t, B[sl], q[sl], k[sl], per_sample[sl], gs, tp[sl],
                                                        per_gpu[sl], qk[sl])
    return _PassTimes(total, ideal, compute)


class _PointGpu:
    """The `GpuArrays` of a block's points, each field gathered from the distinct combinations'
    when first read: a block reads only the fields its workload and tasks need (no interconnect
    for one-GPU inference, no convolution path for a transformer). A field equal for every
    combination (a calibration constant, one runtime's overheads) is that value broadcast to the
    points, a read-only view: no gather. Per-signature compute rates (`_rates`) are computed on
    the distinct combinations too, once per block for both of its passes (prefill and decode)."""

    def __init__(self, distinct: GpuArrays, codes: np.ndarray, rates: dict | None = None):
        self._distinct, self._codes = distinct, codes
        self._rates = {} if rates is None else rates  # signature -> (rate, size_half_flops / rate) per point

    def __getattr__(self, name: str) -> np.ndarray:
        values = self._per_point(getattr(self._distinct, name))
        setattr(self, name, values)  # kept: __getattr__ runs only for fields not read yet
        return values

    def _per_point(self, field: np.ndarray) -> np.ndarray:
        """`field` (one value per distinct combination) at each point."""
        if (field == field[0]).all():
            return np.broadcast_to(field[0], len(self._codes))
        return field[self._codes]

    def rates(self, sig: _Signature) -> tuple[np.ndarray, np.ndarray]:
        """(`_compute_rate`, size_half_flops / that rate) of each point: the same arithmetic on the
        distinct combinations (a few hundred), then one gather each."""
        hit = self._rates.get(sig)
        if hit is None:
            rate = _compute_rate(sig, self._distinct)
            hit = self._rates[sig] = (self._per_point(rate), self._per_point(self._distinct.size_half_flops / rate))
        return hit

    def for_decode(self) -> "_PointGpu":
        """These points' coefficients as a decode step uses them (`GpuArrays.for_decode`): the
        fields and rates read so far are shared (a rate does not depend on memory efficiency),
        memory efficiency is the decode-step one."""
        out = _PointGpu(self._distinct.for_decode(), self._codes, self._rates)
        out.__dict__.update({k: v for k, v in self.__dict__.items() if not k.startswith("_") and k != "eff_mem"})
        return out


class _GpuSlice:
    """The `GpuArrays` fields of a slice of the points (views, no copies), each taken when first read."""

    def __init__(self, g: GpuArrays, sl: slice):
        self._g, self._sl = g, sl

    def __getattr__(self, name: str) -> np.ndarray:
        values = getattr(self._g, name)[self._sl]
        setattr(self, name, values)
        return values

    def rates(self, sig: _Signature) -> tuple[np.ndarray, np.ndarray]:
        """`_rates` of the slice's points."""
        rate, half = _rates(sig, self._g)
        return rate[self._sl], half[self._sl]


def _rates(sig: _Signature, g) -> tuple[np.ndarray, np.ndarray]:
    """(achieved FLOP/s of the operators of compute signature `sig`, the per-op work at which the
    GPU is half filled / that rate) at each point of `g` (`GpuArrays` or a block's view of them)."""
    if isinstance(g, GpuArrays):
        rate = _compute_rate(sig, g)
        return rate, g.size_half_flops / rate
    return g.rates(sig)


def _pass_block(t: _OpTable, B, q, k, ps, g, tp, per_gpu, qk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_pass` of one block of points: (total, ideal, compute-bound) seconds. Arrays are
    (operators x points); each cost is a product of the table's coefficient rows with a few
    per-point rows, then the kernel's overlap and the launch bound per element."""
    n_ops, n = len(t.count), len(B)
    # per-point rows, written in place (a single prediction is a block of one: call count matters)
    rows = np.empty((5, n))  # FLOPs of an instance = coefficient rows . rows[:3]; rows[4]: per streamed weight
    flops = np.empty((3, n))
    np.multiply(per_gpu, ps, out=flops[0])
    np.multiply(per_gpu, q, out=flops[1])
    np.multiply(per_gpu, qk, out=flops[2])
    dequant_s = _one_if_equal(g.dequant_s_per_weight)
    if np.ndim(dequant_s) == 0 and dequant_s == 0.0:  # no weight-only format in the block: nothing to unpack
        dequant = 0.0
    else:
        dequant = np.ceil(per_gpu * q / DEQUANT_TILE_TOKENS) * dequant_s / tp  # per streamed weight
    rows[4] = dequant
    t_c, c_ideal = np.empty((n_ops, n)), np.empty((n_ops, n))
    for sl, sig in t.groups:
        rate, half_over_rate = _rates(sig, g)
        np.divide(flops, rate, out=rows[:3])
        rows[3] = half_over_rate
        np.matmul(t.compute_rows[sl], rows, out=t_c[sl])
    for sl, conv in t.peak_groups:
        if sl.stop > sl.start:
            peak = g.peak_conv_flops_per_s if conv else g.peak_flops_per_s
            np.matmul(t.compute_rows[sl, :3], flops / peak, out=c_ideal[sl])
    act = g.act_bytes * per_gpu
    memory = rows  # bytes of an instance = coefficient rows . this (rows' compute use is over)
    np.divide(g.weight_bytes, tp, out=memory[0])
    np.multiply(act, ps, out=memory[1])
    np.multiply(act, q, out=memory[2])
    np.multiply(act, qk, out=memory[3])
    np.multiply(g.kv_bytes * per_gpu, k, out=memory[4])
    memory /= g.mem_bytes_per_s
    m_ideal = t.memory_rows @ memory
    if t.any_moe:
        _add_experts(t, B * q, tp, g, dequant, t_c, m_ideal)
    if len(t.vocab_rows):
        _add_vocabulary_width(t, g, tp, dequant, t_c, m_ideal)
    ideal = np.maximum(c_ideal, m_ideal, out=c_ideal).sum(axis=0)
    t_m = np.divide(m_ideal, _one_if_equal(g.eff_mem), out=m_ideal)
    compute_bound = t_c >= t_m
    op_t = np.maximum(t_c, t_m, out=c_ideal)
    shorter = np.minimum(t_c, t_m, out=t_m)
    shorter *= _one_if_equal(g.unhidden_fraction)
    op_t += shorter
    compute = np.multiply(op_t, compute_bound, out=t_c).sum(axis=0)
    # launches overlap the kernels queued before them: each op costs the longer of the two
    launch_s = _one_if_equal(g.launch_s)
    if np.ndim(launch_s) == 0:  # one runtime in the block: an operator's launch bound is one number
        launch = (t.launch_count * launch_s)[:, None]
    else:
        launch = np.multiply.outer(t.launch_count, launch_s, out=t_m)
    total = np.maximum(op_t, launch, out=op_t).sum(axis=0) + g.overhead_s
    return total, ideal, compute


def _add_vocabulary_width(t: _OpTable, g, tp, dequant, t_c, m_ideal) -> None:
    """The streamed vocabulary matrices (the output head) at their own width (in place): the pass
    counted them at the format's bytes and unpack cost; formats that keep them at 16 bits
    (`precision.VOCAB_BYTES`) read more bytes and unpack nothing. A correction on the one or two
    vocabulary operators rather than a column of every operator: most blocks need none."""
    extra_bytes = _one_if_equal(g.vocab_extra_bytes)
    if np.ndim(extra_bytes) or extra_bytes:
        m_ideal[t.vocab_rows] += np.multiply.outer(t.vocab_w, extra_bytes / tp / g.mem_bytes_per_s)
    if np.ndim(dequant) or dequant:  # a weight-only format: 16-bit vocabulary matrices unpack nothing
        t_c[t.vocab_rows] += np.multiply.outer(t.vocab_w, dequant * (_one_if_equal(g.vocab_unpacked) - 1.0))


def _one_if_equal(values: np.ndarray):
    """`values` as one number where it is one value broadcast to every point (a `_PointGpu` field
    equal for all combinations): the (operators x points) passes then take a scalar, which numpy
    runs as a vector loop, instead of re-reading a row of repeats. Same numbers either way."""
    if values.ndim == 1 and len(values) and values.strides[0] == 0:
        return values[0]
    return values


def _compute_rate(sig: _Signature, g) -> np.ndarray:
    """Achieved FLOP/s of the operators of one compute signature at each point: the datasheet peak
    (the convolution column's for convolutions) x the achieved fraction of it."""
    matmul, conv, grouped, attention, moe = sig
    eff = g.eff_conv if conv else (g.eff_matmul if matmul else g.eff_other)
    # op classes below the dense-matmul efficiency: grouped convolutions, the attention core and
    # expert GEMMs (grouped, uneven shapes, fewer tokens each); each fraction read only where it applies
    for present, frac in ((grouped, "eff_grouped_conv_of_matmul"), (attention, "eff_attention_of_matmul"),
                          (moe, "eff_moe_of_matmul")):
        if present:
            eff = eff * getattr(g, frac)
    return eff * (g.peak_conv_flops_per_s if conv else g.peak_flops_per_s)


def _add_experts(t: _OpTable, tokens, tp, g, dequant, t_c, m_ideal) -> None:
    """Expert banks' streamed weights (in place): only the experts any of the B*q tokens are routed
    to are read (expected count under uniform routing), and unpacked for weight-only formats.
    dequant: seconds to unpack one streamed weight of the bank (per point, tensor parallelism applied)."""
    for j in np.flatnonzero(t.moe):
        frac = np.clip(1.0 - (1.0 - t.topk[j] / t.experts[j]) ** tokens, 0.0, 1.0)
        weights = t.count[j] * t.params[j] * frac  # expected weights read, before tensor parallelism
        m_ideal[j] += weights / tp * g.weight_bytes / g.mem_bytes_per_s
        t_c[j] += weights * dequant


_METRICS = ("latency_ms", "throughput_per_s", "tokens_per_s", "ttft_ms", "tpot_ms")


def _no_intervals(out: dict) -> None:
    """NaN bounds for every metric (no point predicted, or bounds not asked for)."""
    for metric in _METRICS:
        out[f"{metric}_low"].fill(np.nan)
        out[f"{metric}_high"].fill(np.nan)


def _write_intervals(params: CalibrationParams, cols: Mapping[str, np.ndarray], codes: ColumnCodes,
                     out: dict) -> None:
    """Log-symmetric intervals around the predicted metrics, each metric with its own held-out
    residual quantiles (per task, novelty level and runtime, see `log_half_width`): evaluated once
    per distinct (task, novelty, runtime, confidence) cell and gathered per point.
    novelty: out["novelty"], -1 where the calibration carries no corpus support summary.
    Written for every point at once: a point not predicted has NaN metrics, so NaN bounds, as before."""
    if not out["supported"].any():
        _no_intervals(out)
        return
    keys = [codes.of("task"), codes.of("runtime"), _codes_of(out["novelty"]), _codes_of(cols["confidence"])]
    cell, first = combined_codes(keys)
    cell_widths = np.empty((len(_METRICS), len(first)))
    for j, i in enumerate(first.tolist()):
        task, runtime, lv = str(cols["task"][i]), str(cols["runtime"][i]), int(out["novelty"][i])
        conf = cols["confidence"][i:i + 1]
        for m, metric in enumerate(_METRICS):
            cell_widths[m, j] = params.log_half_width(conf, f"{task}/{metric}", None if lv < 0 else lv, runtime)[0]
    for m, metric in enumerate(_METRICS):
        for bound, factors in (("low", np.exp(-cell_widths[m])), ("high", np.exp(cell_widths[m]))):
            column = factors.take(cell, out=out[f"{metric}_{bound}"], mode="clip")  # unbuffered: codes are in range
            column *= out[metric]


def _codes_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code, distinct values) of a numeric column that no `ColumnCodes` holds."""
    return ColumnCodes({"v": values}).of("v")


def _support_flags(cols: Mapping[str, np.ndarray], codes: ColumnCodes, catalog: ProfileCatalog,
                   workloads: Mapping[str, Workload], params: CalibrationParams,
                   memo: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(novelty level, extrapolation reason, whether there is one) per point against the corpus
    support stored in the calibration (`intervals.support`); (-1, "", False) everywhere when it
    carries none.
    memo: optional dict remembering the flags of each distinct key (kept by `Engine` for its own
    params; the flags are a pure function of the support and the key)."""
    support = params.support
    n = len(cols["gpu"])
    if support is None:
        return np.full(n, -1, dtype=int), filled(n, ""), np.zeros(n, dtype=bool)
    arch = codes.derived("gpu", lambda g: catalog.get(g).architecture)
    family = codes.derived("model", lambda m: workloads[m].family)
    if n <= _SMALL_GRID:
        frame = {"runtime": cols["runtime"].astype(str), "arch": arch[1][arch[0]], "family": family[1][family[0]],
                 "task": cols["task"], "batch_size": cols["batch_size"], "seq_in": cols["seq_in"].astype(float),
                 "gpu_count": cols["gpu_count"]}
        level, reason = _support_flags_small(support, frame, memo)
        return level, reason, reason != ""
    # each distinct (runtime, architecture, family, sizes) once: a sweep repeats them across models and GPUs
    parts = {"runtime": codes.of("runtime"), "arch": arch, "family": family, "task": codes.of("task"),
             "batch_size": codes.of("batch_size"), "seq_in": codes.of("seq_in"), "gpu_count": codes.of("gpu_count")}
    key, first = combined_codes(list(parts.values()))
    pts = {name: u[c[first]] for name, (c, u) in parts.items()}
    pts["runtime"] = pts["runtime"].astype(str)
    level, reason = _support_flags_small(support, pts, memo)  # the engine's memo: chunks repeat keys
    return level[key], reason[key], (reason != "")[key]


def _support_flags_small(support, frame: dict, memo: dict | None) -> tuple[np.ndarray, np.ndarray]:
    """`_support_flags` for a few points (or a grid's distinct keys): each key's flags from the memo,
    or computed and stored."""
    memo = {} if memo is None else memo
    keys = list(zip(*(_key_values(a) for a in frame.values())))
    flags = [memo.get(k) for k in keys]  # each key hashed once (a grid has thousands of distinct keys)
    todo = [i for i, f in enumerate(flags) if f is None]
    if todo:
        pts = {c: a[todo] for c, a in frame.items()}
        levels, reasons = novelty_levels(support, pts), extrapolation_reasons(support, pts)
        if len(memo) > MEMO_MAX:
            memo.clear()
        for j, i in enumerate(todo):
            flags[i] = memo[keys[i]] = (int(levels[j]), reasons[j])
    level = np.array([f[0] for f in flags], dtype=int)
    reason = np.empty(len(keys), dtype=object)
    reason[:] = [f[1] for f in flags]
    return level, reason


def _key_values(values: np.ndarray) -> list:
    """A column's values as Python scalars for memo keys, NaN as None (NaN != NaN: equal keys must
    compare equal); numbers without NaN as they are."""
    values = np.asarray(values)
    if values.dtype.kind in "biu" or (values.dtype.kind == "f" and not np.isnan(values).any()):
        return values.tolist()
    return [None if v != v else v for v in values.tolist()]


def _keys_attended(k, causal: bool):
    """Keys each query attends to, on average: all k, or (k + 1) / 2 under a causal mask."""
    return (k + 1.0) / 2.0 if causal else k


def _link_bps(g: GpuArrays, n_gpus) -> np.ndarray:
    """Achieved one-way bandwidth (bytes/s) for collectives among n_gpus (figures are bidirectional)."""
    bridged = g.nvlink_bridge_only & (n_gpus > NVLINK_BRIDGE_GPUS)
    return np.where(bridged, g.pcie_bytes_per_s, g.link_bytes_per_s) / 2.0 * g.link_eff


def _allreduce_s(volume_bytes, n_gpus, g: GpuArrays) -> np.ndarray:
    """Ring all-reduce of `volume_bytes` across n_gpus: 2(n-1)/n of the data crosses each link."""
    n = np.maximum(n_gpus, 1.0)
    if not (n > 1).any():
        return np.zeros_like(n)  # every point on one GPU (most grids): no collective to time
    return np.where(n > 1, 2.0 * (n - 1) / n * volume_bytes / _link_bps(g, n) + g.allreduce_latency_s, 0.0)


def _tp_comm(w: Workload, B, q, tp, g: GpuArrays) -> np.ndarray | float:
    """Two all-reduces of the hidden state per layer under tensor parallelism (Megatron); 0.0 when
    no point is split over GPUs (most grids: the volumes are not computed, adding 0 changes no time)."""
    if not (tp > 1).any():
        return 0.0
    per_call = _allreduce_s(B * q * w.hidden_size * g.act_bytes, tp, g)
    return 2.0 * max(w.num_layers, 1) * per_call


@dataclass(frozen=True)
class _BlockPoints:
    """The points of one block (all of one workload) as the physics reads them: arrays of the
    block's length (numbers as float64), the workload's defaults filled in."""
    idx: np.ndarray | slice  # the block's points in the normalised columns (positions or a range)
    batch: np.ndarray  # samples per replica; once max_batch is applied, the batch used
    gpu_count: np.ndarray
    training: np.ndarray  # bool: task == "training"
    kv_budget_of_total: np.ndarray  # bool: the runtime sizes its KV cache from total memory (see KV_CACHE_FRACTION)
    seq_in: np.ndarray  # prompt tokens (vision: the default token count scaled by the area ratio)
    seq_out: np.ndarray  # generated tokens (0 unless generative)
    prefill_tokens: np.ndarray  # tokens of the forward pass: seq_in (generative: at least 1)
    area_ratio: np.ndarray  # image area / the workload's native area (1 unless a vision model)
    fp32_storage: np.ndarray  # bool: weights and gradients stored in 4-byte floats (fp32, tf32)
    adam_bytes_per_param: np.ndarray  # optimizer state and gradients per parameter when training


class _Timings(NamedTuple):
    """Per point of a block: seconds per request or step, its roofline-ideal and compute-bound
    parts, and the generative metrics (NaN where they do not apply)."""
    latency_s: np.ndarray
    ideal_s: np.ndarray
    compute_s: np.ndarray
    ttft_ms: np.ndarray
    tpot_ms: np.ndarray
    tokens_per_s: np.ndarray


def _block_points(w: Workload, df: Mapping[str, np.ndarray], idx: np.ndarray | slice,
                  flags: Mapping[str, np.ndarray]) -> _BlockPoints:
    """The points `idx` of normalised columns `df`, with `w`'s sequence defaults filled in;
    flags: the grid's `_point_flags`."""
    fp32_storage = flags["fp32_storage"][idx]
    seq_in, seq_out, area = _sequence_lengths(w, df["seq_in"][idx].astype(float, copy=False),
                                         df["seq_out"][idx].astype(float, copy=False))
    return _BlockPoints(
        idx=idx, batch=df["batch_size"][idx].astype(float), gpu_count=df["gpu_count"][idx].astype(float),
        training=flags["training"][idx], kv_budget_of_total=flags["kv_budget_of_total"][idx],
        seq_in=seq_in, seq_out=seq_out, area_ratio=area,
        prefill_tokens=np.maximum(seq_in, 1.0) if w.generative else seq_in,
        fp32_storage=fp32_storage,
        adam_bytes_per_param=np.where(fp32_storage, ADAM_BYTES_FP32, ADAM_BYTES_MIXED),
    )


def _sequence_lengths(w: Workload, seq_in: np.ndarray, seq_out: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seq_in, seq_out, area ratio) with `w`'s defaults: generative models default to their
    context and 128 new tokens; for vision models seq_in is the image side in pixels and work
    scales with the image area; other models use their default length unless it scales."""
    seq_default = float(w.default_seq_len)
    area = np.ones_like(seq_in)
    if w.generative:
        seq_in = np.where(np.isnan(seq_in), seq_default, seq_in)
        seq_out = np.where(np.isnan(seq_out), 128.0, seq_out)
    elif w.image_size:
        side = np.where(np.isnan(seq_in), float(w.image_size), seq_in)
        area = (side / w.image_size) ** 2
        seq_in = seq_default * area
        seq_out = np.zeros_like(seq_in)
    else:
        seq_in = np.where(np.isnan(seq_in) | (not w.seq_scalable), seq_default, seq_in)
        seq_out = np.zeros_like(seq_in)
    return seq_in, seq_out, area


def _tensor_parallel(w: Workload, pts: _BlockPoints, g: GpuArrays, given: np.ndarray | None) -> np.ndarray:
    """GPUs per replica: `given` where positive, else the smallest power of two (<= gpu_count)
    whose shard fits; 1 for training and non-generative models. The remaining GPUs hold
    data-parallel replicas."""
    tp = np.ones_like(pts.batch)
    if not w.generative:
        return tp
    for cand in (2.0, 4.0, 8.0):
        eligible = (cand <= pts.gpu_count) & ~pts.training
        if not eligible.any():
            break  # no point has this many GPUs (most grids: one GPU): no memory to compute
        need, _ = _memory_gb(w, pts.batch, pts, g, tp)
        grow = (need > g.usable_mem_gb) & eligible
        if not grow.any():
            break  # tp unchanged, so no larger candidate can grow either (fewer GPUs than it, or it fits)
        tp = np.where(grow, cand, tp)
    return np.where((given > 0) & ~pts.training, given, tp)


def _memory_gb(w: Workload, batch: np.ndarray, pts: _BlockPoints, g: GpuArrays, tp: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """(total GB per GPU, weights GB per GPU) of the block's points at `batch` samples per replica."""
    weights = w.weight_bytes(g.weight_bytes, _one_if_equal(g.vocab_extra_bytes)) / tp
    kv = batch * _kv_bytes_per_seq(w, pts.seq_in, pts.seq_out, g.kv_bytes, tp)
    tokens = np.maximum(pts.seq_in, 1.0) if w.seq_scalable else float(w.default_seq_len)
    # inference keeps only a couple of layers' activations alive at once; generative serving
    # prefills in chunks, so its workspace is bounded by the chunk, not by the batch
    per_layer = 2.0 / w.num_layers if w.num_layers else 0.1
    infer_tokens = np.minimum(batch * tokens, PREFILL_CHUNK_TOKENS) if w.generative else batch * tokens
    infer_act = infer_tokens * w.saved_act_elems_per_token * g.act_bytes * per_layer
    if not pts.training.any():  # an inference block (most grids): no saved activations, no optimizer state
        return (weights + kv + infer_act / tp) / 1e9 + RUNTIME_OVERHEAD_GB, weights / 1e9
    saved = batch * tokens * w.saved_act_elems_per_token * g.act_bytes
    act = np.where(pts.training, saved, infer_act) / tp
    optimizer = np.where(pts.training, w.params_total * pts.adam_bytes_per_param, 0.0)
    return (weights + kv + act + optimizer) / 1e9 + RUNTIME_OVERHEAD_GB, weights / 1e9


def _kv_bytes_per_seq(w: Workload, seq_in, seq_out, kv_bytes, tp):
    """KV cache one sequence holds at its full length, per GPU (engines reserve the full length)."""
    if not w.generative:
        return 0.0
    return (seq_in + seq_out) * w.kv_elems_per_token * kv_bytes / tp


def _max_batch(w: Workload, pts: _BlockPoints, g: GpuArrays, tp: np.ndarray) -> np.ndarray:
    """Largest batch (<= the point's batch) that memory holds, the way serving engines size their
    KV cache (see KV_CACHE_FRACTION)."""
    B = pts.batch
    if w.generative:
        per_seq = _kv_bytes_per_seq(w, pts.seq_in, pts.seq_out, g.kv_bytes, tp) / 1e9
        total, _ = _memory_gb(w, B, pts, g, tp)
        workspace = total - B * per_seq
        budget = np.where(pts.kv_budget_of_total, KV_CACHE_FRACTION * g.usable_mem_gb - workspace,
                          KV_CACHE_FRACTION * (g.usable_mem_gb - workspace))
    else:
        m0, _ = _memory_gb(w, np.zeros_like(B), pts, g, tp)
        m1, _ = _memory_gb(w, np.ones_like(B), pts, g, tp)
        budget, per_seq = KV_CACHE_FRACTION * g.usable_mem_gb - m0, m1 - m0
    b_fit = np.floor(budget / np.maximum(per_seq, 1e-12))
    return np.clip(np.minimum(B, b_fit), 1.0, None)


def predict_grid(points: pd.DataFrame, catalog: ProfileCatalog, workloads: Mapping[str, Workload],
                 params: CalibrationParams, cache: "PredictCache | None" = None,
                 codes: Mapping[str, tuple] | None = None, columns: Mapping[str, np.ndarray] | None = None,
                 intervals: bool = True) -> pd.DataFrame:
    """Predict every row of `points` (columns: see docs/INTERFACES.md). Vectorised per workload.
    codes: columns already factorised, name -> (code of each point, value of each code);
    columns: `points`' columns as arrays where the caller has them (`frame_columns`, some replaced);
    intervals=False leaves the <metric>_low/_high columns NaN (see `predict_columns`)."""
    known: dict = dict(codes or {})
    inputs = dict(columns) if columns is not None else frame_columns(points)
    cols = normalize_columns(inputs, catalog, known)
    out = predict_columns(cols, catalog, workloads, params, cache, ColumnCodes(cols, known), intervals)
    return _result_frame(inputs, merged_columns(points, cols, out))


# text columns the engine writes (canonical names, reasons, hints): they hold only str
_TEXT_COLUMNS = frozenset({"model", "gpu", "precision", "task", "runtime", "kv_precision", "reason", "fit_hint",
                           "bound", "extrapolation_reason"})


def _result_frame(inputs: Mapping[str, np.ndarray], merged: dict) -> pd.DataFrame:
    """The result DataFrame of the merged columns, built without copying them into consolidated
    blocks and without pandas testing every cell of the engine's text columns (a third of a sweep's
    time): those hold only str, so they get pandas' string dtype directly (the dtype it infers for
    them). Arrays that may share memory with an input column are copied first, so the frame never
    aliases the caller's data; other columns are typed by pandas as before."""
    import pandas as pd

    text = pd.Series(["text"]).dtype  # str (pandas 3) or object (pandas 2): what pandas infers
    given = [a for a in inputs.values() if isinstance(a, np.ndarray)]
    frame = {}
    for name, values in merged.items():
        if any(np.may_share_memory(values, a) for a in given):
            values = values.copy()
        if name in _TEXT_COLUMNS and values.dtype == object:
            values = pd.Series(values, dtype=text, copy=False)
        frame[name] = values
    return pd.DataFrame(frame, copy=False)


class PredictCache:
    """What an engine reuses across calls: each workload's operator table and, for its own catalog
    and calibration, the support flags and hardware coefficients of each distinct point key (pure
    functions of their key). One cache serves one (catalog, params) pair; `for_params` gives another
    pair's cache that shares the operator tables (they depend on the workload alone)."""

    def __init__(self, tables: dict | None = None, memoise_hardware: bool = True) -> None:
        self.tables: dict[int, tuple[Workload, "_OpTable"]] = {} if tables is None else tables
        self.support_flags: dict[tuple, tuple[int, str]] = {}
        # (GPU, precision, runtime, ...) -> that point's coefficients; None: computed per call, not kept
        self.gpu: dict[tuple, GpuArrays] | None = {} if memoise_hardware else None

    def for_params(self) -> "PredictCache":
        """A cache for other calibration parameters, used for one call: empty support flags, the same
        operator tables (calibration and cross-validation predict one set of corpus points under
        hundreds of candidate parameters: rebuilding the tables was ~7% of each call), and no memo of
        hardware coefficients: they are functions of the parameters, so nothing would read them again,
        and storing each combination's coefficients one by one was ~40% of a corpus evaluation."""
        return PredictCache(self.tables, memoise_hardware=False)

    def table(self, w: Workload) -> "_OpTable":
        """The operator table of `w`, built once per workload object."""
        hit = self.tables.get(id(w))
        if hit is not None and hit[0] is w:
            return hit[1]
        if len(self.tables) > MEMO_MAX:
            self.tables.clear()
        t = _OpTable(w.operators)
        self.tables[id(w)] = (w, t)  # keeps w alive, so its id is not reused while cached
        return t


def predict_columns(cols: Mapping[str, np.ndarray], catalog: ProfileCatalog, workloads: Mapping[str, Workload],
                    params: CalibrationParams, cache: PredictCache | None = None,
                    codes: ColumnCodes | None = None, intervals: bool = True) -> dict[str, np.ndarray]:
    """OUTPUT_COLUMNS (name -> array) for normalised points (`normalize_columns`). cache: an
    engine's `PredictCache`; its support flags are used only when `params` is the engine's own.
    codes: the columns' factorisations where already known (`ColumnCodes`). intervals=False: the
    <metric>_low/_high bounds are NaN instead of computed, for callers that read the point
    predictions only (calibration's residuals under hundreds of candidate parameters: the bounds
    were ~15% of each corpus evaluation)."""
    n = len(cols["model"])
    codes = codes if codes is not None else ColumnCodes(cols)
    model_codes, names = codes.of("model")
    names = names.tolist()  # distinct, in order of appearance
    missing = sorted(set(names) - set(workloads))
    if missing:
        raise PredictionError(f"no workload for model {missing[0]!r}")
    out = _empty_output(n)
    g_codes, g_distinct = gpu_blocks(cols, catalog, params, cache.gpu if cache is not None else None, codes)
    _mark_unsupported(cols, codes, np.isnan(g_distinct.peak_flops_per_s)[g_codes], out)
    memo = cache.support_flags if cache is not None else None
    out["novelty"], out["extrapolation_reason"], out["extrapolation"] = _support_flags(cols, codes, catalog, workloads,
                                                                                     params, memo)
    flags = _point_flags(codes)
    runs = _model_runs(model_codes, len(names))
    for code, name in enumerate(names):
        table = cache.table(workloads[name]) if cache is not None else _OpTable(workloads[name].operators)
        of_model = runs[code] if runs is not None else model_codes == code
        for block in _model_blocks(of_model, out["supported"]):
            # every point of one combination (a single prediction): its coefficients as they are
            g = g_distinct if n == len(g_distinct.tdp_w) == 1 else _PointGpu(g_distinct, g_codes[block])
            _predict_block(workloads[name], table, cols, block, g, flags, out)
    models = [workloads[name] for name in names]  # by model code
    _write_model_sizes(models, model_codes, out)
    _clear_unpredicted(out)
    out["bound"] = _bound_texts(out["bound"])
    _write_fit_hints(flags["training"], g_codes, g_distinct, models, model_codes, out)
    if intervals:
        _write_intervals(params, cols, codes, out)
    else:
        _no_intervals(out)
    return out


def _write_model_sizes(models: list[Workload], model_codes: np.ndarray, out: dict) -> None:
    """params_total and params_active of every point, taken from its model's (one gather over the
    grid instead of a scatter per block; `_clear_unpredicted` then clears the unsupported points')."""
    for name in ("params_total", "params_active"):
        sizes = np.array([getattr(w, name) for w in models], dtype=float)
        sizes.take(model_codes, out=out[name], mode="clip")  # unbuffered: the codes are in range


_UNSUPPORTED_IN_SLICE = 1 / 16  # the share of unsupported points a block of consecutive points may compute


def _model_runs(model_codes: np.ndarray, n_models: int) -> list[slice] | None:
    """The range of each model's points (by code) where each model's points are one run of
    consecutive points (a grid in product order, model first; codes number models in order of
    appearance, so run i is model i), found in one pass; None otherwise."""
    if n_models == 1:
        return [slice(0, len(model_codes))]
    starts = np.flatnonzero(model_codes[1:] != model_codes[:-1]) + 1
    if len(starts) != n_models - 1:
        return None
    bounds = [0] + starts.tolist() + [len(model_codes)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _model_blocks(of_model: np.ndarray | slice, supported: np.ndarray) -> list:
    """The blocks (of at most _CHUNK points) one workload's points are predicted in. Where its
    points are consecutive (a grid in product order, model first) and nearly all supported, slices
    of them, the few unsupported points included (`_clear_unpredicted` resets those): reading the
    columns and writing the outputs are then views and copies, not gathers and scatters. Else the
    positions of its supported points (computing many unsupported points costs more than the
    gathers save). of_model: the workload's points, as a mask or as their range (`_model_runs`)."""
    if isinstance(of_model, slice):
        start, stop = of_model.start, of_model.stop
    else:
        rows = np.flatnonzero(of_model)
        start, stop = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
        if stop - start != len(rows):  # not consecutive
            rows = np.flatnonzero(of_model & supported)
            return [rows[s:s + _CHUNK] for s in range(0, len(rows), _CHUNK)]
    if np.count_nonzero(supported[start:stop]) >= (1.0 - _UNSUPPORTED_IN_SLICE) * (stop - start):
        return [slice(s, min(s + _CHUNK, stop)) for s in range(start, stop, _CHUNK)]
    rows = start + np.flatnonzero(supported[start:stop])  # the supported points of the range
    return [rows[s:s + _CHUNK] for s in range(0, len(rows), _CHUNK)]


# the outputs `_predict_block` writes (every other output is written for all points at once)
_BLOCK_OUTPUTS = ("latency_ms", "throughput_per_s", "tokens_per_s", "ttft_ms", "tpot_ms", "memory_gb", "fits",
                  "power_w", "energy_j_per_sample", "bound", "tensor_parallel", "batch_used", "flops_per_sample",
                  "params_total", "params_active")


_BOUNDS = np.array(["memory", "compute", "overhead", ""], dtype=object)  # `bound` by code; "": not predicted
_NO_BOUND = 3


def _bound_texts(codes: np.ndarray) -> np.ndarray:
    """The `bound` column (object array of str) from the codes the blocks wrote (see `_empty_output`)."""
    return _BOUNDS.take(codes)


_UNPREDICTED = {"fits": True, "bound": _NO_BOUND}  # an unsupported point's block outputs; the others NaN


def _clear_unpredicted(out: dict) -> None:
    """The block outputs of unsupported points (`_UNPREDICTED`): no block predicts them, or a
    block of consecutive points computed them too."""
    unsupported = np.flatnonzero(~out["supported"])  # positions: one scan of the flags, not one per output
    if len(unsupported):
        for name in _BLOCK_OUTPUTS:
            out[name][unsupported] = _UNPREDICTED.get(name, np.nan)


def _point_flags(codes: ColumnCodes) -> dict[str, np.ndarray]:
    """Per-point booleans of the grid's text columns, each evaluated once per distinct value:
    weights stored in 4-byte floats (`FP32_STORAGE`), training, KV cache sized from total memory."""
    return {"fp32_storage": codes.map("precision", FP32_STORAGE.__contains__, dtype=bool),
            "training": codes.map("task", "training".__eq__, dtype=bool),
            "kv_budget_of_total": codes.map("runtime", KV_BUDGET_OF_TOTAL.__contains__, dtype=bool)}


def _empty_output(n: int) -> dict[str, np.ndarray]:
    """OUTPUT_COLUMNS for n points before prediction: every point supported and fitting, no texts.
    The numbers are allocated, not written (filling them costs as much as a step of the sweep):
    `_predict_block` writes them for the points it predicts, `_clear_unpredicted` for the others,
    `_support_flags` and `_write_intervals` for every point."""
    numbers = np.empty((len(OUTPUT_COLUMNS), n))  # one allocation; each column a row of it
    out = dict(zip(OUTPUT_COLUMNS, numbers))
    out["supported"] = np.ones(n, dtype=bool)
    out["reason"] = filled(n, "")
    out["fits"] = np.ones(n, dtype=bool)
    out["fit_hint"] = filled(n, "")
    # written for every point, as the numbers are, as a code into _BOUNDS (`_bound_texts` makes it
    # text once for the grid: a per-block array of str objects costs a reference count per point twice)
    out["bound"] = np.empty(n, dtype=np.int8)
    return out


def _mark_unsupported(cols: Mapping[str, np.ndarray], codes: ColumnCodes, no_compute_path: np.ndarray,
                      out: dict) -> None:
    """Flag (with the reason) points whose GPU lacks the precision's compute path, and training in
    integer or weight-only formats, as not supported."""
    rows = np.flatnonzero(no_compute_path)  # positions: the flags are scanned once
    if len(rows):
        out["supported"][rows] = False
        (gc, gpus), (pc, precisions) = codes.of("gpu"), codes.of("precision")
        gc, pc = gc[rows], pc[rows]
        key, first = combined_codes([(gc, gpus), (pc, precisions)])
        gi, pi = gc[first].tolist(), pc[first].tolist()
        reasons = np.empty(len(first), dtype=object)
        reasons[:] = [f"{gpus[g]} has no {COMPUTE_COLUMN[precisions[p]]} compute path" for g, p in zip(gi, pi)]
        out["reason"][rows] = reasons[key]
    training = codes.map("task", "training".__eq__, dtype=bool)
    if training.any():
        train_int = training & codes.map("precision", _NOT_TRAINABLE.__contains__, dtype=bool)
        out["supported"][train_int] = False
        out["reason"][train_int] = "training in integer or quantized weight formats is not modelled"


def _predict_block(w: Workload, t: _OpTable, df: Mapping[str, np.ndarray], idx: np.ndarray | slice, g: GpuArrays,
                   flags: Mapping[str, np.ndarray], out: dict) -> None:
    """Predict the points `idx` of normalised columns `df` (all of workload `w`, table `t`, their
    coefficients `g`, the grid's `_point_flags`) into `out` (fit hints and intervals:
    `_write_fit_hints`, `_write_intervals`)."""
    pts = _block_points(w, df, idx, flags)
    tp = _tensor_parallel(w, pts, g, df["tensor_parallel"][idx].astype(float) if w.generative else None)
    dp = np.maximum(np.floor(pts.gpu_count / tp), 1.0)
    # max_batch points: batch_size is an upper bound; take the largest batch that fits in memory
    # (how max-throughput benchmarks are run: as many sequences in flight as memory allows)
    auto = df["max_batch"][idx].astype(bool)
    if auto.any():
        pts = replace(pts, batch=np.where(auto, _max_batch(w, pts, g, tp), pts.batch))
    timing = _timings(w, t, pts, g, tp, dp)
    _write_metrics(pts, timing, dp, out)
    _write_hardware(w, t, pts, g, tp, dp, timing, out)


def _timings(w: Workload, t: _OpTable, pts: _BlockPoints, g: GpuArrays, tp: np.ndarray, dp: np.ndarray) -> _Timings:
    """Latency of each point's request (inference) or step (training), with the generative metrics."""
    B, q_fwd = pts.batch, pts.prefill_tokens
    fwd = _pass(t, B, q_fwd, q_fwd, pts.area_ratio, g, tp, causal=w.generative)
    fwd = fwd._replace(total_s=fwd.total_s + (_tp_comm(w, B, q_fwd, tp, g) if w.generative else 0.0))
    timing = _Timings(fwd.total_s, fwd.ideal_s, fwd.compute_s, np.full_like(B, np.nan), np.full_like(B, np.nan),
                      np.full_like(B, np.nan))
    if pts.training.any():
        timing = _with_training_step(w, pts, g, dp, fwd, timing)
    if w.generative:
        timing = _with_generation(w, t, pts, g, tp, dp, fwd, timing)
    return timing


def _with_training_step(w: Workload, pts: _BlockPoints, g: GpuArrays, dp: np.ndarray, fwd: _PassTimes,
                        timing: _Timings) -> _Timings:
    """`timing` with training points' step: forward + backward (2x forward) + optimizer update +
    the gradient all-reduce the backward pass does not hide."""
    training, t_fwd = pts.training, fwd.total_s
    opt_s = w.params_total * pts.adam_bytes_per_param / (g.mem_bytes_per_s * g.eff_mem)
    grad_bytes = w.params_total * np.where(pts.fp32_storage, 4.0, 2.0)
    comm = _allreduce_s(grad_bytes, pts.gpu_count, g)
    exposed = np.maximum(comm - DP_OVERLAP * 2.0 * t_fwd, 0.0)
    step = 3.0 * t_fwd - 2.0 * g.overhead_s + opt_s + exposed
    tokens = timing.tokens_per_s
    if w.seq_scalable:
        tokens = np.where(training, pts.batch * dp * pts.seq_in / step, tokens)
    return timing._replace(latency_s=np.where(training, step, timing.latency_s),
                           ideal_s=np.where(training, 3.0 * fwd.ideal_s, timing.ideal_s),
                           compute_s=np.where(training, 3.0 * fwd.compute_s, timing.compute_s),
                           tokens_per_s=tokens)


def _with_generation(w: Workload, t: _OpTable, pts: _BlockPoints, g: GpuArrays, tp: np.ndarray, dp: np.ndarray,
                     fwd: _PassTimes, timing: _Timings) -> _Timings:
    """`timing` with inference points of a generative model: prefill (TTFT) then seq_out - 1 decode
    steps, each costing the mid-point step (per-step cost is linear in the keys attended)."""
    B, gen, t_fwd = pts.batch, ~pts.training, fwd.total_s
    k_mid = pts.seq_in + np.maximum(pts.seq_out - 1.0, 0.0) / 2.0
    ones = np.ones_like(B)
    dec = _pass(t, B, ones, k_mid, None, g.for_decode(), tp)  # decode steps: their own memory efficiency
    t_dec = dec.total_s + _tp_comm(w, B, ones, tp, g)
    steps = np.maximum(pts.seq_out - 1.0, 0.0)
    total = t_fwd + steps * t_dec
    every = gen.all()  # an inference grid: each new value is the value (no np.where)
    pick = (lambda new, old: new) if every else (lambda new, old: np.where(gen, new, old))  # noqa: E731
    return _Timings(latency_s=pick(total, timing.latency_s),
                    ideal_s=pick(fwd.ideal_s + steps * dec.ideal_s, timing.ideal_s),
                    compute_s=pick(fwd.compute_s + steps * dec.compute_s, timing.compute_s),
                    ttft_ms=pick(t_fwd * 1e3, timing.ttft_ms),
                    tpot_ms=pick(t_dec * 1e3, timing.tpot_ms),
                    tokens_per_s=pick(B * dp * np.maximum(pts.seq_out, 1.0) / total, timing.tokens_per_s))


def _write_metrics(pts: _BlockPoints, timing: _Timings, dp: np.ndarray, out: dict) -> None:
    """Latency, throughput and the generative metrics of the block's points (their intervals are
    written for all points at once, `_write_intervals`)."""
    idx = pts.idx
    throughput = pts.batch * dp / timing.latency_s
    for name, value in (("latency_ms", timing.latency_s * 1e3), ("throughput_per_s", throughput),
                        ("tokens_per_s", timing.tokens_per_s), ("ttft_ms", timing.ttft_ms), ("tpot_ms", timing.tpot_ms)):
        out[name][idx] = value


def _write_hardware(w: Workload, t: _OpTable, pts: _BlockPoints, g: GpuArrays, tp: np.ndarray, dp: np.ndarray,
                    timing: _Timings, out: dict) -> None:
    """Memory, power, energy, the bound resource, the parallel layout and the FLOPs per sample of
    each point of the block (fit hints: `_write_fit_hints`, and the parameter counts:
    `_write_model_sizes`, for all blocks at once)."""
    idx, B, latency = pts.idx, pts.batch, timing.latency_s
    mem_gb, _ = _memory_gb(w, B, pts, g, tp)
    fits = mem_gb <= g.usable_mem_gb
    util = np.clip(timing.ideal_s / latency, 0.0, 1.0)
    power = g.tdp_w * (IDLE_POWER_FRACTION + (1 - IDLE_POWER_FRACTION) * util)
    bound = np.where(g.overhead_s / latency > 0.5, 2, (timing.compute_s / latency >= 0.5).astype(int))
    out["bound"][idx] = bound  # a code into _BOUNDS
    out["memory_gb"][idx] = mem_gb
    out["fits"][idx] = fits
    out["power_w"][idx] = power
    out["energy_j_per_sample"][idx] = power * pts.gpu_count * latency / (B * dp)
    out["tensor_parallel"][idx] = tp
    out["batch_used"][idx] = B
    q_fwd = pts.prefill_tokens
    out["flops_per_sample"][idx] = (pts.area_ratio * (t.count @ t.f1) + q_fwd * (t.count @ t.ftok)
                                    + q_fwd * _keys_attended(q_fwd, w.generative) * (t.count @ t.fctx))


class _NotFitting(NamedTuple):
    """The points that do not fit, as `_fit_hints` reads them (arrays of the same length)."""
    need_gb: np.ndarray  # memory per GPU at the batch used
    weights_gb: np.ndarray  # of which weights
    have_gb: np.ndarray  # usable memory per GPU
    tp: np.ndarray  # tensor-parallel GPUs
    batch: np.ndarray  # the batch used
    weight_bytes: np.ndarray  # bytes per weight of the point's format
    vocab_extra_bytes: np.ndarray  # bytes a vocabulary-matrix weight of its format takes more
    vocab_share: np.ndarray  # the model's vocabulary parameters / all its parameters
    has_fp8: np.ndarray  # the GPU runs fp8
    inference: np.ndarray  # bool: task == "inference"


def _write_fit_hints(training: np.ndarray, g_codes: np.ndarray, g_distinct: GpuArrays, models: list[Workload],
                     model_codes: np.ndarray, out: dict) -> None:
    """`fit_hint` of every predicted point that does not fit, from the written outputs (memory,
    tensor parallelism, batch used, parameters), once for the whole grid: its distinct texts are
    built once however many blocks share them. training: the points' `_point_flags` flag (the
    task is inference or training, so no string comparison per point); models: the workloads by
    model code."""
    over = np.flatnonzero(~out["fits"])  # only predicted points are written not fitting
    if not len(over):
        return
    codes = g_codes[over]
    vocab_share = np.array([w.vocab_params / w.params_total if w.params_total else 0.0 for w in models])
    share = vocab_share[model_codes[over]]
    weight_bytes, extra = g_distinct.weight_bytes[codes], g_distinct.vocab_extra_bytes[codes]
    tp = out["tensor_parallel"][over]
    out["fit_hint"][over] = _fit_hints(_NotFitting(
        need_gb=out["memory_gb"][over],
        weights_gb=out["params_total"][over] * _bytes_per_param(weight_bytes, extra, share) / tp / 1e9,
        have_gb=g_distinct.usable_mem_gb[codes], tp=tp, batch=out["batch_used"][over], weight_bytes=weight_bytes,
        vocab_extra_bytes=extra, vocab_share=share, has_fp8=g_distinct.has_fp8[codes], inference=~training[over]))


def _bytes_per_param(weight_bytes, vocab_extra_bytes, vocab_share):
    """Mean bytes per parameter of a model whose vocabulary matrices (`vocab_share` of its
    parameters) take `vocab_extra_bytes` more per weight than the rest (`Workload.weight_bytes`
    per parameter; scalars or arrays)."""
    return weight_bytes + vocab_share * vocab_extra_bytes


_HINT_FORMATS = ("fp8", "int8", "int4")  # weight formats `fit_hint` suggests, in its order


def _fit_hints(p: _NotFitting) -> np.ndarray:
    """`fit_hint` of points that do not fit, as an object array: the same tests in the same
    arithmetic as `fit_hint`, on arrays; each distinct text is built once."""
    need, weights = _round_like_python(p.need_gb, 1), _round_like_python(p.weights_gb, 2)
    have, n_tp, batch, weight_bytes = p.have_gb, p.tp, p.batch, p.weight_bytes
    n = len(need)
    rest = need - weights - RUNTIME_OVERHEAD_GB
    tp_idea = np.zeros(n)
    for gpus in (8.0, 4.0, 2.0):  # written in reverse: the first that fits in fit_hint's order wins
        ok = (gpus > n_tp) & (weights * n_tp / gpus + rest * n_tp / gpus + RUNTIME_OVERHEAD_GB <= have)
        tp_idea = np.where(ok, gpus, tp_idea)
    format_idea = np.full(n, -1)
    now = _bytes_per_param(weight_bytes, p.vocab_extra_bytes, p.vocab_share)
    for i in (2, 1, 0):
        fmt = _HINT_FORMATS[i]
        scale = _bytes_per_param(WEIGHT_BYTES[fmt], VOCAB_EXTRA_BYTES[fmt], p.vocab_share) / now
        ok = (WEIGHT_BYTES[fmt] < weight_bytes) & p.inference & (weights * scale + rest + RUNTIME_OVERHEAD_GB <= have)
        format_idea = np.where(ok & p.has_fp8 if i == 0 else ok, i, format_idea)
    batch_idea = np.zeros(n)
    for div in (0.0, 8.0, 4.0, 2.0):  # b = 1, then batch // 8, // 4, // 2 (reversed, as above)
        b = np.floor(batch / div) if div else np.ones_like(batch)  # exact: batch is a whole number, div a power of 2
        ok = (batch > 1) & (b >= 1) & (weights + rest * b / batch + RUNTIME_OVERHEAD_GB <= have)
        batch_idea = np.where(ok, b, batch_idea)
    # one number per outcome (exact in float64: batch <= MAX_BATCH_SIZE < 1e6, 8 GPUs at most)
    ideas = tp_idea * 1e7 + (format_idea + 1) * 1e6 + batch_idea
    parts = [ColumnCodes({"v": a}).of("v") for a in (need, have, ideas)]
    key, first = combined_codes(parts)
    (need_c, need_u), (have_c, have_u), (ideas_c, ideas_u) = parts
    needs = [f"needs {v:.1f} GB > " for v in need_u.tolist()]
    haves = [f"{v:.1f} GB usable" for v in have_u.tolist()]
    suffixes = [_hint_suffix(v) for v in ideas_u.tolist()]
    texts = np.empty(len(first), dtype=object)
    texts[:] = [needs[a] + haves[b] + suffixes[c]
                for a, b, c in zip(need_c[first].tolist(), have_c[first].tolist(), ideas_c[first].tolist())]
    return texts[key]


def _hint_suffix(ideas: float) -> str:
    """The end of a `fit_hint` text from its packed outcome (GPUs to shard over x 1e7 + (weight
    format index + 1) x 1e6 + batch; 0 for none of each)."""
    tp_gpus, format_index, batch = int(ideas // 1e7), int(ideas // 1e6 % 10) - 1, int(ideas % 1e6)
    texts = ([f"tensor parallel over {tp_gpus} GPUs"] if tp_gpus else []) + \
        ([f"{_HINT_FORMATS[format_index]} weights"] if format_index >= 0 else []) + ([f"batch {batch}"] if batch else [])
    return f"; fits with {' or '.join(texts)}" if texts else "; needs more GPUs (multi-node) or a smaller model"


def _round_like_python(x: np.ndarray, digits: int) -> np.ndarray:
    """Python's round(x, digits) of each value (correctly rounded; numpy's rint(x * 10^d) / 10^d can
    land on the other side of a half): numpy's where x * 10^d is clearly off a half, Python's elsewhere."""
    scaled = x * 10.0 ** digits
    out = np.rint(scaled) / 10.0 ** digits
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    if near_half.any():
        out[near_half] = [round(v, digits) for v in x[near_half].tolist()]
    return out


@lru_cache(maxsize=4096)
def fit_hint(need_gb: float, have_gb: float, weights_gb: float, precision: str, batch: int,
             tp: int, task: str, fp8_ok: bool = True, vocab_share: float = 0.0) -> str:
    """What would make a configuration that does not fit in memory fit. vocab_share: the share of
    the model's parameters in its vocabulary matrices (kept at 16 bits by quantized formats)."""
    ideas = []
    rest = need_gb - weights_gb - RUNTIME_OVERHEAD_GB
    for n in (2, 4, 8):
        if n > tp and weights_gb * tp / n + rest * tp / n + RUNTIME_OVERHEAD_GB <= have_gb:
            ideas.append(f"tensor parallel over {n} GPUs")
            break
    for p in (("fp8",) if fp8_ok else ()) + ("int8", "int4"):
        if WEIGHT_BYTES[p] < WEIGHT_BYTES[precision] and task == "inference":
            scale = (_bytes_per_param(WEIGHT_BYTES[p], VOCAB_EXTRA_BYTES[p], vocab_share)
                     / _bytes_per_param(WEIGHT_BYTES[precision], VOCAB_EXTRA_BYTES[precision], vocab_share))
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
