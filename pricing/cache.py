"""On-disk price cache: one JSON file per (provider, price kind, query), written atomically
(phantom_report.atomic) under a file lock, so two processes never read a half-written file nor
interleave writes.  TTL per kind: on-demand/reserved prices change rarely (24 h), spot prices
move hourly (1 h).  A failed live fetch is remembered per provider for `failure_ttl_s` (5 min), so
when the network is down or black-holed each run does not wait for the same timeouts again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock

from phantom_report.atomic import write_atomic
from phantom_report.pricing.quote import PriceQuote
from phantom_report.user_cache import cache_home

KINDS = ("on_demand", "spot")
# the query key under which `prices refresh` stores a cloud's whole catalogue (see refresh.py)
REFRESHED_KIND, REFRESHED_QUERY = "refreshed", "refresh|all catalogued GPU instances|default regions"
DEFAULT_TTL_S = {"on_demand": 24 * 3600.0, "spot": 3600.0}
DEFAULT_FAILURE_TTL_S = 300.0
CACHE_FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """The price cache folder: PHANTOM_CACHE_DIR, else $XDG_CACHE_HOME (or ~/.cache)/phantom-report/prices."""
    env = os.environ.get("PHANTOM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return cache_home() / "prices"


@dataclass(frozen=True)
class CacheEntry:
    """Quotes stored for one (provider, kind, query) and when they were written (UTC)."""
    quotes: tuple[PriceQuote, ...]
    written_at: datetime

    def age_s(self, now: datetime) -> float:
        """Seconds since the entry was written (never negative)."""
        return max(0.0, (now - self.written_at).total_seconds())


@dataclass(frozen=True)
class PriceCache:
    """The on-disk price cache in `directory`: one JSON file per (provider, kind, query), TTLs in
    seconds per kind, a file lock per entry and the remembered live failures (`failure_ttl_s`)."""
    directory: Path
    ttl_on_demand_s: float = DEFAULT_TTL_S["on_demand"]
    ttl_spot_s: float = DEFAULT_TTL_S["spot"]
    lock_timeout_s: float = 30.0
    failure_ttl_s: float = DEFAULT_FAILURE_TTL_S

    def ttl_s(self, kind: str) -> float:
        """Seconds an entry of this kind stays fresh (on-demand/reserved 24 h, spot 1 h by default)."""
        return self.ttl_on_demand_s if kind == "on_demand" else self.ttl_spot_s

    def _path(self, provider: str, kind: str, query_key: str) -> Path:
        digest = hashlib.sha256(query_key.encode()).hexdigest()[:16]
        return self.directory / f"{provider}-{kind}-{digest}.json"

    def _lock(self, path: Path) -> FileLock:
        return FileLock(str(path) + ".lock", timeout=self.lock_timeout_s)

    def read(self, provider: str, kind: str, query_key: str) -> CacheEntry | None:
        """The stored entry, fresh or stale (the caller decides by age); None if absent or unreadable."""
        path = self._path(provider, kind, query_key)
        if not path.exists():
            return None
        with self._lock(path):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                if doc.get("version") != CACHE_FORMAT_VERSION or doc.get("query_key") != query_key:
                    return None
                quotes = tuple(PriceQuote.from_dict(d) for d in doc["quotes"])
                if any(q.provider != provider for q in quotes):  # another cloud's rows: not this entry
                    return None
                return CacheEntry(quotes, datetime.fromisoformat(doc["written_at"]))
            except (OSError, ValueError, KeyError, TypeError):
                return None  # a corrupt cache file is just a miss; the next write replaces it

    def _failure_path(self, provider: str) -> Path:
        return self.directory / f"{provider}-live-failure.json"

    def record_failure(self, provider: str, reason: str, now: datetime | None = None) -> None:
        """Remember that live prices from `provider` failed just now (any query)."""
        doc = {"version": CACHE_FORMAT_VERSION, "provider": provider, "reason": reason[:500],
               "failed_at": (now or datetime.now(timezone.utc)).isoformat()}
        self._write_doc(self._failure_path(provider), doc)

    def recent_failure(self, provider: str, now: datetime) -> tuple[str, float] | None:
        """(reason, age in seconds) of a live failure younger than `failure_ttl_s`, else None."""
        path = self._failure_path(provider)
        if self.failure_ttl_s <= 0 or not path.exists():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            age_s = (now - datetime.fromisoformat(doc["failed_at"])).total_seconds()
            reason = str(doc["reason"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return (reason, age_s) if 0 <= age_s < self.failure_ttl_s else None

    def clear_failure(self, provider: str) -> None:
        """Forget a remembered live failure of `provider` (no-op if none)."""
        self._failure_path(provider).unlink(missing_ok=True)

    def write(self, provider: str, kind: str, query_key: str, quotes: list[PriceQuote] | tuple[PriceQuote, ...],
              now: datetime | None = None) -> Path:
        """Store the quotes of one (provider, kind, query) atomically; returns the file written."""
        path = self._path(provider, kind, query_key)
        doc = {"version": CACHE_FORMAT_VERSION, "provider": provider, "kind": kind, "query_key": query_key,
               "written_at": (now or datetime.now(timezone.utc)).isoformat(),
               "quotes": [q.to_dict() for q in quotes]}
        return self._write_doc(path, doc)

    def _write_doc(self, path: Path, doc: dict) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock(path):
            write_atomic(path, json.dumps(doc), private=True)
        return path

    def write_refreshed(self, provider: str, quotes: list[PriceQuote] | tuple[PriceQuote, ...], now: datetime) -> Path:
        """Store a cloud's refreshed snapshot (all catalogued GPU instances, every price kind)."""
        return self.write(provider, REFRESHED_KIND, REFRESHED_QUERY, quotes, now=now)

    def read_refreshed(self, provider: str) -> CacheEntry | None:
        """The cloud's refreshed snapshot, whatever its age; None if `prices refresh` never ran."""
        return self.read(provider, REFRESHED_KIND, REFRESHED_QUERY)
