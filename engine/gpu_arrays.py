"""The hardware and calibration coefficients the predictor's physics reads, as typed arrays.

`GpuArrays` holds one entry per point (or per distinct (GPU, precision, runtime, strict precision,
KV format) combination, which `take` gathers per point): a GPU profile's datasheet figures in SI
units, the numeric format's bytes, and the calibration's achieved fractions for that combination.
`gpu_blocks` builds them once per distinct combination (a sweep has a few hundred combinations for
millions of points); an engine memoises single points' coefficients by their key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Mapping

import numpy as np

from phantom_report.engine.executed import CONV_GROUP, MATMUL_GROUP, executed_column
from phantom_report.engine.lookup import MEMO_MAX, ColumnCodes, combined_codes, lookup, lookup_pairs, lookup_tuples
from phantom_report.engine.params import ATTENTION, GROUPED_CONV, MATMUL_PATH, REFERENCE_MATMUL_WIDTH, CalibrationParams
from phantom_report.engine.precision import (
    ACTIVATION_BYTES, COMPUTE_COLUMN, DEQUANT_OPS, FORMATS, VOCAB_EXTRA_BYTES, WEIGHT_BYTES, kv_bytes,
)
from phantom_report.engine.profiles import ProfileCatalog

# Datasheets' "80 GB" of HBM/GDDR is binary: an 80 GB A100 reports 81920 MiB, a 24 GB RTX 4090
# 24564 MiB. Memory figures here are decimal GB (weights = params x bytes / 1e9), so capacity is
# converted once; without this, tight fits (70B fp16 on 2x80 GB) lose 7% of the room they have.
GB_PER_DATASHEET_GB = 2**30 / 1e9
SIZE_REFERENCE_SMS = 108.0  # size_half_gflop is quoted for an A100-sized GPU (108 SMs)
# the point columns the hardware and calibration coefficients depend on (and nothing else)
GPU_KEYS = ("gpu", "precision", "runtime", "strict_precision", "kv_precision")


@dataclass(frozen=True)
class GpuArrays:
    """Per-point coefficients (float64 arrays of one length unless noted; read only).

    Compute: the datasheet peak of the compute column each op group executes at (FLOP/s) and the
    achieved fractions of it (runtime multiplier, width factor and clock factor applied; the
    grouped-conv, attention and MoE fractions multiply the matmul fraction), the per-op work at which
    the GPU is half filled, and the ALU time to unpack one weight of a weight-only format (and
    whether the vocabulary matrices are unpacked too: 1, or 0 where the format leaves them at 16 bits).
    Memory: bandwidth (bytes/s) and its achieved fraction, the unhidden share of the shorter of an
    op's compute and memory times, usable capacity (decimal GB) and the bytes of weights (and what
    a vocabulary-matrix weight takes more: `precision.VOCAB_BYTES` less the format's), activations
    and KV-cache elements at the point's precision.
    Host: per-kernel launch cost and per-pass host overhead (seconds).
    Interconnect: link bandwidths (bytes/s, bidirectional figures), whether NVLink is only a
    two-card bridge (bool), the achieved fraction and the fixed cost of one all-reduce (seconds).
    Power and hints: board power (W) and whether the GPU has an fp8 path (bool)."""

    # compute
    peak_flops_per_s: np.ndarray
    peak_conv_flops_per_s: np.ndarray
    eff_matmul: np.ndarray
    eff_conv: np.ndarray
    eff_other: np.ndarray
    eff_grouped_conv_of_matmul: np.ndarray
    eff_attention_of_matmul: np.ndarray
    eff_moe_of_matmul: np.ndarray
    size_half_flops: np.ndarray
    dequant_s_per_weight: np.ndarray
    vocab_unpacked: np.ndarray
    # memory
    mem_bytes_per_s: np.ndarray
    eff_mem: np.ndarray
    eff_mem_decode: np.ndarray  # achieved fraction in decode steps (params.CalibrationParams.decode_memory)
    unhidden_fraction: np.ndarray
    usable_mem_gb: np.ndarray
    weight_bytes: np.ndarray
    vocab_extra_bytes: np.ndarray
    act_bytes: np.ndarray
    kv_bytes: np.ndarray
    # host
    launch_s: np.ndarray
    overhead_s: np.ndarray
    # interconnect
    link_bytes_per_s: np.ndarray
    pcie_bytes_per_s: np.ndarray
    nvlink_bridge_only: np.ndarray
    link_eff: np.ndarray
    allreduce_latency_s: np.ndarray
    # power and hints
    tdp_w: np.ndarray
    has_fp8: np.ndarray

    def take(self, codes: np.ndarray) -> "GpuArrays":
        """The coefficients of each point, given each point's combination code (fresh arrays)."""
        return GpuArrays(*(getattr(self, name)[codes] for name in _FIELD_NAMES))

    def for_decode(self) -> "GpuArrays":
        """These coefficients as a decode step uses them: `eff_mem` is the decode-step fraction."""
        return replace(self, eff_mem=self.eff_mem_decode)


