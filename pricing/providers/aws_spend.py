"""A customer's actual AWS GPU spend through Cost Explorer (boto3 `ce` GetCostAndUsage), for a
report to set beside the predicted cost. Session, endpoint and timeouts are injected, so tests
point the real client at a local server speaking the JSON 1.1 protocol.

What counts as GPU spend (the filter sent, explicitly):

* SERVICE = "Amazon Elastic Compute Cloud - Compute" (instance-hours; not EBS, data transfer,
  support or tax, which Cost Explorer books under other services), AND
* INSTANCE_TYPE_FAMILY in the families given, by default every GPU family this tool prices
  (`pricing.clouds.aws.GPU_COUNT`, from data/aws_instances.csv: g4dn, g5, g5g, g6, g6e, p3, p3dn, p4d, p4de, p5,
  p5e, p5en, p6-b200), AND optionally
* LINKED_ACCOUNT in the accounts given, REGION in the regions given.

Daily granularity, grouped by INSTANCE_TYPE_FAMILY, in the metric asked for (UnblendedCost by
default: what the bill says). Cost Explorer answers from us-east-1 and charges per request
(one request per page; a report makes one query).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from phantom_report.pricing.clouds import aws as aws_cloud
from phantom_report.pricing.providers.aws import call_boto
from phantom_report.pricing.providers.base import ProviderUnavailable
from phantom_report.pricing.providers.spend import NoCredentials, SpendReport, SpendRow
from phantom_report.pricing.settings import FetchSettings

CE_REGION = "us-east-1"
EC2_COMPUTE_SERVICE = "Amazon Elastic Compute Cloud - Compute"
GPU_INSTANCE_FAMILIES = tuple(sorted({t.split(".")[0] for t in aws_cloud.GPU_COUNT}))
METRICS = ("UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost", "BlendedCost")
# Cost Explorer's own errors that say "slow down" (botocore maps HTTP 429/5xx already)
_CE_THROTTLE_CODES = ("LimitExceededException", "ThrottlingException", "TooManyRequestsException")


def ce_filter(families: tuple[str, ...], accounts: tuple[str, ...] = (), regions: tuple[str, ...] = ()) -> dict[str, Any]:
    """The Cost Explorer `Expression` for GPU instance spend (see the module docstring)."""
    parts = [{"Dimensions": {"Key": "SERVICE", "Values": [EC2_COMPUTE_SERVICE]}},
             {"Dimensions": {"Key": "INSTANCE_TYPE_FAMILY", "Values": list(families)}}]
    if accounts:
        parts.append({"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": list(accounts)}})
    if regions:
        parts.append({"Dimensions": {"Key": "REGION", "Values": list(regions)}})
    return {"And": parts}


def parse_results(pages: list[dict[str, Any]], metric: str) -> tuple[SpendRow, ...]:
    """Daily rows from GetCostAndUsage pages: one row per group of each ResultsByTime entry, or the
    entry's Total when it has no groups. Raises ProviderUnavailable on anything malformed."""
    rows: list[SpendRow] = []
    try:
        for page in pages:
            if not isinstance(page.get("ResultsByTime"), list):  # the API always sends it; botocore
                raise ValueError("no ResultsByTime list")          # turns a non-JSON 200 into {}
            for entry in page["ResultsByTime"]:
                day = date.fromisoformat(entry["TimePeriod"]["Start"][:10])
                groups = entry.get("Groups") or []
                if groups:
                    for g in groups:
                        rows.append(_row(day, g["Metrics"][metric], "/".join(g.get("Keys") or []) or None))
                elif entry.get("Total"):
                    rows.append(_row(day, entry["Total"][metric], None))
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ProviderUnavailable(f"aws cost explorer: malformed response ({type(exc).__name__}: {str(exc)[:80]})") from exc
    return tuple(rows)


def _row(day: date, value: dict[str, Any], group: str | None) -> SpendRow:
    amount = float(value["Amount"])
    if amount != amount or abs(amount) == float("inf"):
        raise ValueError("amount is not a finite number")
    return SpendRow(day=day, cost=amount, currency=str(value.get("Unit") or "USD"), group=group)


@dataclass(frozen=True)
class AwsSpendProvider:
    """Cost Explorer client for GPU spend; ``session`` None -> boto3's default credential chain."""

    session: Any = None
    endpoint_url: str | None = None          # None -> https://ce.us-east-1.amazonaws.com
    instance_families: tuple[str, ...] = GPU_INSTANCE_FAMILIES
    linked_accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    metric: str = "UnblendedCost"
    settings: FetchSettings = field(default_factory=FetchSettings)

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config
        session = self.session or boto3.Session()
        if session.get_credentials() is None:
            raise NoCredentials("aws cost explorer: no credentials found (AWS_ACCESS_KEY_ID / profile / role)")
        # one attempt per call: our retry loop owns the backoff (bounded, injectable)
        cfg = Config(connect_timeout=self.settings.timeout_s, read_timeout=self.settings.timeout_s,
                     retries={"total_max_attempts": 1})
        return session.client("ce", region_name=CE_REGION, endpoint_url=self.endpoint_url, config=cfg)

    def _call(self, fn: Any, what: str) -> Any:
        return call_boto(fn, what, self.settings, _CE_THROTTLE_CODES)

    def fetch(self, start: date, end: date, now: datetime | None = None) -> SpendReport:
        """Daily GPU instance cost between start and end, both inclusive (Cost Explorer's End is
        exclusive, so the request asks for end + 1 day)."""
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}")
        now = now or datetime.now(timezone.utc)
        client = self._client()
        request: dict[str, Any] = {
            "TimePeriod": {"Start": start.isoformat(), "End": (end + timedelta(days=1)).isoformat()},
            "Granularity": "DAILY", "Metrics": [self.metric],
            "Filter": ce_filter(self.instance_families, self.linked_accounts, self.regions),
            "GroupBy": [{"Type": "DIMENSION", "Key": "INSTANCE_TYPE_FAMILY"}],
        }
        what = "aws cost explorer get_cost_and_usage"
        pages: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(self.settings.max_pages):
            kw = {**request, "NextPageToken": token} if token else request
            page = self._call(lambda kw=kw: client.get_cost_and_usage(**kw), what)
            pages.append(page)
            token = page.get("NextPageToken")
            if not token:
                break
        else:
            raise ProviderUnavailable(f"{what}: more than {self.settings.max_pages} pages")
        endpoint = self.endpoint_url or f"https://ce.{CE_REGION}.amazonaws.com"
        scope = "GPU instance families " + ", ".join(self.instance_families)
        if self.linked_accounts:
            scope += "; accounts " + ", ".join(self.linked_accounts)
        if self.regions:
            scope += "; regions " + ", ".join(self.regions)
        return SpendReport(scope=scope, actual=parse_results(pages, self.metric), forecast=(), fetched_at=now,
                           source_detail=f"aws cost explorer {endpoint} ({self.metric}; service {EC2_COMPUTE_SERVICE}, {scope})")
