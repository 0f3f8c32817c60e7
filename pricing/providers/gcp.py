"""GCP prices through google-cloud-billing's CloudCatalogClient (Compute Engine SKUs).

A GPU VM costs its VM part (vCPU SKU x vCPUs + RAM SKU x GiB, of the machine series) plus its GPU
part (GPU SKU x count).  The usage type says the kind: OnDemand, Preemptible (spot), Commit1Yr /
Commit3Yr (reserved).  Which SKU description means which GPU is decided only by the data table
pricing/data/gcp_gpu_skus.csv (read by clouds.gcp.gpu_sku_key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from phantom_report.pricing.clouds import gcp as gcp_cloud
from phantom_report.pricing.providers.base import CredentialsMissing, ProviderUnavailable, RetryableError
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.settings import FetchSettings, with_retries
from phantom_report.vocab import RESERVED_TERMS

COMPUTE_ENGINE_SERVICE = "services/6F81-5844-456A"
_KIND_BY_USAGE = {"OnDemand": "on_demand", "Preemptible": "spot", "Commit1Yr": "1y", "Commit3Yr": "3y"}
# Prefixes that mark the kind in descriptions; anything else before the series (DWS, Flex Start,
# Calendar Mode, Sole Tenancy, ...) is a different product and must not match.
_PREFIXES = ("Spot Preemptible ", "Preemptible ", "Commitment v1: ", "Commitment v2: ", "Commitment: ")
_CORE_RE = re.compile(r"^([A-Z][0-9A-Za-z]*) (Instance Core|Cpu|Core) (running )?in ")
_RAM_RE = re.compile(r"^([A-Z][0-9A-Za-z]*) (Instance Ram|Ram|Memory) (running )?in ")


def _strip_prefix(description: str) -> str:
    for p in _PREFIXES:
        if description.startswith(p):
            return description[len(p):]
    return description


def sku_kind(usage_type: str, description: str) -> str | None:
    """'on_demand' | 'spot' | '1y' | '3y' of a SKU.  The usage type decides, except that a
    description saying Spot Preemptible is spot whatever its category says (some spot GPU SKUs are
    published with usage type OnDemand)."""
    kind = _KIND_BY_USAGE.get(usage_type)
    if kind == "on_demand" and (description.startswith("Spot Preemptible ") or " attached to Spot Preemptible VMs" in description):
        return "spot"
    return kind


def classify_sku(description: str) -> tuple[str, str] | None:
    """('core'|'ram'|'gpu', series or GPU key) for a Compute Engine SKU description, else None."""
    d = _strip_prefix(description)
    if (key := gcp_cloud.gpu_sku_key(d)) is not None:
        return ("gpu", key)
    if m := _CORE_RE.match(d):
        return ("core", m.group(1))
    if m := _RAM_RE.match(d):
        return ("ram", m.group(1))
    return None


def _unit_price_usd(sku: Any) -> float | None:
    """Last tier's unit price of the current pricing info, in USD per usage unit."""
    infos = list(sku.pricing_info)
    if not infos:
        return None
    rates = list(infos[-1].pricing_expression.tiered_rates)
    if not rates:
        return None
    money = rates[-1].unit_price
    if money.currency_code and money.currency_code != "USD":
        return None
    return float(money.units) + money.nanos / 1e9


