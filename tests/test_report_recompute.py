"""Every priced row of the example reports re-derived from report.csv / report.json with arithmetic
written here, independently of economics.py (what a finance reader would do with a spreadsheet).

The examples run offline (embedded price snapshot) through the real engine."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from phantom_report.engine.profiles import IDLE_POWER_FALLBACK_FRACTION, load_catalog
from phantom_report.reporter.recommend import GREEN_TIE_PCT
from phantom_report.reporter.run import run_report
from phantom_report.reporter.delivery.specio import load_run_spec as load_spec  # as `run` loads a spec (delivery keys allowed)

pytestmark = pytest.mark.heavy

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = tuple(sorted(p.stem for p in (ROOT / "examples").glob("*.yaml")))  # every example spec
assert {"quickstart", "training", "mixed"} <= set(EXAMPLES)
HOURS = 730.0
SECONDS = HOURS * 3600.0
REL = 5e-5  # report.csv keeps 6 significant digits


@pytest.fixture(scope="module", params=EXAMPLES)
def example(request, tmp_path_factory):
    spec = load_spec(ROOT / "examples" / f"{request.param}.yaml")
    if request.param == "quickstart":  # rendered once per session in every format (conftest)
        out = request.getfixturevalue("quickstart_report").outputs["json"].parent
    else:
        out = tmp_path_factory.mktemp(request.param)
        run_report(spec, out_dir=out, formats=["json", "csv"], offline=True)
    with open(out / "report.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return spec, rows, json.loads((out / "report.json").read_text())


def _f(v: str) -> float:
    return float(v) if v not in ("", None) else math.nan


def _close(a: float, b: float, rel: float = REL) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-6)


def _ceil_ok(count: float, x: float) -> bool:
    """count == ceil(x), allowing x that sits on an integer within the CSV's rounding."""
    lo, hi = math.ceil(x * (1 - REL)), math.ceil(x * (1 + REL))
    return count in {max(lo, 1), max(hi, 1), max(math.ceil(x), 1)}


# Spot interruption overhead, re-derived from the row's bucket: the bucket is looked up in the
# embedded snapshot CSV (read here, not through pricing/spot_risk.py), its upper bound taken from
# the advisor feed's labels, and the overhead is upper bound / window x (checkpoint / 2 + restart).
BUCKET_UPPER = {"<5%": 0.05, "5-10%": 0.10, "10-15%": 0.15, "15-20%": 0.20, ">20%": 1.0}
with open(ROOT / "pricing" / "data" / "spot_risk_aws.csv", newline="") as _fh:
    SNAPSHOT_BUCKET = {(r["provider"], r["region"], r["instance_type"]): r["interruption_bucket"] for r in csv.DictReader(_fh)}


def _expected_overhead(spec, r) -> float:
    if r["option"] != "spot":
        assert r["spot_interruption_bucket"] == "" and _f(r["spot_overhead"]) == 0.0, r
        return 1.0
    bucket = SNAPSHOT_BUCKET.get((r["provider"], r["region"], r["instance_type"]), "unknown")
    assert r["spot_interruption_bucket"] == bucket, r
    p = spec.pricing
    if p.spot_interruption_overhead is not None:  # the user's flat override
        extra = p.spot_interruption_overhead
    elif bucket == "unknown":
        extra = p.spot_risk.unknown_overhead
    else:
        lost_h = p.spot_risk.checkpoint_interval_hours / 2 + p.spot_risk.restart_hours
        extra = BUCKET_UPPER[bucket] / p.spot_risk.window_hours * lost_h
    assert _close(_f(r["spot_overhead"]), extra), r
    return 1.0 + extra


def _demand_units(w, r) -> tuple[float, float]:
    """(requests per month, billed units per month) for an inference row, from the spec alone."""
    d = w.demand
    tpr = _f(r["tokens_per_request"])
    if d.requests_per_month:
        req = d.requests_per_month
    elif d.requests_per_s:
        req = d.requests_per_s * SECONDS
    else:
        req = d.tokens_per_month / tpr
    units = req * tpr / 1e6 if r["unit"] == "1M tokens" else req / 1e3
    return req, units


