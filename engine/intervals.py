"""Split-conformal prediction intervals on log residuals.

A prediction p gets the interval [p / exp(q), p * exp(q)] where q is the conformal quantile, at the
requested confidence, of |log(predicted / measured)| over *held-out* rows (cross-validation
residuals: each from a fit that never saw that row's (GPU, model) group). With n exchangeable
held-out residuals, taking the ceil((n + 1) * c)-th smallest gives coverage >= c on a new row
(Vovk et al.; Lei et al. 2018), which is what "90% interval" is meant to promise.

Widths (`interval_block`, `block_half_width`): the residuals are leave-one-*source*-out — each from a fit
that never saw the publication, its software and its method — since a user's stack differs from the
corpus first of all in source. They are split Mondrian-fashion by task/metric and by novelty level
(`engine/novelty.py`: how many corpus rows share the point's runtime, GPU architecture and model
family), each cell with enough rows getting its own quantiles, and a point's width is the largest of
its own level's and every lower level's, so the interval never narrows as the point gets more novel.

Runtime tables (`by_runtime`, a floor under the width of every point of that runtime) weigh their
residuals by source (`source_weighted_quantile`): a runtime's rows often come from a few
publications of very different sizes (vLLM: six versions of one vendor table with 8 rows each next to
an 18-row blog), and what a new source of that runtime will see is one more draw of a *source*, not
of a row (two-level hierarchical exchangeability: Dunn, Gu & Ramdas 2022, whose CDF pooling gives each
group equal weight). Weights n_source^-1/2 sit halfway between row-exchangeable (equal weight per
row, the large sources decide the width) and source-exchangeable (equal weight per source, the
smallest source counts as much as a 300-row table): leave-one-source-out coverage of vLLM rows
79.7% -> 81.1%, TensorRT 82.7% -> 88.5%, overall 90.3% -> 91.9% on the same residuals (exponents 0.3 /
0.7 gave 91.1% / 93.0% overall; equal weight per source widened every interval to 98.6% overall).
A "source" here is a publication series (`novelty.source_series`): releases of one vendor table count
once, in these weights and in the source counts below.

Thin runtimes (`source_scale`, `MIN_SOURCES_OWN_CELL`): a runtime's fitted efficiencies are in effect
an average over the few sources that measured it, and a runtime with one or two sources cannot
estimate its own held-out spread from its own rows (FasterTransformer's torch op: with the BERT guide
held out, the runtime is fitted on the ViT guide's 24 rows alone). The number of *sources*, not rows,
sets that: a new source of a runtime measured by k sources sees the estimate's error on top of its own
shift, variance sigma^2 (1 + 1/k), so the level tables hold normalised scores |r| / sqrt(1 + 1/k)
(k = distinct sources of the row's fitted runtime in the other folds; 0, like 1, for a runtime too thin
to be fitted) and a point's width is multiplied back by its own runtime's factor (normalised conformal,
Lei et al. 2018). Conversely a runtime measured by k >= 9 sources (the smallest k for which k source
draws hold a 90% conformal quantile, ceil((k + 1) * 0.9) <= k) is its own Mondrian cell at level 0:
its source-weighted table alone, not the floor under pooled tables fitted mostly by other runtimes
(TensorFlow's 20 DeepLearningExamples tables, 1,445 rows, were covered 95.8% under the pooled width).
The "new" level (a runtime without fitted efficiencies) weighs its residuals by source like the
runtime tables: its unit of novelty is a runtime's source. Leave-one-source-out, Newton refit, same
residuals (a pure function of them: re-evaluated without refitting): overall coverage 92.1% -> 90.7%,
median interval high/low ratio 2.82 -> 2.16; FasterTransformer torch op 75.6% -> 81.3%, TensorFlow
95.8% -> 90.1%; the source scale alone gave 92.3% overall (wider everywhere it applies).

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


SOURCE_WEIGHT_EXPONENT = 0.5  # a residual's weight: (rows of its source)^-this (module docstring)


def source_weighted_quantile(abs_log_residuals: np.ndarray, sources: np.ndarray, level: float) -> float:
    """Conformal quantile with each residual weighted (rows of its source)^-SOURCE_WEIGHT_EXPONENT.

    The weighted analogue of `conformal_quantile`: the smallest |residual| whose normalised cumulative
    weight reaches level * (n_eff + 1) / n_eff, with n_eff = 1 / sum(w^2) the effective number of
    residuals (Kish); inf when that exceeds 1. With one row per source (or equal-sized sources) it is
    exactly `conformal_quantile`."""
    r = np.asarray(abs_log_residuals, dtype=float)
    s = np.asarray(sources).astype(str)
    keep = np.isfinite(r)
    r, s = r[keep], s[keep]
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    if len(r) == 0:
        return math.inf
    _, inv = np.unique(s, return_inverse=True)
    w = np.bincount(inv)[inv].astype(float) ** -SOURCE_WEIGHT_EXPONENT
    w /= w.sum()
    n_eff = 1.0 / float(np.sum(w ** 2))
    target = level * (n_eff + 1.0) / n_eff
    if target > 1.0 + 1e-12:
        return math.inf
    order = np.argsort(r, kind="stable")
    k = min(int(np.searchsorted(np.cumsum(w[order]), target - 1e-12)), len(r) - 1)
    return float(r[order][k])


def quantile_table(abs_log_residuals: np.ndarray, levels: Iterable[float] = LEVELS,
                   sources: np.ndarray | None = None) -> dict[str, float]:
    """{"0.9": q, ...}: the `intervals.log_abs_residual_quantiles` block of calibration.json; with
    `sources` (one label per residual) the quantiles are source-weighted (`source_weighted_quantile`).

    Levels the data cannot support (too few rows) are left out rather than written as infinity.
    Quantiles are made non-decreasing in the level (they are by construction; this guards ties).
    """
    out: dict[str, float] = {}
    prev = 0.0
    for lv in sorted(levels):
        q = (conformal_quantile(abs_log_residuals, lv) if sources is None
             else source_weighted_quantile(abs_log_residuals, sources, lv))
        if math.isfinite(q):
            prev = max(prev, q)
            out[str(lv)] = round(prev, 6)
    return out


def half_width(table: Mapping[str, float], confidence: float | np.ndarray) -> np.ndarray:
    """Log half-width at any confidence, interpolated between the tabulated levels."""
    levels, widths = table_arrays(table)
    return np.interp(np.asarray(confidence, dtype=float), levels, widths)


def table_arrays(table: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(confidence levels ascending, log half-widths at them) of a quantile table."""
    levels = np.array(sorted(float(k) for k in table))
    widths = np.array([float(table[k]) for k in sorted(table, key=float)])
    return levels, widths


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


