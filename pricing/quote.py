"""The `PriceQuote` record (see docs/INTERFACES.md) and the `QuoteSet` a lookup returns.

Prices are floats with the unit in the name ($/h for the whole instance); per-GPU-hour figures are
derived, never stored, so they cannot drift from the instance price they come from.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

SOURCES = ("live", "cache", "snapshot")
# A provider is a registered cloud's name (pricing/clouds); which names exist is checked where a
# name comes in (get_quotes, the report spec), so a cloud added through the registry needs no edit here.
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True, kw_only=True)
class PriceQuote:
    """One instance's price in one region (zone), $/h for the whole instance: on-demand, spot and
    reserved terms; where it came from (`source`, `source_detail`, `sku_ids`), when, and warnings."""
    provider: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str
    gpu_count: int
    vcpus: float | None
    memory_gib: float | None
    on_demand_usd_per_hour: float | None
    spot_usd_per_hour: float | None
    # A dict (not hashed) so quotes stay picklable for process pools; treat as read-only.
    reserved_usd_per_hour: Mapping[str, float] = field(default_factory=dict, hash=False)
    currency: str = "USD"
    fetched_at: datetime
    source: str
    source_detail: str = ""
    warnings: tuple[str, ...] = ()
    # the provider's own ids of the published prices this quote was built from (AWS product SKU,
    # GCP SKU ids of the vCPU/RAM/GPU parts, Azure skuId/meterId), so a report can show exactly
    # which catalogue entries it used; empty for snapshot rows that do not record them
    sku_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.provider, str) or not PROVIDER_NAME.fullmatch(self.provider):
            raise ValueError(f"provider {self.provider!r} is not a cloud name (lower-case letters, digits, '-')")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}")
        if self.gpu_count < 1:
            raise ValueError(f"gpu_count must be >= 1, got {self.gpu_count}")
        if self.fetched_at.tzinfo is None:
            raise ValueError("fetched_at must be timezone-aware (UTC)")

    def _per_gpu(self, usd_per_hour: float | None) -> float | None:
        return None if usd_per_hour is None else usd_per_hour / self.gpu_count

    @property
    def on_demand_usd_per_gpu_hour(self) -> float | None:
        """On-demand $/GPU-hour (instance price / gpu_count), or None."""
        return self._per_gpu(self.on_demand_usd_per_hour)

    @property
    def spot_usd_per_gpu_hour(self) -> float | None:
        """Spot $/GPU-hour (instance price / gpu_count), or None."""
        return self._per_gpu(self.spot_usd_per_hour)

    def reserved_usd_per_gpu_hour(self, term: str) -> float | None:
        """Reserved $/GPU-hour of a term ('1y', '3y'), or None when the term is not priced."""
        return self._per_gpu(self.reserved_usd_per_hour.get(term))

    def age_hours(self, now: datetime | None = None) -> float:
        """Hours since the price was fetched (never negative)."""
        now = now or datetime.now(timezone.utc)
        return max(0.0, (now - self.fetched_at).total_seconds() / 3600.0)

    def with_changes(self, **changes: Any) -> "PriceQuote":
        """A copy with the given fields replaced (the quote is frozen)."""
        return dataclasses.replace(self, **changes)

    def with_warning(self, message: str) -> "PriceQuote":
        """A copy with `message` appended to the warnings (unchanged if already there)."""
        if message in self.warnings:
            return self
        return dataclasses.replace(self, warnings=self.warnings + (message,))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (fetched_at as ISO 8601, tuples as lists); `from_dict` reads it back."""
        # every field is a scalar except these four, converted below; dataclasses.asdict would deep-copy
        # each value (a report converts hundreds of quotes; 6x slower, measured)
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["reserved_usd_per_hour"] = dict(self.reserved_usd_per_hour)
        d["fetched_at"] = self.fetched_at.isoformat()
        d["warnings"] = list(self.warnings)
        d["sku_ids"] = list(self.sku_ids)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PriceQuote":
        """The quote `to_dict` wrote (the cache's format); a ValueError/KeyError/TypeError if malformed."""
        kw = dict(d)
        kw["fetched_at"] = datetime.fromisoformat(kw["fetched_at"])
        kw["warnings"] = tuple(kw.get("warnings", ()))
        kw["sku_ids"] = tuple(str(x) for x in kw.get("sku_ids", ()))
        kw["reserved_usd_per_hour"] = {str(k): float(v) for k, v in dict(kw.get("reserved_usd_per_hour") or {}).items()}
        return cls(**kw)


@dataclass(frozen=True)
class QuoteSet:
    """What a lookup returns: quotes (cheapest per GPU-hour first) and warnings about the set."""
    quotes: tuple[PriceQuote, ...]
    warnings: tuple[str, ...] = ()


def dedupe(messages: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Keep the first occurrence of each message, in order."""
    return tuple(dict.fromkeys(messages))
