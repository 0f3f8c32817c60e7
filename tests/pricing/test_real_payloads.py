"""Live pricing against real, independently authored payloads served on 127.0.0.1 to the real
clients.  Every payload lies in tests/pricing/payloads/ with its provenance in PROVENANCE.md there;
a payload that had to be assembled or written here says so in that file."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from phantom_report.pricing.catalog import get_quotes
from phantom_report.pricing.providers.aws import AwsProvider

from .conftest import FAST, NOW

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str):
    return json.loads((PAYLOADS / name).read_text())


# -- AWS: the real EC2 offer file's Capacity Block product next to the on-demand one ------------

def get_products_items(offer: dict, first_sku: str) -> list[str]:
    """The offer file's products as GetProducts PriceList items (one JSON document per product:
    product + its terms, as the Price List Query API returns them), `first_sku` first."""
    items = []
    for sku, product in offer["products"].items():
        terms = {kind: by_sku[sku] for kind, by_sku in offer["terms"].items() if sku in by_sku}
        items.append((sku != first_sku, json.dumps({"product": product, "serviceCode": offer["offerCode"], "terms": terms,
                                                     "version": offer["version"], "publicationDate": offer["publicationDate"]})))
    return [doc for _, doc in sorted(items, key=lambda t: t[0])]


def get_products_route(items: list[str]):
    """A Price List endpoint that ignores the filters (GetProducts promises no order, and a filter
    the server does not apply must not change the result)."""
    def route(req, server):
        if req.headers.get("x-amz-target") != "AWSPriceListService.GetProducts":
            return 400, {"__type": "UnknownOperationException"}
        return 200, {"FormatVersion": "aws_v1", "PriceList": items}, {"Content-Type": "application/x-amz-json-1.1"}
    return route


@pytest.mark.parametrize("first", ["YSXJGN78QTXNVGDQ", "H7NGEAC6UEHNTKSJ"], ids=["capacity-block-first", "on-demand-first"])
def test_aws_capacity_block_sku_never_becomes_the_on_demand_price(serve, tmp_path, first):
    offer = load("aws_offer_us-east-1_p4d.json")
    server = serve(get_products_route(get_products_items(offer, first)))
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    provider = AwsProvider(session=session, pricing_endpoint_url=server.url, settings=FAST)
    qs = get_quotes(gpus="a100", providers=["aws"], regions=["us-east-1"], cache_dir=tmp_path, now=NOW,
                    live_providers={"aws": provider}, kinds=("on_demand",))
    [p4d] = [q for q in qs.quotes if q.instance_type == "p4d.24xlarge"]
    assert p4d.source == "live" and p4d.on_demand_usd_per_hour == pytest.approx(32.7726)
    assert (p4d.gpu, p4d.gpu_count) == ("A100-40GB-SXM", 8)
    assert p4d.sku_ids == ("H7NGEAC6UEHNTKSJ",)
    assert not any("no price found" in w for w in qs.warnings)
    sent = {f["Field"]: f["Value"] for f in json.loads(server.requests[0].body)["Filters"]}
    assert sent["marketoption"] == "OnDemand" and sent["operation"] == "RunInstances"


def test_prices_cli_with_capacity_block_sku_first_quotes_the_on_demand_price(serve, tmp_path):
    """`prices --gpu a100 --provider aws` as a user runs it, the Price List endpoint (found through
    botocore's AWS_ENDPOINT_URL_PRICING) answering the real Capacity Block product first."""
    import os
    import subprocess
    import sys
    offer = load("aws_offer_us-east-1_p4d.json")
    price_list = get_products_route(get_products_items(offer, "YSXJGN78QTXNVGDQ"))

    def route(req, server):
        if req.headers.get("x-amz-target"):
            return price_list(req, server)
        # EC2 (query protocol): an empty spot price history, in the shape of the EC2 API
        # reference's DescribeSpotPriceHistory response (written here: no GPU spot rows)
        return 200, (b'<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
                     b"<requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><spotPriceHistorySet/>"
                     b"<nextToken/></DescribeSpotPriceHistoryResponse>"), {"Content-Type": "text/xml"}
    server = serve(route)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PHANTOM_OFFLINE"}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL_PRICING=server.url,
               AWS_ENDPOINT_URL_EC2=server.url, AWS_MAX_ATTEMPTS="1")
    out = subprocess.run([sys.executable, "-m", "phantom_report", "prices", "--gpu", "a100", "--provider", "aws",
                          "--region", "us-east-1", "--format", "json", "--cache-dir", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    [p4d] = [q for q in doc["quotes"] if q["instance_type"] == "p4d.24xlarge"]
    # the on-demand price is the live one (the spot part, absent from the empty spot history,
    # comes from the snapshot, so the merged row is labelled with the older source)
    assert p4d["on_demand_usd_per_hour"] == pytest.approx(32.7726), doc["warnings"]
    assert "aws pricing.get_products" in p4d["source_detail"]
    assert not any("no price found" in w for w in doc["warnings"])
    assert "Traceback" not in out.stderr


# -- GCP: Cloud Billing Catalog pages with the real description wordings ------------------------

def gcp_catalog_route(pages: list[dict]):
    def route(req, server):
        if req.method != "GET" or req.path != "/v1/services/6F81-5844-456A/skus":
            return 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
        token = req.query.get("pageToken", [""])[0]
        return 200, pages[1] if token == "page-2" else pages[0]
    return route


@pytest.fixture
def gcp_quotes(serve, tmp_path):
    from google.auth.credentials import AnonymousCredentials

    from phantom_report.pricing.providers.gcp import GcpProvider
    server = serve(gcp_catalog_route(load("gcp_catalog_compute_skus.json")))
    provider = GcpProvider(credentials=AnonymousCredentials(), api_endpoint=server.url, transport="rest", settings=FAST)

    def fetch(gpus, regions):
        qs = get_quotes(gpus=gpus, providers=["gcp"], regions=regions, cache_dir=tmp_path, now=NOW,
                        live_providers={"gcp": provider})
        return {q.instance_type: q for q in qs.quotes}, qs.warnings
    return fetch


def test_gcp_a3_mega_priced_from_plus_gpu_and_a3plus_core_ram_skus(gcp_quotes):
    quotes, _ = gcp_quotes("h100", ["us-central1"])
    mega = quotes["a3-megagpu-8g"]
    assert mega.source == "live" and (mega.gpu, mega.gpu_count) == ("H100-SXM", 8)
    # by hand: core $/vCPU-h x 208 vCPUs + RAM $/GiB-h x 1872 GiB + GPU $/h x 8
    assert mega.on_demand_usd_per_hour == pytest.approx(208 * 0.026924 + 1872 * 0.002344 + 8 * 10.344275712, rel=1e-12)
    assert mega.spot_usd_per_hour == pytest.approx(208 * 0.01077 + 1872 * 0.000938 + 8 * 4.13771, rel=1e-12)
    assert mega.reserved_usd_per_hour == {"3y": pytest.approx(208 * 0.012116 + 1872 * 0.001055 + 8 * 4.654924, rel=1e-12)}
    # DWS and Calendar Mode SKUs of the same GPU are cheaper and must not be taken for it
    assert "H1MG-DWS1" not in mega.sku_ids and "H1MG-CAL1" not in mega.sku_ids
    assert {"A3PC-OD01", "A3PR-OD01", "H1PL-OD01", "H1PL-SP01", "H1PL-C301"} <= set(mega.sku_ids)


def test_gcp_spot_gpu_sku_in_attached_to_spot_vms_wording_is_priced(gcp_quotes):
    quotes, _ = gcp_quotes("l4", ["asia-east2"])
    g2 = quotes["g2-standard-4"]
    assert g2.on_demand_usd_per_hour == pytest.approx(4 * 0.03049 + 16 * 0.003573 + 0.77742, rel=1e-12)
    assert g2.spot_usd_per_hour == pytest.approx(4 * 0.012196 + 16 * 0.001429 + 0.310968, rel=1e-12)
    assert "L4-SP-HK" in g2.sku_ids


def test_gcp_a100_80gb_in_tesla_wording_is_matched(gcp_quotes):
    quotes, _ = gcp_quotes("A100-80GB-SXM", ["us-central1"])
    assert quotes["a2-ultragpu-1g"].on_demand_usd_per_hour == pytest.approx(12 * 0.031611 + 170 * 0.004237 + 3.921, rel=1e-12)
    assert quotes["a2-ultragpu-8g"].on_demand_usd_per_hour == pytest.approx(96 * 0.031611 + 1360 * 0.004237 + 8 * 3.921, rel=1e-12)


def test_gcp_successful_fetch_without_rows_for_a_requested_gpu_falls_back_to_snapshot(gcp_quotes):
    """The catalogue answers, but with nothing for H200 (its wording changed, say): the snapshot's
    price is used with a warning, instead of 'no price found' because the fetch 'succeeded'."""
    quotes, warnings = gcp_quotes(["H200", "L4"], None)
    assert quotes["g2-standard-4"].source == "live"
    h200 = [q for q in quotes.values() if q.gpu == "H200"]
    assert h200 and {q.source for q in h200} == {"snapshot"}
    assert any("no rows for H200" in w and "snapshot" in w for w in warnings)
    assert not any("no price found" in w for w in warnings)


# -- GCP: verbatim Cloud Billing Catalog SKUs (opencost's recorded page + cromwell-monitor's SKUs) --

def real_gcp_pages() -> list[dict]:
    """Two catalogue pages of real SKUs: opencost's recorded page (its own nextPageToken kept), then
    cromwell-monitor's recorded SKU objects as the page that token leads to (the page wrapper
    {"skus": [...]} is written here; every SKU object is verbatim, see PROVENANCE.md)."""
    first = load("gcp_catalog_opencost_skus_page.json")
    return [first, {"skus": load("gcp_catalog_cromwell_monitor_h100_mega_skus.json")}]


def real_gcp_route(pages: list[dict]):
    token = pages[0]["nextPageToken"]

    def route(req, server):
        if req.method != "GET" or req.path != "/v1/services/6F81-5844-456A/skus":
            return 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
        return 200, pages[1] if req.query.get("pageToken", [""])[0] == token else pages[0]
    return route


@pytest.fixture
def real_gcp_quotes(serve, tmp_path):
    from google.auth.credentials import AnonymousCredentials

    from phantom_report.pricing.providers.gcp import GcpProvider
    server = serve(real_gcp_route(real_gcp_pages()))
    provider = GcpProvider(credentials=AnonymousCredentials(), api_endpoint=server.url, transport="rest", settings=FAST)

    def fetch(gpus, regions, kinds=("on_demand", "spot")):
        qs = get_quotes(gpus=gpus, providers=["gcp"], regions=regions, cache_dir=tmp_path, now=NOW,
                        live_providers={"gcp": provider}, kinds=kinds)
        return {(q.region, q.instance_type): q for q in qs.quotes}, qs.warnings, server
    return fetch


def test_real_gcp_a2_highgpu_on_demand_from_units_and_nanos_across_pages(real_gcp_quotes):
    quotes, _, server = real_gcp_quotes("A100-40GB-SXM", ["us-central1"], kinds=("on_demand",))
    q = quotes[("us-central1", "a2-highgpu-1g")]
    # by hand from the real SKUs: A2 core 0 units + 31611000 nanos x 12 vCPUs, A2 RAM 4237000 nanos
    # x 85 GiB, Tesla A100 2 units + 933908000 nanos x 1 GPU
    assert q.source == "live" and q.on_demand_usd_per_hour == pytest.approx(0.031611 * 12 + 0.004237 * 85 + 2.933908, rel=1e-12)
    assert q.on_demand_usd_per_hour == pytest.approx(3.673385, rel=1e-12)
    assert q.sku_ids == ("2922-40C5-B19F", "2390-DCAF-DA38", "039F-D0DA-4055")
    assert len(server.requests) == 2  # the recorded nextPageToken was followed


def test_real_gcp_a3_mega_spot_from_plus_gpu_attached_to_spot_vms_and_a3plus_skus(real_gcp_quotes):
    """Defects 2 and 3 on real SKUs: the spot H100 Plus GPU reads '... attached to Spot Preemptible
    VMs running in Americas' and a3-megagpu-8g's host is billed as 'Spot Preemptible A3Plus'."""
    quotes, _, _ = real_gcp_quotes("H100-SXM", ["us-central1", "us-west1"], kinds=("spot",))
    for region in ("us-central1", "us-west1"):
        mega = quotes[(region, "a3-megagpu-8g")]
        assert mega.source == "live" and (mega.gpu, mega.gpu_count, mega.vcpus, mega.memory_gib) == ("H100-SXM", 8, 208, 1872)
        # by hand: A3Plus spot core $0.01481 x 208 vCPUs + A3Plus spot RAM $0.001289 x 1872 GiB
        #          + H100 80GB Plus spot GPU $4.1377 x 8
        assert mega.spot_usd_per_hour == pytest.approx(208 * 0.01481 + 1872 * 0.001289 + 8 * 4.1377, rel=1e-12)
        assert mega.spot_usd_per_hour == pytest.approx(3.08048 + 2.413008 + 33.1016, rel=1e-12)  # = 38.595088
        assert mega.sku_ids == ("AEAF-12C5-E41B", "9A1D-C6C8-D7B9", "8609-4BAD-F240")
    # the plain A3 spot host SKUs are in the same page; a3-highgpu-* still has no spot GPU SKU there
    assert not any(it.startswith("a3-highgpu") for _, it in quotes)


def test_real_gcp_spot_l4_sku_is_read_as_spot_l4():
    """Defect 2 at the SKU level, on the real 'Nvidia L4 GPU attached to Spot Preemptible VMs
    running in Hong Kong' SKU (0008-F633-76AA)."""
    from phantom_report.pricing.providers.gcp import classify_sku, sku_kind
    [sku] = [s for s in load("gcp_catalog_cromwell_monitor_h100_mega_skus.json") if s["skuId"] == "0008-F633-76AA"]
    assert classify_sku(sku["description"]) == ("gpu", "L4")
    assert sku_kind(sku["category"]["usageType"], sku["description"]) == "spot"
    [plus_3y] = [s for s in load("gcp_catalog_cromwell_monitor_h100_mega_skus.json") if s["skuId"] == "5F45-2ADE-3091"]
    assert classify_sku(plus_3y["description"]) == ("gpu", "H100-MEGA")
    assert sku_kind(plus_3y["category"]["usageType"], plus_3y["description"]) == "3y"


def test_real_gcp_skus_priced_in_idr_are_refused_not_read_as_usd():
    """opencost's recorded page carries E2/T2D SKUs priced in IDR (327.17 IDR per vCPU-hour): they
    must not become a $327/h vCPU; the USD SKUs of the same page are kept."""
    from google.cloud import billing_v1

    from phantom_report.pricing.providers.gcp import SkuPrices
    skus = [billing_v1.Sku.from_json(json.dumps(s), ignore_unknown_fields=True)
            for s in load("gcp_catalog_opencost_skus_page.json")["skus"]]
    assert {s.pricing_info[0].pricing_expression.tiered_rates[0].unit_price.currency_code for s in skus} == {"USD", "IDR"}
    prices = SkuPrices.from_skus(skus).prices
    assert not any(series in ("E2", "T2D") for _, series, _, _ in prices)
    assert prices[("core", "A2", "us-central1", "on_demand")] == pytest.approx(0.031611)


def test_real_gcp_fetch_without_rows_for_a_requested_gpu_falls_back_to_the_snapshot(real_gcp_quotes):
    """The real pages answer (A100 is priced live) but hold no H200 SKU: the snapshot's H200 price
    stands in, with a warning, instead of nothing because the fetch 'succeeded' (defect 3's class)."""
    quotes, warnings, _ = real_gcp_quotes(["A100-40GB-SXM", "H200"], ["us-central1"], kinds=("on_demand",))
    assert quotes[("us-central1", "a2-highgpu-1g")].source == "live"
    h200 = [q for q in quotes.values() if q.gpu == "H200"]
    assert h200 and {q.source for q in h200} == {"snapshot"}
    assert any("no rows for H200" in w and "snapshot" in w for w in warnings), warnings
    assert not any("no price found" in w for w in warnings)


# -- Azure Cost Management: the REST spec's own example (paged with nextLink; 204 declared) -----

class StaticToken:
    def get_token(self, *scopes, **kwargs):
        from datetime import datetime, timezone

        from azure.core.credentials import AccessToken
        return AccessToken("test-token", int(datetime.now(timezone.utc).timestamp()) + 3600)


BILLING_SCOPE = "/providers/Microsoft.Billing/billingAccounts/70664866"


def cost_management_route(first_page: dict, second_page: dict | None):
    """First POST to .../query answers the example body (its nextLink re-pointed at this server,
    path and $skiptoken kept); a POST to the nextLink answers `second_page` (None = 204)."""
    from urllib.parse import urlsplit

    def route(req, server):
        assert req.method == "POST" and req.headers.get("authorization") == "Bearer test-token"
        if "$skiptoken" in req.query or "%24skiptoken" in req.path:
            return (204, b"") if second_page is None else (200, second_page)
        if req.path.lower() == f"{BILLING_SCOPE}/providers/Microsoft.CostManagement/query".lower():
            body = json.loads(json.dumps(first_page))
            link = urlsplit(body["properties"]["nextLink"])
            body["properties"]["nextLink"] = f"{server.url}{link.path}?{link.query}"
            return 200, body
        return 404, {"error": {"code": "NotFound", "message": req.path}}
    return route


def spend_provider(url: str):
    from phantom_report.pricing.providers.azure_spend import AzureSpendProvider
    return AzureSpendProvider(scope=BILLING_SCOPE, credential=StaticToken(), base_url=url, enforce_https=False, settings=FAST)


def test_azure_spend_follows_next_link_across_pages(serve):
    from datetime import date
    example = load("azure_costmanagement_BillingAccountQuery.json")["responses"]["200"]["body"]
    page2 = json.loads(json.dumps(example))
    page2["properties"]["nextLink"] = None
    page2["properties"]["rows"] = [[5.25, "API", 20180401, "USD"]]  # a second page, written here (see PROVENANCE.md)
    server = serve(cost_management_route(example, page2))
    report = spend_provider(server.url).fetch(date(2018, 3, 31), date(2018, 4, 1), group_by="ResourceGroup")
    assert len(report.actual) == 5 and len(server.requests) == 2
    assert report.actual_total == pytest.approx(19.545363672276512 + 173.41979241290323 + 20.359416562625452
                                                + 0.16677720329728665 + 5.25)
    assert {r.group for r in report.actual} >= {"RVIIOT-TRIAL", "API"}
    assert "$skiptoken=AQAAAA" in server.requests[1].path or "skiptoken" in str(server.requests[1].query)


def test_azure_spend_204_means_no_rows(serve):
    from datetime import date
    server = serve(lambda req, s: (204, b""))
    report = spend_provider(server.url).fetch(date(2026, 11, 1), date(2026, 11, 2))
    assert report.actual == () and report.actual_total == 0.0


def test_azure_spend_204_on_a_next_page_ends_the_paging(serve):
    from datetime import date
    example = load("azure_costmanagement_BillingAccountQuery.json")["responses"]["200"]["body"]
    server = serve(cost_management_route(example, None))
    report = spend_provider(server.url).fetch(date(2018, 3, 31), date(2018, 3, 31), group_by="ResourceGroup")
    assert len(report.actual) == 4 and len(server.requests) == 2


# -- Azure Retail Prices: Windows rows in every wording are never a Linux price -------------------

def test_azure_windows_rows_in_abbreviated_wording_are_excluded(serve, tmp_path):
    from phantom_report.pricing.providers.azure_retail import AzureRetailProvider
    doc = load("azure_retail_ncc_h100.json")
    # Windows rows first: a wrong classification would then win the on-demand slot
    doc["Items"].sort(key=lambda it: "Win" not in it["productName"])
    server = serve(lambda req, s: (200, doc))
    provider = AzureRetailProvider(endpoint=server.url + "/api/retail/prices", settings=FAST)
    qs = get_quotes(gpus="H100-NVL", providers=["azure"], regions=["eastus", "eastus2"], cache_dir=tmp_path, now=NOW,
                    live_providers={"azure": provider})
    by_size = {q.instance_type: q for q in qs.quotes}
    ncc, nc = by_size["Standard_NCC40ads_H100_v5"], by_size["Standard_NC40ads_H100_v5"]
    assert (ncc.on_demand_usd_per_hour, ncc.spot_usd_per_hour) == (pytest.approx(6.98), pytest.approx(1.419034))
    assert (nc.on_demand_usd_per_hour, nc.spot_usd_per_hour) == (pytest.approx(6.98), pytest.approx(2.19))
    assert ncc.sku_ids == ("DZH318Z0NCC0/0001", "DZH318Z0NCC0/0002")


# -- Bad payloads: a warning naming the provider and a fallback, never a traceback or a $0 price --

HTML_ERROR = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


def _bad_aws(kind: str):
    offer = load("aws_offer_us-east-1_p4d.json")
    items = get_products_items(offer, "H7NGEAC6UEHNTKSJ")
    if kind == "truncated":
        return 200, json.dumps({"FormatVersion": "aws_v1", "PriceList": items})[:700].encode()
    if kind == "html":
        return 200, HTML_ERROR, {"Content-Type": "text/html"}
    if kind == "missing-fields":
        return 200, {"FormatVersion": "aws_v1", "PriceList": [json.dumps({"serviceCode": "AmazonEC2"})]}
    docs = [json.loads(i) for i in items]  # non-USD: the same products priced in CNY only
    for d in docs:
        for term in d["terms"]["OnDemand"].values():
            for dim in term["priceDimensions"].values():
                dim["pricePerUnit"] = {"CNY": "230.0000000000"}
    return 200, {"FormatVersion": "aws_v1", "PriceList": [json.dumps(d) for d in docs]}


def _bad_gcp(kind: str):
    pages = load("gcp_catalog_compute_skus.json")
    if kind == "truncated":
        return 200, json.dumps(pages[0])[:900].encode()
    if kind == "html":
        return 200, HTML_ERROR, {"Content-Type": "text/html"}
    if kind == "missing-fields":
        return 200, {"skus": [{"skuId": "X", "description": "Nvidia L4 GPU running in Hong Kong"}]}
    page = json.loads(json.dumps(pages[1]))
    for sku in page["skus"]:
        sku["pricingInfo"][0]["pricingExpression"]["tieredRates"][0]["unitPrice"]["currencyCode"] = "EUR"
    return 200, page


def _bad_azure(kind: str):
    doc = load("azure_retail_ncc_h100.json")
    if kind == "truncated":
        return 200, json.dumps(doc)[:800].encode()
    if kind == "html":
        return 200, HTML_ERROR, {"Content-Type": "text/html"}
    if kind == "missing-fields":
        return 200, {"Items": [{"retailPrice": 6.98}], "NextPageLink": None}
    for it in doc["Items"]:
        it["currencyCode"] = "EUR"
    return 200, doc


def _provider(name: str, url: str):
    from google.auth.credentials import AnonymousCredentials

    from phantom_report.pricing.providers.azure_retail import AzureRetailProvider
    from phantom_report.pricing.providers.gcp import GcpProvider
    if name == "aws":
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        return AwsProvider(session=session, pricing_endpoint_url=url, ec2_endpoint_url=url, settings=FAST)
    if name == "gcp":
        return GcpProvider(credentials=AnonymousCredentials(), api_endpoint=url, transport="rest", settings=FAST)
    return AzureRetailProvider(endpoint=url + "/api/retail/prices", settings=FAST)


@pytest.mark.parametrize("kind", ["truncated", "html", "missing-fields", "non-usd"])
@pytest.mark.parametrize("name,gpu,bad", [("aws", "A100-40GB-SXM", _bad_aws), ("gcp", "H100-SXM", _bad_gcp),
                                          ("azure", "H100-NVL", _bad_azure)])
def test_bad_payloads_fall_back_with_a_warning(serve, tmp_path, name, gpu, bad, kind):
    server = serve(lambda req, s: bad(kind))
    qs = get_quotes(gpus=gpu, providers=[name], cache_dir=tmp_path, now=NOW, live_providers={name: _provider(name, server.url)},
                    kinds=("on_demand",))
    assert qs.quotes, "the snapshot must stand in for the broken live answer"
    assert all(q.source == "snapshot" for q in qs.quotes)
    assert all((q.on_demand_usd_per_hour or 1.0) > 0.0 for q in qs.quotes)
    assert any(w.startswith(f"{name}:") for w in qs.warnings), qs.warnings


# -- prices refresh / diff: the user's own snapshot, preferred to the embedded one -------------

def test_refresh_then_offline_runs_use_it_and_diff_shows_the_change(serve, tmp_path, cli_in_process):
    import subprocess

    from phantom_report.pricing.cache import PriceCache
    from phantom_report.pricing.refresh import refresh_all
    offer = load("aws_offer_us-east-1_p4d.json")
    server = serve(get_products_route(get_products_items(offer, "YSXJGN78QTXNVGDQ")))
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    aws = AwsProvider(session=session, pricing_endpoint_url=server.url, ec2_endpoint_url=server.url,
                      default_regions=("us-east-1",), settings=FAST)
    cache_dir = tmp_path / "prices"

    class NoCredentials:
        def fetch(self, kinds, gpus, regions, now):
            from phantom_report.pricing.providers.base import CredentialsMissing
            raise CredentialsMissing("gcp: no credentials found")

    [ok, failed] = refresh_all(["aws", "gcp"], {"aws": aws, "gcp": NoCredentials()}, PriceCache(cache_dir), NOW)
    assert ok.ok and ok.n_quotes == 1 and "written to" in ok.message and "spot prices unavailable" in ok.message
    assert not failed.ok and "no credentials" in failed.message

    # offline, the refreshed snapshot stands in for live prices, with its own date
    qs = get_quotes(gpus="a100", providers=["aws"], regions=["us-east-1"], offline=True, cache_dir=cache_dir, now=NOW)
    [p4d] = [q for q in qs.quotes if q.instance_type == "p4d.24xlarge"]
    assert p4d.source == "snapshot" and p4d.on_demand_usd_per_hour == pytest.approx(32.7726)
    assert p4d.fetched_at == NOW and p4d.sku_ids == ("H7NGEAC6UEHNTKSJ",)
    assert any("your refreshed snapshot" in w for w in qs.warnings)

    def cli(*args: str) -> subprocess.CompletedProcess:  # `prices ...` through `main` in this process
        return cli_in_process("prices", *args, "--cache-dir", str(cache_dir))
    out = cli("diff", "--provider", "aws", "--format", "json")
    assert out.returncode == 0, out.stderr
    changes = {(c["region"], c["instance_type"]): c for c in json.loads(out.stdout)["changes"]}
    p4d_change = changes[("us-east-1", "p4d.24xlarge")]
    assert p4d_change["refreshed_on_demand_usd_per_hour"] == pytest.approx(32.7726)
    assert p4d_change["status"] == "changed" and p4d_change["change_pct"] is not None
    missing = cli("diff", "--provider", "gcp")
    assert missing.returncode == 2 and "prices refresh" in missing.stderr and "Traceback" not in missing.stderr


def test_prices_refresh_without_credentials_says_so_in_one_line_and_fails(tmp_path):
    """As a user runs it with no cloud credentials: one line per cloud saying what is missing, and a
    non-zero exit (it exited 0 before: click's Exit code was dropped outside standalone mode)."""
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GOOGLE_")) and k != "PHANTOM_OFFLINE"}
    env.update(HOME=str(tmp_path), AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    out = subprocess.run([sys.executable, "-m", "phantom_report", "prices", "refresh", "--provider", "aws",
                          "--cache-dir", str(tmp_path / "c")], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert out.stdout.strip().splitlines() == ["aws: not refreshed: no credentials found (AWS_ACCESS_KEY_ID / profile / role)"]
    assert "Traceback" not in out.stderr
    offline = subprocess.run([sys.executable, "-m", "phantom_report", "prices", "refresh", "--cache-dir", str(tmp_path / "c")],
                             capture_output=True, text=True, timeout=120, env={**env, "PHANTOM_OFFLINE": "1"})
    assert offline.returncode == 2 and offline.stderr.count("\n") == 1 and "PHANTOM_OFFLINE" in offline.stderr


def test_aws_spot_history_failing_keeps_the_live_on_demand_price(serve, tmp_path):
    """On-demand and spot come from two AWS APIs: EC2 refusing the spot history (here a malformed
    answer) must not throw away the real Price List answer; spot falls back to the snapshot."""
    offer = load("aws_offer_us-east-1_p4d.json")
    price_list = get_products_route(get_products_items(offer, "YSXJGN78QTXNVGDQ"))
    server = serve(lambda req, s: price_list(req, s) if req.headers.get("x-amz-target") else (503, b"<html>Service Unavailable</html>"))
    qs = get_quotes(gpus="A100-40GB-SXM", providers=["aws"], regions=["us-east-1"], cache_dir=tmp_path, now=NOW,
                    live_providers={"aws": _provider("aws", server.url)})
    [p4d] = [q for q in qs.quotes if q.instance_type == "p4d.24xlarge"]
    assert p4d.on_demand_usd_per_hour == pytest.approx(32.7726) and "H7NGEAC6UEHNTKSJ" in p4d.sku_ids
    assert p4d.spot_usd_per_hour is not None and p4d.spot_usd_per_hour > 0.0  # the snapshot's spot price
    assert any(w.startswith("aws:") and "live spot prices unavailable" in w for w in qs.warnings), qs.warnings


def test_azure_docs_example_row_windows_spot_devtest_is_never_a_linux_price():
    """Microsoft's own Retail Prices example row (a Windows, Spot, DevTestConsumption meter): each
    of the three alone must keep it out of the Linux on-demand/spot prices."""
    from phantom_report.pricing.providers.azure_retail import classify_item, is_windows
    row = load("azure_retail_docs_example_item.json")
    assert is_windows(row) and classify_item(row) is None
    as_consumption = {**row, "type": "Consumption"}  # the same row billed as ordinary consumption
    assert classify_item(as_consumption) is None  # still Windows
    linux = {**as_consumption, "productName": "Virtual Machines FS Series"}
    assert classify_item(linux) == "spot"  # the meter/sku name says Spot
    assert classify_item({**row, "productName": "Virtual Machines FS Series"}) is None  # DevTest alone


def test_azure_forecast_spec_example_is_read_and_its_next_link_followed(serve):
    """Microsoft's own Forecast example (BillingAccountForecast.json): four forecast rows and a
    nextLink to a Forecast $skiptoken page; the next page answers 204 (declared by the spec)."""
    from datetime import date
    from urllib.parse import unquote, urlsplit
    example = load("azure_costmanagement_BillingAccountForecast.json")["responses"]["200"]["body"]
    scope = "/providers/Microsoft.Billing/billingAccounts/12345:6789"

    def route(req, server):
        path = unquote(req.path).lower()
        if "skiptoken" in path or "$skiptoken" in req.query:
            return 204, b""
        if path.endswith("/providers/microsoft.costmanagement/query"):
            return 204, b""  # no actual cost rows: this test is about the forecast
        if path == f"{scope}/providers/Microsoft.CostManagement/forecast".lower():
            body = json.loads(json.dumps(example))
            link = urlsplit(body["properties"]["nextLink"])
            body["properties"]["nextLink"] = f"{server.url}{link.path}?{link.query}"  # re-pointed here
            return 200, body
        return 404, {"error": {"code": "NotFound", "message": req.path}}
    server = serve(route)
    from phantom_report.pricing.providers.azure_spend import AzureSpendProvider
    provider = AzureSpendProvider(scope=scope, credential=StaticToken(), base_url=server.url, enforce_https=False, settings=FAST)
    report = provider.fetch(date(2022, 8, 1), date(2022, 8, 1), forecast_end=date(2022, 8, 31))
    assert report.actual == ()
    assert [r.cost for r in report.forecast] == [2.10333307059661, 218.68795741935486, 0.14384913581657052, 0.009865586851323632]
    assert report.forecast_total == pytest.approx(2.10333307059661 + 218.68795741935486 + 0.14384913581657052 + 0.009865586851323632)
    assert {r.currency for r in report.forecast} == {"USD"} and report.forecast[0].day == date(2018, 3, 31)
    assert any("skiptoken" in unquote(r.path).lower() or "$skiptoken" in r.query for r in server.requests)


def test_diff_compares_only_refreshed_regions_and_never_calls_an_unseen_row_added():
    """A refresh of one region must not list every other region of the embedded snapshot as
    'removed', nor an embedded row without any price as 'added'."""
    from datetime import datetime, timezone

    from phantom_report.pricing.quote import PriceQuote
    from phantom_report.pricing.refresh import diff_against_embedded, regions_not_refreshed
    from phantom_report.pricing.snapshot import snapshot_quotes
    now = datetime(2026, 11, 30, tzinfo=timezone.utc)
    p4d = PriceQuote(provider="aws", region="us-east-1", zone=None, instance_type="p4d.24xlarge", gpu="A100-40GB-SXM",
                     gpu_count=8, vcpus=96, memory_gib=1152, on_demand_usd_per_hour=32.7726, spot_usd_per_hour=None,
                     reserved_usd_per_hour={}, fetched_at=now, source="live", source_detail="test")
    changes = diff_against_embedded("aws", [p4d])
    assert {c.region for c in changes} == {"us-east-1"}
    [mine] = [c for c in changes if c.instance_type == "p4d.24xlarge"]
    embedded = [q for q in snapshot_quotes(("aws",)) if (q.region, q.instance_type) == ("us-east-1", "p4d.24xlarge")]
    assert mine.status == "changed" and mine.embedded_on_demand_usd_per_hour == embedded[0].on_demand_usd_per_hour
    assert all(c.status == "removed" for c in changes if c is not mine)  # us-east-1 rows the refresh did not return
    skipped = regions_not_refreshed("aws", [p4d])
    assert "us-east-1" not in skipped and len(skipped) > 5
