"""Azure: Retail Prices REST envelope (Items, NextPageLink, Count) through requests, and the
Cost Management client (actual spend + forecast) against a local server over plain http."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from phantom_report.pricing.catalog import get_quotes
from phantom_report.pricing.providers.azure_retail import AzureRetailProvider, classify_item
from phantom_report.pricing.providers.azure_spend import AzureSpendProvider

from .conftest import FAST, NOW, PATIENT, slow


def item(sku_name: str, product: str, price: float, typ: str = "Consumption", region: str = "eastus",
         arm_sku: str = "Standard_ND96isr_H100_v5", term: str | None = None, meter: str | None = None) -> dict:
    d = {"currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price, "unitPrice": price,
         "armRegionName": region, "location": "US East", "effectiveStartDate": "2026-06-01T00:00:00Z",
         "meterId": "00000000-0000-0000-0000-000000000000", "meterName": meter or sku_name, "productId": "DZH318Z08M22",
         "skuId": "DZH318Z08M22/00TG", "productName": product, "skuName": sku_name, "serviceName": "Virtual Machines",
         "serviceId": "DZH313Z7MMC8", "serviceFamily": "Compute", "unitOfMeasure": "1 Hour", "type": typ,
         "isPrimaryMeterRegion": True, "armSkuName": arm_sku}
    if term:
        d["reservationTerm"] = term
    return d


LINUX = "Virtual Machines NDisrH100v5 Series"
WINDOWS = "Virtual Machines NDisrH100v5 Series Windows"
# Illustrative fixture prices.
PAGES = [
    [item("ND96isr H100 v5", LINUX, 98.32), item("ND96isr H100 v5 Spot", LINUX, 39.33),
     item("ND96isr H100 v5", WINDOWS, 115.0)],
    [item("ND96isr H100 v5 Low Priority", LINUX, 19.66, meter="ND96isr H100 v5 Low Priority"),
     item("ND96isr H100 v5", LINUX, 530000.0, typ="Reservation", term="1 Year"),
     item("ND96isr H100 v5", LINUX, 1100000.0, typ="Reservation", term="3 Years"),
     item("ND96isr H100 v5", LINUX, 60.0, typ="DevTestConsumption")],
    [item("NC40ads H100 v5", "Virtual Machines NCadsH100v5 Series", 6.98, arm_sku="Standard_NC40ads_H100_v5"),
     item("NC40ads H100 v5 Spot", "Virtual Machines NCadsH100v5 Series", 6.98, arm_sku="Standard_NC40ads_H100_v5"),
     item("NC40ads H100 v5", "Virtual Machines NCadsH100v5 Series", 0.0, region="westus", arm_sku="Standard_NC40ads_H100_v5")],
]


def retail_route(req, server):
    assert req.path == "/api/retail/prices"
    page = int(req.query.get("page", ["0"])[0])
    if page == 0:
        assert req.query["api-version"] == ["2023-01-01-preview"]
        assert "armSkuName eq 'Standard_ND96isr_H100_v5'" in req.query["$filter"][0]
    nxt = f"{server.url}/api/retail/prices?page={page + 1}" if page + 1 < len(PAGES) else None
    return 200, {"BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
                 "Items": PAGES[page], "NextPageLink": nxt, "Count": len(PAGES[page])}


def test_classify_rows():
    assert classify_item(item("ND96isr H100 v5", WINDOWS, 1)) is None
    assert classify_item(item("ND96isr H100 v5 Low Priority", LINUX, 1)) is None
    assert classify_item(item("ND96isr H100 v5 Spot", LINUX, 1)) == "spot"
    assert classify_item(item("ND96isr H100 v5", LINUX, 1, typ="Reservation", term="3 Years")) == "3y"
    assert classify_item(item("ND96isr H100 v5", LINUX, 1, typ="DevTestConsumption")) is None


def test_paging_and_filtering(serve):
    srv = serve(retail_route)
    prov = AzureRetailProvider(endpoint=srv.url + "/api/retail/prices", settings=PATIENT)
    quotes = prov.fetch(frozenset({"on_demand", "spot"}), frozenset({"H100-SXM", "H100-NVL"}), None, NOW)
    assert len(srv.requests) == 3
    q = {(x.region, x.instance_type): x for x in quotes}
    nd = q[("eastus", "Standard_ND96isr_H100_v5")]
    assert nd.on_demand_usd_per_hour == 98.32          # not Windows 115, not DevTest 60
    assert nd.spot_usd_per_hour == 39.33               # not Low Priority 19.66
    assert nd.gpu_count == 8 and nd.gpu == "H100-SXM"
    assert nd.reserved_usd_per_hour["1y"] == pytest.approx(530000 / 8760)
    assert nd.reserved_usd_per_hour["3y"] == pytest.approx(1100000 / (3 * 8760))


def test_chain_applies_sanity_no_zero_price_and_spot_equal(serve, tmp_path):
    srv = serve(retail_route)
    prov = AzureRetailProvider(endpoint=srv.url + "/api/retail/prices", settings=FAST)
    qs = get_quotes(gpus="h100", providers=["azure"], cache_dir=tmp_path, now=NOW, live_providers={"azure": prov})
    assert all(q.source == "live" for q in qs.quotes)
    assert all(q.on_demand_usd_per_hour is None or q.on_demand_usd_per_hour > 0 for q in qs.quotes)
    assert not any(q.region == "westus" for q in qs.quotes)           # the $0 row is dropped ...
    assert any("westus" in w and "dropped" in w for w in qs.warnings)  # ... with a warning
    nc = next(q for q in qs.quotes if q.instance_type == "Standard_NC40ads_H100_v5")
    assert nc.spot_usd_per_hour is None and any("spot == on-demand" in w for w in nc.warnings)


@pytest.mark.parametrize("fault", ["429", "500", "malformed", "empty", "timeout", "not-an-envelope"])
def test_faults_fall_back_with_one_warning(serve, tmp_path, fault):
    routes = {
        "429": lambda req, s: (429, {"error": "too many requests"}, {"Retry-After": "0"}),
        "500": lambda req, s: (500, {"error": "internal"}),
        "malformed": lambda req, s: (200, b"<html>oops</html>"),
        "empty": lambda req, s: (200, {"Items": [], "NextPageLink": None, "Count": 0}),
        "timeout": lambda req, s: slow(1.0, (200, {"Items": [], "NextPageLink": None, "Count": 0})),
        "not-an-envelope": lambda req, s: (200, [1, 2, 3]),
    }
    srv = serve(routes[fault])
    prov = AzureRetailProvider(endpoint=srv.url + "/api/retail/prices", settings=FAST)
    qs = get_quotes(gpus="H100-SXM", providers=["azure"], cache_dir=tmp_path, now=NOW, live_providers={"azure": prov})
    assert qs.quotes and {q.source for q in qs.quotes} == {"snapshot"}
    azure_warnings = [w for w in qs.warnings if w.startswith("azure:")]
    assert len(azure_warnings) == 1 and "snapshot" in azure_warnings[0]
    if fault in ("429", "500", "timeout"):
        assert len(srv.requests) == FAST.retries + 1


def test_retry_then_success_on_500(serve):
    calls = {"n": 0}

    def route(req, s):
        calls["n"] += 1
        return (500, {"error": "flaky"}) if calls["n"] == 1 else retail_route(req, s)

    srv = serve(route)
    prov = AzureRetailProvider(endpoint=srv.url + "/api/retail/prices", settings=PATIENT)
    assert prov.fetch(frozenset({"on_demand"}), frozenset({"H100-SXM"}), None, NOW)
    assert calls["n"] == 1 + len(PAGES)


# --- Cost Management (actual spend) ----------------------------------------------------------

class StaticToken:
    """A TokenCredential with a fixed bearer token (the protocol azure-core clients accept)."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken
        return AccessToken("test-token", int(datetime.now(timezone.utc).timestamp()) + 3600)


