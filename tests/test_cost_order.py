"""One ranking by cost: equal costs (to the cent) never flip with floating-point noise or row order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from phantom_report.reporter.economics import cost_order
from phantom_report.reporter.recommend import picks


def _rows() -> pd.DataFrame:
    # a training run that costs the same on 3 GPUs for 16.8 h or 4 GPUs for 12.6 h (equal GPU-hours),
    # the two costs a few ulps apart in either direction, and the same price in two regions
    return pd.DataFrame({
        "workload": ["w"] * 5,
        "gpu": ["A100", "A100", "A100", "H100", "L4"],
        "region": ["r1", "r1", "r2", "r1", "r1"],
        "option": ["on-demand"] * 5,
        "monthly_cost_usd": [296.28874646964255, 296.28874646964266, 296.2887464696426, 500.0, 296.40],
        "run_hours": [16.76, 12.57, 12.57, 1.0, 10.0],
        "latency_ms": [402.0, 402.0, 402.0, 100.0, 900.0],
        "gpus": [3, 4, 4, 1, 8],
        "carbon_kgco2e_per_month": [15.0, 15.0, 9.0, 30.0, 5.0],
        "slo_probability": [1.0] * 5,
        "units_per_usd": [1.0] * 5, "availability_regions": [1] * 5,
        "meets_slo": [True] * 5, "fleet_ok": [True] * 5,
    })


def test_equal_costs_rank_by_finish_time_then_carbon_whatever_the_row_order():
    df = _rows()
    want = [2, 1, 0, 4, 3]  # 4 GPUs sooner, greener region first; $296.40 is dearer
    assert list(cost_order(df)) == want
    rng = np.random.default_rng(0)
    for _ in range(20):
        shuffled = df.iloc[rng.permutation(len(df))]
        assert list(cost_order(shuffled)) == want
        # the other picks rank by their own keys, equal there (one availability, equal work per
        # dollar) and then by the same cost ranking; the L4 is the lowest carbon by far
        assert picks(shuffled, "w") == {"cheapest": 2, "best_value": 2, "lowest_risk": 2, "green": 4}


def test_higher_slo_probability_wins_a_tie_and_a_cent_beats_everything():
    df = _rows().assign(slo_probability=[1.0, 0.95, 0.95, 1.0, 1.0])
    assert list(cost_order(df))[:3] == [0, 2, 1]
    df.loc[0, "monthly_cost_usd"] += 0.01
    assert list(cost_order(df))[:3] == [2, 1, 0]


def test_missing_columns_and_nan_costs_sort_last():
    df = pd.DataFrame({"monthly_cost_usd": [np.nan, 2.0, 1.0]})
    assert list(cost_order(df)) == [2, 1, 0]


def test_cheapest_reason_states_a_small_gap_and_a_tie_as_such():
    from phantom_report.reporter.recommend import _reason_cheapest

    df = _rows().assign(monthly_cost_usd_low=lambda d: d["monthly_cost_usd"] * 0.5,
                        monthly_cost_usd_high=lambda d: d["monthly_cost_usd"] * 2, slo_confidence=0.9)
    pick = df.loc[2].copy()
    pick["gpu"] = "A100"
    assert "0.0% below the best H100" not in _reason_cheapest(pick, df.iloc[3:], 5)
    l4 = df.iloc[[4]].copy()
    for cost, said in ((296.40, "under 0.1% below"), (297.0, "0.2% below"), (300.0, "1% below"), (296.289, "as cheap as")):
        l4["monthly_cost_usd"] = cost
        reason = _reason_cheapest(pick, l4, 5)
        assert f"{said} the best L4 option" in reason, reason
