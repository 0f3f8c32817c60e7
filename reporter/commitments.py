"""Commit or not: 1-year and 3-year commitment prices of the recommended configuration against
on-demand and spot at the demand's utilisation, with the break-even utilisation.

Definitions (also in templates/README.md and docs/INTERFACES.md):

* **utilisation** = the share of the term's hours the on-demand fleet is paid for: on-demand
  monthly cost ÷ (instances × on-demand $/instance-hour × 730 h). Inference fleets run all month
  (no autoscaling, as the economics model them), so 100%; a training fleet runs for its run hours
  × runs per month.
* **break-even utilisation** = committed $/h ÷ on-demand $/h: the utilisation above which a
  commitment paid for every hour of its term costs less than on-demand for the same instances.
* **steady demand**: utilisation ≥ 80%, peak-to-average ≤ 1.5 and demand uncertainty ≤ 20%
  (the spec's ``demand`` block). Only then does the decision say "commit" or "do not commit": a
  commitment is paid for years, so it is advice only for a fleet that is busy and whose size is
  known.

Prices come only from the quote of the recommended configuration (``reserved_usd_per_hour``); a
term the quote does not offer is shown as not offered, never estimated.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from phantom_report.pricing.clouds import default_clouds
from phantom_report.reporter import fmt
from phantom_report.reporter.economics import HOURS_PER_MONTH, term_months
from phantom_report.vocab import RESERVED_TERMS

# a fleet idle a fifth of its hours or more is better rented by the hour than committed for years
STEADY_MIN_UTILISATION = 0.8
# a peak this far above the average would be served by scaling on-demand capacity, not by a
# commitment sized for the peak
STEADY_MAX_PEAK_TO_AVERAGE = 1.5
# demand known to within ±20%: a fleet sized today is still about right over the term
STEADY_MAX_UNCERTAINTY_PCT = 20.0
# what each provider's reserved price in the quotes is (its module in pricing/clouds says)
COMMITMENT_KIND: dict[str, str] = {c.name: c.commitment_kind for c in default_clouds() if c.commitment_kind}


def utilisation(on_demand: pd.Series) -> float:
    """Share of the month's hours the on-demand fleet of this row is paid for (≤ 1)."""
    full = float(on_demand["instances"]) * float(on_demand["usd_per_instance_hour"]) * HOURS_PER_MONTH
    return min(1.0, float(on_demand["monthly_cost_usd"]) / full) if full > 0 else float("nan")


def steadiness(demand, util: float) -> tuple[bool, str]:
    """(steady, why) from the spec's demand block and the pick's utilisation."""
    misses = []
    if not util >= STEADY_MIN_UTILISATION:
        misses.append(f"the fleet is busy {fmt.pct(util * 100, 0)} of the hours (< {STEADY_MIN_UTILISATION:.0%})")
    if demand.peak_to_average > STEADY_MAX_PEAK_TO_AVERAGE:
        misses.append(f"peak is {demand.peak_to_average:g}x the average (> {STEADY_MAX_PEAK_TO_AVERAGE:g}x)")
    if demand.uncertainty_pct > STEADY_MAX_UNCERTAINTY_PCT:
        misses.append(f"demand is uncertain by ±{demand.uncertainty_pct:g}% (> ±{STEADY_MAX_UNCERTAINTY_PCT:g}%)")
    if misses:
        return False, "Demand is not steady: " + "; ".join(misses) + "."
    return True, (f"Demand is steady: the fleet is busy {fmt.pct(util * 100, 0)} of the hours, peak "
                  f"{demand.peak_to_average:g}x the average, demand ±{demand.uncertainty_pct:g}%.")


def _share(v: float | None) -> str:
    """A fraction as a whole percentage ('62%')."""
    return fmt.pct(v * 100, 0) if v is not None else "n/a"


def _option(option: str, kind: str, usd_h: float | None, instances: float, monthly: float | None,
            od_monthly: float | None, od_usd_h: float | None, note: str) -> dict[str, Any]:
    """One line of the commitments table."""
    months = term_months(option)
    saving = od_monthly - monthly if monthly is not None and od_monthly is not None else None
    breakeven = usd_h / od_usd_h if months and usd_h is not None and od_usd_h else None
    return {
        "option": option, "kind": kind, "offered": usd_h is not None, "term_months": months,
        "usd_per_instance_hour": fmt.figure(usd_h, fmt.usd), "instances": instances,
        "monthly_cost": fmt.figure(monthly, fmt.usd),
        "cost_over_term": fmt.figure(monthly * months if months and monthly is not None else None, fmt.usd),
        "savings_vs_on_demand": fmt.figure(saving, fmt.usd),
        "savings_vs_on_demand_pct": fmt.figure(saving / od_monthly * 100 if saving is not None and od_monthly else None,
                                         lambda v: fmt.pct(v, 0)),
        "break_even_utilisation": fmt.figure(breakeven, _share),
        "note": note,
    }


