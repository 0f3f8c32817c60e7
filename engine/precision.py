"""Precisions and quantization formats: the one vocabulary of numeric formats the engine knows.

Every format a user can name (``--precision``, a spec's ``precisions``, a corpus row's ``precision``,
a ``kv_precision``) is one `NumericFormat`: its canonical name, the spellings people use for it, the
bits each stored weight takes *including its block scales* (from the format's definition, with the
source), the compute column of a GPU profile its math runs at, the bytes of its activations, and its
dequantization family (the extra ALU work weight-only formats pay to unpack their weights).

Weight-only formats (llama.cpp GGUF types, GPTQ/AWQ int4) stream their packed weights from memory
(decode is bandwidth-bound on those bytes), unpack them to 16 bits in registers and multiply in fp16;
the unpacking is `DEQUANT_OPS[format]` ALU operations per weight (`dequant_ops_per_weight`: counted
from llama.cpp's CUDA dot products for GGUF block types, a family count otherwise), run at a fitted
fraction of the GPU's non-tensor (fp32 pipeline) rate (see `engine/predict.py`). Weight+activation
formats (fp8, int8 = w8a8) run their matmuls on the 8-bit tensor cores and need no unpacking.

Quantization tools leave a model's vocabulary matrices (token embedding, output head) at 16 bits:
TensorRT-LLM's ModelOpt recipes disable the `*lm_head*` quantizer (NVIDIA/TensorRT-LLM
`tensorrt_llm/quantization/quantize_by_modelopt.py`) and export the embedding in the model's dtype
(vllm-project/vllm `examples/fp8/quantizer/README.md`: the FP8 Llama-2-7B checkpoint is 7,000,893,272
bytes = 6.48 G fp8 weights + 2 x 131 M vocabulary weights at 2 bytes, not 6.74 GB), and AutoAWQ/AutoGPTQ
quantize only the linear layers of the decoder blocks. `vocab_bits` says so per format; llama.cpp's
file types quantize the output matrix too (Q6_K, counted in their mix).

Bits per weight of the GGUF block types come from the block structs of ggml
(ggml-org/llama.cpp `ggml/src/ggml-common.h`, e.g. ``block_q4_0 = {ggml_half d; uint8_t
qs[QK4_0/2]}`` = 2 + 16 bytes per 32 weights = 4.5 bpw); `GGUF_BLOCKS` keeps each struct's fields so
the arithmetic is checkable (tests/test_precision.py). The llama.cpp *file types* Q4_K_M, Q3_K_S,
... are mixes: `llama_tensor_get_type_impl` in ggml-org/llama.cpp `src/llama-quant.cpp` upgrades
some tensors (attn_v, ffn_down, attn_output, output) to wider types per layer; `KQUANT_MIXES`
encodes those rules and `mix_bits_per_weight` evaluates them on a reference Llama-2-7B layer stack
(the mix's bpw depends on the architecture; the reference is the model llama.cpp quotes its
quantization tables for).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Mapping

from phantom_report.errors import PredictionError

GGML_COMMON_H = "ggml-org/llama.cpp ggml/src/ggml-common.h (block_* structs)"
LLAMA_QUANT_CPP = "ggml-org/llama.cpp src/llama-quant.cpp (llama_tensor_get_type_impl)"

# --- GGUF block types: (weights per block, {field: bytes}) from ggml-common.h --------------------
QK_K = 256  # k-quant super-block
K_SCALE_SIZE = 12
GGUF_BLOCKS: dict[str, tuple[int, dict[str, int]]] = {
    "q4_0": (32, {"d (ggml_half)": 2, "qs[QK4_0/2]": 16}),
    "q4_1": (32, {"d, m (ggml_half x2)": 4, "qs[QK4_1/2]": 16}),
    "q5_0": (32, {"d (ggml_half)": 2, "qh[4]": 4, "qs[QK5_0/2]": 16}),
    "q5_1": (32, {"d, m (ggml_half x2)": 4, "qh[4]": 4, "qs[QK5_1/2]": 16}),
    "q8_0": (32, {"d (ggml_half)": 2, "qs[QK8_0]": 32}),
    "iq4_nl": (32, {"d (ggml_half)": 2, "qs[QK4_NL/2]": 16}),
    "q2_k": (QK_K, {"scales[QK_K/16]": QK_K // 16, "qs[QK_K/4]": QK_K // 4, "d, dmin (ggml_half x2)": 4}),
    "q3_k": (QK_K, {"hmask[QK_K/8]": QK_K // 8, "qs[QK_K/4]": QK_K // 4, "scales[12]": 12, "d (ggml_half)": 2}),
    "q4_k": (QK_K, {"d, dmin (ggml_half x2)": 4, "scales[K_SCALE_SIZE]": K_SCALE_SIZE, "qs[QK_K/2]": QK_K // 2}),
    "q5_k": (QK_K, {"d, dmin (ggml_half x2)": 4, "scales[K_SCALE_SIZE]": K_SCALE_SIZE, "qh[QK_K/8]": QK_K // 8,
                    "qs[QK_K/2]": QK_K // 2}),
    "q6_k": (QK_K, {"ql[QK_K/2]": QK_K // 2, "qh[QK_K/4]": QK_K // 4, "scales[QK_K/16] (int8)": QK_K // 16,
                    "d (ggml_half)": 2}),
    "iq2_xxs": (QK_K, {"d (ggml_half)": 2, "qs[QK_K/8] (uint16)": QK_K // 8 * 2}),
    "iq2_xs": (QK_K, {"d (ggml_half)": 2, "qs[QK_K/8] (uint16)": QK_K // 8 * 2, "scales[QK_K/32]": QK_K // 32}),
    "iq3_xxs": (QK_K, {"d (ggml_half)": 2, "qs[3*QK_K/8]": 3 * QK_K // 8}),
    "iq3_s": (QK_K, {"d (ggml_half)": 2, "qs[QK_K/4]": QK_K // 4, "qh[QK_K/32]": QK_K // 32,
                     "signs[QK_K/8]": QK_K // 8, "scales[QK_K/64]": QK_K // 64}),
    "iq4_xs": (QK_K, {"d (ggml_half)": 2, "scales_h (uint16)": 2, "scales_l[QK_K/64]": QK_K // 64,
                      "qs[QK_K/2]": QK_K // 2}),
}


def block_bits_per_weight(gguf_type: str) -> float:
    """Bits per weight of one GGUF block type: the struct's bytes x 8 / weights per block."""
    n, fields = GGUF_BLOCKS[gguf_type]
    return sum(fields.values()) * 8.0 / n


