"""Economics formulas on small hand-built frames of the documented shape (unit tests of the
formulas only; end-to-end behaviour uses the real engine and snapshot prices in test_report_e2e)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from phantom_report.pricing.quote import PriceQuote
from phantom_report.reporter import economics, montecarlo
from phantom_report.reporter.spec import parse_spec


def _row(**kw):
    base = dict(
        throughput_per_s=10.0, usd_per_instance_hour=4.0, overhead=1.0, replicas_per_instance=4,
        is_training=False, peak_requests_per_s=95.0, target_utilization=0.5, samples_per_run=np.nan,
        window_hours=np.nan, instance_gpus=4, is_reserved=False, runs_per_month=np.nan, is_llm=False,
        tokens_per_month=np.nan, requests_per_month=95.0 * economics.SECONDS_PER_MONTH,
        energy_j_per_sample=100.0, pue=1.1, grid_kgco2e_per_kwh=0.4, gpu_count=1, idle_power_w=0.0,
    )
    base.update(kw)
    return pd.DataFrame([base])


def test_inference_fleet_is_sized_for_peak_at_target_utilisation():
    r = economics.evaluate(economics.as_arrays(_row()))
    # 95 req/s / (10 req/s x 0.5) = 19 replicas -> 5 instances of 4 -> 20 GPUs
    assert (r["replicas"][0], r["instances"][0], r["gpus"][0]) == (19, 5, 20)
    assert r["monthly_cost_usd"][0] == pytest.approx(5 * 4.0 * 730)
    requests = 95.0 * economics.SECONDS_PER_MONTH
    assert r["unit_cost_usd"][0] == pytest.approx(5 * 4.0 * 730 / requests * 1e3)
    assert r["energy_kwh_per_month"][0] == pytest.approx(100 * requests / 3.6e6 * 1.1)
    assert r["carbon_kgco2e_per_month"][0] == pytest.approx(r["energy_kwh_per_month"][0] * 0.4)


def test_spot_overhead_multiplies_cost():
    a = economics.evaluate(economics.as_arrays(_row()))["monthly_cost_usd"][0]
    b = economics.evaluate(economics.as_arrays(_row(overhead=1.15)))["monthly_cost_usd"][0]
    assert b == pytest.approx(a * 1.15)


def test_training_meets_deadline_and_reserved_pays_the_month():
    row = _row(is_training=True, samples_per_run=3_600_000.0, window_hours=25.0, runs_per_month=2.0,
               peak_requests_per_s=np.nan, requests_per_month=np.nan, throughput_per_s=10.0, replicas_per_instance=1,
               instance_gpus=1)
    r = economics.evaluate(economics.as_arrays(row))
    # one replica needs 100 h; the 25 h window needs 4 replicas, each run then takes 25 h
    assert r["replicas"][0] == 4 and r["run_hours"][0] == pytest.approx(25.0)
    assert r["monthly_cost_usd"][0] == pytest.approx(4 * 4.0 * 25 * 2)
    assert r["unit_cost_usd"][0] == pytest.approx(4 * 4.0 * 25)
    reserved = economics.evaluate(economics.as_arrays(row.assign(is_reserved=True)))
    assert reserved["monthly_cost_usd"][0] == pytest.approx(4 * 4.0 * 730)


def test_llm_cost_per_million_tokens():
    row = _row(is_llm=True, tokens_per_month=2e9, requests_per_month=1e7, peak_requests_per_s=1e7 / economics.SECONDS_PER_MONTH)
    r = economics.evaluate(economics.as_arrays(row))
    assert r["unit_cost_usd"][0] == pytest.approx(r["monthly_cost_usd"][0] / 2e3)


def test_idle_gpus_of_the_rented_fleet_draw_idle_power():
    # 19 replicas busy 95/(10 x 19) = 50% of the month on 20 rented GPUs: 1 GPU idle all month
    r = economics.evaluate(economics.as_arrays(_row(idle_power_w=40.0)))
    requests = 95.0 * economics.SECONDS_PER_MONTH
    busy_h = requests / 10.0 / 3600.0
    assert r["busy_gpu_hours_per_month"][0] == pytest.approx(busy_h)
    assert r["idle_gpu_hours_per_month"][0] == pytest.approx(20 * 730 - busy_h)
    expect = (100 * requests / 3.6e6 + 40 * (20 * 730 - busy_h) / 1000) * 1.1
    assert r["energy_kwh_per_month"][0] == pytest.approx(expect)
    # a bigger fleet for the same work now costs energy: twice the GPUs per instance, same replicas
    big = economics.evaluate(economics.as_arrays(_row(idle_power_w=40.0, instance_gpus=8, replicas_per_instance=8)))
    assert big["gpus"][0] == 24 and big["energy_kwh_per_month"][0] == pytest.approx(expect + 40 * 4 * 730 / 1000 * 1.1)


def test_multi_gpu_replicas_count_every_gpu_busy():
    # 2 GPUs per replica: busy GPU-hours are replica-hours x 2
    r = economics.evaluate(economics.as_arrays(_row(idle_power_w=40.0, gpu_count=2, replicas_per_instance=2)))
    busy_h = 95.0 * economics.SECONDS_PER_MONTH / 10.0 / 3600.0 * 2
    assert r["busy_gpu_hours_per_month"][0] == pytest.approx(busy_h)
    assert r["idle_gpu_hours_per_month"][0] == pytest.approx(r["gpus"][0] * 730 - busy_h)


def test_training_idle_hours_are_the_overhead_and_the_idle_gpus_of_its_instances():
    # 8-GPU instances, 3-GPU replicas: 115 replica-hours in a 25 h window need 5 replicas -> 3
    # instances (6 replicas, 24 GPUs); 6 GPUs sit idle for each run, plus the 15% overhead
    row = _train_row(replicas_per_instance=2, instance_gpus=8, gpu_count=3, overhead=1.15, idle_power_w=50.0)
    r = economics.evaluate(economics.as_arrays(row))
    busy_per_run = 3_600_000 / 10.0 / 3600.0 * 3  # 300 GPU-hours of work
    assert r["busy_gpu_hours_per_month"][0] == pytest.approx(busy_per_run * 2)
    assert r["gpus"][0] == 24 and r["run_hours"][0] == pytest.approx(115 / 6)
    rented = 24 * 115 / 6 * 2
    assert r["idle_gpu_hours_per_month"][0] == pytest.approx(rented - busy_per_run * 2)
    # reserved capacity is there all month: its idle hours fill the 730 h
    res = economics.evaluate(economics.as_arrays(row.assign(is_reserved=True)))
    assert res["idle_gpu_hours_per_month"][0] == pytest.approx(r["gpus"][0] * 730 - busy_per_run * 2)
    assert res["energy_kwh_per_month"][0] > r["energy_kwh_per_month"][0]


def test_slower_sample_keeps_busy_and_idle_hours_inside_the_rented_hours():
    arr = economics.as_arrays(_row(idle_power_w=40.0))
    for s in (0.5, 1.0, 2.0):
        r = economics.evaluate(arr, thr_scale=s)
        total = r["busy_gpu_hours_per_month"][0] + r["idle_gpu_hours_per_month"][0]
        assert total == pytest.approx(r["gpus"][0] * 730)


def _quote(**kw):
    base = dict(provider="aws", region="us-east-1", zone=None, instance_type="p5.48xlarge", gpu="H100-SXM", gpu_count=8,
                vcpus=192, memory_gib=2048, on_demand_usd_per_hour=98.0, spot_usd_per_hour=40.0,
                reserved_usd_per_hour={"1y": 60.0}, fetched_at=datetime(2026, 1, 1, tzinfo=timezone.utc), source="snapshot")
    base.update(kw)
    return PriceQuote(**base)


def test_quotes_frame_expands_pricing_options_and_states_overhead():
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\npricing: {spot_interruption_overhead: 0.2, reserved: [1y, 3y]}\n")
    qf = economics.quotes_frame([_quote(), _quote(region="us-west-2", spot_usd_per_hour=None)], spec)
    assert sorted(qf["option"]) == ["on-demand", "on-demand", "reserved-1y", "reserved-1y", "spot"]
    spot = qf[qf["option"] == "spot"].iloc[0]
    assert spot["overhead"] == pytest.approx(1.2) and spot["usd_per_gpu_hour"] == pytest.approx(5.0)
    assert set(qf[qf["option"] == "on-demand"]["availability_regions"]) == {2}


def test_spot_overhead_follows_each_instance_interruption_bucket():
    """Without the flat override, each spot row pays its own bucket's overhead; unknown rows the
    assumed default; non-spot rows none."""
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\n"
                      "pricing: {spot_risk: {checkpoint_interval_hours: 2, restart_hours: 0.5, window_hours: 12, unknown_overhead: 0.3}}\n")
    quotes = [_quote(region="us-east-1", instance_type="p5.48xlarge"),      # >20% in the snapshot
              _quote(region="us-east-1", instance_type="g4dn.8xlarge", gpu="T4", gpu_count=1),  # <5%
              _quote(provider="gcp", region="us-central1", instance_type="a3-highgpu-8g")]      # no published rate
    qf = economics.quotes_frame(quotes, spec)
    spot = qf[qf["option"] == "spot"].set_index("instance_type")
    lost = 2 / 2 + 0.5
    assert spot.loc["p5.48xlarge", "spot_interruption_bucket"] == ">20%"
    assert spot.loc["p5.48xlarge", "overhead"] == pytest.approx(1 + 1.0 / 12 * lost)
    assert spot.loc["g4dn.8xlarge", "overhead"] == pytest.approx(1 + 0.05 / 12 * lost)
    assert spot.loc["a3-highgpu-8g", "spot_interruption_bucket"] == "unknown"
    assert spot.loc["a3-highgpu-8g", "overhead"] == pytest.approx(1.3)
    other = qf[qf["option"] != "spot"]
    assert (other["overhead"] == 1.0).all() and (other["spot_interruption_bucket"] == "").all()


def test_latency_scale_hits_the_engine_bounds_at_the_confidence_quantile():
    pts = pd.DataFrame({"latency_ms": [100.0], "latency_ms_low": [80.0], "latency_ms_high": [150.0]})
    zc = montecarlo.z_for(0.9)
    f = montecarlo.latency_scale(pts, np.array([[zc, -zc, 0.0]]), 0.9)
    assert f[0] == pytest.approx([1.5, 0.8, 1.0])


def test_simulated_intervals_do_not_depend_on_chunks_or_threads(monkeypatch):
    # simulate splits the rows into chunks run on a few threads: the numbers must be the same bits
    # however the rows are split and however many threads run them
    spec = parse_spec("workloads:\n  - {name: a, model: x, demand: {requests_per_month: 5, uncertainty_pct: 30}}\n"
                      "  - {name: b, model: x, demand: {requests_per_month: 7}}\nmonte_carlo: {samples: 400}\n")
    rng = np.random.default_rng(7)
    n_points = 40
    points = pd.DataFrame({"workload": ["a", "b"] * (n_points // 2), "gpu": [f"G{i % 5}" for i in range(n_points)],
                           "precision": "fp16", "batch_size": np.arange(n_points) + 1, "gpu_count": 1,
                           "latency_ms": rng.uniform(5, 50, n_points)})
    points["latency_ms_low"] = points["latency_ms"] * 0.8
    points["latency_ms_high"] = points["latency_ms"] * 1.4
    rows = pd.concat([_row(throughput_per_s=float(t), usd_per_instance_hour=float(p))
                      for t, p in zip(rng.uniform(5, 50, 300), rng.uniform(1, 9, 300))], ignore_index=True)
    rows["point_id"] = np.arange(300) % n_points
    rows["workload"] = points["workload"].to_numpy()[rows["point_id"]]
    rows["gpu"] = points["gpu"].to_numpy()[rows["point_id"]]
    rows["option"] = np.where(np.arange(300) % 3 == 0, "spot", "on-demand")
    rows["provider"] = "aws"
    rows["meets_slo"] = np.arange(300) % 7 != 0
    rows["fleet_ok"] = True
    qf = pd.DataFrame({"provider": "aws", "gpu": ["G0", "G0", "G0", "G0"], "instance_type": ["i1", "i1", "i2", "i2"],
                       "region": "r", "option": ["spot", "on-demand"] * 2, "usd_per_gpu_hour": [1.0, 3.0, 1.5, 3.0]})
    draws = montecarlo.draw(points, qf, spec)
    baseline = {"a": 1, "b": 2}
    whole = montecarlo.simulate(rows, draws, baseline)
    simulated = whole["monthly_cost_usd_low"].notna()
    assert simulated.equals(rows["meets_slo"]) and whole.loc[simulated, "savings_usd_per_month_high"].notna().all()
    for threads in (1, 4):
        monkeypatch.setattr(montecarlo, "MAX_THREADS", threads)
        monkeypatch.setattr(montecarlo, "CHUNK_ELEMENTS", 400 * 16)  # 16-row chunks: 16 of them
        pd.testing.assert_frame_equal(montecarlo.simulate(rows, draws, baseline), whole, check_exact=True)


def test_roi_savings_reservation_term_and_migration_once_per_spec():
    spec = parse_spec("workloads:\n  - {name: a, model: x, demand: {requests_per_month: 5}}\n"
                      "  - {name: b, model: x, demand: {requests_per_month: 5}}\n"
                      "roi: {migration_cost_usd: 1000, horizon_months: 12}\n")
    df = pd.DataFrame({"workload": ["a", "a", "a", "b", "b"], "monthly_cost_usd": [1500.0, 1000.0, 900.0, 800.0, 550.0],
                       "option": ["on-demand", "spot", "reserved-3y", "on-demand", "spot"]})
    out = economics.add_roi(df, {"a": 0, "b": 3}, spec)
    assert out["savings_usd_per_month"].tolist() == [0.0, 500.0, 600.0, 0.0, 250.0]
    # a 3-year reservation is paid for 36 months even over a 12-month horizon
    assert out.loc[2, "cost_over_horizon_usd"] == pytest.approx(900 * 36)
    assert out.loc[2, "savings_over_horizon_usd"] == pytest.approx(1500 * 12 - 900 * 36)
    assert out.loc[1, "savings_over_horizon_usd"] == pytest.approx(500 * 12)  # no migration inside a row
    # the migration is counted once against the summed savings of the two workloads' picks
    roi = economics.spec_roi(500.0 + 250.0, 500 * 12 + 250 * 12, spec)
    assert roi["payback_months"] == pytest.approx(1000 / 750)
    assert roi["net_savings_over_horizon_usd"] == pytest.approx(750 * 12 - 1000)
    assert roi["roi_pct"] == pytest.approx((750 * 12 - 1000) / 1000 * 100)
    assert math.isnan(economics.spec_roi(0.0, 0.0, spec)["payback_months"])


def _train_row(**kw):
    base = dict(is_training=True, samples_per_run=3_600_000.0, window_hours=25.0, runs_per_month=2.0,
                peak_requests_per_s=np.nan, requests_per_month=np.nan, throughput_per_s=10.0)
    base.update(kw)
    return _row(**base)


def test_training_uses_every_gpu_it_rents():
    # 8-GPU instance, 1 GPU per replica: the deadline needs 4 replicas, all 8 of the instance work
    r = economics.evaluate(economics.as_arrays(_train_row(replicas_per_instance=8, instance_gpus=8, usd_per_instance_hour=16.0)))
    assert (r["replicas_needed"][0], r["replicas"][0], r["instances"][0]) == (4, 8, 1)
    assert r["run_hours"][0] == pytest.approx(100 / 8)
    assert r["unit_cost_usd"][0] == pytest.approx(16.0 * 100 / 8)  # = $2/GPU-hour x 100 GPU-hours


@pytest.mark.parametrize("rpi,gpus,price", [(1, 1, 2.0), (8, 8, 16.0), (2, 4, 8.0)])
def test_training_cost_never_falls_when_the_gpu_is_slower(rpi, gpus, price):
    arr = economics.as_arrays(_train_row(replicas_per_instance=rpi, instance_gpus=gpus, usd_per_instance_hour=price))
    scales = np.linspace(1.5, 0.2, 60)
    costs = [float(economics.evaluate(arr, thr_scale=s)["monthly_cost_usd"][0]) for s in scales]
    assert all(b >= a - 1e-9 for a, b in zip(costs, costs[1:]))


def test_spot_overhead_lengthens_training_inside_the_deadline():
    row = _train_row(overhead=1.15, replicas_per_instance=1, instance_gpus=1)
    r = economics.evaluate(economics.as_arrays(row))
    # 100 h x 1.15 = 115 replica-hours in a 25 h window: 5 replicas, 23 h per run
    assert r["replicas"][0] == 5 and r["run_hours"][0] == pytest.approx(23.0) and r["run_hours"][0] <= 25.0
    assert r["unit_cost_usd"][0] == pytest.approx(5 * 4.0 * 23.0)


def test_p95_slo_is_compared_with_the_95th_percentile():
    pts = pd.DataFrame({"latency_ms": [5000.0], "latency_ms_low": [4000.0], "latency_ms_high": [7000.0]})
    # the upper bound of a 90% two-sided interval is the 95th percentile
    assert economics.latency_percentile_ms(pts, 0.95, 0.9)[0] == pytest.approx(7000.0)
    assert economics.latency_percentile_ms(pts, 0.95, 0.8)[0] > 7000.0
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\nslo: {p95_latency_ms: 6000}\n")
    r = pd.Series({"supported": True, "fits": True, "latency_ms": 5000.0, "latency_ms_p95": 7000.0,
                   "tokens_per_request": np.nan, "is_llm": False})
    ok, reason = economics._verdict(spec.workloads[0], r)
    assert not ok and "95th-percentile latency 7,000 ms" in reason


def test_slo_confidence_excludes_configurations_and_says_why():
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\nslo: {p95_latency_ms: 10, confidence: 0.9}\n")
    pts = pd.DataFrame({"workload": ["x", "x"], "meets_slo": [True, True], "slo_probability": [0.61, 0.95],
                        "reason": ["", ""], "status": ["ok", "ok"]})
    p, r = economics.apply_slo_confidence(pts, pts.drop(columns="status"), spec)
    assert p["meets_slo"].tolist() == [False, True] and r["meets_slo"].tolist() == [False, True]
    assert p.loc[0, "reason"] == "meets the SLOs in 61% of outcomes < 90% required"
    assert p.loc[0, "status"] == "excluded" and (p["slo_confidence"] == 0.9).all()
    assert parse_spec("model: x\ndemand: {requests_per_month: 5}\n").workloads[0].slo.confidence == 0.9


def test_unmatched_baseline_is_a_warning_never_a_substitute():
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\nroi: {baseline: {gpu: V100-SXM2-16GB, provider: aws}}\n")
    df = pd.DataFrame({"workload": ["x"], "gpu": ["H100-SXM"], "option": ["on-demand"], "provider": ["aws"],
                       "region": ["us-east-1"], "meets_slo": [True], "fleet_ok": [True], "monthly_cost_usd": [10.0]})
    base, warnings = economics.pick_baseline(df, spec, {"x": 0})
    assert base == {} and len(warnings) == 1 and "matches no priced configuration of x" in warnings[0]


def test_requested_pricing_no_quote_offers_is_warned():
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\npricing: {reserved: [1y, 3y]}\n")
    qf = economics.quotes_frame([_quote()], spec)
    w = economics.pricing_warnings(qf, ["H100-SXM"], spec)
    assert len(w) == 1 and w[0].startswith("reserved-3y pricing was requested")
    quiet = parse_spec("model: x\ndemand: {requests_per_month: 5}\n")  # defaults asked nothing explicitly
    assert economics.pricing_warnings(economics.quotes_frame([_quote(reserved_usd_per_hour={})], quiet), ["H100-SXM"], quiet) == []


def test_buy_vs_rent_buys_the_gpus_needed_and_says_unknown_without_a_price():
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\nroi: {power_cost_usd_per_kwh: 0.1, onprem_pue: 1.5, hosting_usd_per_gpu_month: 100}\n")
    df = pd.DataFrame({"gpu": ["H100-SXM", "X"], "replicas_needed": [1.0, 1.0], "gpu_count": [1, 1], "gpus": [8.0, 8.0],
                       "energy_kwh_per_month": [110.0, 110.0], "pue": [1.1, 1.1], "monthly_cost_usd": [5000.0, 5000.0],
                       "active_energy_kwh_per_month": [100.0, 100.0], "busy_gpu_hours_per_month": [200.0, 200.0],
                       "idle_power_w": [50.0, 50.0]})
    out = economics._buy_vs_rent(df, spec, {"H100-SXM": 30000.0})
    assert out.loc[0, "owned_gpus"] == 1 and out.loc[0, "purchase_usd"] == pytest.approx(30000.0)
    # the work done at active power, the owned GPU's other 530 h of the month at idle power (not
    # the rented fleet's 8 GPUs, and never 730 h at full power)
    owned = (100 + 50 * (730 - 200) / 1000) * 1.5 * 0.1 + 100
    assert out.loc[0, "owned_usd_per_month"] == pytest.approx(owned)
    assert out.loc[0, "buy_breakeven_months"] == pytest.approx(30000 / (5000 - owned))
    assert math.isnan(out.loc[1, "buy_breakeven_months"]) and out.loc[1, "buy_breakeven_text"].startswith("unknown")


def _points(workloads):
    rows = []
    for w in workloads:
        for gpu in ("H100-SXM", "L4"):
            rows.append({"workload": w, "gpu": gpu, "precision": "fp16", "batch_size": 8, "gpu_count": 1,
                         "latency_ms": 100.0, "latency_ms_low": 80.0, "latency_ms_high": 150.0})
    return pd.DataFrame(rows)


def test_a_configurations_draws_do_not_move_when_a_workload_is_added():
    one = parse_spec("workloads:\n  - {name: a, model: x, demand: {requests_per_month: 5, uncertainty_pct: 20}}\n")
    two = parse_spec("workloads:\n  - {name: z, model: y, demand: {requests_per_month: 9, uncertainty_pct: 10}}\n"
                     "  - {name: a, model: x, demand: {requests_per_month: 5, uncertainty_pct: 20}}\n")
    d1 = montecarlo.draw(_points(["a"]), pd.DataFrame(), one)
    d2 = montecarlo.draw(_points(["z", "a"]), pd.DataFrame(), two)
    np.testing.assert_array_equal(d1.latency_factor, d2.latency_factor[2:])
    np.testing.assert_array_equal(d1.demand["a"], d2.demand["a"])
    assert not np.array_equal(d2.latency_factor[0], d2.latency_factor[2])  # streams differ per configuration


def test_grid_intensity_table_cites_sources_and_falls_back_visibly():
    from phantom_report.reporter import carbon

    table = carbon.intensity_table()
    assert {"provider", "region", "kgco2e_per_kwh", "source"} <= set(table.columns)
    assert table["source"].str.contains("Cloud Carbon Footprint").all()
    exact = carbon.lookup("aws", "us-east-1")
    assert (exact.matched, exact.kgco2e_per_kwh) == ("exact", pytest.approx(0.379069))
    assert carbon.lookup("azure", "East US").matched == "exact"
    assert carbon.lookup("lambda", "us-east-1").matched == "region-name"
    unknown = carbon.lookup("runpod", "global")
    assert unknown.matched == "fallback" and "Ember" in unknown.source
    assert carbon.pue("gcp") == 1.1 and carbon.pue("runpod") == carbon.PUE_DEFAULT


def test_a_rows_interval_does_not_depend_on_the_rows_simulated_with_it(monkeypatch):
    """simulate works in chunks sized for the CPU cache; training and inference rows share chunks
    (evaluate picks its branches per chunk), and each row's interval must come out the same."""
    rng = np.random.default_rng(7)
    frames = []
    for i in range(41):
        row = _train_row(overhead=1.15) if i % 3 == 0 else _row(throughput_per_s=5.0 + i)
        frames.append(row.assign(point_id=i, workload="train" if i % 3 == 0 else "serve",
                                 option="spot" if i % 2 else "on-demand", provider="aws", gpu="L4",
                                 meets_slo=i != 5, fleet_ok=True))
    rows = pd.concat(frames, ignore_index=True)
    n = 100
    d = montecarlo.Draws(latency_factor=rng.lognormal(0.0, 0.2, (41, n)),
                         demand={"train": rng.lognormal(0.0, 0.1, n), "serve": rng.lognormal(0.0, 0.1, n)},
                         spot={("aws", "L4"): rng.lognormal(0.0, 0.1, n)}, slo_probability=pd.Series(dtype=float),
                         samples=n, confidence=0.9)
    baseline = {"serve": 1, "train": 3}
    monkeypatch.setattr(montecarlo, "CHUNK_ELEMENTS", 10**9)
    whole = montecarlo.simulate(rows, d, baseline)
    monkeypatch.setattr(montecarlo, "CHUNK_ELEMENTS", 1)  # MIN_CHUNK_ROWS rows per chunk
    chunked = montecarlo.simulate(rows, d, baseline)
    pd.testing.assert_frame_equal(whole, chunked, check_exact=True)
    assert whole.loc[5].isna().all() and whole.drop(index=5)["monthly_cost_usd_low"].notna().all()
    shown = whole.drop(index=5)
    assert (shown["monthly_cost_usd_low"] <= shown["monthly_cost_usd_high"]).all()