def _check_inference(w, r, spec) -> None:
    inst, price, ovh = _f(r["instances"]), _f(r["usd_per_instance_hour"]), _f(r["overhead"])
    monthly = _f(r["monthly_cost_usd"])
    assert _close(monthly, inst * price * ovh * HOURS), r
    req, units = _demand_units(w, r)
    peak = req / SECONDS * w.demand.peak_to_average
    assert _ceil_ok(_f(r["replicas"]), peak / (_f(r["throughput_per_s"]) * w.demand.target_utilization)), r
    assert _close(_f(r["unit_cost_usd"]), monthly / units), r
    assert _close(_f(r["cost_per_1k_inferences_usd"]), monthly / req * 1e3), r
    delivered = req * _f(r["tokens_per_request"]) if r["unit"] == "1M tokens" else req
    assert _close(_f(r["units_per_usd"]), delivered / monthly), r
    _check_energy(r, req, HOURS)  # an inference fleet is rented all month


def _check_training(w, r, spec) -> None:
    d = w.demand
    rpi = int(_f(r["instance_gpus"])) // int(_f(r["gpu_count"]))
    inst, price, ovh = _f(r["instances"]), _f(r["usd_per_instance_hour"]), _f(r["overhead"])
    # every GPU rented works: replicas fill the instances
    assert _f(r["replicas"]) == inst * rpi, r
    samples = (d.dataset_samples or d.dataset_tokens / _f(r["tokens_per_request"])) * d.epochs
    replica_hours = samples / _f(r["throughput_per_s"]) / 3600.0 * ovh  # spot overhead is lost GPU time
    window = min(HOURS / d.runs_per_month, d.deadline_hours or math.inf)
    run_hours = _f(r["run_hours"])
    assert _close(run_hours * _f(r["replicas"]), replica_hours), r
    assert run_hours <= window * (1 + REL), r  # the deadline holds, overhead included
    assert _ceil_ok(inst, max(math.ceil(replica_hours / window * (1 - REL)), 1) / rpi) or _ceil_ok(
        inst, math.ceil(replica_hours / window) / rpi), r
    per_run = inst * price * run_hours
    assert _close(_f(r["cost_per_training_run_usd"]), per_run), r
    monthly = _f(r["monthly_cost_usd"])
    expect = inst * price * HOURS if r["option"].startswith("reserved") else per_run * d.runs_per_month
    assert _close(monthly, expect), r
    assert _close(_f(r["units_per_usd"]), samples * d.runs_per_month / monthly), r
    # a run rents its instances for the run's hours; reserved capacity is there all month
    rented = HOURS if r["option"].startswith("reserved") else run_hours * d.runs_per_month
    _check_energy(r, samples * d.runs_per_month, rented)


_CATALOG = load_catalog()


def _check_energy(r, samples_per_month: float, rented_hours: float) -> None:
    """Energy: busy GPU-hours at the engine's active power (energy per sample x samples), every
    other rented GPU-hour at the GPU's idle power (sourced, else TDP x the fallback ratio), x PUE."""
    prof = _CATALOG.get(r["gpu"])
    idle_w = prof.idle_power_w if prof.idle_power_w is not None else prof.tdp_w * IDLE_POWER_FALLBACK_FRACTION
    assert _close(_f(r["idle_power_w"]), idle_w), r
    assert r["idle_power_estimated"] == str(prof.idle_power_w is None), r
    busy = samples_per_month / _f(r["throughput_per_s"]) / 3600.0 * _f(r["gpu_count"])
    idle = max(_f(r["gpus"]) * rented_hours - busy, 0.0)
    assert _close(_f(r["busy_gpu_hours_per_month"]), busy), r
    assert abs(_f(r["idle_gpu_hours_per_month"]) - idle) <= REL * (busy + idle) + 1e-6, r
    kwh = (_f(r["energy_j_per_sample"]) * samples_per_month / 3.6e6 + idle_w * idle / 1000.0) * _f(r["pue"])
    assert _close(_f(r["energy_kwh_per_month"]), kwh, 2 * REL), r
    assert _close(_f(r["carbon_kgco2e_per_month"]), kwh * _f(r["grid_kgco2e_per_kwh"]), 3 * REL), r