# --- llama.cpp file-type mixes (llama_tensor_get_type_impl) ---------------------------------------
# Reference layer stack for evaluating a mix: Llama-2-7B (32 layers, hidden 4096, FFN 11008, MHA,
# vocabulary 32000; meta-llama/Llama-2-7b-hf config.json). Parameters per tensor kind and layer:
_REF_LAYERS = 32
_REF_HIDDEN, _REF_FFN, _REF_VOCAB = 4096, 11008, 32000
_REF_TENSORS = {"attn_q": _REF_HIDDEN ** 2, "attn_k": _REF_HIDDEN ** 2, "attn_v": _REF_HIDDEN ** 2,
                "attn_output": _REF_HIDDEN ** 2, "ffn_gate": _REF_HIDDEN * _REF_FFN,
                "ffn_up": _REF_HIDDEN * _REF_FFN, "ffn_down": _REF_HIDDEN * _REF_FFN}


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    """llama-quant.cpp's `use_more_bits`: first and last eighth of the layers, and every third between."""
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 or (i_layer - n_layers // 8) % 3 == 2


def _q3_k_m_down(i: int, n: int) -> str:  # ffn_down of Q3_K_M (non-Falcon): Q5_K for the first 1/16
    return "q5_k" if i < n // 16 else "q4_k"


# file type -> (base block type, {tensor kind: fn(i_layer, n_layers) -> block type}, output tensor type)
# (Llama-2-7B branch of each rule: MHA, not 70B, no experts, no imatrix)
KQUANT_MIXES: dict[str, tuple[str, dict, str]] = {
    "q2_k": ("q2_k", {"attn_v": lambda i, n: "q3_k", "ffn_down": lambda i, n: "q3_k",
                      "attn_output": lambda i, n: "q3_k"}, "q6_k"),
    "q3_k_s": ("q3_k", {}, "q6_k"),
    "q3_k_m": ("q3_k", {"attn_v": lambda i, n: "q5_k" if i < 2 else "q4_k", "ffn_down": _q3_k_m_down,
                        "attn_output": lambda i, n: "q4_k"}, "q6_k"),
    "q3_k_l": ("q3_k", {"attn_v": lambda i, n: "q5_k", "ffn_down": lambda i, n: "q5_k",
                        "attn_output": lambda i, n: "q5_k"}, "q6_k"),
    "q4_k_s": ("q4_k", {"attn_v": lambda i, n: "q5_k" if i < 4 else "q4_k",
                        "ffn_down": lambda i, n: "q5_k" if i < n // 8 else "q4_k"}, "q6_k"),
    "q4_k_m": ("q4_k", {"attn_v": lambda i, n: "q6_k" if use_more_bits(i, n) else "q4_k",
                        "ffn_down": lambda i, n: "q6_k" if use_more_bits(i, n) else "q4_k"}, "q6_k"),
    "q5_k_s": ("q5_k", {}, "q6_k"),
    "q5_k_m": ("q5_k", {"attn_v": lambda i, n: "q6_k" if use_more_bits(i, n) else "q5_k",
                        "ffn_down": lambda i, n: "q6_k" if use_more_bits(i, n) else "q5_k"}, "q6_k"),
    "q6_k": ("q6_k", {}, "q6_k"),
    # IQ4_XS without an imatrix: ffn_down of the first eighth of the layers is Q5_K (MHA: attn_v stays)
    "iq4_xs": ("iq4_xs", {"ffn_down": lambda i, n: "q5_k" if i < n // 8 else "iq4_xs"}, "q6_k"),
}


def mix_average(file_type: str, per_block) -> float:
    """Weight-weighted mean of `per_block(block type)` over the tensors a llama.cpp file type streams
    on the reference Llama-2-7B stack: the per-layer tensors at the types the mix gives them plus the
    output matrix (read every token); the token-embedding table is a gather (one row per token) and
    is not counted."""
    base, rules, output = KQUANT_MIXES[file_type]
    total = weights = 0.0
    for i in range(_REF_LAYERS):
        for kind, n in _REF_TENSORS.items():
            t = rules[kind](i, _REF_LAYERS) if kind in rules else base
            total += n * per_block(t)
            weights += n
    out_n = _REF_HIDDEN * _REF_VOCAB
    return (total + out_n * per_block(output)) / (weights + out_n)


def mix_bits_per_weight(file_type: str) -> float:
    """Bits per *streamed* weight of a llama.cpp file type on the reference Llama-2-7B stack."""
    return mix_average(file_type, block_bits_per_weight)


# --- the vocabulary --------------------------------------------------------------------------------
DEQUANT_FAMILIES = ("", "legacy_block", "kquant", "iquant", "int_group", "int_channel")
# ALU operations per weight to unpack it to fp16 in a matmul's inner loop (integer shift/mask, the
# int->float convert, the scale multiply and, for asymmetric formats, the min/zero add), counted as
# fp32-pipeline operations. Textbook counts from the kernels' arithmetic: legacy 32-blocks (Q4_0:
# shift, mask, subtract 8, convert, scale = 5), k-quants (+ unpacking the 6-bit sub-block scales and
# mins, amortized, = 7), i-quants (codebook lookups from a grid table plus sign bits = 9), grouped
# int4 (GPTQ/AWQ: unpack, convert, scale, zero = 4; Marlin-style kernels fold the convert into bit
# tricks), per-channel int8 weight-only (convert + scale = 2). The *rate* they run at is fitted
# (CalibrationParams.dequant_eff), so only their ratios matter.
DEQUANT_OPS_PER_WEIGHT: dict[str, float] = {
    "": 0.0, "legacy_block": 5.0, "kquant": 7.0, "iquant": 9.0, "int_group": 4.0, "int_channel": 2.0,
}
# The GGUF block types llama.cpp multiplies with its own kernels get their own count, read from the
# arithmetic of the CUDA dot products a batch-1 decode step runs (MMVQ: `vec_dot_<type>_q8_1` and its
# `_impl` in VECDOTQ_CUH; the activations are quantized to q8_1 and each 4 weights go through one
# dp4a). Counted per weight: every integer and float operation of the unpack-and-dot loop (shifts,
# masks, ors, byte-wise subtracts, dp4a, the int scale multiply, int->float converts and the fma into
# the float sum) plus the per-call epilogue and the caller's scale unpacking, amortized over the
# weights one call covers; loads are not counted (they are the memory term). E.g. q4_0: per int of 8
# nibbles 2 shift/mask pairs + 2 dp4a + 2 to assemble the unaligned int (7 per 8 weights) and a
# 6-operation epilogue per 16 weights = 1.25; q3_k: per 4 weights 14 operations to decode the 6-bit
# scale from its split low/high bits, 6 to assemble the 3-bit values (low pair + high-mask bit,
# __vsubss4) and dp4a + int multiply + convert + fma = 24, i.e. 6.06. The low-bit k-quants are the
# expensive ones (q2_k and q3_k decode a scale per 16 weights, q5 and q6 splice a high bit in),
# which is why llama.cpp's Q2_K and Q3_K_S decode slower than Q4_0 although they stream fewer bytes.
VECDOTQ_CUH = "ggml-org/llama.cpp ggml/src/ggml-cuda/vecdotq.cuh (vec_dot_*_q8_1 MMVQ dot products)"
MMVQ_OPS_PER_WEIGHT: dict[str, float] = {
    "q4_0": 20 / 16,  # 2 x (and, shift, and, 2 dp4a, 2 unaligned-int assembly) + epilogue 6
    "q4_1": 19 / 16,  # 2 x (and, shift, and, 2 dp4a) + epilogue 9 (dm and ds half2 converts, min term)
    "q5_0": 74 / 16,  # 2 x (34: nibbles + 4 high bits spliced per int x 2, 2 dp4a, int assembly) + 6
    "q5_1": 69 / 16,  # 2 x (30, aligned ints) + epilogue 9
    "q8_0": 11 / 8,  # 2 x (dp4a + 2 unaligned-int assembly) + epilogue 5
    "q2_k": 64 / 16,  # 4 x (value 2-bit extract 2, scale mask, dp4a, int mul, cvt, fma; min 5 + dp4a, cvt, fma) + 4
    "q3_k": 97 / 16,  # 4 x (6-bit scale decode 14, 3-bit value 6, dp4a, int mul, cvt, fma) + 1
    "q4_k": 38 / 16,  # 2 x (2 nibble extracts 4, 4 dp4a, 2 x (int mul, cvt, fma)) + 4 + ~10 scale/min unpack
    "q5_k": 54 / 16,  # as q4_k + 2 x 8 to splice the fifth bit
    "q6_k": 24 / 8,  # 2 x (low 4 bits 2, high 2 bits 3, or, __vsubss4, dp4a, int mul, cvt, fma) + 2
}


def dequant_ops_per_weight(fmt: str) -> float:
    """ALU operations per weight to unpack-and-multiply a weight-only format: the MMVQ count of a GGUF
    block type (a llama.cpp file-type mix averaged over the tensors it streams, `mix_average`), else
    its dequantization family's textbook count (GPTQ/AWQ, i-quants, per-channel int8; 0 = none)."""
    family = FORMATS[fmt].dequant if fmt in FORMATS else ""
    if fmt in KQUANT_MIXES:
        return mix_average(fmt, lambda t: MMVQ_OPS_PER_WEIGHT.get(t, DEQUANT_OPS_PER_WEIGHT["iquant"]))
    if fmt in MMVQ_OPS_PER_WEIGHT:
        return MMVQ_OPS_PER_WEIGHT[fmt]
    return DEQUANT_OPS_PER_WEIGHT[family]
GPTQ_GROUP = 128  # GPTQ/AWQ default group size (AutoGPTQ/AutoAWQ q_group_size / group_size = 128)


@dataclass(frozen=True)
class NumericFormat:
    """One numeric format as the predictor uses it (see module docstring)."""

    name: str  # canonical lower-case name
    weight_bits: float  # bits per stored weight, block scales included
    compute: str  # GPU profile peak column the math runs at
    activation_bytes: float  # bytes per activation element (and default KV-cache element)
    dequant: str  # one of DEQUANT_FAMILIES ("" = no unpacking)
    source: str  # where weight_bits comes from
    aliases: tuple[str, ...] = ()
    kv_cache: bool = False  # may be named as a KV-cache precision (kv_precision)
    # bits per weight of the vocabulary matrices where the format's tools leave them unquantized
    # (None: stored like every other weight)
    vocab_bits: float | None = None

    @property
    def weight_bytes(self) -> float:
        """Bytes per stored weight, block scales included."""
        return self.weight_bits / 8.0

    @property
    def vocab_bytes(self) -> float:
        """Bytes per weight of the vocabulary matrices (token embedding, output head)."""
        return (self.weight_bits if self.vocab_bits is None else self.vocab_bits) / 8.0

    @property
    def vocab_extra_bytes(self) -> float:
        """Bytes a vocabulary-matrix weight takes beyond another weight (0 where stored alike)."""
        return self.vocab_bytes - self.weight_bytes

    @property
    def vocab_quantized(self) -> bool:
        """Whether the vocabulary matrices are stored (and unpacked) in this format too."""
        return self.vocab_bits is None

    @property
    def weight_only(self) -> bool:
        """Whether only the weights are quantized (unpacked to 16 bits for the math)."""
        return bool(self.dequant)


def _gguf(name: str, family: str, kv: bool = False) -> NumericFormat:
    if name in KQUANT_MIXES:
        bits = mix_bits_per_weight(name)
        src = f"{LLAMA_QUANT_CPP} mix on Llama-2-7B over {GGML_COMMON_H}"
    else:
        bits, src = block_bits_per_weight(name), GGML_COMMON_H
    return NumericFormat(name, bits, "fp16", 2.0, family, src, aliases=(f"gguf-{name}", f"{name}_gguf"), kv_cache=kv)


_HALF = "IEEE/bfloat 16-bit storage"
_VOCAB_16 = 16.0  # quantized formats keep the vocabulary matrices at 16 bits (module docstring)
_FORMATS: tuple[NumericFormat, ...] = (
    NumericFormat("fp32", 32.0, "fp32", 4.0, "", "IEEE 754 single", ("float32", "f32", "float")),
    # tf32 stores fp32 and multiplies with a 10-bit mantissa on the tensor cores
    NumericFormat("tf32", 32.0, "tf32", 4.0, "", "fp32 storage (TF32 math)", ("tensorfloat32", "tensorfloat-32")),
    NumericFormat("fp16", 16.0, "fp16", 2.0, "", _HALF, ("float16", "f16", "half"), kv_cache=True),
    NumericFormat("bf16", 16.0, "bf16", 2.0, "", _HALF, ("bfloat16",), kv_cache=True),
    # mixed precision (autocast): fp16 math; the fp32 master weights are counted in optimizer state
    NumericFormat("amp", 16.0, "fp16", 2.0, "", _HALF, ("mixed", "mixed-fp16", "fp16-mixed", "mixed_precision")),
    NumericFormat("fp8", 8.0, "fp8", 1.0, "", "OCP FP8 (E4M3) weights and activations, per-tensor scales",
                  ("w8a8-fp8", "fp8-e4m3", "e4m3"), kv_cache=True, vocab_bits=_VOCAB_16),
    NumericFormat("int8", 8.0, "int8", 1.0, "", "int8 weights and activations (SmoothQuant-style), per-channel scales",
                  ("w8a8", "w8a8-int8", "int8-sq"), kv_cache=True, vocab_bits=_VOCAB_16),
    # weight-only int8 (TensorRT-LLM int8 weight-only): per-output-channel fp16 scale, negligible
    NumericFormat("w8a16", 8.0, "fp16", 2.0, "int_channel", "int8 weights, per-channel fp16 scale (negligible)",
                  ("int8-weight-only", "int8-wo"), vocab_bits=_VOCAB_16),
    # GPTQ / AWQ int4, group size 128: 4-bit weights + per group one fp16 scale and one packed 4-bit zero
    NumericFormat("int4", 4.0 + (16.0 + 4.0) / GPTQ_GROUP, "fp16", 2.0, "int_group",
                  f"4-bit weights + fp16 scale + 4-bit zero per group of {GPTQ_GROUP} (AutoGPTQ/AutoAWQ defaults)",
                  ("w4a16", "gptq", "awq", "int4-awq", "int4-gptq", "gptq-int4", "awq-int4"), vocab_bits=_VOCAB_16),
    _gguf("q4_0", "legacy_block", kv=True), _gguf("q4_1", "legacy_block", kv=True),
    _gguf("q5_0", "legacy_block", kv=True), _gguf("q5_1", "legacy_block", kv=True),
    _gguf("q8_0", "legacy_block", kv=True), _gguf("iq4_nl", "iquant", kv=True),
    _gguf("q2_k", "kquant"), _gguf("q3_k_s", "kquant"), _gguf("q3_k_m", "kquant"), _gguf("q3_k_l", "kquant"),
    _gguf("q4_k_s", "kquant"), _gguf("q4_k_m", "kquant"), _gguf("q5_k_s", "kquant"), _gguf("q5_k_m", "kquant"),
    _gguf("q6_k", "kquant"), _gguf("iq4_xs", "iquant"),
    _gguf("iq2_xxs", "iquant"), _gguf("iq2_xs", "iquant"), _gguf("iq3_xxs", "iquant"),
)

FORMATS: Mapping[str, NumericFormat] = {f.name: f for f in _FORMATS}
PRECISIONS: tuple[str, ...] = tuple(FORMATS)
KV_PRECISIONS: tuple[str, ...] = tuple(f.name for f in _FORMATS if f.kv_cache)
# Formats a GPU computes in natively: one peak-TFLOPS key each in a GPU profile (fp32 ... int8)
NATIVE_PRECISIONS: tuple[str, ...] = tuple(f.name for f in _FORMATS if f.compute == f.name)
# A bare bit width names no format: it is an error listing the formats of that width
AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "4bit": ("int4", "q4_0", "q4_1", "q4_k_s", "q4_k_m", "iq4_xs", "iq4_nl"),
    "8bit": ("int8", "fp8", "w8a16", "q8_0"),
    "16bit": ("fp16", "bf16"),
    "q4_k": ("q4_k_s", "q4_k_m"), "q5_k": ("q5_k_s", "q5_k_m"), "q3_k": ("q3_k_s", "q3_k_m", "q3_k_l"),
}


def _key(name: str) -> str:
    """Spelling-insensitive key: lower case, '-' and ' ' as '_' (Q4_K_M = q4-k-m = q4_k_m)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


_ALIASES: dict[str, str] = {}
for _f in _FORMATS:
    for _n in (_f.name, *_f.aliases):
        _ALIASES[_key(_n)] = _f.name
for _amb in AMBIGUOUS:
    _ALIASES.pop(_key(_amb), None)
_AMBIGUOUS_KEYS = {_key(k): v for k, v in AMBIGUOUS.items()}


def resolve_precision(name: str, what: str = "precision") -> str:
    """Canonical format name for any spelling; PredictionError listing candidates when unknown or ambiguous."""
    key = _key(str(name))
    if key in _ALIASES:
        return _ALIASES[key]
    amb = _AMBIGUOUS_KEYS.get(key.replace("_bit", "bit"))
    if amb:
        raise PredictionError(f"{what} {name!r} is ambiguous: it could be {', '.join(amb)}; name the format")
    close = difflib.get_close_matches(key, list(_ALIASES), n=3, cutoff=0.75)
    hint = f" (did you mean {', '.join(dict.fromkeys(_ALIASES[c] for c in close))}?)" if close else ""
    raise PredictionError(f"unknown {what} {name!r}{hint}; expected one of: {', '.join(PRECISIONS)}")


def resolve_kv_precision(name: str) -> str:
    """Canonical KV-cache format name (fp16, bf16, fp8, int8, q8_0, q4_0, ...)."""
    fmt = resolve_precision(name, "kv_precision")
    if fmt not in KV_PRECISIONS:
        raise PredictionError(f"kv_precision {name!r} is not a KV-cache format; expected one of: {', '.join(KV_PRECISIONS)}")
    return fmt


def kv_bytes(fmt: str) -> float:
    """Bytes per KV-cache element stored in a KV format (block scales included: q8_0 = 34/32)."""
    return FORMATS[fmt].weight_bytes


# Views of the vocabulary by canonical name (the predictor's lookups)
WEIGHT_BYTES: dict[str, float] = {f.name: f.weight_bytes for f in _FORMATS}
VOCAB_BYTES: dict[str, float] = {f.name: f.vocab_bytes for f in _FORMATS}
VOCAB_EXTRA_BYTES: dict[str, float] = {f.name: f.vocab_extra_bytes for f in _FORMATS}
ACTIVATION_BYTES: dict[str, float] = {f.name: f.activation_bytes for f in _FORMATS}
COMPUTE_COLUMN: dict[str, str] = {f.name: f.compute for f in _FORMATS}
DEQUANT_FAMILY: dict[str, str] = {f.name: f.dequant for f in _FORMATS}
DEQUANT_OPS: dict[str, float] = {f.name: dequant_ops_per_weight(f.name) for f in _FORMATS}
