"""Azure list prices from the public Retail Prices REST API (no credentials needed).

On-demand = Consumption rows of Linux sizes; spot = rows whose skuName ends in ' Spot';
reserved = type 'Reservation' rows (priced per term, converted to $/h).  Windows and Low Priority
rows are dropped.  Pages are followed through NextPageLink.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phantom_report.pricing.clouds import azure as azure_cloud
from phantom_report.pricing.providers.base import RETRYABLE_HTTP_STATUS, ProviderUnavailable, RetryableError
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.settings import FetchSettings, with_retries
from phantom_report.vocab import RESERVED_TERMS

RETAIL_PRICES_URL = "https://prices.azure.com/api/retail/prices"
API_VERSION = "2023-01-01-preview"
_HOURS_BY_TERM = {"1 Year": ("1y", 8760.0), "3 Years": ("3y", 3 * 8760.0)}


def build_filter(sizes: list[str], regions: tuple[str, ...] | None) -> str:
    """The Retail Prices API OData $filter for these VM sizes (and regions, when given)."""
    sku = " or ".join(f"armSkuName eq '{s}'" for s in sizes)
    f = f"serviceName eq 'Virtual Machines' and ({sku})"
    if regions:
        f += " and (" + " or ".join(f"armRegionName eq '{r}'" for r in regions) + ")"
    return f


# Windows rows are named several ways: 'Virtual Machines NCadsH100v5 Series Windows',
# 'Virtual Machines NCCadsv5 Srs Win' (abbreviated series names), and now and then in the sku or
# meter name; a word match on all three catches each without matching 'Window' inside other words.
_WINDOWS_WORD = re.compile(r"\bWin(?:dows)?\b", re.IGNORECASE)


def is_windows(item: dict[str, Any]) -> bool:
    """True for a row priced with a Windows licence."""
    return any(_WINDOWS_WORD.search(str(item.get(k) or "")) for k in ("productName", "skuName", "meterName"))


def classify_item(item: dict[str, Any]) -> str | None:
    """'on_demand' | 'spot' | '1y' | '3y' for a usable Linux row, None for rows to ignore."""
    sku_name = item.get("skuName", "")
    if is_windows(item) or "Low Priority" in sku_name or "Low Priority" in item.get("meterName", ""):
        return None
    if item.get("unitOfMeasure") not in (None, "1 Hour"):
        return None
    typ = item.get("type")
    if typ == "Reservation":
        term = _HOURS_BY_TERM.get(item.get("reservationTerm", ""))
        return term[0] if term else None
    if typ != "Consumption":
        return None  # DevTestConsumption and future types
    return "spot" if sku_name.endswith(" Spot") else "on_demand"


def item_usd_per_hour(item: dict[str, Any], kind: str) -> float | None:
    """USD per hour of one Retail Prices item for the kind (a reservation's term price spread over
    its hours); None for a non-USD or unpriced item."""
    if item.get("currencyCode", "USD") != "USD":
        return None
    price = item.get("retailPrice", item.get("unitPrice"))
    if not isinstance(price, (int, float)):
        return None
    if kind in RESERVED_TERMS:  # a reservation row is the price of the whole term
        hours = 8760.0 if kind == "1y" else 3 * 8760.0
        return float(price) / hours
    return float(price)


@dataclass(frozen=True)
class AzureRetailProvider:
    """Live Azure prices from the Retail Prices REST API (no credentials needed); the endpoint and
    the requests session are injectable for tests."""
    endpoint: str = RETAIL_PRICES_URL
    session: Any = None  # requests.Session (the transport); None -> a new one
    settings: FetchSettings = field(default_factory=FetchSettings)
    name: str = "azure"

    def _get_json(self, session: Any, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        import requests

        def attempt() -> dict[str, Any]:
            try:
                resp = session.get(url, params=params, timeout=self.settings.timeout_s)
            except (requests.Timeout, requests.ConnectionError) as exc:
                raise RetryableError(f"azure retail prices: {type(exc).__name__}") from exc
            if resp.status_code in RETRYABLE_HTTP_STATUS:
                raise RetryableError(f"azure retail prices: HTTP {resp.status_code}")
            if resp.status_code != 200:
                raise ProviderUnavailable(f"azure retail prices: HTTP {resp.status_code}")
            try:
                doc = resp.json()
            except ValueError as exc:
                raise ProviderUnavailable("azure retail prices: malformed JSON") from exc
            if not isinstance(doc, dict) or not isinstance(doc.get("Items"), list):
                raise ProviderUnavailable("azure retail prices: response has no Items list")
            return doc

        return with_retries(attempt, self.settings, "azure retail prices")

    def fetch(self, kinds: frozenset[str], gpus: frozenset[str] | None, regions: tuple[str, ...] | None,
              now: datetime) -> list[PriceQuote]:
        """Live Azure quotes (on-demand, spot, reserved 1y/3y) of the VM sizes in clouds/azure's table
        for the requested GPUs and regions, following the API's NextPageLink."""
        import requests
        sizes = sorted(s for s, ig in azure_cloud.GPU_TABLE.items() if gpus is None or ig.gpu in gpus)
        if not sizes:
            return []
        session = self.session or requests.Session()
        params: dict[str, str] | None = {"api-version": API_VERSION, "$filter": build_filter(sizes, regions)}
        url: str | None = self.endpoint
        items: list[dict[str, Any]] = []
        for _ in range(self.settings.max_pages):
            if not url:
                break
            doc = self._get_json(session, url, params)
            items.extend(doc["Items"])
            url, params = doc.get("NextPageLink"), None  # the link carries the query
        else:
            raise ProviderUnavailable(f"azure retail prices: more than {self.settings.max_pages} pages")
        if not items:
            raise ProviderUnavailable("azure retail prices: no price rows returned")
        return self._quotes(items, kinds, gpus, regions, now)

    def _quotes(self, items: list[dict[str, Any]], kinds: frozenset[str], gpus: frozenset[str] | None,
                regions: tuple[str, ...] | None, now: datetime) -> list[PriceQuote]:
        table: dict[tuple[str, str], dict[str, float]] = {}
        sku_ids: dict[tuple[str, str], dict[str, str]] = {}
        for it in items:
            size, region = it.get("armSkuName", ""), it.get("armRegionName", "")
            ig = azure_cloud.GPU_TABLE.get(size)
            kind = classify_item(it)
            if ig is None or kind is None or (regions and region not in regions) or (gpus is not None and ig.gpu not in gpus):
                continue
            if (price := item_usd_per_hour(it, kind)) is None:
                continue
            prices = table.setdefault((size, region), {})
            ids = sku_ids.setdefault((size, region), {})
            sku_id = str(it.get("skuId") or it.get("meterId") or "")
            if kind not in prices or (price, sku_id) < (prices[kind], ids.get(kind, "")):
                prices[kind], ids[kind] = price, sku_id
        out = []
        for (size, region), p in sorted(table.items()):
            ig = azure_cloud.GPU_TABLE[size]
            od = p.get("on_demand") if "on_demand" in kinds else None
            spot = p.get("spot") if "spot" in kinds else None
            reserved = {t: p[t] for t in RESERVED_TERMS if t in p} if "on_demand" in kinds else {}
            if od is None and spot is None and not reserved:
                continue
            used = [k for k, v in (("on_demand", od), ("spot", spot), *reserved.items()) if v is not None]
            ids = tuple(dict.fromkeys(i for k in used if (i := sku_ids[(size, region)].get(k))))
            out.append(PriceQuote(provider="azure", region=region, zone=None, instance_type=size, gpu=ig.gpu,
                                  gpu_count=ig.gpu_count, vcpus=None, memory_gib=None, on_demand_usd_per_hour=od,
                                  spot_usd_per_hour=spot, reserved_usd_per_hour=reserved, fetched_at=now, source="live",
                                  source_detail=f"azure retail prices {self.endpoint} (api-version {API_VERSION})",
                                  sku_ids=ids))
        return out
