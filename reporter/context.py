"""Build the one object templates receive (documented field by field in templates/README.md).

Templates only present; every number arrives here already computed, as a ``num`` dict with its
value, its text, and (for headline figures) its interval. ``payload`` strips the presentation-only
fields (chart markup) from the same object, so the JSON holds exactly the numbers the HTML shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

import numpy as np
import pandas as pd

from phantom_report.engine.profiles import IDLE_POWER_FALLBACK_FRACTION
from phantom_report.reporter import commitments as commitments_mod
from phantom_report.reporter.context_types import (
    ChartView, ConfigView, Decision, ExcludedView, Methodology, RecommendationView, ReportContext, ReportInfo,
    WorkloadView, template_dict)
from phantom_report.reporter import fmt
from phantom_report.reporter.fmt import figure as num, finite_or_none
from phantom_report.reporter.economics import HOURS_PER_MONTH, as_arrays, cost_order, evaluate, spec_roi
from phantom_report.reporter.recommend import (  # noqa: F401 (describe re-exported for charts)
    GREEN_TIE_PCT, KINDS, LABELS, TITLES, Recommendation, describe, green_premium, no_green_pick, nothing_meets)
from phantom_report.reporter.spec import RunSpec

TOP_ROWS = 12
DETAIL_ROWS = 40
EXCLUDED_ROWS = 30
DEMAND_STEPS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def slugify(s: str) -> str:
    """``s`` as a CSS- and file-name-safe slug (lower case, runs of other characters as ``-``);
    ``workload`` when nothing is left."""
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-") or "workload"


def _flag(value: Any) -> bool:
    """A boolean column's value; missing or NaN (a frame without the column) is False."""
    return isinstance(value, (bool, np.bool_)) and bool(value)


def config_view(r: pd.Series) -> dict[str, Any]:
    """Every figure shown for one priced configuration (a ConfigView's fields, as templates get them)."""
    unit = r["unit"]
    return template_dict(ConfigView(**{
        "description": describe(r),
        "gpu": r["gpu"], "precision": r["precision"], "batch_size": int(r["batch_size"]),
        "gpus_per_replica": int(r["gpu_count"]), "provider": r["provider"], "region": r["region"],
        "instance_type": r["instance_type"], "instance_gpus": int(r["instance_gpus"]), "option": r["option"],
        "gpus": num(r["gpus"], fmt.num, r.get("gpus_low"), r.get("gpus_high"), "GPUs"),
        "instances": num(r["instances"], fmt.num, r.get("instances_low"), r.get("instances_high"), "instances"),
        "monthly_cost": num(r["monthly_cost_usd"], fmt.usd, r.get("monthly_cost_usd_low"), r.get("monthly_cost_usd_high"), "USD/month"),
        "unit_cost": num(r["unit_cost_usd"], fmt.usd, r.get("unit_cost_usd_low"), r.get("unit_cost_usd_high"), f"USD per {unit}"),
        "unit": unit,
        "usd_per_gpu_hour": num(r["usd_per_gpu_hour"], fmt.usd, unit="USD/GPU-hour"),
        "latency": num(r["latency_ms"], fmt.ms, r["latency_ms_low"], r["latency_ms_high"], "ms"),
        "ttft": num(r.get("ttft_ms"), fmt.ms, r.get("ttft_ms_low"), r.get("ttft_ms_high"), "ms"),
        "tokens_per_s_per_stream": num(r.get("per_stream_tokens_per_s"), fmt.num, unit="tokens/s"),
        "throughput_per_replica": num(r["throughput_per_s"], fmt.num, r.get("throughput_per_s_low"), r.get("throughput_per_s_high"), "samples/s"),
        "run_hours": num(r.get("run_hours"), fmt.num, r.get("run_hours_low"), r.get("run_hours_high"), "hours"),
        "slo_probability": num(r["slo_probability"] * 100, lambda v: fmt.pct(v, 0), unit="%"),
        "slo_confidence": num(finite_or_none(r.get("slo_confidence")) and r["slo_confidence"] * 100, lambda v: fmt.pct(v, 0), unit="%"),
        "meets_slo": bool(r["meets_slo"] and r.get("fleet_ok", True)),
        "reason": r.get("reason") or r.get("fleet_reason") or "",
        "units_per_usd": num(r["units_per_usd"], fmt.num, unit=r["units_per_usd_label"]),
        "energy": num(r["energy_kwh_per_month"], fmt.num, r.get("energy_kwh_per_month_low"), r.get("energy_kwh_per_month_high"), "kWh/month"),
        "carbon": num(r["carbon_kgco2e_per_month"], fmt.num, r.get("carbon_kgco2e_per_month_low"), r.get("carbon_kgco2e_per_month_high"), "kgCO2e/month"),
        "grid_intensity": num(r["grid_kgco2e_per_kwh"], fmt.num, unit="kgCO2e/kWh"),
        "savings": num(r.get("savings_usd_per_month"), fmt.usd, r.get("savings_usd_per_month_low"), r.get("savings_usd_per_month_high"), "USD/month"),
        "savings_pct": num(r.get("savings_pct"), lambda v: fmt.pct(v, 0), unit="%"),
        "savings_over_horizon": num(r.get("savings_over_horizon_usd"), fmt.usd, unit="USD"),
        # one-off costs belong to the spec: payback and ROI are set on the recommendations (spec_roi)
        "payback_months": num(None, lambda v: "see the decision", unit="months"),
        "roi_pct": num(None, lambda v: "see the decision", unit="%"),
        "purchase": num(r.get("purchase_usd"), fmt.usd, unit="USD"),
        "owned_monthly": num(r.get("owned_usd_per_month"), fmt.usd, unit="USD/month"),
        "buy_breakeven_months": num(r.get("buy_breakeven_months"), lambda v: fmt.months(v) if v is not None else (r.get("buy_breakeven_text") or "never"), unit="months"),
        "owned_gpus": num(r.get("owned_gpus"), fmt.num, unit="GPUs"),
        "memory_gb_per_gpu": num(r["memory_gb"], fmt.num, unit="GB"),
        "bound": r.get("bound", ""),
        # the engine's prediction lies outside the measured corpus' support (engine/novelty.py)
        "extrapolation": _flag(r.get("extrapolation")),
        "extrapolation_reason": str(r.get("extrapolation_reason") or ""),
        "availability_regions": int(r["availability_regions"]),
        "price_source": r["price_source"],
        "price_sku_ids": r.get("price_sku_ids", ""),
        # spot interruption risk (empty unless spot): bucket, the overhead it costs, and why
        "spot_interruption_bucket": r.get("spot_interruption_bucket") or "",
        "spot_overhead": num(finite_or_none(r.get("spot_overhead")) and r["spot_overhead"] * 100, lambda v: fmt.pct(v, 1), unit="%"),
        "spot_placement_score": int(r["spot_placement_score"]) if finite_or_none(r.get("spot_placement_score")) is not None else None,
        "spot_risk_basis": r.get("spot_risk_basis") or "",
    }))