@dataclass(frozen=True)
class SkuPrices:
    """(component, name, region, kind) -> USD per unit (h for core/GPU, GiB-h for RAM)."""

    prices: dict[tuple[str, str, str, str], float]
    sku_ids: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    @classmethod
    def from_skus(cls, skus: Iterable[Any]) -> "SkuPrices":
        """Unit prices of every vCPU, RAM and catalogued GPU SKU, by (component, series or GPU key,
        region, kind); the cheapest SKU wins where several match (ties by SKU id)."""
        prices: dict[tuple[str, str, str, str], float] = {}
        ids: dict[tuple[str, str, str, str], str] = {}
        for sku in skus:
            kind = sku_kind(sku.category.usage_type, sku.description)
            cls_ = classify_sku(sku.description)
            price = _unit_price_usd(sku)
            if kind is None or cls_ is None or price is None or price <= 0.0:
                continue
            for region in sku.service_regions:
                key = (cls_[0], cls_[1], region, kind)
                # several SKUs can share a key (e.g. old + new); keep the cheapest list price,
                # whatever order the pages come in
                if key not in prices or (price, sku.sku_id) < (prices[key], ids[key]):
                    prices[key], ids[key] = price, sku.sku_id
        return cls(prices, ids)

    def regions(self) -> set[str]:
        """Regions with at least one priced SKU."""
        return {k[2] for k in self.prices}

    def _parts(self, machine_type: str, region: str, kind: str) -> list[tuple[str, str, str, str]]:
        m = gcp_cloud.MACHINES[machine_type]
        return [("core", m.series, region, kind), ("ram", m.series, region, kind), ("gpu", m.gpu_key, region, kind)]

    def machine_price(self, machine_type: str, region: str, kind: str) -> tuple[float | None, float | None]:
        """(VM total $/h, GPU part $/h) or Nones if any component is missing."""
        m = gcp_cloud.MACHINES[machine_type]
        core, ram, gpu = (self.prices.get(k) for k in self._parts(machine_type, region, kind))
        if core is None or ram is None or gpu is None:
            return None, None
        return core * m.vcpus + ram * m.memory_gib + gpu * m.gpu_count, gpu * m.gpu_count

    def machine_sku_ids(self, machine_type: str, region: str, kinds: Iterable[str]) -> tuple[str, ...]:
        """SKU ids of the vCPU, RAM and GPU parts priced for this machine, per kind, in order."""
        ids = (self.sku_ids.get(k) for kind in kinds for k in self._parts(machine_type, region, kind))
        return tuple(dict.fromkeys(i for i in ids if i))


def compose_quotes(prices: SkuPrices, kinds: frozenset[str], gpus: frozenset[str] | None,
                   regions: tuple[str, ...] | None, now: datetime, source_detail: str) -> list[PriceQuote]:
    """Quotes of every machine type in clouds/gcp (vCPU + RAM + GPU parts, $/h) in every region
    where all three parts are priced, for the requested kinds, GPUs and regions."""
    out: list[PriceQuote] = []
    for region in sorted(prices.regions()):
        if regions and region not in regions:
            continue
        for mt, m in gcp_cloud.MACHINES.items():
            gpu = gcp_cloud.SKU_GPU[m.gpu_key]
            if gpus is not None and gpu not in gpus:
                continue
            od, od_gpu = prices.machine_price(mt, region, "on_demand") if "on_demand" in kinds else (None, None)
            spot, spot_gpu = prices.machine_price(mt, region, "spot") if "spot" in kinds else (None, None)
            reserved = {}
            if "on_demand" in kinds:
                for term in RESERVED_TERMS:
                    if (r := prices.machine_price(mt, region, term)[0]) is not None:
                        reserved[term] = r
            warnings: tuple[str, ...] = ()
            if od_gpu is not None and spot_gpu is not None and spot_gpu > od_gpu:
                spot, warnings = None, (f"GPU part spot {spot_gpu:.4f} > GPU part on-demand {od_gpu:.4f} $/h; spot dropped",)
            if od is None and spot is None and not reserved:
                continue
            priced = [k for k, v in (("on_demand", od), ("spot", spot), *reserved.items()) if v is not None]
            out.append(PriceQuote(provider="gcp", region=region, zone=None, instance_type=mt, gpu=gpu, gpu_count=m.gpu_count,
                                  vcpus=m.vcpus, memory_gib=m.memory_gib, on_demand_usd_per_hour=od, spot_usd_per_hour=spot,
                                  reserved_usd_per_hour=reserved, fetched_at=now, source="live",
                                  source_detail=source_detail, warnings=warnings,
                                  sku_ids=prices.machine_sku_ids(mt, region, priced)))
    return out


