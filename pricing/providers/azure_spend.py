"""A customer's actual Azure spend (and Azure's own forecast) through azure-mgmt-costmanagement,
for a report to set beside the predicted cost.  Credential, endpoint and transport options are
injected; over plain http (tests) each call needs enforce_https=False (azure-core reads it per
request, not from the client constructor).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from typing import Any, Mapping, Sequence

from phantom_report.pricing.providers.base import RETRYABLE_HTTP_STATUS, CredentialsMissing, ProviderUnavailable, RetryableError
from phantom_report.pricing.providers.spend import NoCredentials, SpendReport, SpendRow
from phantom_report.pricing.settings import FetchSettings, with_retries


def _rows(result: Any, group_by: str | None) -> tuple[SpendRow, ...]:
    """Rows of one QueryResult page; a 204 reply (the SDK returns None) is a page without rows."""
    if result is None:
        return ()
    cols = [c.name for c in (result.columns or [])]
    try:
        i_cost = next(i for i, c in enumerate(cols) if c in ("Cost", "PreTaxCost", "CostUSD", "totalCost"))
        i_date = next(i for i, c in enumerate(cols) if c in ("UsageDate", "BillingMonth"))
    except StopIteration as exc:
        raise ProviderUnavailable(f"azure cost management: unexpected columns {cols}") from exc
    i_cur = cols.index("Currency") if "Currency" in cols else None
    i_grp = cols.index(group_by) if group_by and group_by in cols else None
    out = []
    for row in result.rows or []:
        try:
            d = str(int(row[i_date])) if isinstance(row[i_date], (int, float)) else str(row[i_date])[:10].replace("-", "")
            out.append(SpendRow(day=date(int(d[:4]), int(d[4:6]), int(d[6:8])), cost=_finite(row[i_cost]),
                                currency=str(row[i_cur]) if i_cur is not None else "USD",
                                group=str(row[i_grp]) if i_grp is not None else None))
        except (ValueError, TypeError, IndexError, OverflowError) as exc:
            raise ProviderUnavailable(f"azure cost management: malformed row ({type(exc).__name__})") from exc
    return tuple(out)


def _finite(v: Any) -> float:
    x = float(v)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return x


# Azure's GPU virtual machines are the N-series (NC, ND, NG, NV families: "GPU optimized virtual
# machine sizes", learn.microsoft.com/azure/virtual-machines/sizes-gpu); in Cost Management data a
# VM's meter subcategory names its series, e.g. "NCSv3 Series", "NDasrA100v4 Series",
# "NCadsH100v5 Series", "NVv4 Series Windows".  Only used when the spec lists no subcategories.
GPU_SERIES_PREFIXES = ("NC", "ND", "NG", "NV")
VM_METER_CATEGORY = "Virtual Machines"


def is_gpu_meter_subcategory(name: str | None) -> bool:
    """True for the meter subcategory of an N-series (GPU) virtual machine."""
    return bool(name) and str(name).strip().upper().startswith(GPU_SERIES_PREFIXES)


ARM_TOKEN_SCOPE = "https://management.azure.com/.default"


class _Recorded:
    """A credential of DefaultAzureCredential's chain that notes how its attempt ended: the chain
    itself reports "every source unavailable" and "a source refused us" with the same exception."""

    def __init__(self, inner: Any, outcomes: list[str]):
        self.inner, self.outcomes = inner, outcomes

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.identity import CredentialUnavailableError
        try:
            return self.inner.get_token(*scopes, **kwargs)
        except CredentialUnavailableError:
            self.outcomes.append("unavailable")
            raise
        except Exception:
            self.outcomes.append(type(self.inner).__name__)
            raise

    def close(self) -> None:
        getattr(self.inner, "close", lambda: None)()


@dataclass(frozen=True)
class AzureSpendProvider:
    """Actual Azure spend (and Azure's own forecast) for a scope from the Cost Management Query API,
    daily, in the billing currency; credential and endpoint are injectable."""
    scope: str                        # e.g. "/subscriptions/<id>" or a resource group scope
    credential: Any = None            # azure TokenCredential; None -> DefaultAzureCredential
    base_url: str | None = None       # None -> https://management.azure.com
    client_kwargs: dict[str, Any] = field(default_factory=dict)  # e.g. a custom transport
    enforce_https: bool = True        # False only for a local http test server
    settings: FetchSettings = field(default_factory=FetchSettings)
    cost_type: str = "ActualCost"     # or "AmortizedCost" (reservations spread over their term)
    default_credential_options: dict[str, Any] = field(default_factory=dict)  # DefaultAzureCredential kwargs

    def _resolve_credential(self) -> Any:
        """The injected credential, else DefaultAzureCredential (``default_credential_options``, e.g.
        exclude_managed_identity_credential=True) once it has produced a token. Its chain runs as
        usual (short IMDS probe, Azure CLI bounded by timeout_s); each source's outcome is recorded
        so that "no source is configured" (NoCredentials: the report says how to enable it) stays
        distinct from "a source was refused" (CredentialsMissing: a warning)."""
        if self.credential is not None:
            return self.credential
        from azure.core.exceptions import ClientAuthenticationError
        from azure.identity import DefaultAzureCredential
        chain = DefaultAzureCredential(**{"process_timeout": max(1, int(self.settings.timeout_s)),
                                          **self.default_credential_options})
        outcomes: list[str] = []
        chain.credentials = tuple(_Recorded(c, outcomes) for c in chain.credentials)
        try:
            chain.get_token(ARM_TOKEN_SCOPE)
        except ClientAuthenticationError as exc:
            if all(o == "unavailable" for o in outcomes):
                raise NoCredentials("azure cost management: no credentials (environment, workload or managed "
                                    "identity, Azure CLI)") from exc
            raise CredentialsMissing(f"azure cost management: credentials rejected ({outcomes[-1]})") from exc
        return chain

    def _client(self) -> Any:
        from azure.mgmt.costmanagement import CostManagementClient
        cred = self._resolve_credential()
        kw = dict(self.client_kwargs)
        kw.setdefault("retry_total", 0)  # our retry loop owns backoff
        kw.setdefault("connection_timeout", self.settings.timeout_s)
        kw.setdefault("read_timeout", self.settings.timeout_s)
        return CostManagementClient(cred, base_url=self.base_url, **kw) if self.base_url else CostManagementClient(cred, **kw)

    def _call_kwargs(self) -> dict[str, Any]:
        return {} if self.enforce_https else {"enforce_https": False}

    def _call(self, fn: Any, what: str) -> Any:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError, ServiceResponseError
        from azure.identity import CredentialUnavailableError

        def attempt() -> Any:
            try:
                return fn()
            except CredentialUnavailableError as exc:
                raise NoCredentials(f"azure cost management: no credentials ({str(exc).splitlines()[0]})") from exc
            except ClientAuthenticationError as exc:
                raise CredentialsMissing(f"azure cost management: credentials rejected ({exc.status_code})") from exc
            except (ServiceRequestError, ServiceResponseError) as exc:
                raise RetryableError(f"{what}: {type(exc).__name__}") from exc
            except HttpResponseError as exc:
                if exc.status_code in RETRYABLE_HTTP_STATUS:
                    raise RetryableError(f"{what}: HTTP {exc.status_code}") from exc
                raise ProviderUnavailable(f"{what}: HTTP {exc.status_code}") from exc
            except ValueError as exc:
                raise ProviderUnavailable(f"{what}: malformed response") from exc
        return with_retries(attempt, self.settings, what)

    def _all_pages(self, client: Any, first: Any, body: dict[str, Any], group_by: str | None, what: str) -> tuple[SpendRow, ...]:
        """Rows of the first page and of every page its nextLink leads to (the service pages large
        results; each next page is the same query POSTed to the link, which carries a $skiptoken)."""
        from azure.core.rest import HttpRequest
        from azure.mgmt.costmanagement import models as m
        rows, result, seen = list(_rows(first, group_by)), first, set()
        while result is not None and (link := getattr(result, "next_link", None)):
            if link in seen or len(seen) + 1 >= self.settings.max_pages:
                raise ProviderUnavailable(f"{what}: more than {self.settings.max_pages} pages (or a nextLink loop)")
            seen.add(link)

            def page(link: str = link) -> Any:
                resp = client.send_request(HttpRequest("POST", link, json=body), **self._call_kwargs())
                resp.raise_for_status()
                return None if resp.status_code == 204 else m.QueryResult(resp.json())
            result = self._call(page, what)
            rows.extend(_rows(result, group_by))
        return tuple(rows)

    def fetch(self, start: date, end: date, group_by: str | None = "MeterCategory",
              forecast_end: date | None = None, now: datetime | None = None,
              filters: Mapping[str, Sequence[str]] | None = None) -> SpendReport:
        """Daily actual cost between start and end, both inclusive (and Azure's forecast up to
        forecast_end). ``filters``: dimension -> values, ANDed (the service's `In` operator)."""
        from azure.mgmt.costmanagement import models as m
        now = now or datetime.now(timezone.utc)
        client = self._client()
        grouping = [m.QueryGrouping(type="Dimension", name=group_by)] if group_by else None
        query = m.QueryDefinition(
            type=self.cost_type, timeframe="Custom",
            time_period=m.QueryTimePeriod(from_property=datetime(start.year, start.month, start.day, tzinfo=timezone.utc),
                                          to=datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=timezone.utc)),
            dataset=m.QueryDataset(granularity="Daily", aggregation={"totalCost": m.QueryAggregation(name="Cost", function="Sum")},
                                   grouping=grouping, filter=_query_filter(filters)))
        what = "azure cost management query"
        first = self._call(lambda: client.query.usage(self.scope, query, **self._call_kwargs()), what)
        actual = self._all_pages(client, first, query.as_dict(), group_by, what)
        forecast: tuple[SpendRow, ...] = ()
        if forecast_end is not None:
            fdef = m.ForecastDefinition(
                type=self.cost_type, timeframe="Custom",
                time_period=m.ForecastTimePeriod(from_property=datetime(end.year, end.month, end.day, tzinfo=timezone.utc),
                                                 to=datetime(forecast_end.year, forecast_end.month, forecast_end.day, tzinfo=timezone.utc)),
                dataset=m.ForecastDataset(granularity="Daily", aggregation={"totalCost": m.ForecastAggregation(name="Cost", function="Sum")}),
                include_actual_cost=False, include_fresh_partial_cost=False)
            what = "azure cost management forecast"
            first = self._call(lambda: client.forecast.usage(self.scope, fdef, **self._call_kwargs()), what)
            forecast = self._all_pages(client, first, fdef.as_dict(), None, what)
        return SpendReport(scope=self.scope, actual=actual, forecast=forecast, fetched_at=now,
                           source_detail=f"azure cost management {self.base_url or 'https://management.azure.com'}{self.scope}")

    def fetch_gpu_spend(self, start: date, end: date, meter_subcategories: Sequence[str] | None = None,
                        now: datetime | None = None) -> SpendReport:
        """Daily GPU virtual-machine cost between start and end (both inclusive): meter category
        "Virtual Machines", grouped by meter subcategory; with ``meter_subcategories`` only those
        (filtered by the service), else every N-series subcategory (filtered here, by
        `is_gpu_meter_subcategory`, because the service has no prefix operator)."""
        filters: dict[str, Sequence[str]] = {"MeterCategory": [VM_METER_CATEGORY]}
        if meter_subcategories:
            filters["MeterSubCategory"] = list(meter_subcategories)
        rep = self.fetch(start, end, group_by="MeterSubCategory", now=now, filters=filters)
        keep = tuple(r for r in rep.actual if meter_subcategories or is_gpu_meter_subcategory(r.group))
        which = (f"meter subcategories {', '.join(meter_subcategories)}" if meter_subcategories
                 else "N-series (NC/ND/NG/NV) meter subcategories")
        return replace(rep, actual=keep, source_detail=(
            f"{rep.source_detail} ({self.cost_type}; meter category {VM_METER_CATEGORY}, {which})"))


def _query_filter(filters: Mapping[str, Sequence[str]] | None) -> Any:
    from azure.mgmt.costmanagement import models as m
    if not filters:
        return None
    parts = [m.QueryFilter(dimensions=m.QueryComparisonExpression(name=k, operator="In", values_property=list(v)))
             for k, v in filters.items()]
    return parts[0] if len(parts) == 1 else m.QueryFilter(and_property=parts)
