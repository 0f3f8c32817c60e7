"""The embedded snapshot and the sanity rules: every anomaly listed in the shared snapshot README
must be caught, and no invented or zero price may come out."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from phantom_report.pricing.catalog import get_quotes
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.sanity import apply_sanity, is_flagged
from phantom_report.pricing.snapshot import snapshot_files, snapshot_quotes

from .conftest import NOW


@pytest.fixture(scope="module")
def checked():
    quotes, dropped = apply_sanity(snapshot_quotes())
    return {(q.provider, q.region, q.instance_type): q for q in quotes}, dropped


def q_(provider="aws", region="r1", itype="p5.48xlarge", gpu="H100-SXM", count=8, od=55.0, spot=None):
    return PriceQuote(provider=provider, region=region, zone=None, instance_type=itype, gpu=gpu, gpu_count=count,
                      vcpus=None, memory_gib=None, on_demand_usd_per_hour=od, spot_usd_per_hour=spot,
                      fetched_at=NOW, source="live")


def test_snapshot_covers_the_three_clouds_and_carries_provenance():
    quotes = snapshot_quotes()
    assert {q.provider for q in quotes} == {"aws", "gcp", "azure", "lambda", "runpod"}
    files = snapshot_files()
    for q in quotes:
        assert q.source == "snapshot"
        assert "@" in q.source_detail and "as of" in q.source_detail
        assert q.fetched_at in {f.as_of for f in files.values()}
    assert files["snapshot_aws.csv"].as_of == datetime(2026, 1, 29, tzinfo=timezone.utc)


def test_snapshot_prices_are_verbatim_catalog_rows():
    """Spot-check against the upstream rows (no invented prices)."""
    q = {(x.provider, x.region, x.instance_type): x for x in snapshot_quotes()}
    assert q[("aws", "us-east-1", "p5.48xlarge")].on_demand_usd_per_hour == 55.04
    assert q[("aws", "us-east-1", "p5.48xlarge")].spot_usd_per_hour == 16.9508  # cheapest AZ
    assert q[("azure", "eastus", "Standard_NC40ads_H100_v5")].on_demand_usd_per_hour == 6.98
    # GCP VM = host row + accelerator row (a3-highgpu-8g us-central1: 9.46006 + 8 x 4.20076)
    assert q[("gcp", "us-central1", "a3-highgpu-8g")].on_demand_usd_per_hour == pytest.approx(9.46006 + 33.60608, abs=1e-4)


def test_never_a_zero_or_negative_price(checked):
    quotes, _ = checked
    for q in quotes.values():
        for p in (q.on_demand_usd_per_hour, q.spot_usd_per_hour, *q.reserved_usd_per_hour.values()):
            assert p is None or p > 0


def test_anomaly_spot_above_on_demand(checked):
    quotes, _ = checked
    # AWS g6.24xlarge ap-south-1: spot 8.0156 > on-demand 8.01555
    g6 = quotes[("aws", "ap-south-1", "g6.24xlarge")]
    assert g6.spot_usd_per_hour is None and any("spot 8.0156 > on-demand" in w for w in g6.warnings)
    # GCP H100 us-central1: GPU spot 5.3387 > GPU on-demand 4.20076 (hidden inside the VM total)
    a3 = quotes[("gcp", "us-central1", "a3-highgpu-1g")]
    assert a3.spot_usd_per_hour is None and any("5.3387 > GPU part on-demand 4.2008" in w for w in a3.warnings)
    assert apply_sanity([q_(od=10.0, spot=12.0)])[0][0].spot_usd_per_hour is None


def test_anomaly_implausible_gcp_unit_prices_flagged_against_cross_region_median(checked):
    quotes, _ = checked
    # H100: 4.20076/GPU-h in us-central1 vs 9.79655 in us-east4 and 12.7 in europe-west4
    central = quotes[("gcp", "us-central1", "a3-highgpu-8g")]
    assert not is_flagged(central) and any("differ" in w and "across regions" in w for w in central.warnings)
    assert is_flagged(quotes[("gcp", "us-east4", "a3-highgpu-8g")])
    assert is_flagged(quotes[("gcp", "europe-west4", "a3-highgpu-8g")])
    # A100-80GB: 1.8462 in us-central1 vs 4.4242 in us-east5
    cheap, dear = quotes[("gcp", "us-central1", "a2-ultragpu-1g")], quotes[("gcp", "us-east5", "a2-ultragpu-1g")]
    assert is_flagged(dear) and not is_flagged(cheap)
    assert any("cross-region median" in w for w in dear.warnings)


def test_anomaly_empty_on_demand_with_spot_p5e(checked):
    quotes, dropped = checked
    p5e = quotes[("aws", "us-east-2", "p5e.48xlarge")]
    assert p5e.on_demand_usd_per_hour is None and p5e.spot_usd_per_hour == 14.0291
    assert any("no on-demand price" in w for w in p5e.warnings)
    # eu-west-2 has neither: dropped with a warning, not priced at 0
    assert ("aws", "eu-west-2", "p5e.48xlarge") not in quotes
    assert any("eu-west-2 p5e.48xlarge" in w for w in dropped)


def test_anomaly_azure_nd96isr_h100_v5_count_12_corrected_to_8(checked):
    quotes, _ = checked
    nd = quotes[("azure", "eastus", "Standard_ND96isr_H100_v5")]
    assert nd.gpu_count == 8
    assert any("source says 12 GPUs" in w for w in nd.warnings)
    assert nd.on_demand_usd_per_gpu_hour == pytest.approx(98.32 / 8)


def test_anomaly_spot_equals_on_demand(checked):
    quotes, _ = checked
    for key in [("azure", "eastus", "Standard_ND96isr_H100_v5"), ("azure", "eastus", "Standard_NC40ads_H100_v5"),
                ("aws", "ca-central-1", "p5.48xlarge"), ("runpod", "global", "1x_A100-80GB_SECURE")]:
        q = quotes[key]
        assert q.spot_usd_per_hour is None, key
        assert any("spot == on-demand" in w for w in q.warnings), key


def test_gpu_count_rule_on_any_provider():
    out, _ = apply_sanity([q_(itype="g6e.48xlarge", gpu="L40S", count=4, od=30.0)])
    assert out[0].gpu_count == 8 and "has 8" in out[0].warnings[0]


def test_outlier_needs_enough_regions():
    few = [q_(region="a", od=8.0), q_(region="b", od=80.0)]
    assert not any(is_flagged(q) for q in apply_sanity(few)[0])
    many = few + [q_(region="c", od=8.2), q_(region="d", od=7.9)]
    flagged = {q.region for q in apply_sanity(many)[0] if is_flagged(q)}
    assert flagged == {"b"}


def test_offline_get_quotes_age_and_source(tmp_path):
    qs = get_quotes(gpus="h100", offline=True, cache_dir=tmp_path, now=NOW)
    assert {"aws", "gcp", "azure"} <= {q.provider for q in qs.quotes}
    aws = next(q for q in qs.quotes if q.provider == "aws")
    assert aws.age_hours(NOW) == pytest.approx((NOW - datetime(2026, 1, 29, tzinfo=timezone.utc)).total_seconds() / 3600)
    assert any(w.startswith("snapshot price as of 2026-01-29") for w in aws.warnings)
    assert {q.gpu for q in qs.quotes} <= {"H100-SXM", "H100-PCIe", "H100-NVL"}