def test_every_priced_row_recomputes(example):
    spec, rows, _ = example
    wl = {w.label: w for w in spec.workloads}
    h = spec.roi.horizon_months
    assert rows
    for r in rows:
        w = wl[r["workload"]]
        assert _f(r["gpus"]) == _f(r["instances"]) * _f(r["instance_gpus"]), r
        assert _close(_f(r["usd_per_gpu_hour"]), _f(r["usd_per_instance_hour"]) / _f(r["instance_gpus"])), r
        assert _close(_f(r["overhead"]), _expected_overhead(spec, r)), r
        (_check_training if r["task"] == "training" else _check_inference)(w, r, spec)
        base = _f(r["baseline_monthly_cost_usd"])
        if not math.isnan(base):
            monthly = _f(r["monthly_cost_usd"])
            tol = 2 * REL * max(abs(base), abs(monthly))  # a difference of two rounded figures
            assert abs(_f(r["savings_usd_per_month"]) - (base - monthly)) <= tol, r
            term = {"reserved-1y": 12, "reserved-3y": 36}.get(r["option"], 0)
            expect = base * h - monthly * max(h, term)
            assert abs(_f(r["savings_over_horizon_usd"]) - expect) <= tol * max(h, term) + REL * abs(expect), r


def test_intervals_hold_their_point_and_fleets_are_whole(example):
    _, rows, _ = example
    shown = [r for r in rows if r["monthly_cost_usd_low"]]
    assert shown
    for r in shown:
        for col in ("monthly_cost_usd", "unit_cost_usd", "gpus", "replicas"):
            lo, v, hi = _f(r[f"{col}_low"]), _f(r[col]), _f(r[f"{col}_high"])
            assert lo * (1 - REL) <= v <= hi * (1 + REL), (col, r)
        for col in ("gpus_low", "gpus_high", "replicas_low", "replicas_high"):
            assert _f(r[col]) == int(_f(r[col])), (col, r)


def test_slo_verdicts_hold_at_the_required_confidence(example):
    spec, rows, payload = example
    wl = {w.label: w for w in spec.workloads}
    for r in rows:
        w = wl[r["workload"]]
        assert _f(r["slo_confidence"]) == w.slo.confidence
        if r["meets_slo"] == "True":
            assert _f(r["slo_probability"]) >= w.slo.confidence, r
            if w.slo.p95_latency_ms:
                assert _f(r["latency_ms_p95"]) <= w.slo.p95_latency_ms, r
        else:  # every excluded row says why; a confidence miss states both shares
            assert r["reason"], r
            if "of outcomes <" in r["reason"]:
                p, c = _f(r["slo_probability"]), w.slo.confidence
                shown = f"{p:.1%}" if f"{p:.0%}" == f"{c:.0%}" else f"{p:.0%}"  # never '90% < 90%'
                assert r["reason"] == f"meets the SLOs in {shown} of outcomes < {c:.0%} required", r