def view(workload, rows: pd.DataFrame, pick_row: int, quotes: Sequence) -> dict[str, Any]:
    """The ``commitments`` block of one workload, for its cheapest pick's configuration (same
    GPU point, provider, region and instance type) under every pricing option."""
    pick = rows.loc[pick_row]
    same = rows[(rows["point_id"] == pick["point_id"]) & (rows["quote_id"] == pick["quote_id"])]
    by_opt = {r["option"]: r for _, r in same.iterrows()}
    quote = quotes[int(pick["quote_id"])]
    od = by_opt.get("on-demand")
    where = f"{pick['provider']} {pick['instance_type']} in {pick['region']}"
    out: dict[str, Any] = {
        "configuration": (f"{fmt.num(pick['instances'])}x {pick['instance_type']} ({pick['gpu']} {pick['precision']} "
                          f"batch {int(pick['batch_size'])}), {pick['provider']} {pick['region']}"),
        "provider": pick["provider"], "region": pick["region"], "zone": quote.zone, "instance_type": pick["instance_type"],
        "commitment_kind": COMMITMENT_KIND.get(pick["provider"], "commitment"),
        "options": [], "utilisation": fmt.figure(None, _share), "steady": False, "steady_reason": "",
        "offered": False, "not_offered_reason": "", "decision_line": "", "best": None,
    }
    if od is None:
        out["not_offered_reason"] = f"{where} has no on-demand price to compare a commitment with."
        return out
    u = utilisation(od)
    inst, od_h, od_m = float(od["instances"]), float(od["usd_per_instance_hour"]), float(od["monthly_cost_usd"])
    out["utilisation"] = fmt.figure(u, _share)
    out["steady"], out["steady_reason"] = steadiness(workload.demand, u)
    opts = [_option("on-demand", "on-demand", od_h, inst, od_m, od_m, od_h, f"paid for {fmt.pct(u * 100, 0)} of the hours")]
    spot = by_opt.get("spot")
    if spot is not None:
        opts.append(_option("spot", "spot", float(spot["usd_per_instance_hour"]), float(spot["instances"]),
                            float(spot["monthly_cost_usd"]), od_m, od_h,
                            f"includes the interruption overhead (×{float(spot['overhead']):.2f}); can be reclaimed"))
    for term in RESERVED_TERMS:
        usd_h = quote.reserved_usd_per_hour.get(term)
        usd_h = float(usd_h) if usd_h is not None and usd_h > 0 else None
        monthly = inst * usd_h * HOURS_PER_MONTH if usd_h is not None else None
        note = "paid for every hour of the term" if usd_h is not None else f"not offered by this {quote.source} quote"
        opts.append(_option(f"reserved-{term}", out["commitment_kind"] if usd_h is not None else "—",
                            usd_h, inst, monthly, od_m, od_h, note))
    out["options"] = opts
    committed = [o for o in opts if o["term_months"] and o["offered"]]
    out["offered"] = bool(committed)
    if not committed:
        out["not_offered_reason"] = (f"No 1-year or 3-year commitment price is quoted for {where} "
                                     f"(price source: {quote.source}); nothing is estimated.")
    else:
        out["best"] = min(committed, key=lambda o: o["monthly_cost"]["value"])["option"]
    out["decision_line"] = _decision_line(out, opts, u, where) if out["steady"] else ""
    return out


def _decision_line(out: Mapping[str, Any], opts: list[dict[str, Any]], u: float, where: str) -> str:
    """'Commit: ...' / 'Do not commit: ...' for a steady demand."""
    if not out["offered"]:
        return f"Commit or not: demand is steady, but {out['not_offered_reason'][0].lower()}{out['not_offered_reason'][1:]}"
    best = next(o for o in opts if o["option"] == out["best"])
    od = opts[0]
    be = best["break_even_utilisation"]["value"]
    term = "1-year" if best["term_months"] == 12 else "3-year"
    if u > be:
        line = (f"Commit: demand is steady and a {term} {best['kind']} for {where} breaks even at "
                f"{best['break_even_utilisation']['text']} utilisation; at the demand's {fmt.pct(u * 100, 0)} it costs "
                f"{best['monthly_cost']['text']}/month against {od['monthly_cost']['text']} on-demand "
                f"({best['savings_vs_on_demand']['text']}/month less, {best['cost_over_term']['text']} committed over the term).")
    else:
        line = (f"Do not commit: the best commitment ({term}, {best['monthly_cost']['text']}/month) breaks even at "
                f"{best['break_even_utilisation']['text']} utilisation and the demand uses {fmt.pct(u * 100, 0)} of the hours.")
    spot = next((o for o in opts if o["option"] == "spot"), None)
    if spot is not None and spot["monthly_cost"]["value"] < best["monthly_cost"]["value"]:
        line += f" Spot stays cheaper ({spot['monthly_cost']['text']}/month) but can be reclaimed."
    return line