MIN_ROWS_PER_GROUP = 200  # held-out rows a task/metric needs for its own quantiles
MIN_ROWS_PER_NOVELTY_CELL = 60  # held-out rows a novelty level (or task/metric x level) needs
MIN_SOURCES_OWN_CELL = 9  # smallest k with ceil((k + 1) * 0.9) <= k: a source-level 90% quantile exists
NEW_RUNTIME_LEVEL = 3  # novelty.py's "new": the runtime's efficiencies are not fitted
MIN_ROWS_PER_RUNTIME = 20  # held-out rows a runtime needs for its own quantiles (= calibration.MIN_ROWS_PER_SCOPE)


def _cell(group: str, level: int) -> str:
    return f"{group}|{level}"


def source_scale(n_sources: int | float | None) -> float:
    """Width multiplier of a runtime measured by `n_sources` distinct corpus sources: sqrt(1 + 1/k),
    with k = max(n_sources, 1); 1.0 when the count is unknown (None or negative).

    The runtime's efficiencies are in effect a mean over its k sources, so a new source sees that
    estimate's error on top of its own shift: variance sigma^2 (1 + 1/k), the factor of the classic
    prediction interval for one more draw (module docstring: "Thin runtimes")."""
    if n_sources is None or n_sources < 0:
        return 1.0
    return math.sqrt(1.0 + 1.0 / max(float(n_sources), 1.0))


def interval_block(abs_log_residuals: np.ndarray, groups: np.ndarray, novelty: np.ndarray | None = None,
                   runtimes: np.ndarray | None = None, sources: np.ndarray | None = None,
                   scales: np.ndarray | None = None, runtime_sources: Mapping[str, int] | None = None) -> dict:
    """Quantile tables from held-out |log residuals|: pooled, per task/metric group, per novelty level,
    per (group, level) cell and per runtime, each only where enough rows support it (module docstring).

    `sources` (each residual's source) makes the runtime tables and the "new" level's tables
    source-weighted. With `scales` (each residual's `source_scale` when it was held out) and
    `runtime_sources` (runtime -> distinct sources of the rows a new point is predicted from) the
    task/metric and novelty tables hold normalised scores |r| / scale, and `block_tables` multiplies a
    point's width back by its runtime's scale."""
    raw = np.asarray(abs_log_residuals, dtype=float)
    r = raw if scales is None else raw / np.asarray(scales, dtype=float)
    g = np.asarray(groups).astype(str)
    src = None if sources is None else np.asarray(sources).astype(str)
    block = {
        "log_abs_residual_quantiles": quantile_table(r),
        "by_task_metric": {k: quantile_table(r[g == k]) for k in sorted(set(g)) if (g == k).sum() >= MIN_ROWS_PER_GROUP},
    }
    if novelty is not None:
        block.update(_novelty_tables(r, g, np.asarray(novelty, dtype=int), src))
    if runtimes is not None:
        rt = np.asarray(runtimes).astype(str)
        block["by_runtime"] = {k: quantile_table(raw[rt == k], sources=None if src is None else src[rt == k])
                               for k in sorted(set(rt)) if (rt == k).sum() >= MIN_ROWS_PER_RUNTIME}
    if scales is not None and runtime_sources is not None:
        block["runtime_sources"] = {str(k): int(v) for k, v in sorted(runtime_sources.items())}
    return block


