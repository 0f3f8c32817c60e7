"""Predictor parameters: achieved fractions of peak, overheads and interval widths.

Shipped as `engine/data/calibration.json`, written by `phantom-report calibrate` (fitted on the
measured corpus). Every efficiency is a physical fraction in (0, 1]; the effective efficiency of an
op is arch_eff x runtime_mult, capped at 1, so no prediction can beat the datasheet roofline.
Missing keys fall back to the defaults below (plausible textbook values, used only until
calibration has data for that architecture or runtime).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from phantom_report.engine.intervals import block_tables, tables_half_width
from phantom_report.engine.novelty import Support

MATMUL_CLASSES = frozenset({"gemm", "conv", "grouped_conv", "attention"})  # run on the matmul path

# Matmuls reach different fractions of their datasheet peak on each hardware path: at fp32 they run on
# the CUDA cores' FMA pipeline (SGEMM gets ~80-90% of that, much lower, peak); 16-bit formats run on
# the tensor cores (framework GEMMs get ~40-70% of it); 8-bit formats (int8, fp8) double the tensor
# peak on paper, which quantize/dequantize and scaling epilogues keep kernels further from.
# An architecture calibrated without 8-bit rows uses its 16-bit tensor value there (same tensor cores);
# without fp32 rows, the textbook FMA-pipeline value (a different unit: its tensor value says nothing).
FP32_MATMUL, EIGHT_BIT_MATMUL = "matmul_fp32", "matmul_8bit"
FP32_MATMUL_TEXTBOOK_EFF = 0.75  # FMA-pipeline matmuls: the default and the calibration prior
MATMUL_PATH = {"fp32": FP32_MATMUL, "int8": EIGHT_BIT_MATMUL, "fp8": EIGHT_BIT_MATMUL}  # compute column -> group
# Grouped and depthwise convolutions run as many small per-group GEMMs (ResNeXt: 4-32 channels per
# group) that fill the tensor cores poorly; compute_eff[arch][GROUPED_CONV] is the fraction of the
# architecture's matmul efficiency they reach (1 = as efficient as a dense convolution).
GROUPED_CONV = "grouped_conv"
# The attention core (QK^T, softmax, xV) runs as batched GEMMs over head_dim-wide (64-128) operands
# with a softmax between them: unfused framework kernels round-trip the score matrix and fill the
# tensor cores far less than dense GEMMs do, while fused flash/FMHA kernels come close to them.
# compute_eff[arch][ATTENTION] is the fraction of the architecture's matmul efficiency it reaches.
ATTENTION = "attention"
# Narrower matmul units are easier to keep fed from shared memory and registers, so kernels reach a
# larger fraction of their peak on them. Width W = datasheet peak / (SMs x the clock the peak is
# quoted at, profile peak_clock_mhz), in FLOPs per SM per clock: on the 16-bit tensor path 512 for
# GeForce (FP32-accumulate at half rate), 1024 for V100/T4/A10/L40S, 2048 for A100/MI300X, 4096 for
# H100; 128 or 256 (dual-issue) on the fp32 FMA path. The peak is that of the compute column actually
# executed (engine/executed.py): GeForce GEMMs with FP16 accumulate (llama.cpp fp16, fp16_acc16) are
# 1024 wide on the same tensor cores. A GPU's matmul efficiency is
# compute_eff[arch][path] x max(1, reference / W) ** matmul_width_exponent (capped at 1), so GPUs of
# one architecture but different SM designs (A100 vs A10 vs RTX 3090) each get their own. One-sided:
# units wider than the reference are not penalised further, because the generations that widened them
# (Hopper, Blackwell) added asynchronous operand movement (TMA, warpgroup MMA) to feed them; the
# corpus has no wide-vs-wider pair within one architecture to fit it, and a two-sided power law
# predicted B200 no faster than H100.
REFERENCE_MATMUL_WIDTH = {"matmul": 2048.0, FP32_MATMUL: 256.0, EIGHT_BIT_MATMUL: 4096.0}
# textbook values until calibration has data (calibrated across architectures: grouped_conv 0.04-0.79,
# attention 0.16-1.0; 0.32 when one attention value is fitted for all of them)
_DEFAULT_COMPUTE = {"matmul": 0.55, FP32_MATMUL: FP32_MATMUL_TEXTBOOK_EFF, "other": 0.25, GROUPED_CONV: 0.3, ATTENTION: 0.32}
_DEFAULT_MEMORY = 0.7
# A runtime that runs another runtime's kernels or engines: its fitted runtime values
# (runtime_compute_mult, runtime_memory_mult, runtime_launch_mult, overhead_ms) are *ratios* to its
# parent's, 1 where not fitted, so a runtime the corpus measures little or not at all (or a source held
# out of cross-validation) starts from what its parent's rows measured instead of from PyTorch eager.
# Lineage as the projects document it: FasterTransformer's PyTorch op and TensorRT plugin call its
# CUDA kernels (NVIDIA/FasterTransformer docs/bert_guide.md); LMDeploy's TurboMind engine is built on
# FasterTransformer (InternLM/lmdeploy README: "TurboMind ... based on FasterTransformer"); NVIDIA NIM
# for LLMs and optimum-nvidia build and run TensorRT-LLM engines (docs.nvidia.com/nim/large-language-
# models, huggingface/optimum-nvidia README). Leave-one-source-out before/after: engine/calibration.py.
# PyTorch Lightning, xformers and the AUTOMATIC1111 webui run PyTorch eagerly (the reference runtime's
# values). Parents have no parents.
RUNTIME_PARENT = {
    "fastertransformer-torch-op": "fastertransformer", "fastertransformer-trt-plugin": "fastertransformer",
    "lmdeploy-turbomind": "fastertransformer", "nim": "tensorrt-llm", "optimum-nvidia": "tensorrt-llm",
    "pytorch-lightning": "pytorch", "pytorch-xformers": "pytorch", "a1111-webui": "pytorch",
}
REFERENCE_RUNTIME = "pytorch"  # PyTorch eager: the runtime whose multipliers are 1 by definition
# runtime_launch_mult key of the per-kernel launch multiplier pooled over the fitted runtimes other than
# PyTorch eager: calibration fits it as the centre each of their launch multipliers is pulled toward,
# and a runtime without its own value (too few rows, or its one publication held out) takes it instead
# of eager PyTorch's 1. Every fitted runtime launches kernels more cheaply than eager PyTorch (fitted
# 0.03-0.6: CUDA-graph replay, fused engines), so a thin runtime -- torch.compile with gpt-fast's
# CUDA-graph decode held out, fitted on diffusion UNets whose big kernels hide any launch cost --
# was predicted at eager PyTorch's launch floor, up to 4x too slow.
POOLED_RUNTIME = "*"
# Decode steps of generative models stream every weight (and the KV cache) through matrix-*vector*
# products once per token: a different kernel from the activation traffic of an encoder's or a CNN's
# forward pass, which is what most of a runtime's memory-bound time is elsewhere. So the fraction of
# bandwidth reached in decode steps has its own multiplier per runtime (runtime_decode_memory_mult,
# fitted on the runtime's decode rows), and a runtime without one -- no decode rows of its own or its
# parent's, or its one publication held out -- takes the centre the fitted runtimes' decode values are
# pulled toward (POOLED_RUNTIME), not its forward-pass multiplier: LMDeploy's TurboMind held out
# borrowed FasterTransformer's, fitted on BERT encoders, and its LLM decode came out ~2x too slow. A
# runtime the corpus does not fit at all keeps eager PyTorch's multipliers, decode included.
DEFAULT_DEQUANT_EFF = 0.5  # textbook prior: unpack sequences issue at about half the INT32 lanes' rate
# Provisional interval (before calibration): +-50% at 90% (log 1.5 = 0.405)
_HALF_WIDTH_MEMO_MAX = 4096  # single-point widths a parameter set remembers before it starts over
_DEFAULT_QUANTILES = {"0.5": 0.12, "0.8": 0.28, "0.9": 0.405, "0.95": 0.5, "0.99": 0.7}


@dataclass(frozen=True)
class CalibrationParams:
    """The predictor's fitted parameters: achieved fractions of peak compute and bandwidth per
    architecture and runtime, host overheads, interval quantiles and the corpus support summary.
    Loaded from engine/data/calibration.json; missing keys fall back to the textbook defaults."""

    version: str = "uncalibrated"
    fitted_at: str = ""
    n_rows: int = 0
    n_params: int = 0
    # arch -> {matmul, matmul_fp32, matmul_8bit, grouped_conv, attention, other}: achieved fraction of
    # peak for units at least REFERENCE_MATMUL_WIDTH wide, at the peak clock (grouped_conv, attention:
    # fractions of the matmul value)
    compute_eff: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    memory_eff: Mapping[str, float] = field(default_factory=dict)  # arch -> fraction of peak bandwidth
    runtime_compute_mult: Mapping[str, float] = field(default_factory=dict)
    runtime_memory_mult: Mapping[str, float] = field(default_factory=dict)
    # multiplier of memory efficiency in decode steps (see POOLED_RUNTIME's note above); absent: the
    # pooled value, else (a file without decode values) the runtime's runtime_memory_mult
    runtime_decode_memory_mult: Mapping[str, float] = field(default_factory=dict)
    overhead_ms: Mapping[str, float] = field(default_factory=dict)  # per forward pass, by runtime
    per_op_overhead_us: float = 4.0  # kernel launch + framework dispatch per operator instance
    # runtimes that replay whole graphs (CUDA graphs / fused engines) pay far less per-op overhead
    runtime_launch_mult: Mapping[str, float] = field(default_factory=dict)
    size_half_gflop: float = 0.05  # per-op work at which compute efficiency is half its max (A100-sized GPU)
    # collectives (tensor-parallel and gradient all-reduces): fixed cost per call and the achieved
    # fraction of the link's one-way bandwidth (NCCL reaches ~70-85% of NVLink bus bandwidth)
    allreduce_latency_us: float = 8.0
    interconnect_eff: float = 0.8
    # expert GEMMs of mixture-of-experts layers, as a fraction of the dense matmul efficiency
    moe_matmul_eff: float = 0.8
    # share of the shorter of an op's compute and memory times that the longer does not hide: a
    # kernel loads its first tiles before its math starts and stores its last results after it
    # ends, so the roofline's max(compute, memory) is a lower bound (0 = perfect overlap)
    unhidden_fraction: float = 0.0
    # see REFERENCE_MATMUL_WIDTH (0 = efficiency independent of the per-SM width)
    matmul_width_exponent: float = 0.0
    # Peaks are quoted at the profile's peak_clock_mhz; under sustained load power-limited parts run
    # nearer their base clock (a 70 W T4: base 585, peak 1590 MHz), so compute runs at (base / peak
    # clock) ** this of its peak (0 = peak clock held, 1 = base clock; profiles without a published
    # base clock give base = peak clock, no reduction)
    base_clock_exponent: float = 0.0
    # Weight-only formats (GGUF, GPTQ/AWQ) unpack every weight to fp16 inside the matmul: their
    # DEQUANT_OPS_PER_WEIGHT ALU operations (engine/precision.py) run at this fraction of the GPU's
    # integer issue rate (GpuProfile.int32_ops_per_s: unpacking, converts and table lookups compete
    # with address arithmetic); fitted where the corpus has weight-only rows
    dequant_eff: float = DEFAULT_DEQUANT_EFF
    intervals: Mapping[str, Any] = field(default_factory=lambda: {"log_abs_residual_quantiles": dict(_DEFAULT_QUANTILES)})
    extra: Mapping[str, Any] = field(default_factory=dict)

    # --- lookups (vectorised over arrays of names) ---
    def compute_eff_for(self, arch: str, group: str) -> float:
        """group: "matmul" (16-bit tensor-core path), one of MATMUL_PATH's groups, or "other"."""
        eff = self.compute_eff.get(arch, {})
        if group in eff:
            return float(eff[group])
        if group == EIGHT_BIT_MATMUL:
            return self.compute_eff_for(arch, "matmul")
        return _DEFAULT_COMPUTE[group]

    def memory_eff_for(self, arch: str) -> float:
        """Achieved fraction of peak memory bandwidth on architecture `arch` (before the runtime multiplier)."""
        return float(self.memory_eff.get(arch, _DEFAULT_MEMORY))

    def runtime_compute(self, runtime: str) -> float:
        """Multiplier of compute efficiency for `runtime` (1 when not calibrated; see RUNTIME_PARENT)."""
        return _inherited(self.runtime_compute_mult, runtime, 1.0)

    def runtime_memory(self, runtime: str) -> float:
        """Multiplier of memory efficiency for `runtime` (1 when not calibrated; see RUNTIME_PARENT)."""
        return _inherited(self.runtime_memory_mult, runtime, 1.0)

    def decode_memory(self, runtime: str) -> float:
        """Multiplier of memory efficiency in decode steps for `runtime`: its fitted value (a child's is a
        ratio to its parent's, see RUNTIME_PARENT); for a fitted runtime without one (its root has a
        fitted host overhead, as every fitted runtime does, but no decode rows) the value pooled over the
        fitted runtimes' (POOLED_RUNTIME); for a runtime the corpus does not fit, or without a pooled
        value (uncalibrated), its forward-pass `runtime_memory` (eager PyTorch's 1 for an unfitted one,
        as for its other multipliers)."""
        root = RUNTIME_PARENT.get(runtime, runtime)
        table = self.runtime_decode_memory_mult
        fitted = root in self.overhead_ms and POOLED_RUNTIME in table
        default = float(table[POOLED_RUNTIME]) if fitted else self.runtime_memory(root)
        return _inherited(table, runtime, default)

    def overhead_ms_for(self, runtime: str) -> float:
        """Host overhead per forward pass in milliseconds for `runtime` (the "default" entry, else 0.3 ms;
        a runtime with a RUNTIME_PARENT: its stored ratio, 1 if none, times the parent's overhead)."""
        return _inherited(self.overhead_ms, runtime, float(self.overhead_ms.get("default", 0.3)))

    def launch_mult(self, runtime: str) -> float:
        """Multiplier of the per-operator launch overhead for `runtime` (graph-replaying runtimes pay less;
        see RUNTIME_PARENT): 1 for PyTorch eager, the pooled value (POOLED_RUNTIME, else 1) for another
        runtime without its own."""
        root = RUNTIME_PARENT.get(runtime, runtime)
        default = 1.0 if root == REFERENCE_RUNTIME else float(self.runtime_launch_mult.get(POOLED_RUNTIME, 1.0))
        return _inherited(self.runtime_launch_mult, runtime, default)

    def log_half_width(self, confidence: np.ndarray | float, group: str | None = None,
                       novelty: int | None = None, runtime: str | None = None) -> np.ndarray:
        """Half-width of the prediction interval in log space at each confidence (interpolated).

        `group` ("task/metric", e.g. "inference/tokens_per_s") takes that group's own quantiles where
        calibration held out enough of its rows (Mondrian conformal: LLM token rates are predicted
        far more tightly than CNN latencies); `novelty` (0-3, engine/novelty.py) the widths of that
        novelty level (never narrower than a lower level's), scaled by how few sources measured the
        `runtime`, and at least that runtime's own width where calibration held out enough of its rows
        (at level 0 a runtime measured by 9+ sources takes its own width alone). See
        intervals.block_tables."""
        key = (group, novelty, runtime)
        single = isinstance(confidence, np.ndarray) and confidence.shape == (1,)
        if single:  # one point (an engine's `predict`): its width is remembered per confidence
            hit = self._half_width_memo.get((key, float(confidence[0])))
            if hit is not None:
                return hit.copy()
        tables = self._interval_tables.get(key)
        if tables is None:
            block = dict(self.intervals) if self.intervals else {}
            block.setdefault("log_abs_residual_quantiles", dict(_DEFAULT_QUANTILES))
            if not block["log_abs_residual_quantiles"]:
                block["log_abs_residual_quantiles"] = dict(_DEFAULT_QUANTILES)
            tables = self._interval_tables[key] = block_tables(block, group, novelty, runtime)
        width = tables_half_width(tables, confidence)
        if single:
            if len(self._half_width_memo) > _HALF_WIDTH_MEMO_MAX:
                self._half_width_memo.clear()
            self._half_width_memo[(key, float(confidence[0]))] = width.copy()
        return width

    @cached_property
    def _interval_tables(self) -> dict:
        """(group, novelty, runtime) -> `intervals.block_tables` of this parameter set, filled as
        predictions ask (a few hundred keys at most: task/metric x level x runtime)."""
        return {}

    @cached_property
    def _half_width_memo(self) -> dict:
        """((group, novelty, runtime), confidence) -> half-width of single points (bounded)."""
        return {}

    @cached_property
    def support(self):
        """The corpus support table the calibration stored (`intervals.support`), parsed once per
        parameter set (novelty and extrapolation flags read it on every prediction); None without one."""
        return Support.from_dict((self.intervals or {}).get("support"))

    @property
    def calibrated(self) -> bool:
        """Whether these parameters come from a fit (not the uncalibrated defaults)."""
        return self.version != "uncalibrated"

    def to_dict(self) -> dict[str, Any]:
        """The parameters as calibration.json stores them (plain dicts and numbers)."""
        return {
            "version": self.version, "fitted_at": self.fitted_at, "n_rows": self.n_rows,
            "n_params": self.n_params, "compute_eff": {k: dict(v) for k, v in self.compute_eff.items()},
            "memory_eff": dict(self.memory_eff), "runtime_compute_mult": dict(self.runtime_compute_mult),
            "runtime_memory_mult": dict(self.runtime_memory_mult),
            "runtime_decode_memory_mult": dict(self.runtime_decode_memory_mult), "overhead_ms": dict(self.overhead_ms),
            "per_op_overhead_us": self.per_op_overhead_us, "runtime_launch_mult": dict(self.runtime_launch_mult),
            "size_half_gflop": self.size_half_gflop, "allreduce_latency_us": self.allreduce_latency_us,
            "interconnect_eff": self.interconnect_eff, "moe_matmul_eff": self.moe_matmul_eff,
            "unhidden_fraction": self.unhidden_fraction, "matmul_width_exponent": self.matmul_width_exponent,
            "base_clock_exponent": self.base_clock_exponent, "dequant_eff": self.dequant_eff,
            "intervals": dict(self.intervals), "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CalibrationParams":
        """Parameters from calibration.json's mapping; unknown keys are ignored, missing ones take defaults."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _inherited(table: Mapping[str, float], runtime: str, default: float) -> float:
    """`table`'s value for `runtime`: its own (`default` when absent), or, for a runtime with a
    RUNTIME_PARENT, its own ratio (1 when absent) times the parent's value."""
    parent = RUNTIME_PARENT.get(runtime)
    if parent is None:
        return float(table.get(runtime, default))
    return float(table.get(runtime, 1.0)) * _inherited(table, parent, default)


def load_params(path: str | Path | None = None) -> CalibrationParams:
    """The shipped calibration (or the file given); defaults if none has been fitted yet."""
    if path is None:
        res = resources.files("phantom_report.engine").joinpath("data/calibration.json")
        if not res.is_file():
            return CalibrationParams()
        text = res.read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return CalibrationParams.from_dict(json.loads(text))
