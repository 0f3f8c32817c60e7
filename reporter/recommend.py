"""Pick, per workload, the configurations a decision-maker should look at, each with a reason
written from the numbers.

* cheapest: lowest monthly cost among configs that meet every SLO and the fleet limit;
* best_value: most work delivered at the stated demand per dollar when costs land at the top of
  their interval (units per month / upper bound of the monthly cost): the pick whose cost holds up
  when demand, the prediction and spot prices move against you. Work per dollar is always measured
  at the demand, never as capacity per dollar (a fleet sized for the demand is paid in full);
* lowest_risk: on-demand only (no preemption, no commitment), offered in the most regions, then
  the highest probability of meeting the SLOs in bands (every config at or above slo.confidence
  counts as equally safe, so a huge over-provisioned fleet never wins on a 98%-vs-95% difference), then the cheapest;
* green: lowest carbon (kgCO2e/month at the demand, the whole rented fleet's energy: busy hours
  at active power, the rest at idle power) among the same eligible configs; carbon within
  GREEN_TIE_PCT of the lowest counts as equal and the cheapest of those wins; its reason states the
  premium over the cheapest pick, how busy the fleet is and the grid-intensity source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from phantom_report.reporter import economics, fmt

KINDS = ("cheapest", "best_value", "lowest_risk", "green")
TITLES = {"cheapest": "Cheapest that meets every SLO", "best_value": "Best value at the stated demand (pessimistic cost)",
          "lowest_risk": "Lowest risk (on-demand, widest availability)",
          "green": "Lowest carbon that meets every SLO"}
# carbon estimates this close to the lowest are not told apart: the energy model (engine power x
# hours, idle power from a published estimate) is far coarser than 5%, and a pick must not cost
# several times more for a difference inside it (e.g. spot vs on-demand training, whose only
# carbon difference is the idle power of the interruption overhead)
GREEN_TIE_PCT = 5.0
LABELS = {"cheapest": "cheapest", "best_value": "best value", "lowest_risk": "lowest risk", "green": "lowest carbon"}


@dataclass(frozen=True)
class Recommendation:
    """One pick for one workload: ``kind`` (cheapest | best_value | lowest_risk | green), the row
    index into the economics frame and the reason in one sentence."""

    workload: str
    kind: str  # cheapest | best_value | lowest_risk | green
    row: int  # index into the economics frame
    reason: str


def eligible(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that may be recommended: meet every SLO, fit the fleet rules, have a finite cost."""
    return df[df["meets_slo"] & df["fleet_ok"] & np.isfinite(df["monthly_cost_usd"])]


def picks(df: pd.DataFrame, workload: str) -> dict[str, int]:
    """kind -> row index for one workload (empty when nothing meets the SLOs)."""
    ok = eligible(df)
    sub = ok[ok["workload"] == workload]
    if sub.empty:
        return {}
    # every pick ranks by its own keys first and by the one cost ranking within their ties (a stable
    # sort over the cost-ordered rows), so equal keys never fall to floating-point noise or row order
    sub = sub.loc[economics.cost_order(sub)]
    out = {
        "cheapest": int(sub.index[0]),
        "best_value": int(sub.assign(_v=_pessimistic_units_per_usd(sub))
                          .sort_values("_v", ascending=False, kind="stable").index[0]),
    }
    od = sub[sub["option"] == "on-demand"]
    if len(od):
        # every config at or above the required SLO confidence counts as equally safe
        p = (od["slo_probability"] if "slo_probability" in od else pd.Series(1.0, index=od.index)).round(2)
        need = od["slo_confidence"] if "slo_confidence" in od else 0.9
        od = od.assign(_band=np.where(p >= need, 1.0, p.round(1)))
        out["lowest_risk"] = int(od.sort_values(["availability_regions", "_band"], ascending=[False, False],
                                                kind="stable").index[0])
    green = sub[np.isfinite(sub["carbon_kgco2e_per_month"])] if "carbon_kgco2e_per_month" in sub else sub.iloc[:0]
    if len(green):
        near = green[green["carbon_kgco2e_per_month"] <= green["carbon_kgco2e_per_month"].min() * (1 + GREEN_TIE_PCT / 100)]
        out["green"] = int(near.index[0])  # sub is in cost order already
    return out