def test_decision_totals_and_payback_recompute(example):
    spec, _, payload = example
    cheapest = [w["cheapest"]["config"] for w in payload["workloads"] if w["cheapest"]]
    total = sum(c["monthly_cost"]["value"] for c in cheapest)
    if cheapest:
        assert payload["decision"]["total_monthly_cost"]["value"] == pytest.approx(total)
    else:  # nothing meets the SLOs: no total is claimed
        assert payload["decision"]["total_monthly_cost"]["value"] is None
    counted = [w["cheapest"]["config"] for w in payload["workloads"]
               if w["cheapest"] and w["baseline"] and w["baseline"]["meets_slo"]]
    saving = sum(c["savings"]["value"] for c in counted)
    assert (payload["decision"]["total_savings"]["value"] or 0.0) == pytest.approx(saving)
    mig = spec.roi.migration_cost_usd
    net = sum(c["savings_over_horizon"]["value"] for c in counted) - mig
    if not counted:  # savings against nothing are unknown, not zero
        assert payload["decision"]["net_savings_over_horizon"]["value"] is None
        return
    assert payload["decision"]["net_savings_over_horizon"]["value"] == pytest.approx(net)
    if mig > 0 and saving > 0:  # the migration counted once for the spec, not per workload
        assert payload["decision"]["payback_months"]["value"] == pytest.approx(mig / saving)


def test_every_configuration_in_the_json_carries_its_slo_probability_and_confidence(example):
    spec, _, payload = example
    for w in payload["workloads"]:
        views = [r["config"] for r in w["recommendations"]] + w["top"] + w["detail"] + w["closest"]
        for c in views:
            assert c["slo_probability"]["value"] is not None and c["slo_confidence"]["value"] is not None
        for r in w["recommendations"]:  # acceptance: no pick below the spec's confidence
            assert r["config"]["slo_probability"]["value"] >= r["config"]["slo_confidence"]["value"] - 1e-9
        for e in w["excluded"]:
            assert "slo_probability" in e and "slo_confidence" in e


def test_carbon_source_table_covers_every_region_the_report_shows(example):
    _, _, payload = example
    listed = {(c["provider"], c["region"]) for c in payload["methodology"]["carbon"]}
    for w in payload["workloads"]:
        views = [r["config"] for r in w["recommendations"]] + w["top"] + w["detail"] + ([w["baseline"]] if w["baseline"] else [])
        for c in views:
            assert (c["provider"], c["region"]) in listed, c["description"]


def test_unmatched_baseline_is_a_visible_warning_and_saves_nothing(tmp_path):
    from phantom_report.reporter.spec import parse_spec

    # the baseline names a GPU of the spec on a cloud that does not rent it (Azure has no L4 size):
    # a baseline GPU outside `gpus` is refused by the spec itself (tests/test_hostile_spec.py)
    spec = parse_spec("model: resnet-50\ngpus: [L4, T4]\ndemand: {requests_per_month: 50_000_000}\n"
                      "pricing: {offline: true, reserved: [3y]}\n"
                      "roi: {baseline: {gpu: L4, provider: azure}, migration_cost_usd: 5000}\n")
    r = run_report(spec, out_dir=tmp_path, formats=["json", "md"], offline=True)
    risks = r.payload["risks"]
    assert any(x.startswith("roi.baseline (L4 azure on-demand) matches no priced configuration of resnet-50") for x in risks)
    assert any(x.startswith("reserved-3y pricing was requested") for x in risks)
    w = r.payload["workloads"][0]
    assert w["baseline"] is None and w["cheapest"]["config"]["savings"]["value"] is None
    assert "saving" not in r.headline and r.payload["decision"]["net_savings_over_horizon"]["value"] is None
    assert "matches no priced configuration" in r.outputs["md"].read_text()


def test_adding_an_unrelated_workload_leaves_a_configurations_interval_alone(tmp_path):
    from phantom_report.reporter.spec import parse_spec

    one = ("workloads:\n  - {name: vision, model: resnet-50, demand: {requests_per_month: 50_000_000, uncertainty_pct: 20}}\n"
           "gpus: [L4, T4, A10G]\npricing: {offline: true}\n")
    two = one.replace("workloads:\n", "workloads:\n  - {name: other, model: bert-base, demand: {requests_per_month: 9_000_000, uncertainty_pct: 30}}\n")
    cols = ["monthly_cost_usd_low", "monthly_cost_usd_high", "gpus_low", "gpus_high", "slo_probability"]
    frames = []
    for i, text in enumerate((one, two)):
        r = run_report(parse_spec(text), out_dir=tmp_path / str(i), formats=["json"], offline=True)
        e = r.economics
        e = e[e["workload"] == "vision"].set_index(["gpu", "precision", "batch_size", "provider", "region", "instance_type", "option"])
        frames.append(e[cols].sort_index())
    assert len(frames[0]) > 0 and len(frames[1]) == len(frames[0])
    assert frames[0].equals(frames[1])


