"""Spot interruption risk: the sourced snapshot, the bucket -> overhead model, and live EC2
GetSpotPlacementScores through the real boto3 client against a 127.0.0.1 server speaking the EC2
query protocol (form-encoded POST in, XML out).

The response body follows the Response Elements of the EC2 API reference
(https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetSpotPlacementScores.html:
requestId, spotPlacementScoreSet of SpotPlacementScore items with region, availabilityZoneId,
score; nextToken) and the botocore ec2 2016-11-15 model's wire names (spotPlacementScoreSet /
item / region / score), which is what botocore parses.
"""

from __future__ import annotations

import csv
from importlib import resources
from urllib.parse import parse_qs

import boto3
import pytest

from phantom_report.pricing import spot_risk
from phantom_report.pricing.providers.aws_placement import PlacementScores
from phantom_report.pricing.spot_risk import SpotRiskModel

from .conftest import FAST, slow

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def _session():
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def _scores_xml(scores: dict[str, int]) -> str:
    items = "".join(f"<item><region>{r}</region><score>{s}</score></item>" for r, s in scores.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<GetSpotPlacementScoresResponse xmlns="{EC2_NS}">'
            f"<requestId>4a8a4d9e-0000-4000-8000-000000000000</requestId>"
            f"<spotPlacementScoreSet>{items}</spotPlacementScoreSet></GetSpotPlacementScoresResponse>")


