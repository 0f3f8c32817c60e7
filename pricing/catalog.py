"""get_quotes: the price chain live -> on-disk cache -> embedded snapshot, with sanity rules,
and quotes_to_frame: the DataFrame the reporter reads.

Per provider and price kind (on-demand incl. reserved, spot): a fresh cache entry is used as is;
otherwise the live provider is asked; if that fails (no credentials, network, bad data) a stale
cache entry is used, else the snapshot.  Every fallback leaves a warning with the data's age.  A
live failure (other than missing credentials, which costs no wait) is remembered in the cache for
a few minutes, during which that provider is not asked again.
Offline (argument or PHANTOM_OFFLINE=1) skips the live step entirely: no client is even built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from phantom_report.errors import PricingError
from phantom_report.pricing.cache import KINDS, CacheEntry, PriceCache, default_cache_dir
from phantom_report.pricing.clouds import Clouds, default_clouds
from phantom_report.pricing.gpu_names import resolve_gpus
from phantom_report.pricing.providers.base import CredentialsMissing, LiveProvider, ProviderUnavailable
from phantom_report.pricing.quote import PriceQuote, QuoteSet, dedupe
from phantom_report.pricing.sanity import SanitySettings, apply_sanity, is_flagged
from phantom_report.pricing.settings import FetchSettings

_SOURCE_RANK = {"live": 0, "cache": 1, "snapshot": 2}


def offline_requested(offline: bool | None) -> bool:
    """True if the caller asks for offline or PHANTOM_OFFLINE is set: the environment always wins,
    so a caller passing offline=False cannot make an offline-configured machine go online."""
    return bool(offline) or os.environ.get("PHANTOM_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def default_live_providers(settings: FetchSettings, clouds: Clouds | None = None) -> dict[str, LiveProvider]:
    """Live fetchers of every cloud with a price API (default: the registered clouds), talking to
    the real clouds with the default credential chains."""
    return {c.name: c.live(settings) for c in (clouds or default_clouds()) if c.live is not None}


def _days(hours: float) -> str:
    return f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.1f} h"


def only_kind(q: PriceQuote, kind: str) -> PriceQuote | None:
    """The quote with only the prices of one kind ('on_demand' keeps reserved terms, 'spot'), or
    None when it has no price of that kind."""
    if kind == "on_demand":
        if q.on_demand_usd_per_hour is None and not q.reserved_usd_per_hour:
            return None
        return q.with_changes(spot_usd_per_hour=None)
    if q.spot_usd_per_hour is None:
        return None
    return q.with_changes(on_demand_usd_per_hour=None, reserved_usd_per_hour={})


def merge_kinds(parts: Mapping[str, list[PriceQuote]]) -> list[PriceQuote]:
    """Join on-demand and spot parts of the same (provider, region, instance type)."""
    merged: dict[tuple[str, str, str], PriceQuote] = {}
    for kind in KINDS:
        for q in parts.get(kind, []):
            key = (q.provider, q.region, q.instance_type)
            prev = merged.get(key)
            if prev is None:
                merged[key] = q
                continue
            older = prev if prev.fetched_at <= q.fetched_at else q
            worse = prev if _SOURCE_RANK[prev.source] >= _SOURCE_RANK[q.source] else q
            merged[key] = prev.with_changes(
                on_demand_usd_per_hour=prev.on_demand_usd_per_hour if prev.on_demand_usd_per_hour is not None else q.on_demand_usd_per_hour,
                spot_usd_per_hour=q.spot_usd_per_hour if q.spot_usd_per_hour is not None else prev.spot_usd_per_hour,
                reserved_usd_per_hour=dict(prev.reserved_usd_per_hour) or dict(q.reserved_usd_per_hour),
                zone=q.zone or prev.zone,
                vcpus=prev.vcpus if prev.vcpus is not None else q.vcpus,
                memory_gib=prev.memory_gib if prev.memory_gib is not None else q.memory_gib,
                fetched_at=older.fetched_at, source=worse.source,
                source_detail=prev.source_detail if prev.source_detail == q.source_detail else f"{prev.source_detail} + {q.source_detail}",
                warnings=dedupe(prev.warnings + q.warnings))
    return list(merged.values())


def _select(quotes: Iterable[PriceQuote], gpus: frozenset[str] | None, regions: tuple[str, ...] | None) -> list[PriceQuote]:
    return [q for q in quotes if (gpus is None or q.gpu in gpus) and (not regions or q.region in regions)]


@dataclass(frozen=True)
class _Chain:
    gpus: frozenset[str] | None
    regions: tuple[str, ...] | None
    offline: bool
    cache: PriceCache | None
    live: Mapping[str, LiveProvider]
    now: datetime
    clouds: Clouds
    warnings: list[str] = field(default_factory=list)

    def query_key(self, provider: str) -> str:
        return f"{provider}|gpus={sorted(self.gpus) if self.gpus is not None else '*'}|regions={sorted(self.regions or ())}"

    def snapshot_label(self, provider: str) -> str:
        """Which snapshot stands in for live prices: the user's refreshed one (`prices refresh`)
        when there is one, else the embedded one; with its date and age."""
        refreshed = self.refreshed(provider)
        if refreshed is not None:
            return (f"your refreshed snapshot prices as of {refreshed.written_at.date()} "
                    f"({_days(refreshed.age_s(self.now) / 3600)} old)")
        f = self.clouds.get(provider).snapshot_as_of()
        return f"embedded snapshot prices as of {f.as_of.date()} ({_days(max(0.0, (self.now - f.as_of).total_seconds() / 3600))} old)"

    def refreshed(self, provider: str) -> CacheEntry | None:
        if self.cache is None or provider not in self.clouds.live_names:
            return None
        return self.cache.read_refreshed(provider)

    def snapshot(self, provider: str, kind: str, reason: str | None) -> list[PriceQuote]:
        if reason:
            self.warnings.append(f"{provider}: {reason}; using {self.snapshot_label(provider)}")
        refreshed = self.refreshed(provider)
        if refreshed is not None:
            when = refreshed.written_at
            note = (f"refreshed snapshot price as of {when.date()} ({_days(refreshed.age_s(self.now) / 3600)} old; "
                    "phantom-report prices refresh)")
            base = [q.with_changes(source="snapshot", fetched_at=when,
                                   source_detail=f"refreshed snapshot {when.isoformat()} <- {q.source_detail}")
                    for q in refreshed.quotes]
        else:
            f = self.clouds.get(provider).snapshot_as_of()
            note = (f"snapshot price as of {f.as_of.date()} ({_days(max(0.0, (self.now - f.as_of).total_seconds() / 3600))} "
                    f"old; {f.as_of_basis})")
            base = list(self.clouds.get(provider).read_snapshot())
        qs = (only_kind(q, kind) for q in _select(base, self.gpus, self.regions))
        return [q.with_warning(note) for q in qs if q is not None]

    def from_cache(self, provider: str, kind: str, stale_reason: str | None) -> list[PriceQuote] | None:
        if self.cache is None:
            return None
        entry = self.cache.read(provider, kind, self.query_key(provider))
        if entry is None:
            return None
        age_s = entry.age_s(self.now)
        fresh = age_s <= self.cache.ttl_s(kind)
        if not fresh and stale_reason is None:
            return None
        quotes = [q.with_changes(source="cache") for q in entry.quotes]
        if not fresh:
            ttl_h = self.cache.ttl_s(kind) / 3600
            msg = f"{kind.replace('_', '-')} price from cache is {_days(age_s / 3600)} old (TTL {ttl_h:g} h)"
            self.warnings.append(f"{provider}: {stale_reason}; using cached {kind.replace('_', '-')} prices {_days(age_s / 3600)} old")
            quotes = [q.with_warning(msg) for q in quotes]
        return _select(quotes, self.gpus, self.regions)

    def fill_missing_gpus(self, provider: str, kind: str, live: list[PriceQuote]) -> list[PriceQuote]:
        """Snapshot rows for requested GPUs that a successful live fetch returned nothing for.

        A fetch that "succeeds" but yields no row for a GPU usually means the catalogue changed its
        wording (a SKU description, a product attribute) rather than that the cloud stopped
        renting it; the snapshot's price, with its age, is then more honest than no price."""
        if self.gpus is None:
            return []
        missing = self.gpus - {q.gpu for q in live}
        rows = [q for q in self.snapshot(provider, kind, None) if q.gpu in missing]
        if rows:
            names = ", ".join(sorted({q.gpu for q in rows}))
            self.warnings.append(f"{provider}: live {kind.replace('_', '-')} prices had no rows for {names}; "
                                 f"using {self.snapshot_label(provider)} for {'it' if ',' not in names else 'them'}")
        return rows

    def remember_failure(self, provider: str, detail: str) -> None:
        if self.cache is None:
            return
        try:
            self.cache.record_failure(provider, detail, now=self.now)
        except OSError:  # a read-only cache only means the next run tries again
            pass

    def fetch_live(self, provider: str, need: list[str]) -> tuple[dict[str, list[PriceQuote]], dict[str, str]]:
        """Live quotes for the kinds in `need`: ({kind: quotes}, {kind: why it failed}).

        A provider whose kinds come from different APIs (AWS: Price List for on-demand, EC2 price
        history for spot; `fetches_kinds_separately`) is asked one kind at a time, so a spot API
        that fails does not throw away the on-demand prices that came back.  Others answer every
        kind from one download and are asked once."""
        live = self.live[provider]
        groups = [[k] for k in need] if getattr(live, "fetches_kinds_separately", False) else [need]
        parts: dict[str, list[PriceQuote]] = {}
        failed: dict[str, str] = {}
        causes: list[str] = []  # ProviderUnavailable texts, remembered to spare the next runs a wait
        for group in groups:
            try:
                fetched = live.fetch(frozenset(group), self.gpus, self.regions, self.now)
            except CredentialsMissing as exc:
                failed.update({k: str(exc).removeprefix(f"{provider}: ") for k in need if k not in parts})
                causes = []
                break
            except ProviderUnavailable as exc:
                label = f"live {group[0].replace('_', '-')} prices" if len(groups) > 1 else "live prices"
                failed.update({k: f"{label} unavailable ({exc})" for k in group})
                causes.append(str(exc))
                continue
            for k in group:
                kq = [q for q in (only_kind(q, k) for q in fetched) if q is not None]
                if self.cache is not None:
                    try:
                        self.cache.write(provider, k, self.query_key(provider), kq, now=self.now)
                    except OSError as exc:  # a read-only home must not stop a report
                        self.warnings.append(f"cache not written ({exc.__class__.__name__}: {exc})")
                parts[k] = _select(kq, self.gpus, self.regions) + self.fill_missing_gpus(provider, k, kq)
        if parts and not any(parts.values()):
            self.warnings.append(f"{provider}: live prices returned no rows for this query")
        if causes and not parts:  # remembered only when the provider gave nothing: one working kind is worth a retry
            self.remember_failure(provider, "; ".join(dict.fromkeys(causes)))
        return parts, failed

    def provider_parts(self, provider: str, kinds: tuple[str, ...]) -> dict[str, list[PriceQuote]]:
        parts: dict[str, list[PriceQuote]] = {}
        if provider not in self.clouds.live_names:
            return {k: self.snapshot(provider, k, None) for k in kinds}
        # 1. fresh cache
        need = []
        for k in kinds:
            cached = self.from_cache(provider, k, None)
            if cached is not None:
                parts[k] = cached
            else:
                need.append(k)
        if not need:
            return parts
        # 2. live (unless it failed a moment ago: a down network must not cost every run a wait)
        reason: str
        recent = self.cache.recent_failure(provider, self.now) if self.cache is not None and not self.offline else None
        if self.offline:
            reason = "offline"
        elif provider not in self.live:
            reason = "no live provider configured"
        elif recent is not None:
            last_failure, age_s = recent
            left_s = self.cache.failure_ttl_s - age_s
            reason = (f"live prices failed {age_s:.0f} s ago ({last_failure}); not retried for another {left_s:.0f} s")
        else:
            fetched_parts, failed = self.fetch_live(provider, need)
            parts.update(fetched_parts)
            if not failed:
                return parts
            need = [k for k in need if k in failed]
            reason = "; ".join(dict.fromkeys(failed[k] for k in need))
        # 3. stale cache, else 4. snapshot (one warning per provider, not per kind)
        said = False
        for k in need:
            cached = self.from_cache(provider, k, reason)
            if cached is not None:
                parts[k] = cached
            else:
                parts[k] = self.snapshot(provider, k, None if said or self.offline else reason)
                said = True
        return parts


