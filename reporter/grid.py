"""Spec -> the engine's input grid, and the engine's output narrowed to the configs worth pricing.

One row per (workload, GPU, precision, batch, GPUs per replica). With ``gpu_counts: auto`` every
point is tried on 1, 2, 4 and 8 GPUs (tensor parallel inside one instance) and only the smallest
count that fits in memory is kept, so a 70B model is sized on the GPUs it needs while a ResNet is
not priced on eight.
"""

from __future__ import annotations

import itertools

import pandas as pd

from phantom_report.reporter.spec import RunSpec

AUTO_GPU_COUNTS = (1, 2, 4, 8)
POINT_KEYS = ["workload", "gpu", "precision", "batch_size", "gpu_count"]


def build_points(spec: RunSpec, gpu_names: list[str]) -> pd.DataFrame:
    """Columns: workload, model (key of the workloads mapping), task, runtime, gpu, precision,
    batch_size, gpu_count, confidence, seq_in/seq_out when the spec sets them."""
    rows = []
    for w in spec.workloads:
        counts = AUTO_GPU_COUNTS if w.gpu_counts == "auto" else tuple(w.gpu_counts)
        for gpu, prec, batch, count in itertools.product(gpu_names, w.precisions, w.resolved_batch_sizes, counts):
            row = {
                "workload": w.label, "model": w.label, "task": w.resolved_task, "gpu": gpu,
                "precision": prec, "batch_size": int(batch), "gpu_count": int(count),
                "confidence": spec.confidence,
            }
            if w.runtime:
                row["runtime"] = w.runtime
            if w.seq_in:
                row["seq_in"] = int(w.seq_in)
            if w.seq_out:
                row["seq_out"] = int(w.seq_out)
            rows.append(row)
    return pd.DataFrame(rows)


def keep_smallest_fit(pred: pd.DataFrame, auto_workloads: set[str]) -> pd.DataFrame:
    """For auto-sized workloads keep, per (workload, gpu, precision, batch), the smallest GPU count
    that is supported and fits; if none fits keep the single-GPU row so its reason is reported."""
    manual = pred[~pred["workload"].isin(auto_workloads)]
    auto = pred[pred["workload"].isin(auto_workloads)].copy()
    if auto.empty:
        return pred.reset_index(drop=True)
    auto["_ok"] = auto["supported"].astype(bool) & auto["fits"].fillna(False).astype(bool)
    auto = auto.sort_values(["_ok", "gpu_count"], ascending=[False, True])
    keys = ["workload", "gpu", "precision", "batch_size"]
    ok = auto[auto["_ok"]].drop_duplicates(keys)
    missing = auto[~auto.set_index(keys).index.isin(ok.set_index(keys).index)]
    not_ok = missing.sort_values("gpu_count").drop_duplicates(keys)
    out = pd.concat([manual, ok.drop(columns="_ok"), not_ok.drop(columns="_ok")], ignore_index=True)
    return out.sort_values(POINT_KEYS).reset_index(drop=True)