SCOPE = "/subscriptions/00000000-0000-0000-0000-000000000001"


def cost_route(req, server):
    assert req.headers.get("authorization") == "Bearer test-token"
    body = json.loads(req.body)
    if req.path == f"{SCOPE}/providers/Microsoft.CostManagement/query":
        assert body["type"] == "ActualCost" and body["dataset"]["granularity"] == "Daily"
        return 200, {"id": "q1", "name": "q1", "type": "Microsoft.CostManagement/query", "properties": {
            "nextLink": None,
            "columns": [{"name": "Cost", "type": "Number"}, {"name": "UsageDate", "type": "Number"},
                        {"name": "MeterCategory", "type": "String"}, {"name": "Currency", "type": "String"}],
            "rows": [[812.5, 20261101, "Virtual Machines", "USD"], [790.25, 20261102, "Virtual Machines", "USD"],
                     [12.0, 20261102, "Storage", "USD"]]}}
    if req.path == f"{SCOPE}/providers/Microsoft.CostManagement/forecast":
        return 200, {"id": "f1", "name": "f1", "type": "Microsoft.CostManagement/forecast", "properties": {
            "nextLink": None,
            "columns": [{"name": "Cost", "type": "Number"}, {"name": "UsageDate", "type": "Number"},
                        {"name": "CostStatus", "type": "String"}, {"name": "Currency", "type": "String"}],
            "rows": [[800.0, 20261103, "Forecast", "USD"], [805.0, 20261104, "Forecast", "USD"]]}}
    return 404, {"error": {"code": "NotFound", "message": req.path}}


def test_cost_management_actual_spend_and_forecast(serve):
    srv = serve(cost_route)
    prov = AzureSpendProvider(scope=SCOPE, credential=StaticToken(), base_url=srv.url,
                              enforce_https=False, settings=PATIENT)
    rep = prov.fetch(date(2026, 11, 1), date(2026, 11, 2), forecast_end=date(2026, 11, 4), now=NOW)
    assert rep.actual_total == pytest.approx(812.5 + 790.25 + 12.0)
    assert rep.forecast_total == pytest.approx(1605.0)
    assert rep.currency == "USD" and rep.actual[0].day == date(2026, 11, 1) and rep.actual[2].group == "Storage"
    assert len(srv.requests) == 2


def test_cost_management_errors_are_provider_unavailable(serve):
    from phantom_report.pricing.settings import CredentialsMissing, ProviderUnavailable
    srv = serve(lambda req, s: (503, {"error": {"code": "ServiceUnavailable", "message": "x"}}))
    prov = AzureSpendProvider(scope=SCOPE, credential=StaticToken(), base_url=srv.url,
                              enforce_https=False, settings=FAST)
    with pytest.raises(ProviderUnavailable):
        prov.fetch(date(2026, 11, 1), date(2026, 11, 2))
    assert len(srv.requests) == FAST.retries + 1
    srv401 = serve(lambda req, s: (401, {"error": {"code": "AuthenticationFailed", "message": "x"}}))
    prov401 = AzureSpendProvider(scope=SCOPE, credential=StaticToken(), base_url=srv401.url,
                                 enforce_https=False, settings=FAST)
    with pytest.raises(CredentialsMissing):
        prov401.fetch(date(2026, 11, 1), date(2026, 11, 2))