def get_quotes(gpus: Any = None, providers: Iterable[str] | None = None, regions: Iterable[str] | None = None,
               offline: bool | None = False, cache_dir: str | os.PathLike[str] | None = None, now: datetime | None = None,
               *, live_providers: Mapping[str, LiveProvider] | None = None, settings: FetchSettings | None = None,
               sanity: SanitySettings = SanitySettings(), kinds: Iterable[str] = KINDS,
               use_cache: bool = True, cache: PriceCache | None = None, clouds: Clouds | None = None) -> QuoteSet:
    """Quotes for canonical GPU names (or families like 'h100'), providers and regions.

    Offline (offline=True or PHANTOM_OFFLINE=1): never touches the network.  `live_providers`
    replaces the real clients (tests, custom endpoints); `cache` replaces the default cache;
    `clouds` replaces the registered clouds (default: `clouds.default_clouds()`).
    """
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise PricingError("now must be timezone-aware")
    gpu_set = resolve_gpus(gpus)
    reg = clouds or default_clouds()
    provs = tuple(dict.fromkeys(p.strip().lower() for p in (providers or reg.names)))
    unknown = [p for p in provs if p not in reg]
    if unknown:
        raise PricingError(f"unknown provider {unknown[0]!r}; expected one of {', '.join(reg.names)}")
    kinds_t = tuple(k for k in KINDS if k in set(kinds))
    is_offline = offline_requested(offline)
    if cache is None and use_cache:
        cache = PriceCache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    if is_offline:
        live: Mapping[str, LiveProvider] = {}
    else:
        live = live_providers if live_providers is not None else default_live_providers(settings or FetchSettings(), reg)
    chain = _Chain(gpu_set, tuple(regions) if regions else None, is_offline, cache, live, now, reg)
    quotes: list[PriceQuote] = []
    for p in provs:
        quotes += merge_kinds(chain.provider_parts(p, kinds_t))
    checked, dropped = apply_sanity(quotes, sanity, reg)
    if is_offline and any(q.source == "snapshot" for q in checked):
        used = {q.provider for q in checked if q.source == "snapshot"}
        own = sorted(p for p in used if chain.refreshed(p) is not None)
        embedded = sorted({reg.get(p).snapshot_as_of().as_of.date().isoformat() for p in used - set(own)})
        if embedded:
            chain.warnings.append(f"offline: using embedded snapshot prices (as of {', '.join(embedded)}; "
                                  "dates are estimates, see source_detail)")
        for p in own:
            chain.warnings.append(f"offline: {p}: using {chain.snapshot_label(p)}")
    if gpus is not None:
        found = {q.gpu for q in checked}
        for name in ([gpus] if isinstance(gpus, str) else list(gpus)):
            if not set(resolve_gpus(name) or ()) & found:  # a family counts as found if any member is
                where = f"; regions {', '.join(chain.regions)}" if chain.regions else ""
                chain.warnings.append(f"no price found for {name} (providers {', '.join(provs)}{where})")
    checked.sort(key=lambda q: (_best_per_gpu(q) is None, _best_per_gpu(q) or 0.0, q.provider, q.region, q.instance_type))
    return QuoteSet(tuple(checked), dedupe(chain.warnings + dropped))


