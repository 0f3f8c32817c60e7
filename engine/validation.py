"""Cross-validation of the calibrated predictor, accuracy metrics and their breakdowns.

Schemes (`SCHEMES`): leave-one-source-out — the headline figure: a publication never seen, its
software, method and often its GPUs and models with it, which is what a user's own stack is —,
leave-one-GPU-out (a GPU known only from its datasheet) and leave-one-(GPU, model)-group-out (no
measurement of the held-out pair is seen in fitting; the optimistic one). Each fold refits from the *uncalibrated defaults*
(so parameters the fold's data cannot inform never carry values learned from the held-out rows);
the optimiser is warm-started from the full-corpus fit, which only changes where the search starts,
not the optimum it converges to (the fit runs to its tolerance, not to a truncated budget; the
objective is smooth and bounded, and fold optima sit close to the full one). `refit="newton"` stops at the
approximate refit instead (`newton_fold_x`): ~20x faster and somewhat optimistic — on the corpus of
5,468 rows from 99 sources its leave-one-source-out median APE was 11.2% where the exact refit's was
12.0% (mean 19.5% vs 20.5%); per row its predictions were within 0.4% of the exact refit's (median;
2.3% at the 90th percentile), furthest off on folds that remove most of a runtime's rows (TinyChat's
README, a Triton ResNet-50 table: 7-8%; Oracle's MI300X blog: 25%). The regression test uses it and
compares with the baseline recorded by the same method.

Held-out frame columns: the corpus row columns plus `fold` (held-out group label), `predicted`
(metric unit), `log_residual` = log(predicted / value), `ape` = |predicted - value| / value,
`novelty` (engine/novelty.py level against the *other* folds' rows), `half_width_log` (conformal
quantile of the other folds' |log residuals| at `confidence`, Mondrian by task/metric and novelty level:
intervals.interval_block), `low`, `high`, `inside` (value within [low, high]), `extrapolation`
(the row lies outside the other folds' support; `extrapolation_reason` says why).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from phantom_report.engine import calibration as cal
from phantom_report.engine import intervals
from phantom_report.engine.agreement import source_agreement
from phantom_report.engine.novelty import (
    LEVEL_NAMES, POINT_COLUMNS, Support, extrapolation_reasons, fitted_runtime_sources, novelty_levels,
    runtime_source_counts, source_series_of,
)
from phantom_report.engine.params import CalibrationParams

SCHEMES: dict[str, tuple[str, ...]] = {
    "source": ("source",),
    "gpu": ("gpu",),
    "gpu_model": ("gpu", "model"),
}
HEADLINE_SCHEME = "source"  # the accuracy quoted everywhere (README, reports, /v1/accuracy, UI)
SCHEME_TITLES = {
    "gpu_model": "leave-one-(GPU, model)-out",
    "gpu": "leave-one-GPU-out",
    "source": "leave-one-source-out",
}
BREAKDOWNS = ("gpu", "model", "runtime", "task", "metric", "task_metric", "novelty", "source")
NEWTON_STEPS = 3  # Gauss-Newton steps per approximate fold refit
NEWTON_HALVINGS = 6  # a first step that does not lower the fold's objective is halved up to this often
FoldProgress = Callable[[str, int, int], object]  # (scheme, folds done, folds in all)
METRIC_KEYS = ("n", "median_ape", "mape", "within_10pct", "within_25pct", "coverage", "median_log_bias")


@dataclass(frozen=True)
class EnginePredictor:
    """Picklable `PredictFn` over an Engine (fold fits run in worker processes). Point predictions
    only: fits and cross-validation read the predicted metrics, never the engine's intervals
    (cross-validation computes its own from held-out residuals)."""

    engine: object

    def __call__(self, points: pd.DataFrame, params: CalibrationParams) -> pd.DataFrame:
        return self.engine.predict_grid(points, params=params, intervals=False)


@dataclass(frozen=True)
class CvResult:
    """One cross-validation run: the scheme and refit method, the held-out predictions (and rows that
    could not be priced), fold and parameter counts, the time taken (seconds), and the scores."""

    scheme: str
    refit: str  # "full" (every fold refitted) or "newton" (one-step approximate refit)
    confidence: float
    held_out: pd.DataFrame  # columns: see module docstring
    unpredictable: pd.DataFrame  # rows the predictor cannot price, with `reason`
    n_folds: int
    n_params_max: int  # most parameters any fold fitted
    seconds: float
    summary: dict = field(default_factory=dict)
    breakdowns: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    # leave-one-source-out only: the held-out rows other sources also measured, scored by what
    # those sources measured and by the model (engine/agreement.py)
    agreement: Mapping[str, dict] = field(default_factory=dict)


def group_labels(rows: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """One label per row joining the values of columns `by` with " / " (the CV fold groups)."""
    return rows[list(by)].astype(str).agg(" / ".join, axis=1).to_numpy()


def _fold(args) -> pd.DataFrame:
    rows, label_mask, predict, warm = args
    train, test = rows[~label_mask], rows[label_mask]
    fitted = cal.fit(train, predict, CalibrationParams(), x0_log=warm)
    pred = cal.predict_rows(test, predict, fitted.params)
    return pred.assign(n_params=fitted.n_params)


def full_jacobian(full: cal.FitResult, predict: cal.PredictFn) -> tuple[np.ndarray, np.ndarray]:
    """Residuals and their forward-difference Jacobian (log-parameters) at the full fit, as a dense array.

    Parameters that move disjoint residuals (`cal.jacobian_pattern`: an architecture's, a runtime's
    values) are stepped together, one residual evaluation per group instead of one per parameter
    (98 -> ~30 evaluations of the corpus); each column is read on its own rows, where the others in its
    group cannot reach, so the entries are those of stepping it alone."""
    fun = cal.residual_function(full.rows, predict, CalibrationParams(), full.specs)
    x = full.x_log
    r0 = fun(x)
    hi = np.log([s.upper for s in full.specs])
    step = np.where(x + 1e-4 <= hi, 1e-4, -1e-4)  # step inward at an upper bound
    pattern = cal.jacobian_pattern(full.rows, full.specs).tocsc()
    reach = [np.unique(pattern[:, j].indices) for j in range(len(x))]
    jac = np.zeros((len(r0), len(x)))
    for group in _disjoint_groups(reach):
        xg = x.copy()
        xg[group] += step[group]
        diff = fun(xg) - r0
        for j in group:
            jac[reach[j], j] = diff[reach[j]] / step[j]
    return r0, jac


def _disjoint_groups(reach: list[np.ndarray]) -> list[list[int]]:
    """Columns greedily grouped so that no two in a group reach a common row."""
    groups: list[tuple[list[int], set]] = []
    for j, rows in enumerate(reach):
        rows_j = set(rows.tolist())
        for members, taken in groups:
            if taken.isdisjoint(rows_j):
                members.append(j)
                taken |= rows_j
                break
        else:
            groups.append(([j], rows_j))
    return [members for members, _ in groups]


# How close to a bound (log units) a parameter pushed against it by the fit's gradient counts as held
# there: the full fit stops ~1e-4 short of a bound it presses on (scipy's trust region keeps strictly
# inside), so an exact-bound test reads such a parameter as free.
ACTIVE_BOUND_LOG = 1e-2


@dataclass(frozen=True)
class NewtonState:
    """What approximate fold refits need: the full fit, its residuals and Jacobian,
    the objective's gradient at the full fit (`grad`) and which parameters a fold may move (`moving`)."""

    full: cal.FitResult
    r0: np.ndarray
    jac: np.ndarray
    grad: np.ndarray
    moving: np.ndarray

    @classmethod
    def of(cls, full: cal.FitResult, predict: cal.PredictFn) -> "NewtonState":
        """The state for approximate fold refits from the full fit: its residuals and Jacobian, and the
        parameters held at a bound by the KKT condition (within ACTIVE_BOUND_LOG of it with the
        gradient pointing out of the box) kept out of the steps."""
        r0, jac = full_jacobian(full, predict)
        grad = jac.T @ (cal.loss_weights(r0) * r0)
        x = full.x_log
        lo = np.log([s.lower for s in full.specs])
        hi = np.log([s.upper for s in full.specs])
        pressed = ((x > hi - ACTIVE_BOUND_LOG) & (grad < 0)) | ((x < lo + ACTIVE_BOUND_LOG) & (grad > 0))
        moving = (x > lo + 1e-6) & (x < hi - 1e-6) & ~pressed
        return cls(full, r0, jac, grad, moving)