def sensitivity(r: pd.Series) -> dict[str, list[dict[str, Any]]]:
    """Monthly cost of one config as demand, price and the prediction move (fleet re-sized)."""
    frame = r.to_frame().T
    arrays = as_arrays(frame)
    demand = []
    for m in DEMAND_STEPS:
        v = float(evaluate(arrays, demand_scale=m)["monthly_cost_usd"][0])
        demand.append({"multiplier": m, "label": f"{m:g}x demand", "monthly_cost": num(v, fmt.usd)})
    price = []
    for m in (0.8, 0.9, 1.0, 1.1, 1.2):
        v = float(evaluate(arrays, price_scale=m)["monthly_cost_usd"][0])
        price.append({"multiplier": m, "label": f"price {m - 1:+.0%}", "monthly_cost": num(v, fmt.usd)})
    perf = []
    for label, col in (("slow bound", "latency_ms_high"), ("prediction", "latency_ms"), ("fast bound", "latency_ms_low")):
        scale = float(r["latency_ms"]) / float(r[col]) if finite_or_none(r[col]) else 1.0
        v = float(evaluate(arrays, thr_scale=scale)["monthly_cost_usd"][0])
        perf.append({"label": f"engine {label}", "monthly_cost": num(v, fmt.usd)})
    return {"demand": demand, "price": price, "performance": perf}


def demand_text(w) -> str:
    """A workload's demand in words: requests, tokens or requests/s with peak, target utilisation
    and uncertainty; for training, dataset size x epochs, runs per month and deadline."""
    d = w.demand
    if w.resolved_task == "training":
        size = f"{fmt.num(d.dataset_samples)} samples" if d.dataset_samples else f"{fmt.num(d.dataset_tokens)} tokens"
        txt = f"{size} x {d.epochs:g} epoch(s), {d.runs_per_month:g} run(s)/month"
        return txt + (f", deadline {d.deadline_hours:g} h" if d.deadline_hours else "")
    if d.requests_per_month:
        base = f"{fmt.num(d.requests_per_month)} requests/month"
    elif d.tokens_per_month:
        base = f"{fmt.num(d.tokens_per_month)} generated tokens/month"
    else:
        base = f"{fmt.num(d.requests_per_s)} requests/s average"
    extra = []
    if d.peak_to_average > 1:
        extra.append(f"peak {d.peak_to_average:g}x average")
    extra.append(f"sized for {d.target_utilization:.0%} utilisation")
    if d.uncertainty_pct:
        extra.append(f"demand ±{d.uncertainty_pct:g}%")
    return base + " (" + ", ".join(extra) + ")"