def _novelty_tables(r: np.ndarray, g: np.ndarray, lv: np.ndarray, src: np.ndarray | None) -> dict:
    """`by_novelty` and `by_task_metric_novelty` of `interval_block`; the "new" level's tables weigh
    residuals by source (a new runtime's error is one more draw of a source, as for runtime tables)."""
    def table(sel: np.ndarray, level: int) -> dict[str, float]:
        weighted = src is not None and level >= NEW_RUNTIME_LEVEL
        return quantile_table(r[sel], sources=src[sel] if weighted else None)

    by_level = {str(v): table(lv == v, v) for v in sorted(set(lv.tolist()))
                if (lv == v).sum() >= MIN_ROWS_PER_NOVELTY_CELL}
    cells = {}
    for k in sorted(set(g)):
        for v in sorted(set(lv[g == k].tolist())):
            sel = (g == k) & (lv == v)
            if sel.sum() >= MIN_ROWS_PER_NOVELTY_CELL:
                cells[_cell(k, v)] = table(sel, v)
    return {"by_novelty": by_level, "by_task_metric_novelty": cells}


def _table_for(block: Mapping, group: str | None, level: int | None) -> Mapping[str, float]:
    """Most specific table: (group, level) cell, else the level, else the group, else pooled."""
    pooled = block.get("log_abs_residual_quantiles") or {}
    if level is not None:
        t = (block.get("by_task_metric_novelty") or {}).get(_cell(group, level)) if group else None
        t = t or (block.get("by_novelty") or {}).get(str(level))
        if t:
            return t
    return ((block.get("by_task_metric") or {}).get(group) if group else None) or pooled


def block_half_width(block: Mapping, confidence: float | np.ndarray, group: str | None = None,
                     level: int | None = None, runtime: str | None = None) -> np.ndarray:
    """Log half-width at `confidence` for a task/metric group, novelty level and runtime: the widest of
    the tables of this level and every lower one (width never shrinks as novelty grows) and of the
    runtime's own table where it has one."""
    return tables_half_width(block_tables(block, group, level, runtime), confidence)


def block_tables(block: Mapping, group: str | None = None, level: int | None = None,
                 runtime: str | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The quantile tables (`table_arrays`) whose widest value is a point's width (see
    `block_half_width`): a pure function of its arguments, which callers may memoise.

    A runtime measured by at least MIN_SOURCES_OWN_CELL sources is its own Mondrian cell at level 0
    (its table alone); otherwise the level tables, scaled by the runtime's `source_scale`, with the
    runtime's table as a floor (module docstring: "Thin runtimes")."""
    counts = block.get("runtime_sources")
    n_sources = None if runtime is None or counts is None else int(counts.get(runtime, 0))
    runtime_table = (block.get("by_runtime") or {}).get(runtime) if runtime is not None else None
    if runtime_table and not level and (n_sources or 0) >= MIN_SOURCES_OWN_CELL:
        return [table_arrays(runtime_table)]
    scale = source_scale(n_sources)
    levels = [None] if level is None else range(int(level) + 1)
    tables = [table_arrays(t) for t in (_table_for(block, group, lv) for lv in levels) if t]
    scaled = [(lv, widths * scale) for lv, widths in tables]
    return scaled + ([table_arrays(runtime_table)] if runtime_table else [])


def tables_half_width(tables: list[tuple[np.ndarray, np.ndarray]], confidence: float | np.ndarray) -> np.ndarray:
    """Log half-width at `confidence`: the widest of `tables` (`block_tables`) interpolated there."""
    widths = [np.interp(np.asarray(confidence, dtype=float), levels, w) for levels, w in tables]
    if not widths:
        raise ValueError("calibration intervals block has no quantile table")
    return np.maximum.reduce([np.asarray(w, dtype=float) for w in widths])
