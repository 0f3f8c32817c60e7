"""A user's own price snapshot: `prices refresh` fetches every catalogued GPU instance live with
the user's credentials and stores it in the price cache; later runs prefer it to the embedded
snapshot (with its age shown), and `prices diff` says what changed against the embedded one.

The refreshed quotes keep what the live fetch knew (SKU ids, zones, warnings); when read back
they are labelled source "snapshot" with the refresh time, because they are no longer live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping

from phantom_report.pricing.cache import KINDS, PriceCache
from phantom_report.pricing.providers.base import CredentialsMissing, LiveProvider, ProviderUnavailable
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.sanity import SanitySettings, apply_sanity
from phantom_report.pricing.snapshot import snapshot_quotes


@dataclass(frozen=True)
class RefreshResult:
    """What one provider's refresh did: quotes written (0 when it failed) and why, in words."""

    provider: str
    n_quotes: int
    message: str

    @property
    def ok(self) -> bool:
        """True when the refresh stored at least one quote."""
        return self.n_quotes > 0


def refresh_provider(provider: str, live: LiveProvider, cache: PriceCache, now: datetime) -> RefreshResult:
    """Fetch every catalogued GPU instance of one cloud (each price kind on its own, the provider's
    default regions), apply the sanity rules, and store the result as that cloud's refreshed
    snapshot.  A kind that fails (spot history unreachable, say) does not lose the other."""
    from phantom_report.pricing.catalog import merge_kinds, only_kind
    parts: dict[str, list[PriceQuote]] = {}
    failures: list[str] = []
    causes: list[str] = []
    for kind in KINDS:
        try:
            fetched = live.fetch(frozenset({kind}), None, None, now)
        except CredentialsMissing as exc:
            return RefreshResult(provider, 0, f"not refreshed: {str(exc).removeprefix(provider + ': ')}")
        except ProviderUnavailable as exc:
            failures.append(f"{kind.replace('_', '-')} prices unavailable ({exc})")
            causes.append(str(exc))
            continue
        parts[kind] = [q for q in (only_kind(q, kind) for q in fetched) if q is not None]
    checked, dropped = apply_sanity(merge_kinds(parts), SanitySettings())
    if not checked:
        # every kind failing for one cause (no network, say) is said once, not once per kind
        why = (f"price API unreachable or unusable ({causes[0]})" if len(causes) == len(KINDS) and len(set(causes)) == 1
               else "; ".join(failures) or "the live answer held no usable GPU instance price")
        return RefreshResult(provider, 0, f"not refreshed: {why}")
    path = cache.write_refreshed(provider, checked, now)
    notes = ([f"{len(dropped)} dropped by the sanity rules"] if dropped else []) + failures
    return RefreshResult(provider, len(checked), f"{len(checked)} instance prices written to {path}"
                         + (f" ({'; '.join(notes)})" if notes else ""))


def refresh_all(providers: Iterable[str], live: Mapping[str, LiveProvider], cache: PriceCache,
                now: datetime) -> list[RefreshResult]:
    """refresh_provider for each provider, one failing not stopping the others."""
    return [refresh_provider(p, live[p], cache, now) for p in providers]


@dataclass(frozen=True)
class PriceChange:
    """One instance's price in the embedded snapshot and in the user's refreshed one ($/h, None =
    not offered there); `change_pct` of the on-demand price, else of spot."""

    provider: str
    region: str
    instance_type: str
    gpu: str
    embedded_on_demand_usd_per_hour: float | None
    refreshed_on_demand_usd_per_hour: float | None
    embedded_spot_usd_per_hour: float | None
    refreshed_spot_usd_per_hour: float | None
    in_embedded: bool = True
    in_refreshed: bool = True

    @property
    def status(self) -> str:
        """'added' / 'removed' by presence of the row (a row of the embedded snapshot may carry no
        price at all: it is then not 'added' by a refresh that never saw it), else by price."""
        old = (self.embedded_on_demand_usd_per_hour, self.embedded_spot_usd_per_hour)
        new = (self.refreshed_on_demand_usd_per_hour, self.refreshed_spot_usd_per_hour)
        if not self.in_refreshed or new == (None, None):
            return "removed"
        if not self.in_embedded or old == (None, None):
            return "added"
        return "changed" if old != new else "same"

    @property
    def change_pct(self) -> float | None:
        """Change of the on-demand price in % of the embedded one, else of spot; None if neither
        is priced in both."""
        for a, b in ((self.embedded_on_demand_usd_per_hour, self.refreshed_on_demand_usd_per_hour),
                     (self.embedded_spot_usd_per_hour, self.refreshed_spot_usd_per_hour)):
            if a and b is not None:
                return (b - a) / a * 100.0
        return None


def regions_not_refreshed(provider: str, refreshed: Iterable[PriceQuote]) -> list[str]:
    """Regions of the embedded snapshot that the refresh did not cover (a refresh fetches the
    provider's default regions): `prices diff` leaves them out rather than calling them removed."""
    covered = {q.region for q in refreshed}
    return sorted({q.region for q in snapshot_quotes((provider,))} - covered)


def diff_against_embedded(provider: str, refreshed: Iterable[PriceQuote]) -> list[PriceChange]:
    """Every (region, instance type) of either snapshot, in the regions the refresh covered, with
    its price in both, sorted by change."""
    refreshed = list(refreshed)
    covered = {q.region for q in refreshed}

    def table(quotes: Iterable[PriceQuote]) -> dict[tuple[str, str], PriceQuote]:
        return {(q.region, q.instance_type): q for q in quotes if q.region in covered}
    old, new = table(snapshot_quotes((provider,))), table(refreshed)
    out = []
    for key in sorted(old.keys() | new.keys()):
        o, n = old.get(key), new.get(key)
        out.append(PriceChange(provider, key[0], key[1], (n or o).gpu,  # type: ignore[union-attr]
                               o.on_demand_usd_per_hour if o else None, n.on_demand_usd_per_hour if n else None,
                               o.spot_usd_per_hour if o else None, n.spot_usd_per_hour if n else None,
                               in_embedded=o is not None, in_refreshed=n is not None))
    out.sort(key=lambda c: (c.status == "same", -abs(c.change_pct or 0.0), c.region, c.instance_type))
    return out
