"""GCP provider: the real CloudCatalogClient (REST transport, anonymous credentials) against a
local server serving /v1/services/6F81-5844-456A/skus in the real wire JSON, with page tokens."""

from __future__ import annotations

import pytest
from google.auth.credentials import AnonymousCredentials

from phantom_report.pricing.catalog import get_quotes
from phantom_report.pricing.clouds.gcp import GPU_SKUS as GCP_GPU_SKUS
from phantom_report.pricing.clouds.gcp import MACHINES as GCP_MACHINES
from phantom_report.pricing.clouds.gcp import gpu_sku_key as gcp_gpu_sku_key
from phantom_report.pricing.providers.gcp import GcpProvider, classify_sku

from .conftest import FAST, NOW, PATIENT

SKUS_PATH = "/v1/services/6F81-5844-456A/skus"


def sku(sku_id: str, description: str, usage_type: str, regions: list[str], usd: float, unit: str = "h") -> dict:
    units, nanos = int(usd), round((usd - int(usd)) * 1e9)
    return {
        "name": f"services/6F81-5844-456A/skus/{sku_id}", "skuId": sku_id, "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute",
                     "resourceGroup": "GPU" if "GPU" in description else "CPU", "usageType": usage_type},
        "serviceRegions": regions,
        "pricingInfo": [{"effectiveTime": "2026-11-24T00:00:00Z", "summary": "", "pricingExpression": {
            "usageUnit": unit, "displayQuantity": 1, "usageUnitDescription": "hour" if unit == "h" else "gibibyte hour",
            "baseUnit": "s" if unit == "h" else "By.s", "baseUnitDescription": "second",
            "baseUnitConversionFactor": 3600 if unit == "h" else 3865470566400,
            "tieredRates": [{"startUsageAmount": 0, "unitPrice": {"currencyCode": "USD", "units": str(units), "nanos": nanos}}]},
            "currencyConversionRate": 1}],
        "serviceProviderName": "Google", "geoTaxonomy": {"type": "REGIONAL", "regions": regions},
    }


# Illustrative fixture prices (not real list prices): A3 VM part + H100 GPU part in two regions.
R = ["us-central1", "europe-west4"]
SKUS = [
    sku("A3C1", "A3 Instance Core running in Americas", "OnDemand", ["us-central1"], 0.0229),
    sku("A3R1", "A3 Instance Ram running in Americas", "OnDemand", ["us-central1"], 0.0031, "GiBy.h"),
    sku("H1", "Nvidia H100 80GB GPU running in Americas", "OnDemand", ["us-central1"], 9.80),
    sku("H1S", "Spot Preemptible Nvidia H100 80GB GPU running in Americas", "Preemptible", ["us-central1"], 3.80),
    sku("A3C1S", "Spot Preemptible A3 Instance Core running in Americas", "Preemptible", ["us-central1"], 0.0092),
    sku("A3R1S", "Spot Preemptible A3 Instance Ram running in Americas", "Preemptible", ["us-central1"], 0.0012, "GiBy.h"),
    sku("H1C", "Commitment v1: Nvidia H100 80GB GPU in Americas for 1 Year", "Commit1Yr", ["us-central1"], 6.17),
    sku("A3C1C", "Commitment v1: A3 Cpu in Americas for 1 Year", "Commit1Yr", ["us-central1"], 0.0144),
    sku("A3R1C", "Commitment v1: A3 Ram in Americas for 1 Year", "Commit1Yr", ["us-central1"], 0.0020, "GiBy.h"),
    # same GPU, other products: must never be picked for the standard price
    sku("DWS", "DWS Defined Duration Nvidia H100 80GB GPU running in Americas", "OnDemand", ["us-central1"], 4.20),
    sku("FLX", "Flex Start Nvidia H100 80GB GPU running in Americas", "OnDemand", ["us-central1"], 4.10),
    sku("A3C2", "A3 Instance Core running in EMEA", "OnDemand", ["europe-west4"], 0.0252),
    sku("A3R2", "A3 Instance Ram running in EMEA", "OnDemand", ["europe-west4"], 0.0034, "GiBy.h"),
    sku("H2", "Nvidia H100 80GB GPU running in EMEA", "OnDemand", ["europe-west4"], 10.78),
    sku("L4", "Nvidia L4 GPU running in Americas", "OnDemand", ["us-central1"], 0.56),
    sku("N1", "N1 Predefined Instance Core running in Americas", "OnDemand", ["us-central1"], 0.0316),
]
PAGE = 5


def catalog_route(req, server):
    if req.method != "GET" or req.path != SKUS_PATH:
        return 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
    start = int(req.query.get("pageToken", ["0"])[0] or 0)
    body = {"skus": SKUS[start:start + PAGE]}
    if start + PAGE < len(SKUS):
        body["nextPageToken"] = str(start + PAGE)
    return 200, body