def slo_text(w) -> str:
    """A workload's SLOs in words (p95 latency, time to first token, tokens/s per stream, GPU
    cap), or ``none (cost only)``."""
    s = w.slo
    parts = []
    if s.p95_latency_ms:
        parts.append(f"p95 latency ≤ {fmt.ms(s.p95_latency_ms)}")
    if s.max_ttft_ms:
        parts.append(f"time to first token ≤ {fmt.ms(s.max_ttft_ms)}")
    if s.min_tokens_per_s:
        parts.append(f"≥ {s.min_tokens_per_s:g} tokens/s per stream")
    if s.max_gpus:
        parts.append(f"at most {s.max_gpus} GPUs")
    return "; ".join(parts) or "none (cost only)"


@dataclass
class _Totals:
    """Running sums over the workloads with a cheapest pick (internal to ``build``)."""

    cost: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # USD/month: value, low, high
    savings: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # USD/month against SLO-meeting baselines
    savings_over_horizon: float = 0.0  # USD
    counted: int = 0  # workloads whose savings count (a baseline that meets the SLOs)


def build(*, spec: RunSpec, kind: str, points: pd.DataFrame, rows: pd.DataFrame, recs: list[Recommendation],
          baseline: Mapping[str, int], quotes, quote_warnings, engine_info: Mapping[str, Any],
          charts: Mapping[str, ChartView], chart_engine: str, generated_at: datetime,
          decision_warnings: tuple[str, ...] | list[str] = ()) -> ReportContext:
    """The template context of one run (fields: reporter/context_types.py, templates/README.md).

    ``points`` and ``rows`` are the economics stage's frames (every evaluated configuration; every
    priced option, columns of ``run.CSV_COLUMNS``), ``baseline`` maps a workload to its baseline's
    row index, ``charts`` maps ``"<workload>:<chart>"`` to its view. ``decision_warnings`` (an
    unmatched baseline, requested pricing nobody offers) change what the numbers mean, so they are
    listed with the risks on the decision page and in ``warnings``. ``budget`` and ``actual_spend``
    are left empty for the run to fill (``dataclasses.replace``)."""
    conf_pct = round(spec.confidence * 100)
    by_wl: dict[str, dict[str, Recommendation]] = {}
    for r in recs:
        by_wl.setdefault(r.workload, {})[r.kind] = r
    risks: list[str] = list(decision_warnings)
    totals = _Totals()
    workloads, shown = [], []
    for w in spec.workloads:
        entry, rows_shown = _workload_entry(w, spec, points, rows, by_wl.get(w.label, {}), baseline, charts, quotes,
                                            risks, totals)
        workloads.append(entry)
        shown += rows_shown
    roi_view = _roi_view(spec, totals)
    for entry in workloads:  # the spec's payback, shown beside each recommendation
        for rec in entry["recommendations"]:
            rec["config"]["payback_months"] = roi_view["payback_months"]
            rec["config"]["roi_pct"] = roi_view["roi_pct"]
    headline, summary = _decision(workloads, spec, totals.cost, totals.savings, conf_pct)
    served = any(e["cheapest"] for e in workloads)
    return ReportContext(
        report=ReportInfo(
            title=spec.title, owner=spec.owner, kind=kind, template=spec.report.template,
            generated_at=generated_at.strftime("%Y-%m-%d %H:%M UTC"), spec_file=spec.source_path,
            confidence_pct=conf_pct, currency="USD", theme=spec.report.theme,
            accent_color=spec.report.accent_color, logo=None, page_size=spec.report.page_size,
            output="html", workload_slugs=" ".join(f"workload-{e['slug']}" for e in workloads)),
        decision=Decision(
            headline=headline, summary=summary, all_workloads_served=all(e["status"] == "ok" for e in workloads),
            total_monthly_cost=num(totals.cost[0], fmt.usd, totals.cost[1], totals.cost[2], "USD/month") if served else num(None),
            total_savings=(num(totals.savings[0], fmt.usd, totals.savings[1], totals.savings[2], "USD/month")
                           if served else num(None)),
            horizon_months=spec.roi.horizon_months, **roi_view),
        workloads=[template_dict(WorkloadView(**e)) for e in workloads],
        risks=list(dict.fromkeys(risks)),
        methodology=Methodology(**_methodology(spec, quotes, quote_warnings, engine_info, rows, chart_engine,
                                               generated_at, shown)),
        warnings=list(dict.fromkeys([*quote_warnings, *decision_warnings])),
        plotly_js="",
    )


