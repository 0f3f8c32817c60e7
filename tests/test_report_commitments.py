"""Commitments (break-even utilisation, steady demand, commit or not) and the lowest-carbon pick on
hand-built economics frames (the columns economics.py documents), plus a real run where nothing
meets the SLOs. Prices here are test inputs, not market data."""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from phantom_report.pricing.quote import PriceQuote
from phantom_report.reporter import commitments
from phantom_report.reporter.recommend import GREEN_TIE_PCT, _reason_green, picks, recommend
from phantom_report.reporter.spec import parse_spec


def _quote(**kw) -> PriceQuote:
    base = dict(provider="aws", region="us-east-1", zone=None, instance_type="g6.xlarge", gpu="L4", gpu_count=1,
                vcpus=4, memory_gib=16, on_demand_usd_per_hour=1.0, spot_usd_per_hour=0.4,
                fetched_at=datetime(2026, 1, 1, tzinfo=timezone.utc), source="snapshot")
    return PriceQuote(**{**base, **kw})


def _rows(od_monthly_share: float = 1.0) -> pd.DataFrame:
    """One configuration (2 instances at $1/h on-demand) under on-demand and spot; the on-demand
    fleet is paid for ``od_monthly_share`` of the month (training runs)."""
    base = {"point_id": 0, "quote_id": 0, "provider": "aws", "region": "us-east-1", "instance_type": "g6.xlarge",
            "gpu": "L4", "precision": "fp16", "batch_size": 8, "gpu_count": 1, "instances": 2.0}
    return pd.DataFrame([
        {**base, "option": "on-demand", "usd_per_instance_hour": 1.0, "overhead": 1.0,
         "monthly_cost_usd": 2 * 1.0 * 730 * od_monthly_share},
        {**base, "option": "spot", "usd_per_instance_hour": 0.4, "overhead": 1.15,
         "monthly_cost_usd": 2 * 0.4 * 1.15 * 730 * od_monthly_share},
    ])


def _workload(demand: str = "requests_per_month: 1000000"):
    return parse_spec(f"model: resnet-50\ndemand: {{{demand}}}\n").workloads[0]


def test_no_commitment_price_is_said_and_never_estimated():
    cm = commitments.view(_workload(), _rows(), 0, [_quote()])
    reserved = [o for o in cm["options"] if o["term_months"]]
    assert [o["option"] for o in reserved] == ["reserved-1y", "reserved-3y"]
    assert not cm["offered"] and all(not o["offered"] and o["monthly_cost"]["value"] is None for o in reserved)
    assert all(o["note"] == "not offered by this snapshot quote" for o in reserved)
    assert cm["not_offered_reason"].startswith("No 1-year or 3-year commitment price is quoted for aws g6.xlarge in us-east-1")
    assert cm["steady"] and cm["decision_line"].startswith("Commit or not: demand is steady, but no 1-year")


def test_a_quote_without_an_on_demand_price_has_no_break_even():
    rows = _rows().iloc[[1]]  # spot only
    cm = commitments.view(_workload(), rows, 1, [_quote(on_demand_usd_per_hour=None, reserved_usd_per_hour={"1y": 0.6})])
    assert cm["options"] == [] and not cm["offered"] and cm["decision_line"] == ""
    assert cm["not_offered_reason"] == "aws g6.xlarge in us-east-1 has no on-demand price to compare a commitment with."


def test_break_even_is_committed_over_on_demand_price_and_commit_above_it():
    q = _quote(reserved_usd_per_hour={"1y": 0.6, "3y": 0.45})
    cm = commitments.view(_workload(), _rows(), 0, [q])
    o = {x["option"]: x for x in cm["options"]}
    assert o["reserved-1y"]["break_even_utilisation"]["value"] == pytest.approx(0.6)
    assert o["reserved-3y"]["break_even_utilisation"]["value"] == pytest.approx(0.45)
    assert o["reserved-3y"]["monthly_cost"]["value"] == pytest.approx(2 * 0.45 * 730)
    assert o["reserved-3y"]["cost_over_term"]["value"] == pytest.approx(2 * 0.45 * 730 * 36)
    assert cm["utilisation"]["value"] == pytest.approx(1.0) and cm["best"] == "reserved-3y"
    # spot (0.4 x 1.15 = $0.46/h) stays cheaper than the best commitment ($0.45/h)? no: 0.46 > 0.45
    assert cm["decision_line"].startswith("Commit: demand is steady and a 3-year")
    assert "Spot stays cheaper" not in cm["decision_line"]


def test_steady_fleet_below_break_even_is_told_not_to_commit():
    # a training fleet paid for 85% of the month: steady, but a commitment at 90% of on-demand
    # only pays above 90% utilisation
    q = _quote(reserved_usd_per_hour={"1y": 0.9})
    cm = commitments.view(_workload(), _rows(0.85), 0, [q])
    assert cm["utilisation"]["value"] == pytest.approx(0.85) and cm["steady"]
    assert cm["decision_line"].startswith("Do not commit: the best commitment (1-year")
    assert "breaks even at 90% utilisation and the demand uses 85%" in cm["decision_line"]
    assert "Spot stays cheaper" in cm["decision_line"]