def _pessimistic_units_per_usd(sub: pd.DataFrame) -> pd.Series:
    """Units delivered at the demand per dollar of the upper-bound monthly cost."""
    high = sub["monthly_cost_usd_high"] if "monthly_cost_usd_high" in sub else sub["monthly_cost_usd"]
    high = high.where(np.isfinite(high), sub["monthly_cost_usd"])
    return sub["units_per_usd"] * sub["monthly_cost_usd"] / high


def recommend(df: pd.DataFrame, workloads: list[str]) -> list[Recommendation]:
    """The picks of every workload, in workload order and per workload in ``KINDS`` order; a
    workload nothing serves gets none."""
    out: list[Recommendation] = []
    ok = eligible(df)
    for w in workloads:
        p = picks(df, w)
        if not p:
            continue
        sub = ok[ok["workload"] == w]
        cheap = df.loc[p["cheapest"]]
        out.append(Recommendation(w, "cheapest", p["cheapest"], _reason_cheapest(cheap, sub, len(sub))))
        out.append(Recommendation(w, "best_value", p["best_value"],
                                  _reason_value(df.loc[p["best_value"]], cheap, p["best_value"] == p["cheapest"])))
        if "lowest_risk" in p:
            out.append(Recommendation(w, "lowest_risk", p["lowest_risk"], _reason_risk(df.loc[p["lowest_risk"]], cheap)))
        if "green" in p:
            out.append(Recommendation(w, "green", p["green"], _reason_green(df.loc[p["green"]], cheap, len(sub))))
    return out


def describe(r: pd.Series) -> str:
    """Short name of a config: '4x H100-SXM fp8 batch 32, aws us-east-1 spot'."""
    return (f"{int(r['gpus'])}x {r['gpu']} {r['precision']} batch {int(r['batch_size'])}, "
            f"{r['provider']} {r['region']} {r['option']}")


def _reason_cheapest(r: pd.Series, sub: pd.DataFrame, n: int) -> str:
    others = sub[sub["gpu"] != r["gpu"]]
    second = others.loc[economics.cost_order(others)].head(1)
    vs = ""
    if len(second):
        s = second.iloc[0]
        gap_pct = (s['monthly_cost_usd'] - r['monthly_cost_usd']) / s['monthly_cost_usd'] * 100
        # a gap under 1% said as "0% below" reads as a contradiction: one decimal there, and a tie as a tie
        if round(s['monthly_cost_usd'] * 100) == round(r['monthly_cost_usd'] * 100):
            gap = "as cheap as"
        elif gap_pct < 0.1:
            gap = "under 0.1% below"
        else:
            gap = f"{fmt.pct(gap_pct, 1 if gap_pct < 1 else 0)} below"
        vs = f", {gap} the best {s['gpu']} option ({fmt.usd(s['monthly_cost_usd'])})"
    return (f"Lowest cost of the {n:,} configurations that meet every SLO: {fmt.usd(r['monthly_cost_usd'])}/month "
            f"({fmt.usd(r['monthly_cost_usd_low'])}–{fmt.usd(r['monthly_cost_usd_high'])}){vs}; "
            f"meets every SLO in {_prob(r)}.")


def _prob(r: pd.Series) -> str:
    """'97% of simulated outcomes (>= 90% required)'."""
    conf = r.get("slo_confidence")
    req = f" (≥ {float(conf):.0%} required)" if _ok(conf) else ""
    return f"{float(r['slo_probability']):.0%} of simulated outcomes{req}"