def _workload_entry(w, spec: RunSpec, points: pd.DataFrame, rows: pd.DataFrame, wrecs: Mapping[str, Recommendation],
                    baseline: Mapping[str, int], charts: Mapping[str, ChartView], quotes, risks: list[str],
                    totals: _Totals) -> tuple[dict[str, Any], list]:
    """One workload's fields (WorkloadView's keys, as a dict the caller still completes with the
    spec's payback) and the row indexes it shows; appends its risks to ``risks`` and its cheapest
    pick to ``totals``."""
    name = w.label
    wrows = rows[rows["workload"] == name] if not rows.empty else rows
    wpts = points[points["workload"] == name]
    excluded = _excluded(wpts, wrows)
    entry: dict[str, Any] = {
        "name": name, "slug": slugify(name), "model": w.model if isinstance(w.model, str) else dict(w.model),
        "task": w.resolved_task, "unit": wpts["unit"].iloc[0] if len(wpts) else "",
        "demand_text": demand_text(w), "slo_text": slo_text(w), "recommendations": [],
        "cheapest": None, "baseline": None, "top": [], "detail": [], "excluded": excluded[:EXCLUDED_ROWS],
        "excluded_count": len(excluded), "evaluated_count": int(len(wpts)), "priced_count": int(len(wrows)),
        "charts": {k.split(":", 1)[1]: template_dict(v) for k, v in charts.items() if k.startswith(name + ":")},
        "sensitivity": None, "status": "ok", "message": "", "closest": [],
        "green": None, "commitments": None,
    }
    shown: list = []
    if name in baseline:
        b = rows.loc[baseline[name]]
        entry["baseline"] = {**config_view(b), "meets_slo": bool(b["meets_slo"] and b["fleet_ok"])}
        if not entry["baseline"]["meets_slo"]:
            risks.append(f"{name}: the baseline ({describe(b)}) does not meet the SLOs itself; savings compare against a config you could not keep.")
    if not wrecs:
        entry.update(status="no-config", message=nothing_meets(points, name, rows), closest=_closest(wrows))
        risks.append(entry["message"])
    for kind_ in KINDS:
        if kind_ in wrecs:
            rr = wrecs[kind_]
            view = template_dict(RecommendationView(kind=kind_, title=TITLES[kind_], label=LABELS[kind_], reason=rr.reason,
                                                    config=config_view(rows.loc[rr.row])))
            entry["recommendations"].append(view)
            if kind_ == "cheapest":
                entry["cheapest"] = view
    entry["green"] = _green(rows, wrecs, name)
    if entry["cheapest"]:
        c = rows.loc[wrecs["cheapest"].row]
        entry["sensitivity"] = sensitivity(c)
        entry["commitments"] = commitments_mod.view(w, rows, wrecs["cheapest"].row, quotes)
        _add_to_totals(totals, c, entry["baseline"])
        risks.extend(_row_risks(name, c, spec))
    elig = wrows[wrows["meets_slo"] & wrows["fleet_ok"]] if len(wrows) else wrows
    if len(elig):
        by_cost = elig.loc[cost_order(elig)]
        best_per_gpu = by_cost.drop_duplicates("gpu")
        entry["top"] = [config_view(r) for _, r in best_per_gpu.head(TOP_ROWS).iterrows()]
        detail = by_cost.drop_duplicates(["gpu", "precision", "batch_size", "option"])
        entry["detail"] = [config_view(r) for _, r in detail.head(DETAIL_ROWS).iterrows()]
        shown = list(best_per_gpu.head(TOP_ROWS).index) + list(detail.head(DETAIL_ROWS).index) + [wrecs[k].row for k in wrecs]
    if name in baseline:  # the carbon source table covers every row the report shows
        shown.append(baseline[name])
    return entry, shown


def _add_to_totals(totals: _Totals, c: pd.Series, baseline: Mapping[str, Any] | None) -> None:
    """Add a cheapest pick's cost (and, against a baseline that meets the SLOs, its savings)."""
    totals.cost = [totals.cost[0] + c["monthly_cost_usd"], totals.cost[1] + c["monthly_cost_usd_low"],
                   totals.cost[2] + c["monthly_cost_usd_high"]]
    # headline savings count only baselines that meet the SLOs (a config you could keep)
    if finite_or_none(c.get("savings_usd_per_month")) is not None and baseline["meets_slo"]:
        totals.savings_over_horizon += finite_or_none(c.get("savings_over_horizon_usd")) or 0.0
        totals.counted += 1
        totals.savings = [totals.savings[0] + c["savings_usd_per_month"],
                          totals.savings[1] + (finite_or_none(c.get("savings_usd_per_month_low")) or 0),
                          totals.savings[2] + (finite_or_none(c.get("savings_usd_per_month_high")) or 0)]


