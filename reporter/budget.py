"""Budget status: the forecast monthly cost of the recommended configuration against the spec's
budgets (``budget`` of a workload, and ``budget`` at the top level for all workloads together).

The recommended configuration is the decision's pick (the ``cheapest`` recommendation that meets
every SLO at the spec's confidence). Its forecast, interval and probability of exceeding the budget
come from the Monte Carlo samples of reporter/montecarlo.py (``cost_samples``: the same draws the
report's intervals come from); no other uncertainty model is used. The total sums the workloads'
samples draw by draw (sample j of every workload is the same simulated month).

A threshold of ``alert_at`` counts as crossed when the point forecast reaches that fraction of the
budget; scheduled runs alert on crossed thresholds (reporter/delivery/alerts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from phantom_report.reporter import fmt, montecarlo
from phantom_report.reporter.fmt import figure as num
from phantom_report.reporter.spec import Budget, RunSpec

TOTAL = "total"


@dataclass(frozen=True)
class BudgetStatus:
    """One budget against its forecast. ``scope`` is ``workload`` or ``total``; forecast figures are
    None when a workload in scope has no configuration that meets the SLOs."""

    scope: str
    name: str  # the workload's label, or "total"
    monthly_usd: float
    alert_at: tuple[float, ...]
    forecast_usd: float | None
    forecast_low_usd: float | None
    forecast_high_usd: float | None
    probability_over: float | None  # share of simulated months whose cost exceeds the budget
    crossed: tuple[float, ...]  # thresholds the point forecast has reached

    @property
    def used_fraction(self) -> float | None:
        """Forecast ÷ budget (1.0 = exactly the budget), or None without a forecast."""
        return None if self.forecast_usd is None else self.forecast_usd / self.monthly_usd

    @property
    def state(self) -> str:
        """within | warning (a threshold below 100% reached) | over (forecast above the budget) | unknown."""
        if self.forecast_usd is None:
            return "unknown"
        if self.forecast_usd > self.monthly_usd:
            return "over"
        return "warning" if self.crossed else "within"


def budget_statuses(spec: RunSpec, rows: pd.DataFrame, recs, draws: montecarlo.Draws) -> list[BudgetStatus]:
    """Every budget of the spec (workloads in spec order, then the total), against the forecast of
    the recommended configurations."""
    picked = {r.workload: r.row for r in recs if r.kind == "cheapest"}
    samples: dict[str, np.ndarray] = {}
    if picked and len(rows):
        wanted = [w.label for w in spec.workloads if w.label in picked]
        sim = montecarlo.cost_samples(rows.loc[[picked[w] for w in wanted]], draws)
        samples = dict(zip(wanted, sim))
    point = {w: float(rows.loc[i, "monthly_cost_usd"]) for w, i in picked.items()}
    out = [_status("workload", w.label, w.budget, point.get(w.label), samples.get(w.label), draws.confidence)
           for w in spec.workloads if w.budget is not None]
    if spec.budget is not None:
        labels = [w.label for w in spec.workloads]
        complete = all(w in samples for w in labels)
        total_point = sum(point[w] for w in labels) if complete else None
        total_samples = np.sum([samples[w] for w in labels], axis=0) if complete else None
        out.append(_status(TOTAL, TOTAL, spec.budget, total_point, total_samples, draws.confidence))
    return out


def _status(scope: str, name: str, budget: Budget, forecast: float | None, samples: np.ndarray | None,
            confidence: float) -> BudgetStatus:
    if forecast is None or samples is None or not np.isfinite(forecast):
        return BudgetStatus(scope, name, budget.monthly_usd, tuple(budget.alert_at), None, None, None, None, ())
    q_lo, q_hi = 0.5 - confidence / 2.0, 0.5 + confidence / 2.0
    finite = samples[np.isfinite(samples)]
    low, high = (float(v) for v in np.quantile(finite, [q_lo, q_hi])) if finite.size else (None, None)
    p_over = float(np.mean(samples > budget.monthly_usd)) if samples.size else None
    crossed = tuple(f for f in budget.alert_at if forecast >= f * budget.monthly_usd)
    return BudgetStatus(scope, name, budget.monthly_usd, tuple(budget.alert_at), forecast, low, high, p_over, crossed)


def budget_view(statuses: list[BudgetStatus], confidence: float) -> dict[str, Any]:
    """The ``budget`` block of the template context and report.json (templates/README.md)."""
    items = []
    for s in statuses:
        used = s.used_fraction
        items.append({
            "scope": s.scope, "name": s.name, "state": s.state,
            "budget": num(s.monthly_usd, fmt.usd, unit="USD/month"),
            "forecast": num(s.forecast_usd, fmt.usd, s.forecast_low_usd, s.forecast_high_usd, "USD/month"),
            "used_pct": num(None if used is None else used * 100, lambda v: fmt.pct(v, 0), unit="%"),
            "probability_over": num(s.probability_over, _chance),
            "alert_at": list(s.alert_at), "crossed": list(s.crossed),
            "text": budget_text(s, confidence),
        })
    return {"confidence_pct": round(confidence * 100), "entries": items}


def budget_text(s: BudgetStatus, confidence: float) -> str:
    """One sentence a finance reader can act on."""
    who = "All workloads" if s.scope == TOTAL else s.name
    if s.forecast_usd is None:
        return (f"{who}: budget {fmt.usd(s.monthly_usd)}/month; no forecast, since no configuration meets the "
                "SLOs" + (" for every workload." if s.scope == TOTAL else "."))
    interval = (f" ({round(confidence * 100)}% interval {fmt.usd(s.forecast_low_usd)}–{fmt.usd(s.forecast_high_usd)})"
                if s.forecast_low_usd is not None else "")
    crossed = (f"; alert threshold{'s' if len(s.crossed) > 1 else ''} "
               f"{', '.join(fmt.pct(f * 100, 0) for f in s.crossed)} reached" if s.crossed else "")
    return (f"{who}: forecast {fmt.usd(s.forecast_usd)}/month{interval} is {fmt.pct(s.used_fraction * 100, 0)} "
            f"of the {fmt.usd(s.monthly_usd)} budget; {_chance(s.probability_over)} chance of "
            f"exceeding it{crossed}.")


def _chance(p: float | None) -> str:
    """A probability as a percentage that never rounds a possible overrun to 0% (or a likely one to 100%)."""
    if p is None:
        return "n/a"
    if 0 < p < 0.005:
        return "<1%"
    if 0.995 <= p < 1:
        return ">99%"
    return fmt.pct(p * 100, 0)


def budget_risks(statuses: list[BudgetStatus]) -> list[str]:
    """Risk lines for budgets the forecast exceeds (or likely exceeds)."""
    return [budget_text_short(s) for s in statuses if s.state == "over"]


def budget_text_short(s: BudgetStatus) -> str:
    """One sentence for an over-budget alert: who, the forecast and the budget (USD/month)."""
    who = "All workloads" if s.scope == TOTAL else s.name
    return (f"{who}: the recommended configuration's forecast {fmt.usd(s.forecast_usd)}/month exceeds the "
            f"{fmt.usd(s.monthly_usd)} budget.")