# ---------------------------------------------------------------- commitments and the green pick

STEADY = (0.8, 1.5, 20.0)  # utilisation at least, peak/average at most, uncertainty % at most (docs/INTERFACES.md)


def _quote_for(payload, cm) -> dict:
    """The price quote the commitments block was built from (provider, region, zone, instance)."""
    found = [q for q in payload["quotes"] if (q["provider"], q["region"], q["zone"], q["instance_type"])
             == (cm["provider"], cm["region"], cm["zone"], cm["instance_type"])]
    assert len(found) == 1, cm["configuration"]
    return found[0]


def check_commitments(spec, payload) -> int:
    """Re-derive every commitments block from its quote and the spec; returns how many committed
    prices were checked."""
    wl = {w.label: w for w in spec.workloads}
    checked = 0
    for w in payload["workloads"]:
        cm = w["commitments"]
        if not w["cheapest"]:
            assert cm is None
            continue
        q, d = _quote_for(payload, cm), wl[w["name"]].demand
        opts = {o["option"]: o for o in cm["options"]}
        od = opts["on-demand"]
        od_h, inst, od_m = od["usd_per_instance_hour"]["value"], od["instances"], od["monthly_cost"]["value"]
        assert od_h == pytest.approx(q["on_demand_usd_per_hour"])
        util = min(1.0, od_m / (inst * od_h * HOURS))
        assert cm["utilisation"]["value"] == pytest.approx(util)
        best = None
        for term, months in (("1y", 12), ("3y", 36)):
            o, price = opts[f"reserved-{term}"], q["reserved_usd_per_hour"].get(term)
            assert o["offered"] == (price is not None), o  # never a price the quote does not hold
            if price is None:
                assert o["monthly_cost"]["value"] is None and o["break_even_utilisation"]["value"] is None
                continue
            checked += 1
            monthly = inst * price * HOURS
            assert o["usd_per_instance_hour"]["value"] == pytest.approx(price)
            assert o["monthly_cost"]["value"] == pytest.approx(monthly)
            assert o["cost_over_term"]["value"] == pytest.approx(monthly * months)
            assert o["break_even_utilisation"]["value"] == pytest.approx(price / od_h)
            assert o["savings_vs_on_demand"]["value"] == pytest.approx(od_m - monthly)
            if best is None or monthly < best[0]:
                best = (monthly, price / od_h)
        steady = util >= STEADY[0] and d.peak_to_average <= STEADY[1] and d.uncertainty_pct <= STEADY[2]
        assert cm["steady"] == steady
        line = cm["decision_line"]
        if not steady:
            assert line == ""
            continue
        assert line and line in payload["decision"]["summary"]
        if best is None:
            assert line.startswith("Commit or not: demand is steady, but no 1-year or 3-year commitment price")
        else:
            assert line.startswith("Commit:" if util > best[1] else "Do not commit:"), line
    return checked


