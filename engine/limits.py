"""Bounds on user-supplied inputs: one home for the spec schema, the CLI and the engine's own input
checks (so `run`, `predict`, `compare`, `/v1/predict` and `/v1/compare` refuse the same values).

Each bound is far beyond any real deployment and well inside what the arithmetic handles: integers
stay below 2**53 (exact as float64, no int64 overflow after multiplying by each other) and money
figures stay short enough to print. A value outside a bound is a typo or an attack, never a plan.
"""

from __future__ import annotations

import difflib
import math
from typing import Iterable

from phantom_report.errors import PredictionError

# per replica; the largest batches in the corpus are a few thousand images
MAX_BATCH_SIZE = 65_536
# tokens (or, for vision models, the image side in pixels); above every published context window
MAX_SEQ_LEN = 1_048_576
# GPUs per replica / in one prediction point; the largest clusters announced hold ~100k GPUs
MAX_GPU_COUNT = 100_000
# monthly demand: ~1e16 generated tokens a month is the scale of the largest public services
MAX_TOKENS_PER_MONTH = 1e18
MAX_REQUESTS_PER_MONTH = 1e16
MAX_REQUESTS_PER_S = 1e9
MAX_DATASET_TOKENS = 1e16  # frontier pre-training runs are ~1.5e13 tokens
MAX_DATASET_SAMPLES = 1e14
MAX_EPOCHS = 10_000
MAX_RUNS_PER_MONTH = 10_000
MAX_HOURS = 1e6  # deadlines, ~114 years
MAX_LATENCY_MS = 1e9  # SLO thresholds (about 11 days)
MAX_TOKENS_PER_S = 1e9
MAX_USD = 1e12  # any single money input (migration cost, purchase price per GPU, hosting)
MAX_USD_PER_KWH = 100.0
MAX_HORIZON_MONTHS = 1200

# sizes of text and lists in a spec or request
MAX_TITLE_CHARS = 300
MAX_NAME_CHARS = 200  # model names, workload names, GPU names, regions, runtimes, owners
MAX_PATH_CHARS = 1024  # a whole path; each component is also limited (below)
MAX_PATH_COMPONENT_BYTES = 255  # NAME_MAX on Linux/macOS: longer names fail with ENAMETOOLONG
MAX_LIST_ITEMS = 64  # batch sizes, GPU counts, precisions, formats, recipients
MAX_GPUS_LISTED = 512
MAX_WORKLOADS = 32
MAX_REGIONS = 256
MAX_GRID_POINTS = 200_000  # workloads x GPUs x precisions x batches x GPU counts in one run

# runtimes the engine knows: every runtime of the benchmark corpus plus the documented ones
# (tests/test_hostile_spec.py checks the corpus against this list); others calibrate as pytorch
RUNTIMES = (
    "pytorch", "pytorch-compile", "pytorch-xformers", "tensorrt", "tensorrt-llm", "vllm", "llamacpp",
    "onnxruntime", "tensorflow", "mxnet", "fastertransformer", "fastertransformer-torch-op",
    "fastertransformer-trt-plugin", "lmdeploy-turbomind", "nim", "tinychat", "exllamav2", "aitemplate",
    "oneflow", "stable-fast", "a1111-webui",
    # runtimes of the single-stream and training sources (premAI benchmarks, NeMo/Megatron summaries)
    "autoawq", "autogptq", "burn", "candle", "ctransformers", "ctranslate2", "deepspeed", "megatron-bridge",
    "nemo-megatron", "optimum-nvidia", "pytorch-flash-attn2", "pytorch-jit", "pytorch-lightning", "sglang", "tinygrad",
    # single-stream runtimes users name (no corpus rows yet: predictions borrow defaults, flagged novel)
    "mlc-llm", "exllama", "ollama",
)


def suggest(value: str, choices: Iterable[str], n: int = 5) -> str:
    """'; did you mean a, b?' for close matches, else '; expected one of ...' (short lists) or ''."""
    pool = list(dict.fromkeys(choices))
    close = difflib.get_close_matches(str(value).lower(), [c.lower() for c in pool], n=n, cutoff=0.6)
    if close:
        by_lower = {c.lower(): c for c in pool}
        return "; did you mean " + ", ".join(by_lower[c] for c in close) + "?"
    if len(pool) <= 25:
        return "; expected one of " + ", ".join(pool)
    return ""


def context_error(workload, seq_in: int | None, seq_out: int | None) -> str | None:
    """Why `seq_in` (+ `seq_out` for generative models) does not fit the model's context window, or
    None. Only text models are checked: for vision models `seq_in` is an image side in pixels."""
    context = getattr(workload, "max_seq_len", None)
    if not context or getattr(workload, "image_size", 0) and not getattr(workload, "generative", False):
        return None
    if not (getattr(workload, "generative", False) or getattr(workload, "seq_scalable", False)):
        return None
    total = (seq_in or 0) + ((seq_out or 0) if getattr(workload, "generative", False) else 0)
    if total <= context:
        return None
    what = "seq_in + seq_out" if seq_out and getattr(workload, "generative", False) else "seq_in"
    return f"{what} = {total:,} tokens is more than {workload.name}'s context window of {context:,} tokens"


def check_runtime(runtime: str) -> str:
    """The runtime in lower case; PredictionError naming close matches when it is unknown."""
    key = str(runtime).strip().lower()
    if key not in RUNTIMES:
        raise PredictionError(f"unknown runtime {show(runtime)}{suggest(key, RUNTIMES)}")
    return key


def check_int(name: str, value, least: int, most: int) -> int:
    """An integer in [least, most] (floats with an integral value accepted); PredictionError otherwise."""
    try:
        ok = float(value) == math.floor(float(value)) and least <= float(value) <= most
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise PredictionError(f"{name} must be an integer from {least} to {most:,}, got {show(value)}")
    return int(value)


def show(value, max_chars: int = 80) -> str:
    """repr(value) for an error message, cut to `max_chars` (long strings are cut before repr)."""
    if isinstance(value, (str, bytes)):
        return clip(repr(value[: max_chars + 1]), max_chars)
    return clip(repr(value), max_chars)


def printable(text: str) -> str:
    """`text` with every non-printable character (CR, LF, ESC, U+2028, ...) written as its escape, so
    user input echoed in a message or a header can neither add lines nor drive a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def clip(value, max_chars: int = 80) -> str:
    """`value` as printable text, cut to `max_chars` (error messages echo user input; they stay one
    short line)."""
    text = printable(value if isinstance(value, str) else repr(value))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