def newton_fold_x(state: NewtonState, held_out: np.ndarray, fun, steps: int = NEWTON_STEPS) -> np.ndarray:
    """Log-parameters after dropping the fitted rows flagged in `held_out`: a few Gauss-Newton steps.

    Each step solves (J' W J) dx = -(J' W r - g0) over the fold's training rows and the priors, with W
    the soft-L1 IRLS weights at the current point, J the Jacobian at the full optimum, reused (the chord
    method), and g0 the full objective's gradient at the full fit: the classic approximate-leave-out
    estimate, refined by re-evaluating residuals. Subtracting g0 makes a fold move by what dropping its
    rows changes, not by how far the full fit stopped short of its optimum along flat directions (the fit
    ends at a tolerance; without it, dropping *no* row moved some overheads by 50x). Parameters held at
    a bound at the full fit stay there (`NewtonState.moving`): stepping them and clipping afterwards let
    the solve compensate a move that never happened with large moves of the others.
    A step is kept only where it lowers the fold's (tilted) objective: where the fold removes most
    rows of a parameter, the full fit's Jacobian no longer describes it, and an undamped step
    overshot by orders of magnitude (an overhead 0.03 ms -> its 50 ms bound). The first step is
    halved until it does; a later one that does not is where the chord steps stop gaining (a
    quarter of the corpus' folds), so the fold stops there rather than paying for halvings.
    A parameter the fold's training rows no longer inform (`cal.parameter_specs` of them lacks it:
    the held-out source was its only one) is NaN: a full refit leaves it out and its default applies,
    where a step would move it by the full fit's gradient and the prior alone.
    """
    full, n = state.full, len(state.full.rows)
    x = full.x_log.copy()
    if not held_out.any():
        return x
    lo = np.log([s.lower for s in full.specs])
    hi = np.log([s.upper for s in full.specs])
    informed = {s.name for s in cal.parameter_specs(full.rows[~held_out])}
    fitted = np.array([s.name in informed for s in full.specs])
    free = state.moving & fitted
    keep = np.concatenate([~held_out, np.ones(len(state.r0) - n, dtype=bool)])  # priors always kept
    jf = state.jac[:, free]
    g0 = state.grad[free]
    x0 = x[free].copy()

    def objective(r: np.ndarray, x_free: np.ndarray) -> float:
        """The fold's soft-L1 cost (as least_squares counts it) less the full fit's gradient tilt."""
        return cal.soft_l1_cost(r[keep]) - float(g0 @ (x_free - x0))

    r = state.r0
    now = objective(r, x[free])
    for step in range(steps):
        w = cal.loss_weights(r) * keep
        jw = jf * w[:, None]
        dx = np.linalg.lstsq(jf.T @ jw, -(jw.T @ r - g0), rcond=None)[0]
        for _ in range(NEWTON_HALVINGS + 1 if step == 0 else 1):
            cand = x.copy()
            cand[free] = np.clip(x[free] + dx, lo[free], hi[free])
            r_cand = fun(cand)
            cost = objective(r_cand, cand[free])
            if cost <= now:
                break
            dx = dx / 2.0
        else:
            break  # no descent along the step: the fold stays where it is
        x, r, now = cand, r_cand, cost
    x[~fitted] = np.nan
    return x