def check_green(rows, payload) -> None:
    """The green pick is the lowest-carbon row that meets the SLOs and the fleet limit, and its
    premium is its monthly cost minus the cheapest pick's."""
    for w in payload["workloads"]:
        ok = [r for r in rows if r["workload"] == w["name"] and r["meets_slo"] == "True" and r["fleet_ok"] == "True"
              and not math.isnan(_f(r["carbon_kgco2e_per_month"]))]
        recs = {r["kind"]: r["config"] for r in w["recommendations"]}
        if not ok:
            assert "green" not in recs and w["green"]["config"] is None
            assert w["green"]["message"].startswith(f"No lowest-carbon pick for {w['name']}")
            continue
        low = min(_f(r["carbon_kgco2e_per_month"]) for r in ok)
        g, c = recs["green"], recs["cheapest"]
        # carbon within GREEN_TIE_PCT of the lowest counts as equal; the cheapest of those wins
        band = [r for r in ok if _f(r["carbon_kgco2e_per_month"]) <= low * (1 + GREEN_TIE_PCT / 100) * (1 + REL)]
        assert g["carbon"]["value"] <= low * (1 + GREEN_TIE_PCT / 100) * (1 + REL)
        assert g["monthly_cost"]["value"] == pytest.approx(min(_f(r["monthly_cost_usd"]) for r in band), rel=REL)
        prem = g["monthly_cost"]["value"] - c["monthly_cost"]["value"]
        assert w["green"]["premium"]["value"] == pytest.approx(prem)
        assert w["green"]["premium_pct"]["value"] == pytest.approx(prem / c["monthly_cost"]["value"] * 100)
        assert w["green"]["grid_source"]  # the intensity keeps its source
        listed = {(x["provider"], x["region"]): x["source_detail"] for x in payload["methodology"]["carbon"]}
        assert listed[(g["provider"], g["region"])] == w["green"]["grid_source"]


def test_commitments_and_green_pick_recompute(example):
    spec, rows, payload = example
    check_commitments(spec, payload)
    check_green(rows, payload)


def test_commitment_prices_recompute_from_a_quote_that_offers_them(tmp_path, monkeypatch):
    """A cache holding AWS quotes with 1y/3y prices (TEST INPUT, not market prices: 0.62 and 0.41
    of the snapshot's on-demand rate, chosen to exercise both sides of the break-even) feeds the
    real run; the report's commitments are re-derived from the quotes it lists."""
    from datetime import datetime, timezone

    from phantom_report.pricing.cache import PriceCache
    from phantom_report.pricing.catalog import get_quotes
    from phantom_report.reporter.spec import parse_spec

    now = datetime.now(timezone.utc)
    snap = get_quotes(providers=["aws"], regions=["us-east-1"], offline=True, use_cache=False, now=now).quotes
    test_input = [q.with_changes(reserved_usd_per_hour={"1y": q.on_demand_usd_per_hour * 0.62, "3y": q.on_demand_usd_per_hour * 0.41},
                                 source_detail="test input: reserved = 0.62/0.41 x on-demand (not a market price)")
                  for q in snap if q.on_demand_usd_per_hour]
    cache = tmp_path / "cache"
    PriceCache(cache).write("aws", "on_demand", "aws|gpus=*|regions=['us-east-1']", test_input, now=now)
    monkeypatch.setenv("PHANTOM_CACHE_DIR", str(cache))
    spec = parse_spec("workloads:\n"
                      "  - {name: steady, model: resnet-50, demand: {requests_per_month: 50_000_000}}\n"
                      "  - {name: peaky, model: resnet-50, demand: {requests_per_month: 50_000_000, peak_to_average: 3}}\n"
                      "gpus: [L4, T4, A10G]\npricing: {offline: true, providers: [aws], regions: [us-east-1], reserved: [1y, 3y]}\n")
    r = run_report(spec, out_dir=tmp_path / "out", formats=["json", "csv", "md"], offline=True)
    payload = json.loads((tmp_path / "out" / "report.json").read_text())
    with open(tmp_path / "out" / "report.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert check_commitments(spec, payload) == 4  # both terms, both workloads
    check_green(rows, payload)
    steady, peaky = payload["workloads"]
    assert steady["commitments"]["steady"] and steady["commitments"]["decision_line"].startswith("Commit:")
    assert not peaky["commitments"]["steady"] and "peak is 3x the average" in peaky["commitments"]["steady_reason"]
    md = r.outputs["md"].read_text()
    assert "**Commit or not**" in md and steady["commitments"]["decision_line"] in md