def _roi_view(spec: RunSpec, totals: _Totals) -> dict[str, dict[str, Any]]:
    """The spec-level return (migration counted once) as figures: Decision's last four fields."""
    counted = totals.counted
    roi = (spec_roi(totals.savings[0], totals.savings_over_horizon, spec) if counted
           else spec_roi(float("nan"), float("nan"), spec))
    return {"migration_cost": num(roi["migration_cost_usd"], fmt.usd, unit="USD"),
            "net_savings_over_horizon": num(roi["net_savings_over_horizon_usd"], fmt.usd, unit="USD"),
            "payback_months": num(roi["payback_months"], lambda v: "immediate" if v == 0 else (
                fmt.months(v) if counted else "unknown (no baseline that meets the SLOs)"), unit="months"),
            "roi_pct": num(roi["roi_pct"], lambda v: fmt.pct(v, 0), unit="%")}


def _green(rows: pd.DataFrame, wrecs: Mapping[str, Recommendation], name: str) -> dict[str, Any]:
    """The green pick's carbon, grid source and premium over the cheapest pick, or why there is none."""
    if "green" not in wrecs or "cheapest" not in wrecs:
        return {"config": None, "message": no_green_pick(name, "cheapest" in wrecs), "carbon": num(None), "premium": num(None),
                "premium_pct": num(None), "cheapest_carbon": num(None), "grid_intensity": num(None),
                "grid_location": "", "grid_source": "", "grid_match": ""}
    g, c = rows.loc[wrecs["green"].row], rows.loc[wrecs["cheapest"].row]
    prem, prem_pct = green_premium(g, c)
    return {"config": config_view(g), "message": "",
            "carbon": num(g["carbon_kgco2e_per_month"], fmt.num, g.get("carbon_kgco2e_per_month_low"),
                          g.get("carbon_kgco2e_per_month_high"), "kgCO2e/month"),
            "cheapest_carbon": num(c["carbon_kgco2e_per_month"], fmt.num, unit="kgCO2e/month"),
            "premium": num(prem, fmt.usd, unit="USD/month"), "premium_pct": num(prem_pct, lambda v: fmt.pct(v, 0), unit="%"),
            "grid_intensity": num(g["grid_kgco2e_per_kwh"], fmt.num, unit="kgCO2e/kWh"),
            "grid_location": str(g.get("grid_location") or ""), "grid_source": str(g.get("grid_source") or ""),
            "grid_match": str(g.get("grid_match") or "")}


def _closest(wrows: pd.DataFrame, n: int = 5) -> list[dict[str, Any]]:
    """When nothing meets the SLOs: the priced configurations that come closest (highest SLO
    probability, then fastest, then cheapest), one per GPU, so the page says what it would take."""
    if wrows is None or not len(wrows):
        return []
    best = wrows.sort_values(["slo_probability", "latency_ms", "monthly_cost_usd"], ascending=[False, True, True]).drop_duplicates("gpu")
    return [config_view(r) for _, r in best.head(n).iterrows()]


def _excluded(wpts: pd.DataFrame, wrows: pd.DataFrame) -> list[dict[str, Any]]:
    """Every configuration left out of one workload and why (ExcludedView dicts): SLO misses and
    unsupported or out-of-memory points, fleets over ``max_gpus``, then GPUs nobody quoted."""
    out = []
    for _, p in wpts[~wpts["meets_slo"]].sort_values(["gpu", "precision", "batch_size"]).iterrows():
        out.append(ExcludedView(config=f"{p['gpu']} {p['precision']} batch {int(p['batch_size'])} on {int(p['gpu_count'])} GPU(s)",
                                reason=p["reason"], slo_probability=finite_or_none(p.get("slo_probability")),
                                slo_confidence=finite_or_none(p.get("slo_confidence"))))
    if len(wrows):
        big = wrows[wrows["meets_slo"] & ~wrows["fleet_ok"]].drop_duplicates(["gpu", "precision", "batch_size"])
        for _, r in big.iterrows():
            out.append(ExcludedView(config=f"{r['gpu']} {r['precision']} batch {int(r['batch_size'])}", reason=r["fleet_reason"],
                                    slo_probability=finite_or_none(r.get("slo_probability")),
                                    slo_confidence=finite_or_none(r.get("slo_confidence"))))
    priced = set(wrows["gpu"]) if len(wrows) else set()
    unpriced = sorted(set(wpts[wpts["meets_slo"]]["gpu"]) - priced)
    if unpriced:  # a group of GPUs, not one configuration
        out.append(ExcludedView(config=", ".join(unpriced), reason="no price quote for these GPUs from the selected providers/regions",
                                slo_probability=None, slo_confidence=None))
    return [template_dict(e) for e in out]