def newton_folds(rows: pd.DataFrame, labels: np.ndarray, predict: cal.PredictFn, state: NewtonState) -> pd.DataFrame:
    """Approximate leave-group-out refits (see `newton_fold_x`), predicting each held-out group."""
    full = state.full
    fun = cal.residual_function(full.rows, predict, CalibrationParams(), full.specs)
    fitted_labels = labels[rows.index.get_indexer(full.rows.index)]
    parts = []
    for lab in dict.fromkeys(labels):
        x = newton_fold_x(state, fitted_labels == lab, fun)
        fitted = ~np.isnan(x)
        params = cal.apply_values(CalibrationParams(), [s for s, f in zip(full.specs, fitted) if f], np.exp(x[fitted]))
        parts.append(cal.predict_rows(rows[labels == lab], predict, params).assign(n_params=len(full.specs)))
    return pd.concat(parts)


def cross_validate(
    rows: pd.DataFrame,
    predict: cal.PredictFn,
    scheme: str = "source",
    confidence: float = 0.9,
    warm_start: Mapping[str, float] | None = None,
    n_jobs: int | None = None,
    refit: str = "full",
    newton: NewtonState | None = None,
    progress: FoldProgress | None = None,
) -> CvResult:
    """Leave-one-group-out CV on corpus rows (with `arch`); see module docstring.

    refit="full": every fold is a complete least-squares fit (warm-started, run to tolerance);
    refit="newton": a few Gauss-Newton steps per fold from the full fit (`newton`), ~20x faster,
    used by the regression test. progress: told (scheme, folds done, folds in all) as full refits
    finish (minutes each on a small machine; the CLI shows it).
    """
    started = time.perf_counter()
    by = SCHEMES[scheme]
    labels = group_labels(rows, by)
    uniq = list(dict.fromkeys(labels))
    if refit == "newton":
        if newton is None:
            raise ValueError("refit='newton' needs the full fit and its Jacobian")
        pred = newton_folds(rows, labels, predict, newton).loc[rows.index]
    else:
        tasks = [(rows, labels == lab, predict, warm_start) for lab in uniq]
        def done(k: int) -> None:
            if progress is not None:
                progress(scheme, k, len(tasks))

        pred = pd.concat(_full_folds(tasks, n_jobs, done)).loc[rows.index]
    frame = rows.assign(fold=labels, predicted=pred["predicted"], log_residual=pred["log_residual"],
                        reason=pred["reason"])
    ok = np.isfinite(frame["log_residual"].to_numpy())
    held, unpred = frame[ok].copy(), frame[~ok].copy()
    held = add_intervals_cv(held, confidence)
    res = CvResult(scheme=scheme, refit=refit, confidence=confidence, held_out=held, unpredictable=unpred,
                   n_folds=len(uniq), n_params_max=int(pred["n_params"].max()) if len(pred) else 0,
                   seconds=time.perf_counter() - started)
    return with_scores(res)


