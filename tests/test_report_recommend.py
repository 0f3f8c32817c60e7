"""Recommendation rules on a hand-built economics frame (the columns economics.py documents)."""

import pandas as pd

from phantom_report.reporter.recommend import picks


def frame(rows):
    base = {"workload": "w", "meets_slo": True, "fleet_ok": True, "units_per_usd": 1.0, "option": "on-demand",
            "availability_regions": 10}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_lowest_risk_does_not_buy_a_huge_fleet_for_a_few_points_of_slo_probability():
    df = frame([
        {"monthly_cost_usd": 4000.0, "slo_probability": 0.92},
        {"monthly_cost_usd": 90000.0, "slo_probability": 0.98},  # 32 GPUs at batch 1
        {"monthly_cost_usd": 1000.0, "slo_probability": 0.70},  # cheap but risky
    ])
    assert picks(df, "w")["lowest_risk"] == 0


def test_lowest_risk_prefers_wider_availability_then_safety():
    df = frame([
        {"monthly_cost_usd": 1000.0, "slo_probability": 0.95, "availability_regions": 3},
        {"monthly_cost_usd": 3000.0, "slo_probability": 0.95, "availability_regions": 40},
        {"monthly_cost_usd": 2000.0, "slo_probability": 0.6, "availability_regions": 40},
    ])
    assert picks(df, "w")["lowest_risk"] == 1


def test_spot_is_never_the_lowest_risk_and_cheapest_is_cheapest():
    df = frame([
        {"monthly_cost_usd": 500.0, "slo_probability": 0.99, "option": "spot"},
        {"monthly_cost_usd": 800.0, "slo_probability": 0.95},
    ])
    p = picks(df, "w")
    assert p["cheapest"] == 0 and p["lowest_risk"] == 1


def test_nothing_eligible_gives_no_pick():
    assert picks(frame([{"monthly_cost_usd": 500.0, "slo_probability": 0.2, "meets_slo": False}]), "w") == {}


def test_best_value_is_work_at_the_demand_per_pessimistic_dollar():
    # same demand (units_per_usd = units / monthly cost); the second holds its cost better
    df = frame([
        {"monthly_cost_usd": 1000.0, "monthly_cost_usd_high": 3000.0, "units_per_usd": 100.0, "slo_probability": 0.95},
        {"monthly_cost_usd": 1100.0, "monthly_cost_usd_high": 1500.0, "units_per_usd": 100.0 / 1.1, "slo_probability": 0.95},
    ])
    p = picks(df, "w")
    assert p["cheapest"] == 0 and p["best_value"] == 1


def test_nothing_meets_names_the_closest_and_what_it_would_take():
    from phantom_report.reporter.recommend import nothing_meets

    pts = pd.DataFrame([
        {"workload": "w", "supported": True, "fits": True, "gpu": "L4", "precision": "fp16", "batch_size": 8, "gpu_count": 1,
         "latency_ms": 9000.0, "latency_ms_low": 7000.0, "latency_ms_high": 12000.0, "latency_ms_p95": 12000.0,
         "slo_probability": 0.1, "slo_p95_latency_ms": 6000.0, "reason": "95th-percentile latency 12,000 ms > p95 SLO 6,000 ms"},
        {"workload": "w", "supported": True, "fits": True, "gpu": "T4", "precision": "fp16", "batch_size": 8, "gpu_count": 1,
         "latency_ms": 20000.0, "latency_ms_low": 15000.0, "latency_ms_high": 26000.0, "latency_ms_p95": 26000.0,
         "slo_probability": 0.0, "slo_p95_latency_ms": 6000.0, "reason": "slow"},
    ])
    msg = nothing_meets(pts, "w")
    assert "The closest, L4 fp16 batch 8" in msg and "10% of simulated outcomes" in msg
    assert "about 2.0x faster" in msg and "lower precision" in msg