def spot_methodology(spec: RunSpec) -> dict[str, Any]:
    """How spot overhead is made: the model, its parameters, overhead per bucket, and sources."""
    from phantom_report.pricing import spot_risk as sr

    model, p = spec.pricing.spot_risk_model(), spec.pricing.spot_risk
    buckets = [{"bucket": b, "overhead": num(model.bucket_overhead(b) * 100, lambda v: fmt.pct(v, 2), unit="%")}
               for b in ("<5%", "5-10%", "10-15%", "15-20%", ">20%")]
    unknown = f"{p.unknown_overhead:.0%}"
    if model.override is not None:
        summary = (f"Spot costs include a flat {model.override:.0%} interruption overhead set by the spec "
                   "(pricing.spot_interruption_overhead); interruption buckets are shown for information.")
    else:
        summary = (f"Spot costs include an interruption overhead per instance type and region: expected interruptions per hour "
                   f"(upper bound of the interruption bucket ÷ {p.window_hours:g} h) × work lost per interruption "
                   f"(checkpoint interval {p.checkpoint_interval_hours:g} h ÷ 2 + restart {p.restart_hours:g} h); "
                   f"{unknown} is assumed where no interruption rate is published. Window, checkpoint interval, restart time "
                   "and the unknown default are assumptions (spec pricing.spot_risk), not measurements.")
    return {
        "summary": summary,
        "override_pct": None if model.override is None else round(model.override * 100, 1),
        "checkpoint_interval_hours": p.checkpoint_interval_hours, "restart_hours": p.restart_hours,
        "window_hours": p.window_hours, "unknown_overhead_pct": round(p.unknown_overhead * 100, 1),
        "buckets": buckets,
        "sources": [f"AWS: {sr.SNAPSHOT_SOURCE['aws']}; data no newer than {sr.SNAPSHOT_AS_OF['aws']}. "
                    "The bucket is the share of spot instances AWS reclaimed over the trailing month.",
                    f"Azure: unknown, {unknown} assumed ({sr.UNKNOWN_REASON['azure']}).",
                    f"GCP: unknown, {unknown} assumed ({sr.UNKNOWN_REASON['gcp']}).",
                    "Live (when live pricing is on): EC2 GetSpotPlacementScores, the 1-10 likelihood that a spot request "
                    "succeeds now; shown beside the bucket, it does not change the overhead (AWS documents launch "
                    "likelihood, not interruption frequency)."],
    }


def _row_risks(name: str, r: pd.Series, spec: RunSpec) -> list[str]:
    out = []
    if r["option"] == "spot":
        out.append(f"{name}: the cheapest pick runs on spot capacity, which can be reclaimed (interruption risk "
                   f"{r['spot_risk_basis']}); costs include a "
                   f"{fmt.pct(r['spot_overhead'] * 100, 1)} interruption overhead. Keep the on-demand alternative ready.")
    if r["option"].startswith("reserved"):
        out.append(f"{name}: the cheapest pick is a {r['option'].split('-')[1]} commitment, paid whether or not it is used.")
    if r["slo_probability"] < spec.confidence:
        out.append(f"{name}: the recommended config meets the SLOs in only {r['slo_probability']:.0%} of simulated outcomes (engine prediction interval).")
    if r.get("grid_match") == "fallback":
        out.append(f"{name}: no grid-intensity figure for {r['provider']} {r['region']}; carbon uses the world average.")
    return out


