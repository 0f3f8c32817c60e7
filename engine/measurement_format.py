"""The measurement CSV format (`validate --data` files and the shipped corpus): its columns and
vocabularies. Kept apart from `corpus` (which needs pandas) so that the CLI can show the format in
`validate --help` without slowing every command's start. Full text: docs/MEASUREMENTS.md."""

from __future__ import annotations

REQUIRED_COLUMNS = (
    "source", "source_url", "gpu", "model", "task", "runtime", "precision", "batch_size", "metric", "value",
)
# tensor_parallel: an extension of the shared schema (GPUs one model instance spans, when printed)
# kv_precision: the KV-cache format when it differs from the activation precision (fp8, q8_0, q4_0, ...)
# model_config: path (relative to the CSV) of a Hugging Face config.json for a model outside the zoo
# (read by `validate --data` only; see engine/model_config.py)
OPTIONAL_COLUMNS = ("gpu_count", "seq_in", "seq_out", "notes", "tensor_parallel", "kv_precision", "model_config")
METRICS = ("throughput_per_s", "latency_ms", "tokens_per_s", "prefill_tokens_per_s", "ttft_ms", "tpot_ms")
TASKS = ("inference", "training")

# What an installed copy can show a user about the format: a pip install does not ship docs/, so
# messages point to `phantom-report validate --help`, whose epilog is this text.
COLUMNS_HELP = (f"Measurement CSV columns - required: {', '.join(REQUIRED_COLUMNS)}; optional: "
                f"{', '.join(OPTIONAL_COLUMNS)}; metric: one of {', '.join(METRICS)}; task: "
                f"{' or '.join(TASKS)}. One row per printed number, with the URL where it is printed "
                "(docs/MEASUREMENTS.md in the repository has the full rules).")
