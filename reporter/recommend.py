"""Pick, per workload, the configurations a decision-maker should look at, each with a reason
written from the numbers.

* cheapest: lowest monthly cost among configs that meet every SLO and the fleet limit;
* best_value: most work per dollar (tokens, inferences or training samples per $) among those;
* lowest_risk: on-demand only (no preemption, no commitment), offered in the most regions, then
  the highest probability of meeting the SLOs in bands (every config at >= 90% counts as equally
  safe, so a huge over-provisioned fleet never wins on a 98%-vs-95% difference), then the cheapest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from phantom_report.reporter import fmt

KINDS = ("cheapest", "best_value", "lowest_risk")
TITLES = {"cheapest": "Cheapest that meets every SLO", "best_value": "Best performance per dollar",
          "lowest_risk": "Lowest risk (on-demand, widest availability)"}


@dataclass(frozen=True)
class Recommendation:
    workload: str
    kind: str  # cheapest | best_value | lowest_risk
    row: int  # index into the economics frame
    reason: str


def eligible(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["meets_slo"] & df["fleet_ok"] & np.isfinite(df["monthly_cost_usd"])]


def picks(df: pd.DataFrame, workload: str) -> dict[str, int]:
    """kind -> row index for one workload (empty when nothing meets the SLOs)."""
    ok = eligible(df)
    sub = ok[ok["workload"] == workload]
    if sub.empty:
        return {}
    prob = sub["slo_probability"] if "slo_probability" in sub else pd.Series(1.0, index=sub.index)
    sub = sub.assign(_p=prob.round(2))
    out = {
        "cheapest": int(sub.sort_values(["monthly_cost_usd", "_p"], ascending=[True, False]).index[0]),
        "best_value": int(sub.sort_values(["units_per_usd", "monthly_cost_usd"], ascending=[False, True]).index[0]),
    }
    od = sub[sub["option"] == "on-demand"]
    if len(od):
        od = od.assign(_band=np.where(od["_p"] >= 0.9, 1.0, od["_p"].round(1)))
        out["lowest_risk"] = int(od.sort_values(["availability_regions", "_band", "monthly_cost_usd"],
                                                ascending=[False, False, True]).index[0])
    return out


def recommend(df: pd.DataFrame, workloads: list[str]) -> list[Recommendation]:
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
    return out


def describe(r: pd.Series) -> str:
    """Short name of a config: '4x H100-SXM fp8 batch 32, aws us-east-1 spot'."""
    return (f"{int(r['gpus'])}x {r['gpu']} {r['precision']} batch {int(r['batch_size'])}, "
            f"{r['provider']} {r['region']} {r['option']}")


def _reason_cheapest(r: pd.Series, sub: pd.DataFrame, n: int) -> str:
    second = sub[sub["gpu"] != r["gpu"]].sort_values("monthly_cost_usd").head(1)
    vs = ""
    if len(second):
        s = second.iloc[0]
        vs = f", {fmt.pct((s['monthly_cost_usd'] - r['monthly_cost_usd']) / s['monthly_cost_usd'] * 100)} below the best {s['gpu']} option ({fmt.usd(s['monthly_cost_usd'])})"
    return (f"Lowest cost of the {n:,} configurations that meet every SLO: {fmt.usd(r['monthly_cost_usd'])}/month "
            f"({fmt.usd(r['monthly_cost_usd_low'])}–{fmt.usd(r['monthly_cost_usd_high'])}){vs}.")


def _reason_value(r: pd.Series, cheap: pd.Series, same: bool) -> str:
    lead = f"Delivers {fmt.num(r['units_per_usd'])} {r['units_per_usd_label']} at target utilisation"
    if same:
        return lead + ", also the cheapest configuration."
    gain = (r["units_per_usd"] / cheap["units_per_usd"] - 1) * 100
    if r["monthly_cost_usd"] <= cheap["monthly_cost_usd"]:
        return lead + f", {fmt.pct(gain)} more than the cheapest pick."
    return (lead + f", {fmt.pct(gain)} more than the cheapest pick; it costs more per month because its "
            "smallest instance holds more capacity than this demand needs.")


def _reason_risk(r: pd.Series, cheap: pd.Series) -> str:
    prem = r["monthly_cost_usd"] - cheap["monthly_cost_usd"]
    extra = f"costs {fmt.usd(prem)}/month more than the cheapest" if prem > 0.5 else "is also the cheapest"
    return (f"On-demand {r['gpu']} is offered in {int(r['availability_regions'])} regions across "
            f"{int(r['availability_providers'])} provider(s) with a {fmt.pct(r['slo_probability'] * 100, 0)} chance of meeting the SLOs; "
            f"it {extra}.")


def nothing_meets(points: pd.DataFrame, w: str) -> str:
    """Plain message when no configuration of workload ``w`` meets its SLOs, naming the closest."""
    sub = points[(points["workload"] == w) & points["supported"].astype(bool) & points["fits"].fillna(False).astype(bool)]
    if sub.empty:
        return f"No configuration of {w} can run: no candidate GPU supports it or fits it in memory."
    best = sub.sort_values("latency_ms").iloc[0]
    return (f"No configuration of {w} meets its SLOs. The fastest, {best['gpu']} {best['precision']} batch "
            f"{int(best['batch_size'])} on {int(best['gpu_count'])} GPU(s), predicts {fmt.ms(best['latency_ms'])} "
            f"({fmt.ms(best['latency_ms_low'])}–{fmt.ms(best['latency_ms_high'])}): {best['reason'] or 'see excluded configurations'}.")
