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
        energy_j_per_sample=100.0, pue=1.1, grid_kgco2e_per_kwh=0.4,
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


def test_latency_scale_hits_the_engine_bounds_at_the_confidence_quantile():
    pts = pd.DataFrame({"latency_ms": [100.0], "latency_ms_low": [80.0], "latency_ms_high": [150.0]})
    zc = montecarlo.z_for(0.9)
    f = montecarlo.latency_scale(pts, np.array([[zc, -zc, 0.0]]), 0.9)
    assert f[0] == pytest.approx([1.5, 0.8, 1.0])


def test_roi_savings_and_payback():
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\nroi: {migration_cost_usd: 1000, horizon_months: 12}\n")
    df = pd.DataFrame({"workload": ["x", "x"], "monthly_cost_usd": [1500.0, 1000.0]})
    out = economics.add_roi(df, {"x": 0}, spec)
    assert out["savings_usd_per_month"].tolist() == [0.0, 500.0]
    assert out.loc[1, "payback_months"] == pytest.approx(2.0)
    assert out.loc[1, "roi_pct"] == pytest.approx((500 * 12 - 1000) / 1000 * 100)
    assert math.isnan(out.loc[0, "payback_months"])


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