_FIELD_NAMES = tuple(f.name for f in fields(GpuArrays))


def gpu_blocks(points: Mapping[str, np.ndarray], catalog: ProfileCatalog, params: CalibrationParams,
               memo: dict | None = None, codes: ColumnCodes | None = None) -> tuple[np.ndarray, GpuArrays]:
    """(code of each point's `GPU_KEYS` combination, the `GpuArrays` of each distinct combination):
    a sweep has a few hundred combinations for millions of points, so the coefficients are computed
    per combination and gathered per block of points. memo: combination -> coefficients (an
    engine's, for its own catalog and params). codes: the columns' factorisations where
    already known."""
    keys = [points[c] for c in GPU_KEYS if c in points]
    n = len(keys[0])
    if n <= 1:
        key = tuple((c, points[c][0]) for c in GPU_KEYS if c in points) if n else None
        if memo is not None and key in memo:
            return np.zeros(n, dtype=np.int64), memo[key]
        g = gpu_arrays(points, catalog, params)
        if memo is not None and n:
            if len(memo) > MEMO_MAX:
                memo.clear()
            memo[key] = g
        return np.zeros(n, dtype=np.int64), g
    codes = codes if codes is not None else ColumnCodes(points)
    codes, first = combined_codes([codes.of(c) for c in GPU_KEYS if c in points])  # first point of each
    distinct = {c: points[c][first] for c in GPU_KEYS if c in points}
    return codes, _memoised(distinct, catalog, params, memo)


def _memoised(distinct: Mapping[str, np.ndarray], catalog: ProfileCatalog, params: CalibrationParams,
              memo: dict | None) -> GpuArrays:
    """`gpu_arrays` of a grid's distinct combinations, each taken from `memo` where it is there (a
    sweep's chunks repeat them) and stored there as one point's coefficients otherwise."""
    if memo is None:
        return gpu_arrays(distinct, catalog, params)
    names = list(distinct)
    keys = [tuple(zip(names, values)) for values in zip(*(distinct[c].tolist() for c in names))]
    todo = [i for i, k in enumerate(keys) if k not in memo]
    if len(memo) + len(todo) > MEMO_MAX:
        memo.clear()
        todo = list(range(len(keys)))
    # each combination's fields packed in one float64 row (exact: the bool fields are 0 or 1), so the
    # grid's table is one array of rows, not a concatenation of hundreds of one-element arrays per field
    packed = memo.setdefault(_PACKED_ROWS, {})
    if todo:
        fresh = gpu_arrays({c: a[todo] for c, a in distinct.items()}, catalog, params)
        fresh_rows = np.array([getattr(fresh, f) for f in _FIELD_NAMES], dtype=float).T  # packed at once
        for j, i in enumerate(todo):
            memo[keys[i]] = GpuArrays(*(getattr(fresh, f)[j:j + 1] for f in _FIELD_NAMES))
            packed[keys[i]] = fresh_rows[j]
    rows = [packed.get(k) for k in keys]  # a combination memoised by a single point may not be packed yet
    for i in (i for i, row in enumerate(rows) if row is None):
        rows[i] = packed[keys[i]] = np.array([getattr(memo[keys[i]], f)[0] for f in _FIELD_NAMES], dtype=float)
    table = np.ascontiguousarray(np.array(rows).T)  # (field, combination)
    one = memo[keys[0]]  # the fields' types
    return GpuArrays(*(table[j].astype(getattr(one, f).dtype, copy=False) for j, f in enumerate(_FIELD_NAMES)))