def provider(url: str, settings=FAST) -> GcpProvider:
    return GcpProvider(credentials=AnonymousCredentials(), api_endpoint=url, transport="rest", settings=settings)


def test_sku_table_matches_standard_skus_only():
    assert gcp_gpu_sku_key("Nvidia H100 80GB GPU running in Americas") == "H100"
    assert gcp_gpu_sku_key("Nvidia H100 80GB Mega GPU running in Americas") == "H100-MEGA"
    assert gcp_gpu_sku_key("Nvidia Tesla A100 GPU running in Americas") == "A100"
    assert gcp_gpu_sku_key("Nvidia A100 80GB GPU running in EMEA") == "A100-80GB"
    assert gcp_gpu_sku_key("Nvidia L4 GPU running in APAC") == "L4"
    assert gcp_gpu_sku_key("DWS Defined Duration Nvidia H100 80GB GPU running in Americas") is None
    assert classify_sku("Spot Preemptible Nvidia H100 80GB GPU running in Americas") == ("gpu", "H100")
    assert classify_sku("Commitment v1: Nvidia H100 80GB GPU in Americas for 1 Year") == ("gpu", "H100")
    assert classify_sku("A3 Instance Ram running in Americas") == ("ram", "A3")
    assert classify_sku("Commitment v1: A3 Cpu in Americas for 1 Year") == ("core", "A3")
    assert classify_sku("Flex Start Nvidia H100 80GB GPU running in Americas") is None
    # every machine type's GPU key is a row of the SKU table
    assert {m.gpu_key for m in GCP_MACHINES.values()} <= {s.key for s in GCP_GPU_SKUS}


def test_list_skus_paged_and_vm_composed(serve):
    srv = serve(catalog_route)
    quotes = provider(srv.url).fetch(frozenset({"on_demand", "spot"}), frozenset({"H100-SXM"}), None, NOW)
    assert len(srv.requests) == 4  # 16 SKUs, 5 per page
    q = {(x.region, x.instance_type): x for x in quotes}
    a3 = q[("us-central1", "a3-highgpu-8g")]
    vm_part = 0.0229 * 208 + 0.0031 * 1872
    assert a3.on_demand_usd_per_hour == pytest.approx(vm_part + 9.80 * 8)
    assert a3.spot_usd_per_hour == pytest.approx(0.0092 * 208 + 0.0012 * 1872 + 3.80 * 8)
    assert a3.reserved_usd_per_hour["1y"] == pytest.approx(0.0144 * 208 + 0.0020 * 1872 + 6.17 * 8)
    assert a3.on_demand_usd_per_gpu_hour > 9.80  # never the DWS/flex 4.x SKU
    assert ("europe-west4", "a3-highgpu-1g") in q and q[("europe-west4", "a3-highgpu-1g")].spot_usd_per_hour is None
    assert all(x.gpu == "H100-SXM" and x.source == "live" for x in quotes)


def test_region_filter(serve):
    srv = serve(catalog_route)
    quotes = provider(srv.url).fetch(frozenset({"on_demand"}), None, ("europe-west4",), NOW)
    assert {x.region for x in quotes} == {"europe-west4"}


def test_http_429_then_success(serve):
    calls = {"n": 0}

    def route(req, s):
        calls["n"] += 1
        if calls["n"] == 1:
            return 429, {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}
        return catalog_route(req, s)

    srv = serve(route)
    assert provider(srv.url, PATIENT).fetch(frozenset({"on_demand"}), frozenset({"L4"}), None, NOW) == []  # no G2 VM SKUs in fixture
    assert calls["n"] == 1 + 4


@pytest.mark.parametrize("fault", ["500", "malformed", "empty", "timeout"])
def test_faults_fall_back_to_snapshot_with_warning(serve, tmp_path, fault):
    from .conftest import slow
    routes = {
        "500": lambda req, s: (500, {"error": {"code": 500, "message": "backend", "status": "INTERNAL"}}),
        "malformed": lambda req, s: (200, b'{"skus": [ {"name": '),
        "empty": lambda req, s: (200, {"skus": []}),
        "timeout": lambda req, s: slow(1.0, catalog_route(req, s)),
    }
    srv = serve(routes[fault])
    qs = get_quotes(gpus="H100-SXM", providers=["gcp"], cache_dir=tmp_path, now=NOW, live_providers={"gcp": provider(srv.url)})
    assert qs.quotes and {q.source for q in qs.quotes} == {"snapshot"}
    assert len([w for w in qs.warnings if w.startswith("gcp:")]) == 1
    assert all((q.on_demand_usd_per_hour or 1) > 0 for q in qs.quotes)
