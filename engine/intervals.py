"""Split-conformal prediction intervals on log residuals.

A prediction p gets the interval [p / exp(q), p * exp(q)] where q is the conformal quantile, at the
requested confidence, of |log(predicted / measured)| over *held-out* rows (cross-validation
residuals: each from a fit that never saw that row's (GPU, model) group). With n exchangeable
held-out residuals, taking the ceil((n + 1) * c)-th smallest gives coverage >= c on a new row
(Vovk et al.; Lei et al. 2018), which is what "90% interval" is meant to promise.

Honest coverage figure: scoring the same residuals the quantile came from would be circular, so
`leave_group_out_coverage` checks each held-out row against the quantile of the *other* groups'
residuals only (a jackknife+-style check).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np

LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)


def conformal_quantile(abs_log_residuals: np.ndarray, level: float) -> float:
    """The ceil((n+1)*level)-th smallest |residual|; inf when n is too small for that level."""
    r = np.sort(np.asarray(abs_log_residuals, dtype=float)[np.isfinite(abs_log_residuals)])
    n = len(r)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    k = math.ceil((n + 1) * level)
    return float(r[k - 1]) if 1 <= k <= n else math.inf


def quantile_table(abs_log_residuals: np.ndarray, levels: Iterable[float] = LEVELS) -> dict[str, float]:
    """{"0.9": q, ...}: the `intervals.log_abs_residual_quantiles` block of calibration.json.

    Levels the data cannot support (too few rows) are left out rather than written as infinity.
    Quantiles are made non-decreasing in the level (they are by construction; this guards ties).
    """
    out: dict[str, float] = {}
    prev = 0.0
    for lv in sorted(levels):
        q = conformal_quantile(abs_log_residuals, lv)
        if math.isfinite(q):
            prev = max(prev, q)
            out[str(lv)] = round(prev, 6)
    return out


def half_width(table: Mapping[str, float], confidence: float | np.ndarray) -> np.ndarray:
    """Log half-width at any confidence, interpolated between the tabulated levels."""
    levels = np.array(sorted(float(k) for k in table))
    widths = np.array([float(table[k]) for k in sorted(table, key=float)])
    return np.interp(np.asarray(confidence, dtype=float), levels, widths)


def leave_group_out_coverage(abs_log_residuals: np.ndarray, groups: np.ndarray, level: float) -> np.ndarray:
    """Per row: is |residual| within the conformal quantile computed from the other groups' rows?"""
    r = np.asarray(abs_log_residuals, dtype=float)
    g = np.asarray(groups)
    inside = np.zeros(len(r), dtype=bool)
    for label in np.unique(g):
        mine = g == label
        q = conformal_quantile(r[~mine], level)
        inside[mine] = r[mine] <= q
    return inside