# the memo entry holding each combination's packed row (no combination key is this tuple)
_PACKED_ROWS = ("packed rows",)


def gpu_arrays(points: Mapping[str, np.ndarray], catalog: ProfileCatalog, params: CalibrationParams) -> GpuArrays:
    """Per-point hardware and calibration coefficients (one evaluation per distinct value);
    points: normalised columns (see `points.normalize_columns`); only `GPU_KEYS` are read.
    Every array is made read only: an engine memoises them across calls."""
    gpus, precision, runtime = points["gpu"], points["precision"], points["runtime"]
    prof = {g: catalog.get(g) for g in dict.fromkeys(gpus.tolist())}
    col = lambda fn: lookup(gpus, lambda g: fn(prof[g]))  # noqa: E731
    arch = col(lambda p: p.architecture)
    # power-limited parts run below the clock their peak is quoted at (see base_clock_exponent)
    clock_factor = col(lambda p: p.sustained_clock_mhz / p.peak_clock).astype(float) ** params.base_clock_exponent
    compute = _compute_coefficients(points, prof, arch, clock_factor, params)
    arch_mem = lookup(arch, params.memory_eff_for).astype(float)
    n = len(gpus)
    out = GpuArrays(
        **compute,
        dequant_s_per_weight=_dequant_s_per_weight(precision, col, clock_factor, params),
        vocab_unpacked=lookup(precision, lambda p: FORMATS[p].vocab_quantized).astype(float),
        mem_bytes_per_s=col(lambda p: p.memory_bandwidth_gbps).astype(float) * 1e9,
        eff_mem=np.minimum(arch_mem * lookup(runtime, params.runtime_memory).astype(float), 1.0).astype(float),
        eff_mem_decode=np.minimum(arch_mem * lookup(runtime, params.decode_memory).astype(float), 1.0).astype(float),
        unhidden_fraction=np.full(n, params.unhidden_fraction),
        usable_mem_gb=col(lambda p: p.memory_gb * p.usable_memory_fraction).astype(float) * GB_PER_DATASHEET_GB,
        weight_bytes=lookup(precision, WEIGHT_BYTES.__getitem__).astype(float),
        vocab_extra_bytes=lookup(precision, VOCAB_EXTRA_BYTES.__getitem__).astype(float),
        act_bytes=lookup(precision, ACTIVATION_BYTES.__getitem__).astype(float),
        kv_bytes=_kv_bytes(points, precision),
        launch_s=params.per_op_overhead_us * 1e-6 * lookup(runtime, params.launch_mult).astype(float),
        overhead_s=lookup(runtime, params.overhead_ms_for).astype(float) * 1e-3,
        link_bytes_per_s=col(lambda p: p.interconnect_gbps).astype(float) * 1e9,
        pcie_bytes_per_s=col(lambda p: p.pcie_gbps or p.interconnect_gbps).astype(float) * 1e9,
        nvlink_bridge_only=col(lambda p: p.form_factor == "pcie" and p.interconnect.startswith("nvlink")).astype(bool),
        link_eff=np.full(n, params.interconnect_eff),
        allreduce_latency_s=np.full(n, params.allreduce_latency_us * 1e-6),
        tdp_w=col(lambda p: p.tdp_w).astype(float),
        has_fp8=col(lambda p: p.peak("fp8") is not None).astype(bool),
    )
    for name in _FIELD_NAMES:
        getattr(out, name).setflags(write=False)
    return out