@pytest.mark.parametrize("demand, share, why", [
    ("requests_per_month: 1000000, peak_to_average: 2", 1.0, "peak is 2x the average (> 1.5x)"),
    ("requests_per_month: 1000000, uncertainty_pct: 30", 1.0, "demand is uncertain by ±30% (> ±20%)"),
    ("requests_per_month: 1000000", 0.5, "the fleet is busy 50% of the hours (< 80%)"),
])
def test_unsteady_demand_gets_no_commit_line_and_says_why(demand, share, why):
    cm = commitments.view(_workload(demand), _rows(share), 0, [_quote(reserved_usd_per_hour={"1y": 0.3})])
    assert not cm["steady"] and cm["decision_line"] == ""
    assert cm["steady_reason"].startswith("Demand is not steady:") and why in cm["steady_reason"]


def _frame(rows):
    base = {"workload": "w", "meets_slo": True, "fleet_ok": True, "units_per_usd": 1.0, "option": "on-demand",
            "availability_regions": 10, "slo_probability": 0.95}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_green_pick_is_the_lowest_carbon_eligible_config_then_the_cheapest():
    df = _frame([
        {"monthly_cost_usd": 1000.0, "carbon_kgco2e_per_month": 50.0},
        {"monthly_cost_usd": 3000.0, "carbon_kgco2e_per_month": 5.0},
        {"monthly_cost_usd": 2000.0, "carbon_kgco2e_per_month": 5.0},  # as green, cheaper
        {"monthly_cost_usd": 500.0, "carbon_kgco2e_per_month": 1.0, "meets_slo": False},  # misses the SLOs
        {"monthly_cost_usd": 800.0, "carbon_kgco2e_per_month": 0.5, "fleet_ok": False},  # over max_gpus
        {"monthly_cost_usd": 900.0, "carbon_kgco2e_per_month": np.nan},  # no carbon estimate
    ])
    p = picks(df, "w")
    assert p["green"] == 2 and p["cheapest"] == 5  # the cheapest needs no carbon estimate


def test_green_pick_counts_carbon_within_the_tie_band_as_equal_and_takes_the_cheapest():
    df = _frame([
        {"monthly_cost_usd": 1000.0, "carbon_kgco2e_per_month": 50.0},
        {"monthly_cost_usd": 3000.0, "carbon_kgco2e_per_month": 5.0},  # lowest, but 2x the price of
        {"monthly_cost_usd": 1500.0, "carbon_kgco2e_per_month": 5.2},  # one 4% above it
        {"monthly_cost_usd": 1200.0, "carbon_kgco2e_per_month": 5.0 * (1 + GREEN_TIE_PCT / 100) * 1.01},  # outside
    ])
    assert picks(df, "w")["green"] == 2


def test_green_reason_states_how_busy_the_fleet_is_and_what_a_tonne_avoided_costs():
    cheap = pd.Series({"monthly_cost_usd": 1000.0, "carbon_kgco2e_per_month": 50.0, "gpus": 2.0})
    green = pd.Series({"monthly_cost_usd": 3000.0, "carbon_kgco2e_per_month": 10.0, "gpus": 8.0,
                       "busy_gpu_hours_per_month": 584.0, "idle_gpu_hours_per_month": 5256.0, "idle_power_w": 81.2,
                       "idle_power_estimated": True, "grid_kgco2e_per_kwh": 0.01, "region": "eu-north-1", "grid_source": "EEA"})
    reason = _reason_green(green, cheap, 12)
    assert "$50,000 per tonne of CO2e avoided" in reason  # $2,000 / 40 kg
    assert "Its 8 GPUs work 10% of the hours they are rented" in reason
    assert "81.2 W per GPU, estimated from TDP" in reason
    assert "not the idle power" not in reason


def test_no_eligible_config_means_no_green_pick():
    df = _frame([{"monthly_cost_usd": 500.0, "carbon_kgco2e_per_month": 1.0, "meets_slo": False}])
    assert picks(df, "w") == {} and recommend(df, ["w"]) == []


def test_report_says_why_there_is_no_green_pick_when_nothing_meets_the_slos(tmp_path):
    from phantom_report.reporter.run import run_report

    spec = parse_spec("model: resnet-50\ngpus: [L4, T4]\ndemand: {requests_per_month: 5_000_000}\n"
                      "slo: {p95_latency_ms: 0.001}\npricing: {offline: true}\n")
    r = run_report(spec, out_dir=tmp_path, formats=["json", "md", "html"], offline=True)
    w = r.payload["workloads"][0]
    assert w["status"] == "no-config" and w["recommendations"] == [] and w["commitments"] is None
    assert w["green"]["config"] is None
    assert w["green"]["message"] == ("No lowest-carbon pick for resnet-50: no configuration meets every SLO at the required "
                                     "confidence within the fleet limit, and a greener configuration that misses them is not an option.")
    assert w["green"]["message"] in r.outputs["md"].read_text()
    assert w["green"]["message"] in r.outputs["html"].read_text()
