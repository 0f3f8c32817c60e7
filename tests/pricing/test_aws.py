"""AWS provider: real boto3 against moto (EC2 spot history + instance types) and a local server
speaking the Price List API's JSON 1.1 protocol (moto does not implement it)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto.server import ThreadedMotoServer

from phantom_report.pricing.catalog import get_quotes
from phantom_report.pricing.providers.aws import AwsProvider, parse_price_list_item

from phantom_report.pricing.settings import FetchSettings

from .conftest import FAST, NOW, PATIENT

# moto builds its EC2 backend on the first call (~1-2 s): give it a real timeout
MOTO = FetchSettings(timeout_s=20, retries=1, backoff_s=0.001)

PAGE_SIZE = 2


def price_list_item(itype: str, region: str, gpus: int, vcpu: int, mem_gib: int, od: str, ri_1y: str | None = None,
                    ri_3y: str | None = None) -> str:
    """One PriceList entry in the shape the API returns (a JSON document inside a JSON string)."""
    sku = f"SKU{abs(hash((itype, region))) % 10**8:08d}"
    reserved = {}
    for term, lease, price in (("1y", "1yr", ri_1y), ("3y", "3yr", ri_3y)):
        if price:
            code = f"{sku}.RI{term}"
            reserved[code] = {"offerTermCode": f"RI{term}", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
                              "priceDimensions": {f"{code}.D": {"unit": "Hrs", "pricePerUnit": {"USD": price},
                                                                "description": "reserved hourly", "rateCode": f"{code}.D"}},
                              "termAttributes": {"LeaseContractLength": lease, "OfferingClass": "standard", "PurchaseOption": "No Upfront"}}
            # an All Upfront offer that must be ignored
            reserved[code + "AU"] = {"offerTermCode": f"AU{term}", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
                                     "priceDimensions": {f"{code}AU.D": {"unit": "Quantity", "pricePerUnit": {"USD": "99999"}}},
                                     "termAttributes": {"LeaseContractLength": lease, "OfferingClass": "standard", "PurchaseOption": "All Upfront"}}
    doc = {
        "product": {"productFamily": "Compute Instance", "sku": sku, "attributes": {
            "instanceType": itype, "regionCode": region, "vcpu": str(vcpu), "memory": f"{mem_gib:,} GiB", "gpu": str(gpus),
            "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used",
            "instanceFamily": "GPU instance", "licenseModel": "No License required", "servicecode": "AmazonEC2"}},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"offerTermCode": "JRTCKXETXF", "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
                                                     "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                                         "unit": "Hrs", "pricePerUnit": {"USD": od}, "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                                                         "description": f"${od} per On Demand Linux {itype} Instance Hour"}},
                                                     "termAttributes": {}}},
                  "Reserved": reserved},
        "version": "20261120000000", "publicationDate": "2026-11-20T00:00:00Z",
    }
    return json.dumps(doc)


# Fixture prices: the snapshot's us-east-1 on-demand figures; reserved rates are illustrative.
CATALOG = {
    "us-east-1": [price_list_item("p5.48xlarge", "us-east-1", 8, 192, 2048, "55.0400000000", "38.5000000000", "26.8000000000"),
                  price_list_item("p4d.24xlarge", "us-east-1", 8, 96, 1152, "21.9576420000"),
                  price_list_item("g6e.xlarge", "us-east-1", 1, 4, 32, "1.8610000000"),
                  price_list_item("g5.xlarge", "us-east-1", 1, 4, 16, "1.0060000000"),
                  price_list_item("trn1.2xlarge", "us-east-1", 0, 8, 32, "1.3440000000")],  # not a GPU: skipped
}


def price_list_route(req, server):
    assert req.method == "POST" and req.path == "/"
    if req.headers.get("x-amz-target") != "AWSPriceListService.GetProducts":
        return 400, {"__type": "UnknownOperationException"}
    assert req.headers["content-type"].startswith("application/x-amz-json-1.1")
    assert req.headers["authorization"].startswith("AWS4-HMAC-SHA256")  # boto3 really signed it
    body = json.loads(req.body)
    filters = {f["Field"]: f["Value"] for f in body["Filters"]}
    assert body["ServiceCode"] == "AmazonEC2"
    assert filters["operatingSystem"] == "Linux" and filters["tenancy"] == "Shared"
    assert filters["preInstalledSw"] == "NA" and filters["capacitystatus"] == "Used"
    items = CATALOG.get(filters["regionCode"], [])
    start = int(body.get("NextToken") or 0)
    page = {"FormatVersion": "aws_v1", "PriceList": items[start:start + PAGE_SIZE]}
    if start + PAGE_SIZE < len(items):
        page["NextToken"] = str(start + PAGE_SIZE)
    return 200, page, {"Content-Type": "application/x-amz-json-1.1"}


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def session():
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def test_parse_price_list_item_on_demand_and_no_upfront_reserved():
    attrs, od, reserved = parse_price_list_item(json.loads(CATALOG["us-east-1"][0]))
    assert attrs["instanceType"] == "p5.48xlarge"
    assert od == pytest.approx(55.04)
    assert reserved == {"1y": pytest.approx(38.5), "3y": pytest.approx(26.8)}


def test_on_demand_via_price_list_protocol_with_paging(serve):
    pl = serve(price_list_route)
    prov = AwsProvider(session=session(), pricing_endpoint_url=pl.url, settings=PATIENT)
    quotes = prov.fetch(frozenset({"on_demand"}), None, ("us-east-1",), NOW)
    assert len(pl.requests) == 3  # 5 items, 2 per page -> NextToken followed twice
    by_type = {q.instance_type: q for q in quotes}
    assert set(by_type) == {"p5.48xlarge", "p4d.24xlarge", "g6e.xlarge", "g5.xlarge"}
    p5 = by_type["p5.48xlarge"]
    assert (p5.gpu, p5.gpu_count, p5.vcpus, p5.memory_gib) == ("H100-SXM", 8, 192, 2048)
    assert p5.on_demand_usd_per_gpu_hour == pytest.approx(6.88)
    assert p5.reserved_usd_per_gpu_hour("1y") == pytest.approx(38.5 / 8)
    assert p5.source == "live" and p5.fetched_at == NOW


def test_gpu_filter_keeps_only_requested_family(serve):
    pl = serve(price_list_route)
    prov = AwsProvider(session=session(), pricing_endpoint_url=pl.url, settings=FAST)
    quotes = prov.fetch(frozenset({"on_demand"}), frozenset({"L40S"}), ("us-east-1",), NOW)
    assert [q.instance_type for q in quotes] == ["g6e.xlarge"]


def test_spot_from_moto_history_and_instance_types(moto_url):
    prov = AwsProvider(session=session(), ec2_endpoint_url=moto_url, settings=MOTO)
    quotes = prov.fetch(frozenset({"spot"}), frozenset({"H100-SXM", "L40S"}), ("us-east-1",), NOW)
    types = {q.instance_type for q in quotes}
    assert "p5.48xlarge" in types and "g6e.xlarge" in types
    p5 = next(q for q in quotes if q.instance_type == "p5.48xlarge")
    assert p5.zone and p5.zone.startswith("us-east-1")           # cheapest AZ reported
    assert (p5.gpu_count, p5.vcpus, p5.memory_gib) == (8, 192, 2048)  # from describe_instance_types
    assert p5.on_demand_usd_per_hour is None and p5.spot_usd_per_hour is not None


def test_chain_merges_live_on_demand_and_spot_and_rejects_moto_placeholder_spot(serve, moto_url, tmp_path):
    """moto answers every spot query with $0.00001: the sanity rules must refuse it as a market price."""
    pl = serve(price_list_route)
    prov = AwsProvider(session=session(), pricing_endpoint_url=pl.url, ec2_endpoint_url=moto_url, settings=MOTO)
    qs = get_quotes(gpus=["H100-SXM"], providers=["aws"], regions=["us-east-1"], cache_dir=tmp_path, now=NOW,
                    live_providers={"aws": prov})
    [p5] = [q for q in qs.quotes if q.instance_type == "p5.48xlarge"]
    assert p5.source == "live" and p5.on_demand_usd_per_hour == pytest.approx(55.04)
    assert p5.spot_usd_per_hour is None
    assert any("not a market price" in w for w in p5.warnings)
    assert all((q.on_demand_usd_per_hour or 1) > 0 and (q.spot_usd_per_hour or 1) > 0 for q in qs.quotes)


def test_price_list_http_500_retried_then_snapshot_fallback(serve, tmp_path):
    pl = serve(lambda req, s: (500, {"__type": "InternalServerError", "message": "boom"}))
    prov = AwsProvider(session=session(), pricing_endpoint_url=pl.url, ec2_endpoint_url=pl.url, settings=FAST)
    qs = get_quotes(gpus=["H100-SXM"], providers=["aws"], regions=["us-east-1"], cache_dir=tmp_path, now=NOW,
                    live_providers={"aws": prov})
    # the Price List call is retried; EC2 spot history (one server here) is asked on its own
    assert len([r for r in pl.requests if r.headers.get("x-amz-target")]) == FAST.retries + 1
    assert qs.quotes and {q.source for q in qs.quotes} == {"snapshot"}
    assert len([w for w in qs.warnings if w.startswith("aws:")]) == 1
    assert "snapshot" in qs.warnings[0] and "days old" in qs.warnings[0]


def test_price_list_throttling_429_then_success(serve):
    calls = {"n": 0}

    def route(req, s):
        calls["n"] += 1
        if calls["n"] == 1:
            return 429, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        return price_list_route(req, s)

    pl = serve(route)
    prov = AwsProvider(session=session(), pricing_endpoint_url=pl.url, settings=PATIENT)
    quotes = prov.fetch(frozenset({"on_demand"}), None, ("us-east-1",), NOW)
    assert len(quotes) == 4 and calls["n"] == 4


@pytest.mark.parametrize("body", [b"{not json", b'{"FormatVersion": "aws_v1", "PriceList": []}',
                                  b'{"FormatVersion": "aws_v1", "PriceList": ["{broken"]}'], ids=["malformed", "empty", "bad-item"])
def test_malformed_or_empty_price_list_falls_back(serve, tmp_path, body):
    pl = serve(lambda req, s: (200, body, {"Content-Type": "application/x-amz-json-1.1"}))
    prov = AwsProvider(session=session(), pricing_endpoint_url=pl.url, ec2_endpoint_url=pl.url, settings=FAST)
    qs = get_quotes(gpus=["H100-SXM"], providers=["aws"], regions=["us-east-1"], cache_dir=tmp_path, now=NOW,
                    live_providers={"aws": prov})
    assert {q.source for q in qs.quotes} == {"snapshot"}
    assert any("aws" in w for w in qs.warnings)


def test_timeout_falls_back(serve, tmp_path):
    from .conftest import slow
    pl = serve(lambda req, s: slow(1.0, (200, {"FormatVersion": "aws_v1", "PriceList": []})))
    prov = AwsProvider(session=session(), pricing_endpoint_url=pl.url, ec2_endpoint_url=pl.url, settings=FAST)
    qs = get_quotes(gpus=["H100-SXM"], providers=["aws"], regions=["us-east-1"], cache_dir=tmp_path, now=NOW,
                    live_providers={"aws": prov})
    assert {q.source for q in qs.quotes} == {"snapshot"}
    assert any("unavailable" in w for w in qs.warnings)