def _map_google_error(exc: Exception, what: str) -> Exception:
    import requests
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as aexc
    if isinstance(exc, aexc.DefaultCredentialsError):
        return CredentialsMissing(f"gcp: no credentials ({str(exc).split('. ')[0].rstrip('.')}; run "
                                  "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS)")
    if isinstance(exc, (gexc.TooManyRequests, gexc.InternalServerError, gexc.ServiceUnavailable, gexc.BadGateway,
                        gexc.GatewayTimeout, gexc.DeadlineExceeded, requests.Timeout, requests.ConnectionError)):
        return RetryableError(f"{what}: {type(exc).__name__}")
    if isinstance(exc, (gexc.Unauthenticated, gexc.PermissionDenied)):
        return CredentialsMissing(f"gcp: credentials rejected ({type(exc).__name__})")
    if isinstance(exc, gexc.GoogleAPICallError):
        return ProviderUnavailable(f"{what}: {type(exc).__name__}")
    from google.protobuf.json_format import ParseError
    if isinstance(exc, (ValueError, ParseError)):  # malformed JSON / unexpected wire shape from the REST transport
        return ProviderUnavailable(f"{what}: malformed response ({type(exc).__name__})")
    return exc


@dataclass(frozen=True)
class GcpProvider:
    """Live GCP prices from the Cloud Billing Catalog (Compute Engine SKUs); credentials and the API
    endpoint are injectable for tests."""
    credentials: Any = None          # google.auth credentials; None -> Application Default Credentials
    api_endpoint: str | None = None  # e.g. "http://127.0.0.1:PORT" in tests
    transport: str = "rest"
    settings: FetchSettings = field(default_factory=FetchSettings)
    name: str = "gcp"

    def _client(self) -> Any:
        from google.cloud import billing_v1
        creds = self.credentials
        if creds is None:
            import google.auth
            try:
                creds, _ = google.auth.default()
            except Exception as exc:
                raise _map_google_error(exc, "gcp auth") from exc
        opts = {"api_endpoint": self.api_endpoint} if self.api_endpoint else None
        return billing_v1.CloudCatalogClient(credentials=creds, transport=self.transport, client_options=opts)

    def fetch(self, kinds: frozenset[str], gpus: frozenset[str] | None, regions: tuple[str, ...] | None,
              now: datetime) -> list[PriceQuote]:
        """Live GCP quotes of the machine types in clouds/gcp for the kinds ('on_demand' with
        reserved 1y/3y commitments, 'spot'), GPUs and regions."""
        client = self._client()
        what = "gcp cloudbilling.list_skus"

        def all_skus() -> list[Any]:
            try:
                skus = []
                pager = client.list_skus(parent=COMPUTE_ENGINE_SERVICE, retry=None, timeout=self.settings.timeout_s)
                for n, page in enumerate(pager.pages):
                    if n >= self.settings.max_pages:
                        raise ProviderUnavailable(f"{what}: more than {self.settings.max_pages} pages")
                    skus.extend(page.skus)
                return skus
            except (ProviderUnavailable, RetryableError):
                raise
            except Exception as exc:
                mapped = _map_google_error(exc, what)
                if mapped is exc:
                    raise
                raise mapped from exc

        skus = with_retries(all_skus, self.settings, what)
        if not skus:
            raise ProviderUnavailable(f"{what}: no SKUs returned")
        endpoint = self.api_endpoint or "https://cloudbilling.googleapis.com"
        return compose_quotes(SkuPrices.from_skus(skus), kinds, gpus, regions, now,
                              f"gcp cloudbilling {endpoint}/v1/{COMPUTE_ENGINE_SERVICE}/skus (VM vCPU+RAM SKUs + GPU SKUs)")


__all__ = ["GcpProvider", "SkuPrices", "classify_sku", "compose_quotes", "COMPUTE_ENGINE_SERVICE"]
