"""How far the corpus' sources agree with one another: the floor under leave-one-source-out error.

Many configurations (GPU, GPU count, model, task, precision, batch size, sequence lengths, metric)
are measured by more than one publication. Leaving one source out, the best any predictor can do
from the corpus alone is to answer what the *other* sources measured for exactly that
configuration; this module scores that answer (the "other sources' value": the median of their
log values, each source's repeats reduced to their median first) against each held-out row, next to
the model's own held-out error on the same rows. Where the two are close, the remaining error is the
sources' disagreement (software stack, method, clocks, what "latency" means), which no model of the
hardware can remove; where the model is much worse, the physics has room to improve.

Two scopes: ``same_runtime`` (the other sources ran the same runtime: differences are versions,
settings and method) and ``any_runtime`` (any runtime: what a user changing stacks sees).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONFIG_COLUMNS = ("gpu", "gpu_count", "model", "task", "precision", "batch_size", "seq_in", "seq_out", "metric")
SCOPES = {"same_runtime": (*CONFIG_COLUMNS, "runtime"), "any_runtime": CONFIG_COLUMNS}


def other_sources_value(rows: pd.DataFrame, key: tuple[str, ...] = CONFIG_COLUMNS) -> np.ndarray:
    """Per row of ``rows`` (columns ``key``, ``source``, ``value``): exp(median(log value)) over the
    *other* sources that measured the same ``key``, each source's repeats reduced to their median
    first; NaN where no other source measured it."""
    # NaN (no batch size, no sequence length) is a value of the configuration here, not a missing one
    keys = rows.groupby(list(key), dropna=False, sort=False).ngroup().to_numpy()
    per_source = (pd.DataFrame({"config": keys, "source": rows["source"].to_numpy(),
                                "log_value": np.log(rows["value"].to_numpy(dtype=float))})
                  .groupby(["config", "source"], sort=True)["log_value"].median().reset_index())
    config, source, logs = (per_source[c].to_numpy() for c in ("config", "source", "log_value"))
    starts = np.flatnonzero(np.r_[True, config[1:] != config[:-1]])  # rows are sorted by config
    other: dict[tuple[int, str], float] = {}
    for a, b in zip(starts, np.r_[starts[1:], len(config)]):
        for i in range(a, b) if b - a > 1 else ():
            other[(config[i], source[i])] = float(np.exp(np.median(np.delete(logs[a:b], i - a))))
    return np.array([other.get(k, np.nan) for k in zip(keys, rows["source"])], dtype=float)


def source_agreement(held_out: pd.DataFrame) -> dict:
    """For each scope (`SCOPES`): how many held-out rows another source measured (``n``) over how
    many configurations, the median/mean APE of the other sources' value (``agreement_*``) and of
    the model's held-out prediction on the same rows (``model_*``); over *all* held-out rows, the
    score of a model never worse than a second measurement (``best_of_*``: on each row another
    source measured, the smaller of the two errors; elsewhere the model's), and the model's error on
    the rows no other source measured (``unshared_n``, ``unshared_*``). ``best_of_*`` is an
    optimistic floor for this model's leave-one-source-out score from closing the gap to the
    measurements' own agreement; what it leaves is error on configurations only one source measured.
    ``held_out`` is a leave-one-source-out frame (validation.CvResult.held_out: ``value``, ``ape``,
    ``source`` and the `CONFIG_COLUMNS`)."""
    out = {}
    for scope, key in SCOPES.items():
        if held_out.empty:
            out[scope] = {"n": 0, "configs": 0}
            continue
        other = other_sources_value(held_out, key)
        seen = np.isfinite(other)
        value = held_out["value"].to_numpy(dtype=float)[seen]
        agree_ape = np.abs(other[seen] - value) / value
        ape = held_out["ape"].to_numpy(dtype=float)
        model_ape = ape[seen]
        configs = held_out[seen].groupby(list(key), dropna=False).ngroups
        out[scope] = {"n": int(seen.sum()), "configs": int(configs)}
        if seen.any():
            out[scope].update(agreement_median_ape=float(np.median(agree_ape)), agreement_mape=float(np.mean(agree_ape)),
                              model_median_ape=float(np.median(model_ape)), model_mape=float(np.mean(model_ape)))
            best = ape.copy()
            best[seen] = np.minimum(model_ape, agree_ape)
            alone = ape[~seen]
            out[scope].update(best_of_median_ape=float(np.median(best)), best_of_mape=float(np.mean(best)),
                              unshared_n=int(alone.size))
            if alone.size:
                out[scope].update(unshared_median_ape=float(np.median(alone)), unshared_mape=float(np.mean(alone)))
    return out
