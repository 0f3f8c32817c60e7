"""Why measurement rows could not be used, grouped, counted, with the fix that would make them usable.

`validate --data` lists every row it could not use; a table of 90 reasons is unreadable, so
`group_unused` classifies each reason (`REASON_GROUPS`, first pattern that matches), counts rows per
group, names the distinct printed values behind them (the GPU names, model names, precisions the
user wrote) and suggests the fix: an alias or a profile for a GPU, a zoo name or a `model_config`
column for a model, a vocabulary spelling for a precision, a corrected label for an implausible row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ReasonGroup:
    """One kind of unusable row: its key and title, the regex that recognises its reason, the raw
    column whose values it lists, and the fix to suggest."""

    key: str
    title: str
    pattern: str  # regex searched in the row's reason
    value_column: str  # raw column whose distinct values are listed ("" = none)
    fix: str


REASON_GROUPS: tuple[ReasonGroup, ...] = (  # checked in this order: the first match wins
    ReasonGroup("excluded", "excluded by a reading rule", r"excluded by interpretation", "",
                "none: the source does not print what the prediction needs (the reason says what)"),
    ReasonGroup("duplicate", "conflicting duplicate", r"conflicting duplicate", "",
                "keep one value per configuration, or add the column that tells the rows apart"),
    ReasonGroup("implausible", "implausible (faster than the hardware)", r"faster than the datasheet", "precision",
                "the value beats the peak of what the runtime executes at that precision: check the precision "
                "label (mixed precision or TensorRT filed as fp32?), the unit and the GPU count"),
    ReasonGroup("unknown_gpu", "unknown GPU", r"unknown GPU|ambiguous GPU|GPU .* is ambiguous", "gpu",
                "spell the GPU as a profile name or alias (`phantom-report gpus list`; the reason names the "
                "closest), or add a profile with the datasheet figures (`--profiles DIR`, profiles/README.md)"),
    ReasonGroup("unknown_model", "unknown model", r"unknown model|model .* is ambiguous|model_config", "model",
                "use a zoo name or alias (`phantom-report models list`), or add a `model_config` column with the "
                "path (relative to the CSV) of the model's Hugging Face config.json"),
    ReasonGroup("unknown_runtime", "unknown runtime", r"unknown runtime", "runtime",
                "use a runtime of the vocabulary (engine/limits.py RUNTIMES; the reason names the closest); a "
                "runtime without corpus rows borrows default efficiencies and is flagged as an extrapolation"),
    ReasonGroup("unknown_precision", "unknown precision", r"precision", "precision",
                "use a precision of the vocabulary (fp32, tf32, fp16, bf16, amp, fp8, int8, int4 = GPTQ/AWQ, "
                "GGUF types such as q4_k_m, q8_0; `--precision` help); bare widths like '4bit' are ambiguous"),
    ReasonGroup("unknown_metric_or_task", "unknown metric or task", r"unknown metric|unknown task|only applies to",
                "metric", "use a metric of the measurement format (throughput_per_s, latency_ms, tokens_per_s, "
                "prefill_tokens_per_s, ttft_ms, tpot_ms) and task inference or training"),
    ReasonGroup("missing_value", "missing or malformed column", r"required column|not printed|needs seq_in|"
                r"is not a number|must be a positive|must be a whole|must be between|missing", "",
                "fill the named column (`phantom-report validate --help` lists them): the prediction depends on it"),
    ReasonGroup("not_modelled", "configuration not modelled", r"has no .* compute path|not modelled|"
                r"predictor gives no value", "",
                "the GPU lacks that compute path or the predictor has no model for it: use another precision"),
)
OTHER = ReasonGroup("other", "other", r".", "", "see the row's reason")


def classify(reason: str) -> ReasonGroup:
    """The first group whose pattern occurs in the reason (OTHER when none)."""
    for g in REASON_GROUPS:
        if re.search(g.pattern, reason or "", flags=re.IGNORECASE):
            return g
    return OTHER


def group_unused(frames: list[pd.DataFrame], max_values: int = 8) -> pd.DataFrame:
    """One row per reason group over the unused rows of `frames` (each with `reason` and the raw
    columns): group, title, rows, values ("name (n rows)", most frequent first), fix, row_ids.
    Sorted by row count, largest first; empty frame (same columns) when every row was used."""
    cols = ["group", "title", "rows", "values", "fix", "row_ids"]
    parts = [f for f in frames if f is not None and len(f)]
    if not parts:
        return pd.DataFrame(columns=cols)
    df = pd.concat(parts, ignore_index=True)
    groups = [classify(str(r)) for r in df["reason"]]
    df = df.assign(_group=[g.key for g in groups])
    by_key = {g.key: g for g in (*REASON_GROUPS, OTHER)}
    out = []
    for key, part in df.groupby("_group", sort=False):
        g = by_key[key]
        values = ""
        if g.value_column and g.value_column in part:
            counts = part[g.value_column].astype(str).value_counts()
            shown = [f"{v} ({n} row{'s' if n > 1 else ''})" for v, n in counts.head(max_values).items()]
            more = len(counts) - max_values
            values = ", ".join(shown) + (f", and {more} more" if more > 0 else "")
        ids = part["row_id"].astype(str).tolist() if "row_id" in part else []
        out.append({"group": key, "title": g.title, "rows": int(len(part)), "values": values, "fix": g.fix,
                    "row_ids": ids})
    return pd.DataFrame(out, columns=cols).sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)