def _full_folds(tasks: list, n_jobs: int | None, done: Callable[[int], object]) -> list[pd.DataFrame]:
    """Each fold's predictions by a full refit (`_fold`), in task order, on `n_jobs` worker processes
    (default: one per core); `done(k)` after each of the k folds finished so far."""
    n_jobs = n_jobs or min(len(tasks), os.cpu_count() or 1)
    if n_jobs <= 1 or len(tasks) <= 1:
        parts = []
        for task in tasks:
            parts.append(_fold(task))
            done(len(parts))
        return parts
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        futures = [pool.submit(_fold, task) for task in tasks]
        for k, _ in enumerate(as_completed(futures), start=1):
            done(k)
        return [f.result() for f in futures]


def interval_groups(frame: pd.DataFrame) -> np.ndarray:
    """Each row's interval group "task/metric" (the keys of `intervals.by_task_metric`)."""
    return (frame["task"].astype(str) + "/" + frame["metric"].astype(str)).to_numpy()


def held_out_support(held: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(novelty level, extrapolation reason) of each held-out row against the *other* folds' rows
    (level 0 / "" everywhere when the rows lack `arch` and `family`)."""
    novelty = np.zeros(len(held), dtype=int)
    reason = np.full(len(held), "", dtype=object)
    if not {"arch", "family"} <= set(held.columns):
        return novelty, reason
    folds = held["fold"].to_numpy()
    # only the columns support is judged on: each fold copies the other folds' rows (the full frame's
    # thirty columns made these copies most of the cross-validation's interval step)
    narrow = held[[c for c in (*POINT_COLUMNS, "source") if c in held]]
    for lab in np.unique(folds):
        mine = folds == lab
        support = Support.of(narrow[~mine])
        novelty[mine] = novelty_levels(support, narrow[mine])
        reason[mine] = extrapolation_reasons(support, narrow[mine])
    return novelty, reason


def held_out_source_scales(held: pd.DataFrame) -> tuple[np.ndarray | None, dict]:
    """(each held-out row's `intervals.source_scale`, fold label -> runtime -> distinct sources), both
    counted on the *other* folds' rows, as a new source's point is against the corpus; (None, {})
    without a `source` column."""
    if "source" not in held:
        return None, {}
    folds = held["fold"].to_numpy()
    scales = np.ones(len(held))
    per_fold = {}
    narrow = held[["runtime", "source"]]  # what a runtime's source count reads (see held_out_support)
    for lab in np.unique(folds):
        mine = folds == lab
        per_fold[lab] = fitted_runtime_sources(narrow[~mine])
        counts = runtime_source_counts(Support(runtime_sources=per_fold[lab]), narrow[mine])
        scales[mine] = [intervals.source_scale(k) for k in counts]
    return scales, per_fold


def held_sources(held: pd.DataFrame) -> np.ndarray | None:
    """Each held-out row's source series (novelty.source_series: the runtime tables weigh residuals by
    it), None without the column."""
    return source_series_of(held["source"]).astype(str).to_numpy() if "source" in held else None


def add_intervals_cv(held: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Intervals for held-out rows from the *other* folds' residuals (honest coverage), built the way
    the shipped intervals are (`intervals.interval_block`: Mondrian by task/metric and by novelty level,
    each row's level taken against the rows outside its own fold)."""
    absr = np.abs(held["log_residual"].to_numpy())
    folds = held["fold"].to_numpy()
    groups = interval_groups(held)
    novelty, reason = held_out_support(held)
    runtimes = held["runtime"].astype(str).to_numpy()
    sources = held_sources(held)
    scales, fold_sources = held_out_source_scales(held)
    hw = np.empty(len(held))
    for lab in np.unique(folds):
        mine = folds == lab
        block = intervals.interval_block(absr[~mine], groups[~mine], novelty[~mine], runtimes[~mine],
                                         None if sources is None else sources[~mine],
                                         None if scales is None else scales[~mine], fold_sources.get(lab))
        for g in np.unique(groups[mine]):
            for lv in np.unique(novelty[mine & (groups == g)]):
                for rt in np.unique(runtimes[mine & (groups == g) & (novelty == lv)]):
                    sel = mine & (groups == g) & (novelty == lv) & (runtimes == rt)
                    hw[sel] = intervals.block_half_width(block, confidence, g, int(lv), str(rt))
    return _finish(held.assign(novelty=novelty, extrapolation=reason != "", extrapolation_reason=reason), hw)


def add_intervals_fixed(scored: pd.DataFrame, params: CalibrationParams, confidence: float) -> pd.DataFrame:
    """Intervals from the shipped calibration (scoring a user's data: nothing is refitted)."""
    groups = interval_groups(scored)
    runtimes = scored["runtime"].astype(str).to_numpy()
    support = Support.from_dict((params.intervals or {}).get("support"))
    if support is not None and {"arch", "family"} <= set(scored.columns):
        novelty, reason = novelty_levels(support, scored), extrapolation_reasons(support, scored)
    else:
        novelty, reason = np.full(len(scored), -1), np.full(len(scored), "", dtype=object)
    hw = np.empty(len(scored))
    for g in np.unique(groups):
        for lv in np.unique(novelty[groups == g]):
            for rt in np.unique(runtimes[(groups == g) & (novelty == lv)]):
                sel = (groups == g) & (novelty == lv) & (runtimes == rt)
                hw[sel] = float(params.log_half_width(confidence, g, None if lv < 0 else int(lv), str(rt)))
    return _finish(scored.assign(novelty=novelty, extrapolation=reason != "", extrapolation_reason=reason), hw)


def _finish(frame: pd.DataFrame, hw: np.ndarray) -> pd.DataFrame:
    pred = frame["predicted"].to_numpy(dtype=float)
    value = frame["value"].to_numpy(dtype=float)
    low, high = pred * np.exp(-hw), pred * np.exp(hw)
    return frame.assign(ape=np.abs(pred - value) / value, half_width_log=hw, low=low, high=high,
                        inside=(value >= low) & (value <= high))


def score(frame: pd.DataFrame) -> dict:
    """n, median/mean APE, share within 10%/25%, interval coverage, median signed log bias."""
    if len(frame) == 0:
        return {k: (0 if k == "n" else None) for k in METRIC_KEYS}
    ape = frame["ape"].to_numpy(dtype=float)
    return {
        "n": int(len(frame)),
        "median_ape": float(np.median(ape)),
        "mape": float(np.mean(ape)),
        "within_10pct": float(np.mean(ape <= 0.10)),
        "within_25pct": float(np.mean(ape <= 0.25)),
        "coverage": float(np.mean(frame["inside"].to_numpy(dtype=bool))),
        # > 0: predictions too high (throughput over-estimated / latency over-estimated)
        "median_log_bias": float(np.median(frame["log_residual"].to_numpy(dtype=float))),
    }


def breakdown(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """score() per value of `column`, worst median APE first."""
    recs = [{column: key, **score(part)} for key, part in frame.groupby(column, sort=True)]
    out = pd.DataFrame(recs, columns=[column, *METRIC_KEYS])
    return out.sort_values("median_ape", ascending=False, kind="stable").reset_index(drop=True)


def with_scores(res: CvResult) -> CvResult:
    """`res` with its held-out rows labelled by task/metric, the summary scores and every breakdown
    filled in, and for leave-one-source-out the sources' agreement (engine/agreement.py)."""
    from dataclasses import replace

    held = with_task_metric(res.held_out)
    return replace(res, held_out=held, summary=score(held), breakdowns={c: breakdown(held, c) for c in BREAKDOWNS},
                   agreement=source_agreement(held) if res.scheme == "source" else {})


def with_task_metric(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame plus `task_metric` ("task/metric", the interval group) for breakdowns."""
    return frame.assign(task_metric=interval_groups(frame)) if len(frame) else frame.assign(task_metric="")


def score_user_rows(rows: pd.DataFrame, predict: cal.PredictFn, params: CalibrationParams,
                    confidence: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score measurements with the given (shipped) parameters: (scored rows, unpredictable rows)."""
    pred = cal.predict_rows(rows, predict, params)
    frame = rows.assign(predicted=pred["predicted"], log_residual=pred["log_residual"], reason=pred["reason"])
    ok = np.isfinite(frame["log_residual"].to_numpy())
    return with_task_metric(add_intervals_fixed(frame[ok].copy(), params, confidence)), frame[~ok].copy()


def fit_and_validate(
    rows: pd.DataFrame,
    predict: cal.PredictFn,
    schemes: Sequence[str] = (HEADLINE_SCHEME,),
    confidence: float = 0.9,
    n_jobs: int | None = None,
    refit: str = "full",
    progress: FoldProgress | None = None,
) -> tuple[cal.FitResult, list[CvResult]]:
    """Full-corpus fit, then each CV scheme warm-started from it (rows need the `arch` column);
    `progress` as in `cross_validate`."""
    if refit not in ("full", "newton"):
        raise ValueError(f"refit must be 'full' or 'newton', got {refit!r}")
    full = cal.fit(rows, predict, CalibrationParams())
    warm = {s.name: float(x) for s, x in zip(full.specs, full.x_log)}
    newton = NewtonState.of(full, predict) if refit == "newton" else None
    return full, [cross_validate(rows, predict, s, confidence, warm, n_jobs, refit, newton, progress) for s in schemes]


def shipped_intervals(cv: CvResult, rows: pd.DataFrame) -> dict:
    """The `intervals` block of calibration.json: Mondrian tables (task/metric x novelty level) from the
    held-out residuals of `cv` (leave-one-source-out in `calibrate`), each row's novelty level taken
    against the other folds' rows as in `add_intervals_cv`; plus the support summary of the fitted
    corpus `rows` that predictions score their own novelty and extrapolation against."""
    held = cv.held_out
    absr = np.abs(held["log_residual"].to_numpy(dtype=float))
    support = Support.of(rows)
    scales, _ = held_out_source_scales(held)
    block = intervals.interval_block(absr, interval_groups(held), held["novelty"].to_numpy(dtype=int),
                                     held["runtime"].astype(str).to_numpy(), held_sources(held),
                                     scales, support.runtime_sources if scales is not None else None)
    return {
        "method": (f"split-conformal on {SCHEME_TITLES[cv.scheme]} cross-validation |log(predicted/measured)|, "
                   "Mondrian by task/metric and novelty level (engine/novelty.py) and by runtime (source-weighted: "
                   "intervals.source_weighted_quantile); a point's width is the widest of its level's, every lower "
                   "level's and its runtime's; level tables hold |r| / sqrt(1 + 1/k), k = distinct sources of the "
                   "row's fitted runtime, and a point's width is scaled back by its runtime's factor "
                   "(intervals.source_scale); at level 0 a runtime measured by 9+ sources takes its own table "
                   "alone; the 'new' level's tables are source-weighted"),
        "scheme": cv.scheme,
        "n_residuals": int(len(absr)),
        **block,
        "novelty_levels": {str(k): v for k, v in LEVEL_NAMES.items()},
        "support": support.to_dict(),
    }
