"""Actual spend beside the forecast: month-to-date and last-month GPU spend per cloud (spec
`actual_spend`), fetched through pricing/providers/aws_spend.py and azure_spend.py, and set against
the forecast monthly cost of the workloads that billing scope pays for.

`fetch` never raises for a cloud's sake: no spec block, an offline run or no credentials give a
status the report turns into one paragraph on how to enable it; an API failure (auth refused,
throttled after retries, malformed answer, timeout) gives a warning naming the provider. The
context block (`view`) is documented in templates/README.md and docs/INTERFACES.md.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Mapping, Sequence

from phantom_report.reporter import fmt
from phantom_report.reporter.fmt import figure as num
from phantom_report.reporter.spec import ActualSpend

CLOUDS = tuple(ActualSpend.model_fields)  # the clouds a spec's `actual_spend` can name: aws, azure
TITLES = {"aws": "AWS Cost Explorer", "azure": "Azure Cost Management"}
MAX_GROUPS_SHOWN = 8
HOW_TO_ENABLE = {
    "aws": "AWS: credentials from the default chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role) "
           "allowed ce:GetCostAndUsage",
    "azure": "Azure: `az login`, a managed identity, or AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET for an "
             "identity with Cost Management Reader on the scope",
}


@dataclass(frozen=True)
class Windows:
    """The two periods shown, from the last complete day (cost data for today is still moving)."""

    last_month_first: date
    last_month_last: date
    month_first: date
    data_last: date  # last complete day; month-to-date is month_first..data_last (empty on the 1st)

    @classmethod
    def at(cls, now: datetime) -> "Windows":
        """The billing windows as of ``now``: last calendar month, and this month up to yesterday
        (the last complete day)."""
        today = now.date()
        month_first = today.replace(day=1)
        last_month_last = month_first - timedelta(days=1)
        return cls(last_month_last.replace(day=1), last_month_last, month_first, today - timedelta(days=1))

    @property
    def days_elapsed(self) -> int:
        """Complete days of this month with data (0 on the 1st)."""
        return max(0, (self.data_last - self.month_first).days + 1)

    @property
    def days_in_month(self) -> int:
        """Days in this calendar month."""
        return calendar.monthrange(self.month_first.year, self.month_first.month)[1]


@dataclass(frozen=True)
class CloudSpend:
    """What one cloud gave: status `ok` (with report), `no-credentials`, `offline`, `not-allowed`
    or `error`."""

    cloud: str
    status: str
    report: Any = None  # pricing.providers.spend.SpendReport when ok
    message: str = ""


def provider_for(cloud: str, block: Any, options: Mapping[str, Any] | None = None) -> Any:
    """The spend provider for one spec block; ``options`` (session/credential, endpoint, settings)
    come from the caller, never from the spec, so a spec cannot send credentials elsewhere."""
    from phantom_report.pricing.providers.aws_spend import GPU_INSTANCE_FAMILIES, AwsSpendProvider
    from phantom_report.pricing.providers.azure_spend import AzureSpendProvider
    from phantom_report.pricing.settings import FetchSettings

    opts = {"settings": FetchSettings(timeout_s=10.0, retries=2, max_pages=10), **(options or {})}
    if cloud == "aws":
        return AwsSpendProvider(instance_families=tuple(block.instance_families or GPU_INSTANCE_FAMILIES),
                                linked_accounts=tuple(block.linked_accounts or ()), regions=tuple(block.regions or ()),
                                metric=block.metric, **opts)
    return AzureSpendProvider(scope=block.scope, cost_type=block.cost_type, **opts)


def fetch(spec, *, offline: bool, now: datetime, client_options: Mapping[str, Mapping[str, Any]] | None = None,
          allowed: bool = True) -> tuple[CloudSpend, ...]:
    """One CloudSpend per cloud named in `spec.actual_spend` (none without it). Offline, or not
    ``allowed`` (a spec posted to the service: it would read a bill with the service's own cloud
    credentials), nothing is built and nothing touches the network."""
    from phantom_report.pricing.providers.spend import NoCredentials

    block = spec.actual_spend
    if block is None:
        return ()
    win = Windows.at(now)
    out = []
    for cloud in CLOUDS:
        cfg = getattr(block, cloud)
        if cfg is None:
            continue
        if offline or not allowed:
            out.append(CloudSpend(cloud, "offline" if offline else "not-allowed"))
            continue
        try:
            prov = provider_for(cloud, cfg, (client_options or {}).get(cloud))
            if cloud == "aws":
                rep = prov.fetch(win.last_month_first, win.data_last, now=now)
            else:
                rep = prov.fetch_gpu_spend(win.last_month_first, win.data_last, cfg.meter_subcategories, now=now)
            out.append(CloudSpend(cloud, "ok", rep))
        except NoCredentials as exc:
            out.append(CloudSpend(cloud, "no-credentials", message=str(exc)))
        except Exception as exc:  # any SDK failure is a warning in the report, never a traceback
            out.append(CloudSpend(cloud, "error", message=_one_line(exc)))
    return tuple(out)


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:300]
    return text if text else type(exc).__name__


def _forecast(workloads: Sequence[Mapping[str, Any]], names: Sequence[str] | None) -> tuple[dict[str, Any], list[str], list[str]]:
    """Sum of the recommended (cheapest) picks' monthly cost of the named workloads, with the
    interval bounds added (conservative, as the decision's total); (num, covered, uncovered)."""
    wanted = list(names) if names else [w["name"] for w in workloads]
    total, low, high, covered, missing = 0.0, 0.0, 0.0, [], []
    for w in workloads:
        if w["name"] not in wanted:
            continue
        cost = (w.get("cheapest") or {}).get("config", {}).get("monthly_cost") or {}
        if cost.get("value") is None:
            missing.append(w["name"])
            continue
        total += cost["value"]
        low += cost["low"] if cost.get("low") is not None else cost["value"]
        high += cost["high"] if cost.get("high") is not None else cost["value"]
        covered.append(w["name"])
    figure = num(total, fmt.usd, low, high, "USD/month") if covered else num(None)
    return figure, covered, missing


def _money(currency: str):
    """Formatter for an amount in the billing currency (USD as everywhere else in the report)."""
    if currency == "USD":
        return fmt.usd
    return lambda v: "n/a" if v is None else f"{float(v):,.2f} {currency}"


def _cloud_view(cs: CloudSpend, spec, win: Windows, workloads: Sequence[Mapping[str, Any]], conf_pct: int) -> dict[str, Any]:
    cfg = getattr(spec.actual_spend, cs.cloud)
    forecast, covered, missing = _forecast(workloads, cfg.workloads)
    view: dict[str, Any] = {
        "cloud": cs.cloud, "title": TITLES[cs.cloud], "status": cs.status, "message": cs.message,
        "workloads": covered, "workloads_without_forecast": missing, "forecast": forecast,
        "scope": "", "source_detail": "", "currency": "USD", "last_month": num(None), "month_to_date": num(None),
        "month_pace": num(None), "pace_vs_forecast_pct": num(None), "verdict": "", "by_group": [],
    }
    if cs.status != "ok":
        return view
    rep = cs.report
    currencies = sorted(rep.currencies()) or ["USD"]
    if len(currencies) > 1:  # amounts in two currencies cannot be added
        view.update(status="error", message=f"{cs.cloud}: spend in several currencies ({', '.join(currencies)}); not added up")
        return view
    cur = currencies[0]
    money = _money(cur)
    last = rep.actual_between(win.last_month_first, win.last_month_last)
    mtd = rep.actual_between(win.month_first, win.data_last)
    pace = mtd / win.days_elapsed * win.days_in_month if win.days_elapsed else None
    view.update(scope=rep.scope, source_detail=rep.source_detail, currency=cur,
                last_month=num(last, money, unit=f"{cur}/month"), month_to_date=num(mtd, money, unit=cur),
                month_pace=num(pace, money, unit=f"{cur}/month"))
    view["by_group"] = _groups(rep, win, money)
    if pace is not None and cur == "USD" and forecast["value"]:
        view["pace_vs_forecast_pct"] = num(100.0 * pace / forecast["value"], lambda v: fmt.pct(v, 0), unit="%")
        view["verdict"] = _verdict(pace, forecast, conf_pct)
    elif cur != "USD":
        view["verdict"] = f"billed in {cur}; the forecast is in USD, so they are not compared"
    return view


def _verdict(pace: float, forecast: Mapping[str, Any], conf_pct: int) -> str:
    lo, hi = forecast.get("low"), forecast.get("high")
    if lo is not None and hi is not None:
        where = "above" if pace > hi else "below" if pace < lo else "within"
        return f"{where} the forecast's {conf_pct}% interval"
    return "above the forecast" if pace > forecast["value"] else "at or below the forecast"


def _groups(rep, win: Windows, money) -> list[dict[str, Any]]:
    """Spend per group (instance family, meter subcategory), largest last month first."""
    sums: dict[str, list[float]] = {}
    for r in rep.actual:
        s = sums.setdefault(r.group or "(all)", [0.0, 0.0])
        if win.last_month_first <= r.day <= win.last_month_last:
            s[0] += r.cost
        elif win.month_first <= r.day <= win.data_last:
            s[1] += r.cost
    ranked = sorted(sums.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    return [{"group": g, "last_month": num(a, money), "month_to_date": num(b, money)}
            for g, (a, b) in ranked[:MAX_GROUPS_SHOWN]]


def enable_text(spec, fetched: Sequence[CloudSpend]) -> str:
    """The one paragraph shown when a cloud gave no figures for want of set-up (empty otherwise)."""
    if spec.actual_spend is None:
        return ("Actual spend is not shown: add `actual_spend:` to the spec (`aws: {}` for AWS Cost Explorer, "
                "`azure: {scope: /subscriptions/<id>}` for Azure Cost Management) and run online with credentials "
                "to see last month's and this month's GPU spend beside this forecast.")
    offline = [c.cloud for c in fetched if c.status == "offline"]
    nocred = [c.cloud for c in fetched if c.status == "no-credentials"]
    parts = []
    if any(c.status == "not-allowed" for c in fetched):
        parts.append("Actual spend is not fetched for a spec posted to the service: it would read the bill with "
                     "the service's own cloud credentials. Run the spec with `phantom-report run` to show it.")
    if offline:
        parts.append(f"Actual spend ({', '.join(TITLES[c] for c in offline)}) was not fetched because this run is "
                     "offline (--offline or PHANTOM_OFFLINE=1); run online to show it.")
    if nocred:
        parts.append("Actual spend needs credentials, and none were found for "
                     f"{', '.join(TITLES[c] for c in nocred)}. To enable it: "
                     f"{'; '.join(HOW_TO_ENABLE[c] for c in nocred)}.")
    return " ".join(parts)


def view(spec, fetched: Sequence[CloudSpend], workloads: Sequence[Mapping[str, Any]], now: datetime,
         conf_pct: int) -> tuple[dict[str, Any], list[str]]:
    """(the context's `actual_spend` block, warnings for the report's warning list)."""
    win = Windows.at(now)
    clouds = [_cloud_view(c, spec, win, workloads, conf_pct) for c in fetched]
    warnings = [f"actual spend: {TITLES[c['cloud']]} failed ({c['message']}); no {c['cloud'].upper() if c['cloud'] == 'aws' else 'Azure'} "
                "figures are shown" for c in clouds if c["status"] == "error"]
    block = {
        "requested": spec.actual_spend is not None,
        "shown": any(c["status"] == "ok" for c in clouds),
        "enable_text": enable_text(spec, fetched),
        "last_month_period": f"{win.last_month_first:%Y-%m-%d} – {win.last_month_last:%Y-%m-%d}",
        "month_to_date_period": (f"{win.month_first:%Y-%m-%d} – {win.data_last:%Y-%m-%d}" if win.days_elapsed
                                 else "none yet (first day of the month)"),
        "days_elapsed": win.days_elapsed, "days_in_month": win.days_in_month,
        "clouds": clouds, "warnings": warnings,
    }
    return block, warnings