def _decision(workloads, spec, total, total_sav, conf_pct) -> tuple[str, str]:
    served = [w for w in workloads if w["cheapest"]]
    if not served:
        return ("No candidate configuration meets the SLOs.",
                " ".join(w["message"] for w in workloads) + " Relax the SLOs, allow more GPUs or add faster GPUs.")
    parts = []
    for w in served:
        c = w["cheapest"]["config"]
        s = (f"For {w['name']}, run {c['description']}: {c['monthly_cost']['text']}/month ({c['monthly_cost']['interval_text']}), "
             f"{c['unit_cost']['text']} per {c['unit']}; it meets every SLO in {c['slo_probability']['text']} of simulated outcomes "
             f"(≥ {c['slo_confidence']['text']} required).")
        if w["baseline"] and w["baseline"]["meets_slo"] and c["savings"]["value"] and c["savings"]["value"] > 0:
            s += (f" That saves {c['savings']['text']}/month ({c['savings_pct']['text']}; {c['savings']['interval_text']}) "
                  f"against {w['baseline']['description']}.")
        if w.get("commitments") and w["commitments"]["decision_line"]:
            s += " " + w["commitments"]["decision_line"]
        parts.append(s)
    for w in workloads:
        if not w["cheapest"]:
            parts.append(w["message"])
    if len(served) == 1:
        c = served[0]["cheapest"]["config"]
        headline = f"Run {served[0]['name']} on {c['gpu']} ({c['option']}, {c['provider']}) for {c['monthly_cost']['text']}/month"
    else:
        headline = f"{len(served)} workloads served for {fmt.usd(total[0])}/month ({fmt.usd(total[1])}–{fmt.usd(total[2])})"
    if total_sav[0] > 0:
        headline += f", saving {fmt.usd(total_sav[0])}/month"
    summary = " ".join(parts) + f" Ranges are {conf_pct}% intervals from a seeded Monte Carlo over prediction error, demand and spot prices."
    return headline + ".", summary


def _short_source(src: str) -> str:
    head = src.split(" via ")[0].split(" (")[0]
    return head.split(",")[0] + (" (fallback)" if "fallback" in src else "")


