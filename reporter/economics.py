"""Fleet sizing and cost: engine predictions x price quotes -> one row per priced configuration.

Pure functions over DataFrames. The same vectorised ``evaluate`` computes the point estimate and
every Monte Carlo sample (``montecarlo.py``), so an interval can never disagree with its headline.

Formulas (also printed in the report's methodology appendix):

* inference: peak rate = average rate x peak_to_average; replicas = ceil(peak / (throughput per
  replica x target utilisation)); instances = ceil(replicas / replicas per instance); monthly cost =
  instances x $/instance-hour x 730 h x spot overhead. The fleet runs all month (no autoscaling).
* training: hours of one run on one replica = samples per run / throughput / 3600; replicas =
  ceil(those hours / window) where the window is the deadline (or the month divided by the runs);
  cost per run = instances x $/h x run hours x spot overhead; reserved capacity is paid 730 h a month.
* energy = (busy GPU-hours at active power + idle GPU-hours x idle power per GPU) x provider PUE
  (GPU board energy only). Busy GPU-hours = samples / throughput per replica x GPUs per replica
  (the active part is the engine's energy per sample x samples); idle GPU-hours = the GPU-hours
  the fleet is rented (GPUs x 730 h; a training run: GPUs x run hours x runs, reserved: 730 h)
  minus the busy ones. Idle power comes from the GPU profile (``idle_power_w``) or, where none is
  sourced, TDP x ``profiles.IDLE_POWER_FALLBACK_FRACTION``; carbon = energy x grid intensity.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Mapping

import numpy as np
import pandas as pd

from phantom_report.reporter import carbon
from phantom_report.reporter.fmt import share_below
from phantom_report.reporter.spec import RunSpec, WorkloadSpec

HOURS_PER_MONTH = 730.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600.0

# columns `evaluate` returns; each gets an interval in montecarlo.py
EVAL_COLUMNS = (
    "replicas", "instances", "gpus", "monthly_cost_usd", "unit_cost_usd", "run_hours",
    "energy_kwh_per_month", "carbon_kgco2e_per_month",
)


# ---------------------------------------------------------------------------- per point


def point_frame(pred: pd.DataFrame, spec: RunSpec) -> pd.DataFrame:
    """Engine output + demand, SLO verdict and exclusion reason per point.

    Added columns: is_llm, is_training, tokens_per_request, target_utilization,
    peak_requests_per_s, requests_per_month, tokens_per_month, samples_per_run, runs_per_month,
    window_hours, per_stream_tokens_per_s, meets_slo, status (ok | excluded), reason, unit
    ("1M tokens" | "1k inferences" | "training run")."""
    wl = {w.label: w for w in spec.workloads}
    df = pred.copy()
    df["is_training"] = df["task"].eq("training")
    tok_ratio = df["tokens_per_s"] / df["throughput_per_s"]
    df["tokens_per_request"] = tok_ratio.where(np.isfinite(tok_ratio) & (tok_ratio > 0))
    df["is_llm"] = df["ttft_ms"].notna() & ~df["is_training"]
    df["per_stream_tokens_per_s"] = (1000.0 / df["tpot_ms"]).where(df["is_llm"])
    cols = {k: [] for k in ("target_utilization", "peak_requests_per_s", "requests_per_month",
                            "tokens_per_month", "samples_per_run", "runs_per_month", "window_hours")}
    # rows as plain dicts: the same Python scalars iterrows would give, without a Series per row
    for r in df.to_dict("records"):
        d = _demand(wl[r["workload"]], r)
        for k in cols:
            cols[k].append(d[k])
    for k, v in cols.items():
        df[k] = v
    df["unit"] = np.where(df["is_training"], "training run", np.where(df["is_llm"], "1M tokens", "1k inferences"))
    # a "p95 latency" SLO is a percentile: compare it with the prediction's own 95th percentile
    df["latency_ms_p95"] = latency_percentile_ms(df, 0.95, spec.confidence)
    for key in ("p95_latency_ms", "max_ttft_ms", "min_tokens_per_s"):  # the limits, for "what it would take"
        df[f"slo_{key}"] = df["workload"].map({w.label: getattr(w.slo, key) for w in spec.workloads}).astype(float)
    verdicts = [_verdict(wl[r["workload"]], r) for r in df.to_dict("records")]
    df["meets_slo"] = [v[0] for v in verdicts]
    df["reason"] = [v[1] for v in verdicts]
    df["status"] = np.where(df["meets_slo"], "ok", "excluded")
    return df


def add_idle_power(points: pd.DataFrame, idle_by_gpu: Mapping[str, tuple[float, bool]]) -> pd.DataFrame:
    """Adds idle_power_w (W one GPU draws while provisioned but not working) and
    idle_power_estimated (True: TDP x the fallback ratio, no sourced figure) from
    ``idle_by_gpu`` (GPU name -> ``GpuProfile.idle_power()``)."""
    out = points.copy()
    out["idle_power_w"] = out["gpu"].map(lambda g: idle_by_gpu[g][0]).astype(float)
    out["idle_power_estimated"] = out["gpu"].map(lambda g: idle_by_gpu[g][1]).astype(bool)
    return out


def _demand(w: WorkloadSpec, r: Mapping[str, Any]) -> dict[str, float]:
    d = w.demand
    nan = float("nan")
    tpr = r["tokens_per_request"]
    if w.resolved_task == "training":
        samples = d.dataset_samples
        if samples is None:  # dataset_tokens: samples = tokens / tokens per sequence
            samples = d.dataset_tokens / tpr if tpr and not math.isnan(tpr) else nan
        window = HOURS_PER_MONTH / d.runs_per_month
        if d.deadline_hours:
            window = min(window, d.deadline_hours)
        return dict(target_utilization=1.0, peak_requests_per_s=nan, requests_per_month=nan,
                    tokens_per_month=(d.dataset_tokens or nan) * d.epochs * d.runs_per_month,
                    samples_per_run=samples * d.epochs, runs_per_month=d.runs_per_month, window_hours=window)
    if d.requests_per_month:
        rpm = d.requests_per_month
    elif d.requests_per_s:
        rpm = d.requests_per_s * SECONDS_PER_MONTH
    else:  # tokens_per_month counts generated tokens
        rpm = d.tokens_per_month / tpr if tpr and not math.isnan(tpr) else nan
    tokens = rpm * tpr if tpr and not math.isnan(tpr) else nan
    return dict(target_utilization=d.target_utilization,
                peak_requests_per_s=rpm / SECONDS_PER_MONTH * d.peak_to_average, requests_per_month=rpm,
                tokens_per_month=tokens, samples_per_run=nan, runs_per_month=nan, window_hours=nan)


def _verdict(w: WorkloadSpec, r: Mapping[str, Any]) -> tuple[bool, str]:
    """(meets, reason). Unsupported and out-of-memory points are excluded before any SLO check."""
    if not bool(r["supported"]):
        return False, f"not supported: {r.get('reason') or 'engine cannot predict this point'}"
    if not bool(r["fits"]):
        hint = r.get("fit_hint") or ""
        return False, f"does not fit in memory ({r['memory_gb']:.0f} GB per GPU)" + (f"; {hint}" if hint else "")
    if w.demand.tokens_per_month and not (r["tokens_per_request"] > 0):
        return False, "demand is in tokens but this model reports no token rate"
    s = w.slo
    misses = []
    if s.p95_latency_ms and r["latency_ms_p95"] > s.p95_latency_ms:
        misses.append(f"95th-percentile latency {r['latency_ms_p95']:,.0f} ms (central {r['latency_ms']:,.0f} ms) "
                      f"> p95 SLO {s.p95_latency_ms:,.0f} ms")
    if s.max_ttft_ms:
        if not r["is_llm"]:
            misses.append("max_ttft_ms applies to LLM inference only")
        elif r["ttft_ms"] > s.max_ttft_ms:
            misses.append(f"TTFT {r['ttft_ms']:,.0f} ms > SLO {s.max_ttft_ms:,.0f} ms")
    if s.min_tokens_per_s:
        if not r["is_llm"]:
            misses.append("min_tokens_per_s applies to LLM inference only")
        elif r["per_stream_tokens_per_s"] < s.min_tokens_per_s:
            misses.append(f"{r['per_stream_tokens_per_s']:,.1f} tokens/s per stream < SLO {s.min_tokens_per_s:,.0f}")
    if misses:
        return False, "; ".join(misses)
    return True, ""


def latency_percentile_ms(df: pd.DataFrame, q: float, confidence: float) -> np.ndarray:
    """The ``q`` quantile of each point's predicted latency: the engine's interval
    latency_ms_low/high at ``confidence`` read as a split log-normal (the distribution the Monte
    Carlo samples, see ``montecarlo.latency_scale``)."""
    nd = NormalDist()
    z_conf, z_q = nd.inv_cdf(0.5 + confidence / 2.0), nd.inv_cdf(q)
    lat = df["latency_ms"].to_numpy(float)
    bound = df["latency_ms_high" if q >= 0.5 else "latency_ms_low"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.nan_to_num(np.abs(np.log(bound / lat)) / z_conf, nan=0.0)
    return lat * np.exp(z_q * sigma)


def slo_thresholds(w: WorkloadSpec) -> dict[str, float]:
    """The workload's SLO limits by prediction column: ``latency_ms`` (p95, ms), ``ttft_ms`` (ms),
    ``per_stream_tokens_per_s`` (a floor); only those the spec sets."""
    s = w.slo
    return {k: float(v) for k, v in (("latency_ms", s.p95_latency_ms), ("ttft_ms", s.max_ttft_ms),
                                     ("per_stream_tokens_per_s", s.min_tokens_per_s)) if v}


# ---------------------------------------------------------------------------- quotes


def quotes_frame(quotes, spec: RunSpec, now=None, risk=None) -> pd.DataFrame:
    """One row per quote x pricing option. Columns: quote_id, provider, region, zone,
    instance_type, gpu, instance_gpus, option (on-demand | spot | reserved-1y | reserved-3y),
    usd_per_instance_hour, usd_per_gpu_hour, overhead (1 + spot_overhead), spot_interruption_bucket
    ("" unless spot; "unknown" when no rate is published), spot_overhead (0 unless spot),
    spot_risk_basis, spot_placement_score (live, else NaN), price_source, source_detail,
    price_sku_ids (the provider's ids of the published prices used, space-separated; empty for
    the embedded snapshot), fetched_at, age_hours. ``risk`` is a ``pricing.spot_risk.RiskTable``
    (None: the embedded snapshot with the spec's model)."""
    from phantom_report.pricing import spot_risk

    rows = []
    table = risk if risk is not None else spot_risk.load(spec.pricing.spot_risk_model())
    for i, q in enumerate(quotes):
        opts: list[tuple[str, float | None, float]] = [("on-demand", q.on_demand_usd_per_hour, 1.0)]
        sr = table.risk(q.provider, q.region, q.instance_type)
        if spec.pricing.spot:
            opts.append(("spot", q.spot_usd_per_hour, 1.0 + sr.overhead))
        for term in spec.pricing.reserved:
            opts.append((f"reserved-{term}", q.reserved_usd_per_hour.get(term), 1.0))
        for option, price, overhead in opts:
            if price is None or not price > 0:
                continue
            rows.append({
                "quote_id": i, "provider": q.provider, "region": q.region, "zone": q.zone,
                "instance_type": q.instance_type, "gpu": q.gpu, "instance_gpus": int(q.gpu_count),
                "option": option, "usd_per_instance_hour": float(price),
                "usd_per_gpu_hour": float(price) / q.gpu_count, "overhead": overhead,
                **_spot_columns(sr if option == "spot" else None),
                "price_source": q.source, "source_detail": q.source_detail, "price_sku_ids": " ".join(q.sku_ids),
                "fetched_at": q.fetched_at.isoformat(), "age_hours": q.age_hours(now),
            })
    qf = pd.DataFrame(rows)
    if qf.empty:
        return qf
    # availability: how many provider/regions offer this GPU under this option (lowest-risk pick)
    avail = qf.groupby(["gpu", "option"]).apply(
        lambda g: pd.Series({"availability_regions": len(set(zip(g.provider, g.region))),
                             "availability_providers": g.provider.nunique()}), include_groups=False)
    return qf.merge(avail.reset_index(), on=["gpu", "option"])


def _spot_columns(sr) -> dict:
    """The interruption-risk columns of one quote row (``sr`` None: not a spot row)."""
    if sr is None:
        return {"spot_interruption_bucket": "", "spot_overhead": 0.0, "spot_risk_basis": "", "spot_placement_score": np.nan}
    score = np.nan if sr.placement_score is None else float(sr.placement_score)
    return {"spot_interruption_bucket": sr.bucket, "spot_overhead": sr.overhead, "spot_risk_basis": sr.basis,
            "spot_placement_score": score}


# ---------------------------------------------------------------------------- priced rows


def priced_rows(points: pd.DataFrame, qf: pd.DataFrame) -> pd.DataFrame:
    """Every point x every quote of its GPU whose instance holds a whole replica."""
    if qf.empty or points.empty:
        return pd.DataFrame()
    rows = points.merge(qf, on="gpu", how="inner")
    rows = rows[rows["instance_gpus"] >= rows["gpu_count"]].copy()
    rows["replicas_per_instance"] = rows["instance_gpus"] // rows["gpu_count"]
    rows["is_reserved"] = rows["option"].str.startswith("reserved")
    regions = carbon.region_frame(list(zip(rows["provider"], rows["region"])))
    rows = rows.merge(regions, on=["provider", "region"], how="left")
    return rows.reset_index(drop=True)


def evaluate(r: Mapping[str, np.ndarray], thr_scale=1.0, demand_scale=1.0, price_scale=1.0) -> dict[str, np.ndarray]:
    """Fleet and cost for arrays of rows (shape (n,) or broadcast (n, samples)).

    ``thr_scale`` multiplies throughput (a slower sample is < 1), ``demand_scale`` the demand,
    ``price_scale`` the hourly price. Training uses every GPU it rents: the replicas needed for the
    deadline are rounded up to whole instances and all replicas of those instances work, so the
    cost of a run is $/replica-hour x replica-hours and never falls when the GPU is slower. The
    spot overhead is extra GPU time, so a spot run must finish its longer hours in the window."""
    train = r["is_training"]
    # the branches are computed only when some row needs them (Monte Carlo calls this on
    # rows x samples arrays, where skipping a branch halves the work)
    any_train, all_train = bool(np.any(train)), bool(np.all(train))
    nan = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        thr = r["throughput_per_s"] * thr_scale
        raw_price = r["usd_per_instance_hour"] * price_scale
        inf_replicas = nan
        if not all_train:
            peak = r["peak_requests_per_s"] * demand_scale
            inf_replicas = np.maximum(np.ceil(peak / (thr * r["target_utilization"])), 1.0)
        gpu_hours = tr_needed = tr_replicas = nan
        if any_train:
            # replica-hours of one run, interruption overhead included (it is lost GPU time)
            gpu_hours = r["samples_per_run"] * demand_scale / thr / 3600.0 * r["overhead"]
            tr_needed = np.maximum(np.ceil(gpu_hours / r["window_hours"]), 1.0)
            tr_replicas = np.ceil(tr_needed / r["replicas_per_instance"]) * r["replicas_per_instance"]
        replicas = tr_replicas if all_train else (np.where(train, tr_replicas, inf_replicas) if any_train else inf_replicas)
        needed = tr_needed if all_train else (np.where(train, tr_needed, inf_replicas) if any_train else inf_replicas)
        instances = np.ceil(replicas / r["replicas_per_instance"])
        gpus = instances * r["instance_gpus"]
        # inference pays the overhead as price (a spot fleet keeps spare capacity all month)
        always_on = instances * raw_price * np.where(train, 1.0, r["overhead"]) * HOURS_PER_MONTH
        if any_train:
            run_hours = np.where(train, gpu_hours / replicas, nan)
            per_run = instances * raw_price * run_hours
            monthly = np.where(train & ~r["is_reserved"], per_run * r["runs_per_month"], always_on)
        else:
            run_hours = np.full(np.shape(always_on), nan)
            monthly = always_on
        if all_train:
            units = r["runs_per_month"]
        else:
            served = np.where(r["is_llm"], r["tokens_per_month"] / 1e6, r["requests_per_month"] / 1e3) * demand_scale
            units = np.where(train, r["runs_per_month"], served) if any_train else served
        unit_cost = monthly / units
        samples = np.where(train, r["samples_per_run"] * r["runs_per_month"], r["requests_per_month"]) * demand_scale
        # the fleet draws power all the hours it is provisioned: busy GPU-hours at the engine's
        # active power (its energy per sample), the rest of the rented GPU-hours at idle power
        busy_gpu_h = samples / thr / 3600.0 * r["gpu_count"]
        if any_train:
            rented_h = np.where(train & ~r["is_reserved"], run_hours * r["runs_per_month"], HOURS_PER_MONTH)
        else:
            rented_h = HOURS_PER_MONTH
        idle_gpu_h = np.maximum(gpus * rented_h - busy_gpu_h, 0.0)
        active_kwh = r["energy_j_per_sample"] / thr_scale * samples / 3.6e6
        energy = (active_kwh + r["idle_power_w"] * idle_gpu_h / 1000.0) * r["pue"]
        co2 = energy * r["grid_kgco2e_per_kwh"]
    return {
        "replicas": replicas, "instances": instances, "gpus": gpus, "monthly_cost_usd": monthly,
        "unit_cost_usd": unit_cost, "run_hours": run_hours,
        "energy_kwh_per_month": energy, "carbon_kgco2e_per_month": co2, "replicas_needed": needed,
        "busy_gpu_hours_per_month": busy_gpu_h, "idle_gpu_hours_per_month": idle_gpu_h,
        "active_energy_kwh_per_month": active_kwh,
    }


ARRAY_INPUTS = (
    "throughput_per_s", "usd_per_instance_hour", "overhead", "replicas_per_instance", "is_training",
    "peak_requests_per_s", "target_utilization", "samples_per_run", "window_hours", "instance_gpus",
    "is_reserved", "runs_per_month", "is_llm", "tokens_per_month", "requests_per_month",
    "energy_j_per_sample", "pue", "grid_kgco2e_per_kwh", "gpu_count", "idle_power_w",
)


def as_arrays(rows: pd.DataFrame, extra_dim: bool = False) -> dict[str, np.ndarray]:
    """The ``ARRAY_INPUTS`` columns of ``rows`` as numpy arrays (``is_*`` as bool, else float),
    for ``evaluate``; ``extra_dim`` adds a trailing axis to broadcast over Monte Carlo samples."""
    out = {}
    for c in ARRAY_INPUTS:
        a = rows[c].to_numpy(dtype=bool if c.startswith("is_") else float)
        out[c] = a[:, None] if extra_dim else a
    return out


def cost_rows(rows: pd.DataFrame, spec: RunSpec, purchase_price_usd_per_gpu: Mapping[str, float]) -> pd.DataFrame:
    """Point-estimate economics. Adds the EVAL_COLUMNS plus replicas_needed, cost_per_1m_tokens_usd,
    cost_per_1k_inferences_usd, cost_per_training_run_usd, units_per_usd (tokens, inferences or
    training samples delivered at the stated demand per dollar of the monthly cost),
    fleet_ok/fleet_reason (max_gpus), and the buy-vs-rent columns owned_gpus (the GPUs the demand
    needs, not the rented instances), purchase_usd (NaN when no purchase price is known),
    owned_usd_per_month (power for the work done plus the owned GPUs' idle hours, at the on-prem
    PUE, plus hosting), busy_gpu_hours_per_month / idle_gpu_hours_per_month (the energy split) and
    buy_breakeven_months (NaN: unknown price, or renting stays cheaper; see buy_breakeven_text)."""
    if rows.empty:
        return rows
    df = rows.copy()
    res = evaluate(as_arrays(df))
    for k, v in res.items():
        df[k] = v
    df["cost_per_1m_tokens_usd"] = np.where(df["is_llm"], df["unit_cost_usd"], np.nan)
    df["cost_per_1k_inferences_usd"] = np.where(~df["is_training"], df["monthly_cost_usd"] / df["requests_per_month"] * 1e3, np.nan)
    df["cost_per_training_run_usd"] = np.where(df["is_training"], df["unit_cost_usd"], np.nan)
    delivered = np.where(df["is_training"], df["samples_per_run"] * df["runs_per_month"],
                         np.where(df["is_llm"], df["tokens_per_month"], df["requests_per_month"]))
    df["units_per_usd"] = delivered / df["monthly_cost_usd"]
    df["units_per_usd_label"] = np.where(df["is_llm"], "tokens per $", np.where(df["is_training"], "samples per $", "inferences per $"))
    max_gpus = {w.label: w.slo.max_gpus for w in spec.workloads}
    limit = df["workload"].map(max_gpus).astype(float)
    df["fleet_ok"] = limit.isna() | (df["gpus"] <= limit)
    df["fleet_reason"] = np.where(df["fleet_ok"], "", "needs " + df["gpus"].astype(int).astype(str) + " GPUs > max_gpus " + limit.fillna(0).astype(int).astype(str))
    return _buy_vs_rent(df, spec, purchase_price_usd_per_gpu)


def _buy_vs_rent(df: pd.DataFrame, spec: RunSpec, purchase_price_usd_per_gpu: Mapping[str, float]) -> pd.DataFrame:
    """Owning the GPUs the demand needs (replicas needed x GPUs per replica): purchase, power (the
    work they do at active power plus their other hours of the month at idle power, x on-prem PUE)
    and hosting per GPU."""
    roi = spec.roi
    price_per_gpu = df["gpu"].map(lambda g: roi.purchase_price_usd_per_gpu or purchase_price_usd_per_gpu.get(g, np.nan)).astype(float)
    df["owned_gpus"] = df["replicas_needed"] * df["gpu_count"]
    df["purchase_usd"] = df["owned_gpus"] * price_per_gpu
    # owned GPUs stay powered all month: the work at active power, the rest of their hours idle
    owned_idle_h = np.maximum(df["owned_gpus"] * HOURS_PER_MONTH - df["busy_gpu_hours_per_month"], 0.0)
    owned_kwh = (df["active_energy_kwh_per_month"] + df["idle_power_w"] * owned_idle_h / 1000.0) * roi.onprem_pue
    df["owned_usd_per_month"] = owned_kwh * roi.power_cost_usd_per_kwh + df["owned_gpus"] * roi.hosting_usd_per_gpu_month
    saving = df["monthly_cost_usd"] - df["owned_usd_per_month"]
    known = df["purchase_usd"].notna() & np.isfinite(df["purchase_usd"])
    df["buy_breakeven_months"] = np.where(known & (saving > 0), df["purchase_usd"] / saving, np.nan)
    df["buy_breakeven_text"] = np.where(~known, "unknown (no purchase price)",
                                        np.where(saving > 0, "", "never (renting stays cheaper)"))
    return df


def apply_slo_confidence(points: pd.DataFrame, rows: pd.DataFrame, spec: RunSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Exclude configurations whose probability of meeting every SLO (``slo_probability``, from the
    simulated prediction intervals) is below the workload's ``slo.confidence``; both frames gain
    ``slo_confidence`` and the excluded ones say by how much they miss."""
    conf = {w.label: w.slo.confidence for w in spec.workloads}
    out = []
    for df in (points, rows):
        if df.empty:
            out.append(df)
            continue
        df = df.copy()
        df["slo_confidence"] = df["workload"].map(conf).astype(float)
        low = df["meets_slo"].astype(bool) & (df["slo_probability"] < df["slo_confidence"])
        df.loc[low, "reason"] = [f"meets the SLOs in {share_below(p, c)} of outcomes < {c:.0%} required"
                                 for p, c in zip(df.loc[low, "slo_probability"], df.loc[low, "slo_confidence"])]
        df.loc[low, "meets_slo"] = False
        if "status" in df:
            df.loc[low, "status"] = "excluded"
        out.append(df)
    return out[0], out[1]


# ---------------------------------------------------------------------------- ranking by cost


def _column(df: pd.DataFrame, name: str, fill: float) -> np.ndarray:
    """A numeric column as floats, NaN (or a missing column) as ``fill``."""
    if name not in df:
        return np.full(len(df), fill)
    v = df[name].to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(v), fill, v)


def cost_order(df: pd.DataFrame) -> pd.Index:
    """``df``'s index cheapest first: the one ranking by monthly cost every pick, table and chart uses.

    Costs are compared to the cent: two configurations whose costs are equal in exact arithmetic
    (3 GPUs for 16.8 h or 4 for 12.6 h of a training run) differ in the last digits of floating
    point, and a ranking on raw floats flips between them with the summation order (another numpy
    build, another CPU). Within a cent: higher probability of meeting the SLOs (2 decimals), sooner
    finished run, lower latency, fewer GPUs, lower carbon (the same price in two regions), then the
    frame's own order (stable; pandas' default sort was not, so equal costs came out in an
    arbitrary order)."""
    keys = (
        -np.round(_column(df, "slo_probability", 1.0), 2),
        _column(df, "run_hours", np.inf),
        _column(df, "latency_ms", np.inf),
        _column(df, "gpus", np.inf),
        _column(df, "carbon_kgco2e_per_month", np.inf),
    )
    cents = np.round(_column(df, "monthly_cost_usd", np.inf) * 100.0)
    # np.lexsort: the last key is the primary one; it is stable, so equal keys keep frame order
    return df.index[np.lexsort((*reversed(keys), cents))]


# ---------------------------------------------------------------------------- baseline / ROI


def cheapest_on_demand(df: pd.DataFrame) -> dict[str, int]:
    """workload -> row index of its cheapest on-demand config that meets the SLOs and fleet limit."""
    ok = df[(df["option"] == "on-demand") & df["meets_slo"] & df["fleet_ok"] & np.isfinite(df["monthly_cost_usd"])]
    return {w: int(cost_order(g)[0]) for w, g in ok.groupby("workload")}


def pick_baseline(df: pd.DataFrame, spec: RunSpec, default: Mapping[str, int]) -> tuple[dict[str, int], list[str]]:
    """(workload -> row index of the baseline, warnings). The spec's baseline is the cheapest
    matching row, preferring rows that meet the SLOs; without roi.baseline it is ``default`` (the
    cheapest on-demand config meeting the SLOs). A roi.baseline that matches no priced row of a
    workload is never replaced silently: that workload gets no baseline and a warning."""
    b = spec.roi.baseline
    out: dict[str, int] = {}
    warnings: list[str] = []
    for w in spec.workloads:
        sub = df[df["workload"] == w.label]
        if b is None:
            if w.label in default:
                out[w.label] = default[w.label]
            continue
        m = sub[(sub["gpu"] == b.gpu) & (sub["option"] == b.option)]
        if b.provider:
            m = m[m["provider"] == b.provider]
        if b.region:
            m = m[m["region"] == b.region]
        if len(m):
            # prefer a baseline config that itself meets the SLOs (what you could keep running)
            ok = m[m["meets_slo"] & m["fleet_ok"]]
            out[w.label] = int(cost_order(ok if len(ok) else m)[0])
            continue
        what = " ".join(x for x in (b.gpu, b.provider or "", b.region or "", b.option) if x)
        warnings.append(f"roi.baseline ({what}) matches no priced configuration of {w.label} "
                        "(GPU not in `gpus`, no quote for that provider/region/option, or the model does not fit); "
                        f"no savings are shown for {w.label}.")
    return out, warnings


def term_months(option: str) -> int:
    """Months a pricing option commits to (0 for on-demand and spot)."""
    return {"reserved-1y": 12, "reserved-3y": 36}.get(option, 0)


def add_roi(df: pd.DataFrame, baseline: Mapping[str, int], spec: RunSpec) -> pd.DataFrame:
    """savings_usd_per_month / savings_pct against the workload's baseline; commitment_months and
    cost_over_horizon_usd (a reservation longer than the horizon is paid for its whole term);
    savings_over_horizon_usd = baseline cost over the horizon - cost_over_horizon_usd. One-off
    costs (migration) belong to the spec, not to a row: see ``spec_roi``."""
    out = df.copy()
    base_cost = out["workload"].map({w: out.at[i, "monthly_cost_usd"] for w, i in baseline.items()})
    h = spec.roi.horizon_months
    out["baseline_monthly_cost_usd"] = base_cost
    out["savings_usd_per_month"] = base_cost - out["monthly_cost_usd"]
    out["savings_pct"] = out["savings_usd_per_month"] / base_cost * 100.0
    out["commitment_months"] = out["option"].map(term_months).astype(int)
    out["cost_over_horizon_usd"] = out["monthly_cost_usd"] * np.maximum(out["commitment_months"], h)
    out["savings_over_horizon_usd"] = base_cost * h - out["cost_over_horizon_usd"]
    return out


def spec_roi(savings_usd_per_month: float, savings_over_horizon_usd: float, spec: RunSpec) -> dict[str, float]:
    """Spec-level return: the migration cost counted once against the summed savings of the
    recommended configurations. payback_months is NaN when nothing is saved (or nothing to repay:
    0); roi_pct NaN without a migration cost."""
    mig = spec.roi.migration_cost_usd
    net = savings_over_horizon_usd - mig
    if mig <= 0:
        payback = 0.0 if savings_usd_per_month > 0 else float("nan")
    else:
        payback = mig / savings_usd_per_month if savings_usd_per_month > 0 else float("nan")
    return {"migration_cost_usd": mig, "savings_usd_per_month": savings_usd_per_month,
            "net_savings_over_horizon_usd": net, "payback_months": payback,
            "roi_pct": net / mig * 100.0 if mig > 0 else float("nan")}


def pricing_warnings(qf: pd.DataFrame, gpus: list[str], spec: RunSpec) -> list[str]:
    """Requested pricing options (reserved terms, spot) that no quote offers, per GPU."""
    out = []
    asked = spec.pricing.model_fields_set  # only options the spec asked for (defaults stay quiet)
    wanted = ([f"reserved-{t}" for t in spec.pricing.reserved] if "reserved" in asked else []) + \
        (["spot"] if spec.pricing.spot and "spot" in asked else [])
    quoted = set(qf["gpu"]) if len(qf) else set()
    for opt in wanted:
        have = set(qf.loc[qf["option"] == opt, "gpu"]) if len(qf) else set()
        missing = sorted(g for g in gpus if g in quoted and g not in have)
        if not have and quoted:
            out.append(f"{opt} pricing was requested but no quote from the selected providers/regions offers it; "
                       f"no {opt} configuration is shown.")
        elif missing:
            names = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
            out.append(f"{opt} pricing was requested but no quote offers it for {names}.")
    return out