def _ec2_error(code: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>test</Message></Error></Errors><RequestID>r-1</RequestID></Response>")


# --------------------------------------------------------------------------- snapshot


def test_snapshot_rows_are_sourced_and_use_the_advisor_labels():
    with resources.files("phantom_report.pricing").joinpath("data", "spot_risk_aws.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 300
    assert {r["interruption_bucket"] for r in rows} <= {"<5%", "5-10%", "10-15%", "15-20%", ">20%"}
    assert all("bamboo@0faa479fbca26f06d74fa8e356ca06d88ab1f862" in r["source"] for r in rows)
    # the label is the feed's own label for the row's range index
    labels = {"0": "<5%", "1": "5-10%", "2": "10-15%", "3": "15-20%", "4": ">20%"}
    assert all(labels[r["advisor_range_index"]] == r["interruption_bucket"] for r in rows)
    b = spot_risk.snapshot_buckets()
    assert b[("aws", "us-east-1", "p5.48xlarge")] == ">20%"  # as published in the copied feed
    assert b[("aws", "us-east-1", "g4dn.8xlarge")] == "<5%"


def test_bucket_overhead_model_formula_and_order():
    m = SpotRiskModel(checkpoint_interval_hours=2.0, restart_hours=0.5, window_hours=10.0, unknown_overhead=0.3)
    # upper bound / window x (interval / 2 + restart)
    assert m.bucket_overhead("<5%") == pytest.approx(0.05 / 10 * 1.5)
    assert m.bucket_overhead("15-20%") == pytest.approx(0.20 / 10 * 1.5)
    assert m.bucket_overhead(">20%") == pytest.approx(1.0 / 10 * 1.5)
    assert m.bucket_overhead("unknown") == 0.3
    labels = ["<5%", "5-10%", "10-15%", "15-20%", ">20%"]
    values = [SpotRiskModel().bucket_overhead(b) for b in labels]
    assert values == sorted(values) and len(set(values)) == 5


def test_risk_lookup_known_unknown_and_override():
    table = spot_risk.load(SpotRiskModel(), offline=True)
    known = table.risk("aws", "us-east-1", "g4dn.8xlarge")
    assert known.bucket == "<5%" and known.overhead == pytest.approx(SpotRiskModel().bucket_overhead("<5%"))
    assert "Spot Instance Advisor" in known.basis
    gcp = table.risk("gcp", "us-central1", "a3-highgpu-8g")
    assert gcp.bucket == "unknown" and gcp.overhead == 0.15 and "GCP publishes no per-type" in gcp.basis
    azure = table.risk("azure", "eastus", "Standard_NC24ads_A100_v4")
    assert azure.bucket == "unknown" and "assumed 15%" in azure.basis
    flat = spot_risk.load(SpotRiskModel(override=0.4), offline=True).risk("aws", "us-east-1", "g4dn.8xlarge")
    assert flat.bucket == "<5%" and flat.overhead == 0.4 and "override" in flat.basis


# --------------------------------------------------------------------------- live


def test_live_placement_scores_one_request_per_gpu_in_ec2_query_format(serve):
    def route(req, _srv):
        return 200, _scores_xml({"us-east-1": 7, "us-west-2": 3}), {"Content-Type": "text/xml"}

    srv = serve(route)
    client = PlacementScores(session=_session(), endpoint_url=srv.url, settings=FAST)
    pairs = [("us-east-1", "g5.xlarge"), ("us-west-2", "g5.12xlarge"), ("us-east-1", "p5.48xlarge")]
    table = spot_risk.load(SpotRiskModel(), offline=False, aws_pairs=pairs, placement=client)
    assert table.warnings == ()
    assert table.risk("aws", "us-east-1", "g5.xlarge").placement_score == 7
    assert table.risk("aws", "us-west-2", "g5.12xlarge").placement_score == 3
    # the score is shown, the overhead still comes from the advisor bucket
    assert table.risk("aws", "us-east-1", "g5.xlarge").overhead == pytest.approx(
        SpotRiskModel().bucket_overhead(spot_risk.snapshot_buckets()[("aws", "us-east-1", "g5.xlarge")]))
    assert len(srv.requests) == 2  # A10G group and H100-SXM group
    forms = [parse_qs(r.body.decode()) for r in srv.requests]
    a10g = next(f for f in forms if any(v == ["g5.xlarge"] for k, v in f.items() if k.startswith("InstanceType.")))
    assert a10g["Action"] == ["GetSpotPlacementScores"] and a10g["Version"] == ["2016-11-15"]
    assert sorted(v[0] for k, v in a10g.items() if k.startswith("InstanceType.")) == ["g5.12xlarge", "g5.xlarge"]
    assert sorted(v[0] for k, v in a10g.items() if k.startswith("RegionName.")) == ["us-east-1", "us-west-2"]
    assert a10g["TargetCapacity"] == ["1"] and a10g["TargetCapacityUnitType"] == ["units"]


@pytest.mark.parametrize("reply", [
    (500, _ec2_error("InternalError")),
    (403, _ec2_error("UnauthorizedOperation")),
    (200, "<not-xml"),
    (200, _scores_xml({"us-east-1": 11})),  # outside the documented 1-10 scale
])
def test_live_errors_fall_back_to_snapshot_with_warning(serve, reply):
    srv = serve(lambda req, _s: (reply[0], reply[1], {"Content-Type": "text/xml"}))
    client = PlacementScores(session=_session(), endpoint_url=srv.url, settings=FAST)
    table = spot_risk.load(SpotRiskModel(), offline=False, aws_pairs=[("us-east-1", "g5.xlarge")], placement=client)
    assert len(table.warnings) == 1 and "without live placement scores" in table.warnings[0]
    r = table.risk("aws", "us-east-1", "g5.xlarge")
    assert r.placement_score is None and r.bucket == spot_risk.snapshot_buckets()[("aws", "us-east-1", "g5.xlarge")]


def test_live_timeout_is_bounded_and_falls_back(serve):
    srv = serve(lambda req, _s: slow(2.0, (200, _scores_xml({"us-east-1": 9}), {"Content-Type": "text/xml"})))
    client = PlacementScores(session=_session(), endpoint_url=srv.url, settings=FAST)
    table = spot_risk.load(SpotRiskModel(), offline=False, aws_pairs=[("us-east-1", "g5.xlarge")], placement=client)
    assert table.warnings and table.risk("aws", "us-east-1", "g5.xlarge").placement_score is None
    assert len(srv.requests) == FAST.retries + 1


def test_total_budget_stops_further_requests(serve):
    """A slow but answering API cannot hold a report: after the budget no request is made."""
    srv = serve(lambda req, _s: slow(0.2, (200, _scores_xml({"us-east-1": 9}), {"Content-Type": "text/xml"})))
    client = PlacementScores(session=_session(), endpoint_url=srv.url, settings=FAST, budget_s=0.1)
    pairs = [("us-east-1", "g5.xlarge"), ("us-east-1", "p5.48xlarge"), ("us-east-1", "g4dn.xlarge")]  # 3 GPU groups
    table = spot_risk.load(SpotRiskModel(), offline=False, aws_pairs=pairs, placement=client)
    assert table.warnings and "budget" in table.warnings[0] and table.placement_scores == {}
    assert len(srv.requests) == 1


def test_no_credentials_and_offline_never_call(serve, no_cloud_credentials):
    srv = serve(lambda req, _s: (200, _scores_xml({"us-east-1": 9}), {"Content-Type": "text/xml"}))
    table = spot_risk.load(SpotRiskModel(), offline=False, aws_pairs=[("us-east-1", "g5.xlarge")],
                           placement=PlacementScores(endpoint_url=srv.url, settings=FAST))
    assert table.warnings and "credentials" in table.warnings[0]
    offline = spot_risk.load(SpotRiskModel(), offline=True, aws_pairs=[("us-east-1", "g5.xlarge")],
                             placement=PlacementScores(session=_session(), endpoint_url=srv.url, settings=FAST))
    assert offline.warnings == () and srv.requests == []


def test_report_run_fetches_live_scores_only_when_live_pricing_is_on(serve, monkeypatch):
    """run.py's wiring with the default client: the real boto3 credential and endpoint chain
    (AWS_ENDPOINT_URL_EC2 points EC2 at the local server), on only when not offline."""
    from datetime import datetime, timezone

    from phantom_report.pricing.quote import PriceQuote
    from phantom_report.reporter.run import _spot_risk
    from phantom_report.reporter.spec import parse_spec

    srv = serve(lambda req, _s: (200, _scores_xml({"us-east-1": 8}), {"Content-Type": "text/xml"}))
    for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                 ("AWS_ENDPOINT_URL_EC2", srv.url), ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(k, v)
    q = PriceQuote(provider="aws", region="us-east-1", zone=None, instance_type="g5.xlarge", gpu="A10G", gpu_count=1,
                   vcpus=4, memory_gib=16, on_demand_usd_per_hour=1.0, spot_usd_per_hour=0.4,
                   fetched_at=datetime(2026, 1, 1, tzinfo=timezone.utc), source="snapshot")
    spec = parse_spec("model: x\ndemand: {requests_per_month: 5}\n")
    live = _spot_risk(spec, [q], offline=False)
    assert live.warnings == () and live.risk("aws", "us-east-1", "g5.xlarge").placement_score == 8
    assert len(srv.requests) == 1
    assert _spot_risk(spec, [q], offline=True).placement_scores == {}
    monkeypatch.setenv("PHANTOM_OFFLINE", "1")  # the environment wins over offline=False
    assert _spot_risk(spec, [q], offline=False).placement_scores == {}
    assert len(srv.requests) == 1
