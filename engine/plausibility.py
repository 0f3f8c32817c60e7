"""Physical plausibility of measurements: no GPU computes faster than its datasheet peak.

A row whose implied FLOP rate (the workload's FLOPs per sample x the samples per second it reports)
exceeds the peak of what its runtime actually executes cannot have been measured at that precision
(typically a mixed-precision or TensorRT number filed under fp32). "What actually executes" follows
the runtime's defaults (engine/executed.py): PyTorch "fp32" runs convolutions in TF32 on Ampere and
later, TensorFlow and TensorRT run matmuls and convolutions in TF32, llama.cpp "fp16" matmuls
accumulate in FP16 (fp16_acc16: twice the fp16 peak on GeForce), so such a row is checked against the
fastest executed path's peak, not the stated precision's. Such rows are set aside with the
reason, like rows the corpus reader cannot interpret, instead of teaching the calibration that fp32
is faster than the hardware allows. Applies to fixed-work models' throughput and latency rows;
token rates of generative models depend on the serving engine's batching and are not checked.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from phantom_report.engine.corpus import REJECTED_COLUMNS, Corpus
from phantom_report.engine.executed import CONV_GROUP, MATMUL_GROUP, executed_column
from phantom_report.engine.precision import COMPUTE_COLUMN

TRAINING_FLOPS_PER_FORWARD = 3.0  # forward + backward (two forwards' worth)


def implied_peak_fraction(rows: pd.DataFrame, engine) -> np.ndarray:
    """Each row's implied FLOP rate / datasheet peak of its GPUs at its precision (NaN: not checked)."""
    from phantom_report.engine.calibration import corpus_points

    pred = engine.predict_grid(corpus_points(rows).reset_index(drop=True))
    value = rows["value"].to_numpy(dtype=float)
    batch = rows["batch_size"].to_numpy(dtype=float)
    metric = rows["metric"].to_numpy()
    generative = rows["model"].map(lambda m: engine.workload(m).generative).to_numpy(dtype=bool)
    samples_per_s = np.where(metric == "throughput_per_s", value,
                             np.where(metric == "latency_ms", batch / (value / 1e3), np.nan))
    samples_per_s = np.where(generative, np.nan, samples_per_s)
    per_sample = pred["flops_per_sample"].to_numpy(dtype=float)
    per_sample = per_sample * np.where(rows["task"].to_numpy() == "training", TRAINING_FLOPS_PER_FORWARD, 1.0)
    strict = rows["strict_precision"] if "strict_precision" in rows else np.zeros(len(rows), dtype=bool)
    peak = np.array([(executed_peak(engine.catalog.get(g), r, p, s)[1] or np.nan) * 1e12 * n
                     for g, r, p, n, s in zip(rows["gpu"], rows["runtime"], rows["precision"], rows["gpu_count"], strict)])
    return samples_per_s * per_sample / peak


def executed_peak(profile, runtime: str, precision: str, strict: bool = False) -> tuple[str, float | None]:
    """(column, peak TFLOPS) of the fastest compute path the runtime executes for this precision
    (strict: exactly the stated precision, the runtime's defaults turned off)."""
    if strict:
        return COMPUTE_COLUMN[precision], profile.peak(COMPUTE_COLUMN[precision])

    def has(c):
        return profile.peak(c) is not None and (c != "tf32" or profile.vendor.lower() == "nvidia")
    cols = {executed_column(runtime, precision, grp, has) for grp in (MATMUL_GROUP, CONV_GROUP)}
    return max(((c, profile.peak(c)) for c in cols), key=lambda cp: cp[1] or 0.0)


def set_aside_beyond_peak(corpus: Corpus, engine) -> Corpus:
    """The corpus with rows faster than their GPUs' datasheet peak moved to `rejected`, with the reason."""
    if corpus.rows.empty:
        return corpus
    frac = implied_peak_fraction(corpus.rows, engine)
    beyond = np.nan_to_num(frac, nan=0.0) > 1.0
    if not beyond.any():
        return corpus
    sub = corpus.rows[beyond]
    bad = sub.assign(reason=[
        f"faster than the datasheet allows: implies {f:.0%} of the GPUs' peak "
        f"{executed_peak(engine.catalog.get(g), r, p, s)[0]} compute (what {r} executes for {p}), "
        f"so not a measurement at precision {p}"
        for f, g, r, p, s in zip(frac[beyond], sub["gpu"], sub["runtime"], sub["precision"],
                                 sub["strict_precision"] if "strict_precision" in sub else [False] * len(sub))])
    rejected = pd.concat([corpus.rejected, bad[list(REJECTED_COLUMNS)]], ignore_index=True)
    return replace(corpus, rows=corpus.rows[~beyond].reset_index(drop=True), rejected=rejected)
