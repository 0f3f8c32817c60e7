"""AWS prices through boto3: the Price List API (on-demand + reserved; served from us-east-1 only,
so that client is pinned there) and EC2 spot price history per region (latest price per AZ)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phantom_report.pricing.clouds import aws as aws_cloud
from phantom_report.pricing.providers.base import (RETRYABLE_HTTP_STATUS, CredentialsMissing, ProviderUnavailable,
                                                   RetryableError)
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.settings import FetchSettings, with_retries

PRICE_LIST_REGION = "us-east-1"  # the Price List API answers in us-east-1 (and a few others), not everywhere
DEFAULT_REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
# Filters the Price List API understands (TERM_MATCH on product attributes).  The same product
# attributes are checked again on every item that comes back (`is_plain_on_demand`): the real offer
# file holds, for one instance type and region, a Capacity Block product (marketoption
# CapacityBlock, operation RunInstances:CB, $0.00), Dedicated Host / reserved-capacity products
# (tenancy Host/Dedicated, capacitystatus UnusedCapacityReservation/AllocatedCapacityReservation)
# and licensed variants (operation RunInstances:0002 Windows, :0010 RHEL, ...).  GetProducts does
# not promise an order, so an item that slipped through would otherwise win or lose by position.
PRODUCT_FILTERS = (
    ("instanceFamily", "GPU instance"), ("operatingSystem", "Linux"), ("tenancy", "Shared"),
    ("preInstalledSw", "NA"), ("capacitystatus", "Used"), ("licenseModel", "No License required"),
    ("marketoption", "OnDemand"), ("operation", "RunInstances"),
)
_TERM_BY_LEASE = {"1yr": "1y", "3yr": "3y"}


def call_boto(fn: Any, what: str, settings: Any, throttle_codes: tuple[str, ...] = ()) -> Any:
    """``fn()`` (one boto3 call) with the provider errors mapped and retried per ``settings``
    (FetchSettings); a ClientError whose code is in ``throttle_codes`` is retried as well."""
    def attempt() -> Any:
        try:
            return fn()
        except Exception as exc:  # botocore raises many types; map them, re-raise bugs
            reply = getattr(exc, "response", None)  # a botocore ClientError's parsed error
            code = reply.get("Error", {}).get("Code", "") if isinstance(reply, dict) else ""
            if code and code in throttle_codes:
                raise RetryableError(f"{what}: {code}") from exc
            mapped = _map_boto_error(exc, what)
            if mapped is exc:
                raise
            raise mapped from exc
    return with_retries(attempt, settings, what)


def _map_boto_error(exc: Exception, what: str) -> Exception:
    from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError, NoCredentialsError, ReadTimeoutError
    from botocore.parsers import ResponseParserError
    if isinstance(exc, NoCredentialsError):
        return CredentialsMissing(f"aws: no credentials ({exc})")
    if isinstance(exc, (ReadTimeoutError, BotoConnectionError)):  # ConnectTimeout/EndpointConnection included
        return RetryableError(f"{what}: {type(exc).__name__}")
    if isinstance(exc, ResponseParserError):
        return ProviderUnavailable(f"{what}: malformed response")
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = exc.response.get("Error", {}).get("Code", "")
        if status in RETRYABLE_HTTP_STATUS or "Throttl" in code:
            return RetryableError(f"{what}: HTTP {status} {code}")
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "AccessDeniedException"):
            return CredentialsMissing(f"aws: credentials rejected ({code})")
        return ProviderUnavailable(f"{what}: HTTP {status} {code}")
    return exc


def _usd(dim: dict[str, Any]) -> float | None:
    v = dim.get("pricePerUnit", {}).get("USD")
    return float(v) if v not in (None, "") else None


def _product_sku(raw: str) -> str | None:
    try:
        return json.loads(raw)["product"].get("sku")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def parse_price_list_item(item: dict[str, Any]) -> tuple[dict[str, str], float | None, dict[str, float]]:
    """(product attributes, on-demand $/h, reserved term -> $/h) from one PriceList document.

    Reserved: the Standard, No Upfront offering's hourly rate (what a buyer without capital
    outlay pays); other offerings are ignored rather than amortised with assumptions.
    """
    attrs = item["product"]["attributes"]
    terms = item.get("terms", {})
    on_demand = None
    for term in terms.get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            if dim.get("unit") == "Hrs":
                on_demand = _usd(dim)
    reserved: dict[str, float] = {}
    for term in terms.get("Reserved", {}).values():
        ta = term.get("termAttributes", {})
        if ta.get("OfferingClass") != "standard" or ta.get("PurchaseOption") != "No Upfront":
            continue
        t = _TERM_BY_LEASE.get(ta.get("LeaseContractLength", ""))
        for dim in term.get("priceDimensions", {}).values():
            if t and dim.get("unit") == "Hrs" and (p := _usd(dim)) is not None:
                reserved[t] = p
    return attrs, on_demand, reserved


def is_plain_on_demand(attrs: dict[str, str]) -> bool:
    """True for a shared-tenancy, Linux, no-licence, on-demand-market compute product: the one
    product per instance type and region whose price is what renting it on demand costs.

    An attribute the document does not carry is not held against it (older offer files have no
    marketoption); one that it carries with another value is.
    """
    return all(attrs.get(key, value) == value for key, value in PRODUCT_FILTERS)


def _memory_gib(text: str | None) -> float | None:
    if not text:
        return None
    num = text.replace(",", "").split()[0]
    try:
        return float(num)
    except ValueError:
        return None


@dataclass(frozen=True)
class AwsProvider:
    """Endpoints (None = AWS), session (credentials) and botocore config are injectable."""

    session: Any = None                      # boto3.Session; None -> default credential chain
    pricing_endpoint_url: str | None = None
    ec2_endpoint_url: str | None = None
    default_regions: tuple[str, ...] = DEFAULT_REGIONS
    settings: FetchSettings = field(default_factory=FetchSettings)
    name: str = "aws"
    # on-demand (Price List API) and spot (EC2 price history) are separate APIs: the price chain asks
    # for one kind at a time, so one failing does not discard the other (catalog._Chain.fetch_live)
    fetches_kinds_separately: bool = True

    def _session(self) -> Any:
        import boto3
        s = self.session or boto3.Session()
        if s.get_credentials() is None:
            raise CredentialsMissing("aws: no credentials found (AWS_ACCESS_KEY_ID / profile / role)")
        return s

    def _client(self, session: Any, service: str, region: str, endpoint: str | None) -> Any:
        from botocore.config import Config
        # our own retry loop owns backoff (injectable, tiny in tests): botocore makes one attempt
        cfg = Config(connect_timeout=self.settings.timeout_s, read_timeout=self.settings.timeout_s,
                     retries={"total_max_attempts": 1})
        return session.client(service, region_name=region, endpoint_url=endpoint, config=cfg)

    def _call(self, fn: Any, what: str) -> Any:
        return call_boto(fn, what, self.settings)

    def fetch(self, kinds: frozenset[str], gpus: frozenset[str] | None, regions: tuple[str, ...] | None,
              now: datetime) -> list[PriceQuote]:
        """Live AWS quotes: 'on_demand' (with reserved terms) from the Price List API, 'spot' from
        EC2 spot price history, for the GPU instance types of clouds/aws (default regions if None)."""
        session = self._session()
        regions = tuple(regions) if regions else self.default_regions
        types = sorted(t for t in aws_cloud.GPU_COUNT if (g := aws_cloud.instance_gpu(t)) and (gpus is None or g in gpus))
        if not types:
            return []
        quotes: list[PriceQuote] = []
        if "on_demand" in kinds:
            quotes += self._on_demand(session, regions, gpus, now)
        if "spot" in kinds:
            quotes += self._spot(session, regions, types, now)
        return quotes

    # -- on-demand + reserved from the Price List API ------------------------------------------
    def _on_demand(self, session: Any, regions: tuple[str, ...], gpus: frozenset[str] | None,
                   now: datetime) -> list[PriceQuote]:
        client = self._client(session, "pricing", PRICE_LIST_REGION, self.pricing_endpoint_url)
        endpoint = self.pricing_endpoint_url or f"https://api.pricing.{PRICE_LIST_REGION}.amazonaws.com"
        out: list[PriceQuote] = []
        n_items = 0
        for region in regions:
            filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in PRODUCT_FILTERS]
            filters.append({"Type": "TERM_MATCH", "Field": "regionCode", "Value": region})
            items = self._call(lambda: self._all_products(client, filters), f"aws pricing.get_products {region}")
            n_items += len(items)
            for raw in items:
                try:
                    attrs, od, reserved = parse_price_list_item(json.loads(raw))
                except (ValueError, KeyError, TypeError) as exc:
                    raise ProviderUnavailable(f"aws pricing: malformed PriceList item ({exc})") from exc
                itype = attrs.get("instanceType", "")
                gpu = aws_cloud.instance_gpu(itype)
                if gpu is None or (gpus is not None and gpu not in gpus) or not is_plain_on_demand(attrs):
                    continue
                if od is not None and od <= 0.0:  # a $0.00 rate is never a rentable on-demand price
                    od = None
                count = int(float(attrs.get("gpu") or 0)) or aws_cloud.GPU_COUNT.get(itype, 0)
                if count < 1:
                    continue
                out.append(PriceQuote(
                    provider="aws", region=attrs.get("regionCode", region), zone=None, instance_type=itype, gpu=gpu,
                    gpu_count=count, vcpus=float(attrs["vcpu"]) if attrs.get("vcpu") else None,
                    memory_gib=_memory_gib(attrs.get("memory")), on_demand_usd_per_hour=od, spot_usd_per_hour=None,
                    reserved_usd_per_hour=reserved, fetched_at=now, source="live",
                    source_detail=f"aws pricing.get_products {endpoint} (AmazonEC2, {region})",
                    sku_ids=(sku,) if (sku := _product_sku(raw)) else ()))
        if n_items == 0:  # every region empty: the API is not answering for real, not "no GPUs in AWS"
            raise ProviderUnavailable("aws pricing.get_products: empty price list for all regions")
        return out

    def _all_products(self, client: Any, filters: list[dict[str, str]]) -> list[str]:
        items: list[str] = []
        token = None
        for _ in range(self.settings.max_pages):
            kw: dict[str, Any] = {"ServiceCode": "AmazonEC2", "Filters": filters, "FormatVersion": "aws_v1", "MaxResults": 100}
            if token:
                kw["NextToken"] = token
            resp = client.get_products(**kw)
            items.extend(resp.get("PriceList", []))
            token = resp.get("NextToken")
            if not token:
                return items
        raise ProviderUnavailable(f"aws pricing: more than {self.settings.max_pages} pages")

    # -- spot from EC2 price history ----------------------------------------------------------
    def _spot(self, session: Any, regions: tuple[str, ...], types: list[str], now: datetime) -> list[PriceQuote]:
        out: list[PriceQuote] = []
        for region in regions:
            ec2 = self._client(session, "ec2", region, self.ec2_endpoint_url)
            endpoint = self.ec2_endpoint_url or f"https://ec2.{region}.amazonaws.com"

            def history() -> list[dict[str, Any]]:
                pages = ec2.get_paginator("describe_spot_price_history").paginate(
                    InstanceTypes=types, ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"], StartTime=now,
                    PaginationConfig={"MaxItems": 100 * self.settings.max_pages})
                return [h for page in pages for h in page.get("SpotPriceHistory", [])]

            rows = self._call(history, f"aws ec2.describe_spot_price_history {region}")
            latest: dict[tuple[str, str], dict[str, Any]] = {}
            for h in rows:
                key = (h["InstanceType"], h["AvailabilityZone"])
                if key not in latest or h["Timestamp"] > latest[key]["Timestamp"]:
                    latest[key] = h
            cheapest: dict[str, dict[str, Any]] = {}
            for (itype, _az), h in latest.items():
                if itype not in cheapest or float(h["SpotPrice"]) < float(cheapest[itype]["SpotPrice"]):
                    cheapest[itype] = h
            if not cheapest:
                continue
            specs = self._call(lambda: self._instance_specs(ec2, sorted(cheapest)), f"aws ec2.describe_instance_types {region}")
            for itype, h in sorted(cheapest.items()):
                gpu = aws_cloud.instance_gpu(itype)
                spec = specs.get(itype, {})
                count = spec.get("gpu_count") or aws_cloud.GPU_COUNT.get(itype)
                if gpu is None or not count:
                    continue
                out.append(PriceQuote(
                    provider="aws", region=region, zone=h["AvailabilityZone"], instance_type=itype, gpu=gpu,
                    gpu_count=int(count), vcpus=spec.get("vcpus"), memory_gib=spec.get("memory_gib"),
                    on_demand_usd_per_hour=None, spot_usd_per_hour=float(h["SpotPrice"]), fetched_at=now, source="live",
                    source_detail=f"aws ec2.describe_spot_price_history {endpoint} (cheapest AZ {h['AvailabilityZone']})"))
        return out

    @staticmethod
    def _instance_specs(ec2: Any, types: list[str]) -> dict[str, dict[str, float]]:
        specs: dict[str, dict[str, float]] = {}
        for page in ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=types):
            for it in page.get("InstanceTypes", []):
                gpus = it.get("GpuInfo", {}).get("Gpus", [])
                specs[it["InstanceType"]] = {
                    "gpu_count": sum(g.get("Count", 0) for g in gpus),
                    "vcpus": float(it.get("VCpuInfo", {}).get("DefaultVCpus", 0)) or None,
                    "memory_gib": it.get("MemoryInfo", {}).get("SizeInMiB", 0) / 1024 or None,
                }
        return specs