def _compute_coefficients(points: Mapping[str, np.ndarray], prof: dict, arch: np.ndarray, clock_factor: np.ndarray,
                          params: CalibrationParams) -> dict[str, np.ndarray]:
    """The compute fields of `GpuArrays`: peaks of the executed matmul and convolution columns and
    the achieved fractions (capped at 1 before the clock factor, so nothing beats the roofline)."""
    gpus, precision, runtime = points["gpu"], points["precision"], points["runtime"]
    rt_compute = lookup(runtime, params.runtime_compute).astype(float)
    sm = lookup(gpus, lambda g: prof[g].sm_count).astype(float)
    # what each op group actually runs at (runtime defaults: "fp32" convolutions run in TF32 on Ampere+)
    strict = np.asarray(points["strict_precision"], dtype=bool) if "strict_precision" in points else None
    executed = {grp: executed_columns(gpus, precision, runtime, prof, grp, strict) for grp in (MATMUL_GROUP, CONV_GROUP)}
    paths = {grp: _matmul_path_arrays(c, gpus, arch, prof, params) for grp, c in executed.items()}
    peak, eff_path = paths[MATMUL_GROUP]
    peak_conv, eff_conv_path = paths[CONV_GROUP]
    eff_other = np.minimum(lookup(arch, lambda a: params.compute_eff_for(a, "other")).astype(float) * rt_compute,
                           1.0) * clock_factor
    return {
        "peak_flops_per_s": peak * 1e12,
        "peak_conv_flops_per_s": peak_conv * 1e12,
        "eff_matmul": (np.minimum(eff_path * rt_compute, 1.0) * clock_factor).astype(float),
        "eff_conv": (np.minimum(eff_conv_path * rt_compute, 1.0) * clock_factor).astype(float),
        "eff_other": eff_other.astype(float),
        "eff_grouped_conv_of_matmul": lookup(arch, lambda a: params.compute_eff_for(a, GROUPED_CONV)).astype(float),
        "eff_attention_of_matmul": lookup(arch, lambda a: params.compute_eff_for(a, ATTENTION)).astype(float),
        "eff_moe_of_matmul": np.full(len(gpus), params.moe_matmul_eff),
        "size_half_flops": params.size_half_gflop * 1e9 * sm / SIZE_REFERENCE_SMS,
    }


def _dequant_s_per_weight(precision: np.ndarray, col, clock_factor: np.ndarray, params: CalibrationParams) -> np.ndarray:
    """ALU seconds to unpack one weight of a weight-only format (0 for other formats).

    The unpack is integer work (shifts, masks, int8 dot products; precision.DEQUANT_OPS operations
    issued on the INT32 lanes at the fitted fraction dequant_eff of their peak
    (GpuProfile.int32_ops_per_s: half or a quarter of the FP32 FLOP rate)."""
    alu_ops_per_s = col(lambda p: p.int32_ops_per_s).astype(float) * params.dequant_eff * clock_factor
    dequant_ops = lookup(precision, DEQUANT_OPS.__getitem__).astype(float)
    return np.where(dequant_ops > 0, dequant_ops / alu_ops_per_s, 0.0)


def _kv_bytes(points: Mapping[str, np.ndarray], precision: np.ndarray) -> np.ndarray:
    """Bytes per KV-cache element: the point's kv_precision, else its activation precision's."""
    kv_fmt = points["kv_precision"] if "kv_precision" in points else np.full(len(precision), "")
    return lookup_pairs(precision, kv_fmt, lambda p, k: kv_bytes(k) if k else ACTIVATION_BYTES[p]).astype(float)


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
    return lookup_tuples((gpus, precision, runtime, flag), column, dtype=object)


def _matmul_path_arrays(column, gpus, arch, prof: dict, params: CalibrationParams) -> tuple[np.ndarray, np.ndarray]:
    """Peak TFLOPS and achieved fraction (before runtime multiplier and clock) of each point's
    executed compute column: each hardware path (fp32 FMA, 16-bit tensor, 8-bit tensor) has its own
    fraction, raised for narrower matmul units (see REFERENCE_MATMUL_WIDTH)."""
    peak = lookup_pairs(gpus, column, lambda g, c: prof[g].peak(c) or np.nan).astype(float)
    path = lookup(column, lambda c: MATMUL_PATH.get(c, "matmul"))
    sm = lookup(gpus, lambda g: prof[g].sm_count).astype(float)
    # matmul units' FLOPs per SM per clock at this precision (see REFERENCE_MATMUL_WIDTH)
    width = peak * 1e12 / (sm * lookup(gpus, lambda g: prof[g].peak_clock).astype(float) * 1e6)
    reference = lookup(path, REFERENCE_MATMUL_WIDTH.__getitem__).astype(float)
    width_factor = np.maximum(reference / width, 1.0) ** params.matmul_width_exponent
    return peak, lookup_pairs(arch, path, params.compute_eff_for).astype(float) * width_factor