def _reason_value(r: pd.Series, cheap: pd.Series, same: bool) -> str:
    worst = r["units_per_usd"] * r["monthly_cost_usd"] / r["monthly_cost_usd_high"] if _ok(r.get("monthly_cost_usd_high")) else r["units_per_usd"]
    lead = (f"Delivers {fmt.num(r['units_per_usd'])} {r['units_per_usd_label']} at the stated demand "
            f"({fmt.num(worst)} if its cost lands at the top of its interval, {fmt.usd(r['monthly_cost_usd_high'])}/month)")
    if same:
        return lead + ", and is also the cheapest configuration."
    return (lead + f"; the cheapest pick can rise to {fmt.usd(cheap['monthly_cost_usd_high'])}/month, "
            f"so this one costs {fmt.usd(r['monthly_cost_usd'] - cheap['monthly_cost_usd'])}/month more "
            "today for a lower worst case.")


def _ok(v) -> bool:
    try:
        return bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def _reason_risk(r: pd.Series, cheap: pd.Series) -> str:
    prem = r["monthly_cost_usd"] - cheap["monthly_cost_usd"]
    extra = f"costs {fmt.usd(prem)}/month more than the cheapest" if prem > 0.5 else "is also the cheapest"
    return (f"On-demand {r['gpu']} is offered in {int(r['availability_regions'])} regions across "
            f"{int(r['availability_providers'])} provider(s) with a {fmt.pct(r['slo_probability'] * 100, 0)} chance of meeting the SLOs; "
            f"it {extra}.")


def green_premium(green: pd.Series, cheap: pd.Series) -> tuple[float, float]:
    """(USD/month, % of the cheapest pick's cost) the green pick costs more than the cheapest."""
    prem = float(green["monthly_cost_usd"]) - float(cheap["monthly_cost_usd"])
    return prem, prem / float(cheap["monthly_cost_usd"]) * 100.0


def _reason_green(r: pd.Series, cheap: pd.Series, n: int) -> str:
    prem, prem_pct = green_premium(r, cheap)
    cost = (f"it costs {fmt.usd(prem)}/month ({fmt.pct(prem_pct, 0)}) more than the cheapest pick"
            if prem > 0.5 else "it is also the cheapest")
    avoided_kg = float(cheap["carbon_kgco2e_per_month"]) - float(r["carbon_kgco2e_per_month"])
    if prem > 0.5 and avoided_kg > 0:  # what the premium buys, comparable with a carbon price
        cost += f", {fmt.usd(prem / avoided_kg * 1000.0)} per tonne of CO2e avoided"
    src = str(r.get("grid_source") or "").split(" via ")[0].split(" (")[0]
    if r.get("grid_match") == "fallback":
        src += " (world-average fallback: no figure for this region)"
    return (f"Lowest carbon of the {n:,} configurations that meet every SLO (within {GREEN_TIE_PCT:.0f}%, then the cheapest): "
            f"{fmt.num(r['carbon_kgco2e_per_month'])} kgCO2e/month "
            f"against {fmt.num(cheap['carbon_kgco2e_per_month'])} for the cheapest (grid {fmt.num(r['grid_kgco2e_per_kwh'])} kgCO2e/kWh "
            f"in {r.get('grid_location') or r['region']}, source: {src or 'unknown'}); {cost}.{_fleet_energy(r)}")


def _fleet_energy(r: pd.Series) -> str:
    """How much of the green pick's rented GPU-hours do work (the rest is counted at idle power)."""
    busy, idle = float(r.get("busy_gpu_hours_per_month", np.nan)), float(r.get("idle_gpu_hours_per_month", np.nan))
    if not (np.isfinite(busy) and np.isfinite(idle)) or busy + idle <= 0:
        return ""
    est = ", estimated from TDP" if bool(r.get("idle_power_estimated", False)) else ""
    return (f" Its {fmt.num(r['gpus'])} GPUs work {fmt.pct(busy / (busy + idle) * 100, 0)} of the hours they are rented; "
            f"the rest is counted at idle power ({fmt.num(r['idle_power_w'])} W per GPU{est}).")


