"""Precisions: bytes per element and which peak-throughput column of a GPU profile they use."""

from __future__ import annotations

from phantom_report.errors import PredictionError

# bytes per stored weight element
WEIGHT_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "tf32": 4.0,  # tf32 stores fp32, computes at reduced mantissa
    "fp16": 2.0,
    "bf16": 2.0,
    "amp": 2.0,  # mixed precision: fp16 compute; master weights counted in optimizer state
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "q4_0": 0.5625,  # llama.cpp: 4-bit + one fp16 scale per 32 weights = 4.5 bits
    "q8_0": 1.0625,  # llama.cpp: 8-bit + one fp16 scale per 32 weights = 8.5 bits
}

# bytes per activation / KV-cache element: weight-only quantization keeps 16-bit activations
ACTIVATION_BYTES: dict[str, float] = {
    "fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0, "amp": 2.0,
    "fp8": 1.0, "int8": 1.0, "int4": 2.0, "q4_0": 2.0, "q8_0": 2.0,
}

# which peak-TFLOPS column of the GPU profile the math runs at
COMPUTE_COLUMN: dict[str, str] = {
    "fp32": "fp32", "tf32": "tf32", "fp16": "fp16", "bf16": "bf16", "amp": "fp16",
    "fp8": "fp8", "int8": "int8",
    # weight-only quantized formats dequantize to fp16 and multiply in fp16
    "int4": "fp16", "q4_0": "fp16", "q8_0": "fp16",
}

PRECISIONS: tuple[str, ...] = tuple(WEIGHT_BYTES)


def check_precision(precision: str) -> str:
    p = precision.strip().lower()
    if p not in WEIGHT_BYTES:
        raise PredictionError(
            f"unknown precision {precision!r}; expected one of: {', '.join(PRECISIONS)}"
        )
    return p