def _best_per_gpu(q: PriceQuote, spot: bool = False) -> float | None:
    return q.spot_usd_per_gpu_hour if spot else q.on_demand_usd_per_gpu_hour


FRAME_COLUMNS = (
    "provider", "region", "zone", "instance_type", "gpu", "gpu_count", "vcpus", "memory_gib",
    "on_demand_usd_per_hour", "spot_usd_per_hour", "reserved_1y_usd_per_hour", "reserved_3y_usd_per_hour",
    "on_demand_usd_per_gpu_hour", "spot_usd_per_gpu_hour", "reserved_1y_usd_per_gpu_hour", "reserved_3y_usd_per_gpu_hour",
    "currency", "fetched_at", "age_hours", "source", "source_detail", "flagged", "warnings",
)


def quotes_to_frame(quotes: Iterable[PriceQuote] | QuoteSet, now: datetime | None = None) -> Any:
    """One row per quote; columns FRAME_COLUMNS (prices in USD, missing prices NaN, `warnings`
    joined with ' | ', `flagged` = an OUTLIER warning)."""
    import pandas as pd
    now = now or datetime.now(timezone.utc)
    if isinstance(quotes, QuoteSet):
        quotes = quotes.quotes
    rows = []
    for q in quotes:
        rows.append({
            "provider": q.provider, "region": q.region, "zone": q.zone, "instance_type": q.instance_type, "gpu": q.gpu,
            "gpu_count": q.gpu_count, "vcpus": q.vcpus, "memory_gib": q.memory_gib,
            "on_demand_usd_per_hour": q.on_demand_usd_per_hour, "spot_usd_per_hour": q.spot_usd_per_hour,
            "reserved_1y_usd_per_hour": q.reserved_usd_per_hour.get("1y"), "reserved_3y_usd_per_hour": q.reserved_usd_per_hour.get("3y"),
            "on_demand_usd_per_gpu_hour": q.on_demand_usd_per_gpu_hour, "spot_usd_per_gpu_hour": q.spot_usd_per_gpu_hour,
            "reserved_1y_usd_per_gpu_hour": q.reserved_usd_per_gpu_hour("1y"), "reserved_3y_usd_per_gpu_hour": q.reserved_usd_per_gpu_hour("3y"),
            "currency": q.currency, "fetched_at": q.fetched_at, "age_hours": q.age_hours(now), "source": q.source,
            "source_detail": q.source_detail, "flagged": is_flagged(q), "warnings": " | ".join(q.warnings),
        })
    df = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    for c in FRAME_COLUMNS:
        if c.endswith(("_usd_per_hour", "_usd_per_gpu_hour")) or c in ("vcpus", "memory_gib", "age_hours"):
            df[c] = df[c].astype("float64")
    return df