def _methodology(spec, quotes, quote_warnings, engine_info, rows, chart_engine, generated_at, shown=()) -> dict[str, Any]:
    if len(rows) and shown:
        rows = rows.loc[[i for i in shown if i in rows.index]]
    used = rows[["provider", "region", "grid_location", "grid_kgco2e_per_kwh", "grid_source", "grid_match", "pue"]].drop_duplicates(["provider", "region"]) if len(rows) else pd.DataFrame()
    carbon_rows = [{"provider": r.provider, "region": r.region, "location": r.grid_location,
                    "intensity": num(r.grid_kgco2e_per_kwh, fmt.num, unit="kgCO2e/kWh"), "pue": num(r.pue, fmt.num),
                    "source": _short_source(r.grid_source), "source_detail": r.grid_source, "match": r.grid_match} for r in used.sort_values(["provider", "region"]).itertuples()] if len(used) else []
    prices = {}
    for q in quotes:
        key = (q.provider, q.source)
        age = q.age_hours(generated_at) / 24.0
        e = prices.setdefault(key, {"provider": q.provider, "source": q.source, "detail": q.source_detail.split(";")[0],
                                    "quotes": 0, "oldest_days": 0.0, "fetched_at": q.fetched_at.strftime("%Y-%m-%d")})
        e["quotes"] += 1
        e["oldest_days"] = max(e["oldest_days"], age)
    price_list = [{**v, "oldest_days": num(v["oldest_days"], lambda x: f"{x:,.0f} days")} for v in prices.values()]
    from phantom_report.reporter.carbon import PUE_SOURCE

    return {
        "engine": dict(engine_info),
        "prices": sorted(price_list, key=lambda p: p["provider"]),
        "carbon": carbon_rows,
        "pue_source": PUE_SOURCE,
        "monte_carlo": {"samples": spec.monte_carlo.samples, "seed": spec.monte_carlo.seed, "confidence_pct": round(spec.confidence * 100)},
        # the user's flat override, else None (the overhead is per instance: see spot_risk)
        "spot_interruption_overhead_pct": (None if spec.pricing.spot_interruption_overhead is None
                                           else round(spec.pricing.spot_interruption_overhead * 100, 1)),
        "spot_risk": spot_methodology(spec),
        "chart_engine": chart_engine,
        "hours_per_month": HOURS_PER_MONTH,
        "assumptions": [
            f"A month is {HOURS_PER_MONTH:g} hours; inference fleets run all month (no autoscaling) and are sized for peak demand at the target utilisation.",
            "A replica runs on GPUs of one instance (tensor parallel inside a node); instances are rented whole.",
            spot_methodology(spec)["summary"],
            "Reserved prices assume the commitment is used all month; training on reserved capacity pays 730 h/month.",
            "Training fleets scale data-parallel linearly up to the deadline and use every GPU of the instances they rent; spot interruption overhead lengthens the run and must fit in the deadline; communication overhead beyond the engine's estimate is not modelled.",
            f"A configuration meets the SLOs only when its 95th-percentile latency is within a p95 SLO and it meets every SLO in at least the required share of simulated outcomes (slo.confidence, default 90%).",
            "A reservation longer than the horizon is costed for its whole term (the remaining commitment counts); one-off costs (migration) are counted once for the spec.",
            ("Energy is GPU board energy of the whole rented fleet times the provider's PUE: the busy GPU-hours at the engine's active power "
             "and every other rented GPU-hour (GPUs allocated but not working, spot interruption overhead) at the GPU's idle power. "
             "Idle power is Cloud Carbon Footprint's published per-GPU figure where the GPU profile has one (T4, V100 SXM2, A100 SXM, A10G, P4, P100 SXM2); "
             f"other GPUs are estimated at {IDLE_POWER_FALLBACK_FRACTION:.1%} of TDP (the median ratio of those figures) and marked idle_power_estimated. "
             "A GPU holding a loaded model draws more than a bare idle one, so idle energy is a lower bound; CPUs, memory and networking are excluded."),
            f"Buy-vs-rent: buy the GPUs the demand needs (replicas needed × GPUs per replica) at the GPU profile's launch price (or the spec's), power for the work done plus the owned GPUs' idle hours at ${spec.roi.power_cost_usd_per_kwh:g}/kWh with PUE {spec.roi.onprem_pue:g}, hosting ${spec.roi.hosting_usd_per_gpu_month:g}/GPU/month; no resale value, financing or staff.",
            "Prices are list prices in USD without taxes, egress, storage or support plans.",
            ("Savings are measured against the spec's baseline (roi.baseline)." if spec.roi.baseline else
             "Without roi.baseline, savings are measured against the cheapest on-demand configuration that meets the SLOs."),
            "Headline savings count only workloads whose baseline meets the SLOs itself.",
            ("Commitments: the 1-year and 3-year prices of the recommended configuration's own quote (AWS Standard "
             "No-Upfront Reserved Instances, GCP committed use discounts, Azure Reservations; savings plans are not "
             "priced); a term the quote lacks is shown as not offered. Demand counts as steady, and the decision says "
             f"whether to commit, when the fleet is busy ≥ {commitments_mod.STEADY_MIN_UTILISATION:.0%} of the hours, "
             f"peak ≤ {commitments_mod.STEADY_MAX_PEAK_TO_AVERAGE:g}x the average and demand uncertainty ≤ "
             f"±{commitments_mod.STEADY_MAX_UNCERTAINTY_PCT:g}%."),
            ("The lowest-carbon pick meets the same SLO and fleet rules as the other picks; carbon within "
             f"{GREEN_TIE_PCT:g}% of the lowest counts as equal and the cheapest of those is picked; its premium is its monthly cost "
             "minus the cheapest pick's, and its cost per tonne avoided is that premium over the carbon it saves against the cheapest pick."),
        ],
        "formulas": [
            "replicas = ceil(peak requests/s ÷ (throughput per replica × target utilisation))",
            "instances = ceil(replicas ÷ replicas per instance); GPUs = instances × GPUs per instance",
            "monthly cost = instances × $/instance-hour × 730 h × (1 + spot overhead if spot)",
            "spot overhead = interruptions per hour (upper bound of the instance's interruption bucket ÷ window hours) × work lost per interruption (checkpoint interval ÷ 2 + restart time); no published rate: the assumed default",
            "cost per 1M tokens = monthly cost ÷ generated tokens per month × 10⁶; per 1k inferences = monthly cost ÷ requests × 10³",
            "training: replicas = GPUs of the instances needed for the deadline ÷ GPUs per replica; run hours = samples per run ÷ (throughput × replicas) ÷ 3600 × (1 + spot overhead if spot) ≤ deadline; cost per run = instances × $/h × run hours",
            "best value = units delivered at the stated demand ÷ upper bound of the monthly cost",
            "savings = baseline monthly cost − monthly cost; savings over the horizon = baseline × horizon − monthly cost × max(horizon, commitment term)",
            "payback = migration cost (once per spec) ÷ summed monthly savings of the recommendations",
            "buy-vs-rent break-even = purchase price ÷ (monthly rent − monthly power and hosting)",
            ("energy (kWh) = (energy per sample × samples ÷ 3.6×10⁶ + idle W per GPU × (rented GPU-hours − busy GPU-hours) ÷ 1000) × PUE; "
             "busy GPU-hours = samples ÷ throughput per replica ÷ 3600 × GPUs per replica; rented GPU-hours = GPUs × 730 h "
             "(training: GPUs × run hours × runs; reserved: 730 h)"),
            "carbon = energy (kWh) × regional grid intensity (kgCO2e/kWh)",
            "utilisation = on-demand monthly cost ÷ (instances × on-demand $/h × 730 h); break-even utilisation = committed $/h ÷ on-demand $/h (commit when utilisation is above it)",
            "committed monthly cost = instances × committed $/h × 730 h, paid for every month of the term",
        ],
    }