def no_green_pick(w: str, served: bool) -> str:
    """Why workload ``w`` has no green pick: nothing meets the SLOs (``served`` False), or no
    configuration that meets them has a carbon estimate."""
    if served:
        return f"No lowest-carbon pick for {w}: no configuration that meets the SLOs has a carbon estimate (no energy prediction)."
    return (f"No lowest-carbon pick for {w}: no configuration meets every SLO at the required confidence "
            "within the fleet limit, and a greener configuration that misses them is not an option.")


def nothing_meets(points: pd.DataFrame, w: str, rows: pd.DataFrame | None = None) -> str:
    """Plain message when no configuration of workload ``w`` meets its SLOs: what comes closest
    (highest probability of meeting the SLOs, then fastest) and what it would take."""
    sub = points[(points["workload"] == w) & points["supported"].astype(bool) & points["fits"].fillna(False).astype(bool)]
    if sub.empty:
        return (f"No configuration of {w} can run: no candidate GPU supports it or fits it in memory. "
                "It would take GPUs with more memory, more GPUs per replica (gpu_counts) or a lower precision.")
    wrows = rows[rows["workload"] == w] if rows is not None and len(rows) else None
    if wrows is not None and len(wrows) and bool(wrows["meets_slo"].any()):
        # every SLO is met somewhere; the fleet limit is what excludes them
        big = wrows[wrows["meets_slo"]].sort_values(["gpus", "monthly_cost_usd"]).iloc[0]
        return (f"No configuration of {w} meets its SLOs within the fleet limit. The smallest that meets them, "
                f"{describe(big)}, {big['fleet_reason']}; it would take max_gpus ≥ {int(big['gpus'])} "
                f"({fmt.usd(big['monthly_cost_usd'])}/month).")
    sort = ["slo_probability", "latency_ms"] if "slo_probability" in sub else ["latency_ms"]
    best = sub.sort_values(sort, ascending=[False, True][:len(sort)]).iloc[0]
    prob = ""
    if "slo_probability" in sub:
        p, conf = float(best["slo_probability"]), best.get("slo_confidence")
        shown = fmt.share_below(p, float(conf)) if _ok(conf) and p < float(conf) else f"{p:.0%}"
        prob = f", meets the SLOs in {shown} of simulated outcomes"
    msg = (f"No configuration of {w} meets its SLOs. The closest, {best['gpu']} {best['precision']} batch "
           f"{int(best['batch_size'])} on {int(best['gpu_count'])} GPU(s), predicts {fmt.ms(best['latency_ms'])} "
           f"({fmt.ms(best['latency_ms_low'])}–{fmt.ms(best['latency_ms_high'])}){prob}: "
           f"{best['reason'] or 'see excluded configurations'}.")
    return msg + " " + _what_it_takes(best)


def _what_it_takes(p: pd.Series) -> str:
    """The speed-up the closest configuration lacks, and the levers that give it."""
    need = []
    lim = p.get("slo_p95_latency_ms")
    if _ok(lim) and _ok(p.get("latency_ms_p95")) and p["latency_ms_p95"] > lim:
        need.append(p["latency_ms_p95"] / lim)
    lim = p.get("slo_max_ttft_ms")
    if _ok(lim) and _ok(p.get("ttft_ms_high")) and p["ttft_ms_high"] > lim:
        need.append(p["ttft_ms_high"] / lim)
    lim = p.get("slo_min_tokens_per_s")
    if _ok(lim) and _ok(p.get("per_stream_tokens_per_s")) and p["per_stream_tokens_per_s"] > 0:
        low = p["per_stream_tokens_per_s"] * p["latency_ms"] / p["latency_ms_high"] if _ok(p.get("latency_ms_high")) else p["per_stream_tokens_per_s"]
        if low < lim:
            need.append(lim / low)
    if not need:
        return "It would take relaxed SLOs, a lower slo.confidence, more GPUs per replica or faster GPUs."
    x = max(need)
    return (f"It would take a configuration about {x:,.1f}x faster at its slow bound: a lower precision "
            "(fp8/int8), a smaller batch, more GPUs per replica (gpu_counts), faster GPUs, or SLOs relaxed by that factor.")
