"""Token buckets per API key (and, for failed authentications, per client address):
`rate_per_min` requests a minute with a burst of the same size.

Kept in the app instance (one per process); with several uvicorn worker processes each enforces
the limit separately, which is stated in the serve docs.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated_s: float


class RateLimiter:
    """Token buckets per caller (API key or client address): ``per_min`` requests per minute with a
    burst of one minute's worth; at most ``max_buckets`` callers tracked (when full, callers idle
    for a minute are forgotten)."""

    def __init__(self, default_per_min: int, max_buckets: int = 10_000) -> None:
        self.default_per_min = default_per_min
        self.max_buckets = max_buckets
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, who: str, per_min: int | None = None) -> float:
        """0.0 if the request may go ahead, else the seconds to wait (for Retry-After)."""
        rate = per_min or self.default_per_min
        per_s = rate / 60.0
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(who)
            if b is None and len(self._buckets) >= self.max_buckets:
                self._forget_full(now)
            if b is None:
                b = self._buckets[who] = _Bucket(tokens=float(rate), updated_s=now)
            b.tokens = min(float(rate), b.tokens + (now - b.updated_s) * per_s)
            b.updated_s = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / per_s


    def _forget_full(self, now: float) -> None:
        """Drop buckets idle for a minute: they have refilled to the burst size, so forgetting
        them changes nothing (many client addresses must not grow the table without bound)."""
        for who in [w for w, b in self._buckets.items() if now - b.updated_s >= 60.0]:
            del self._buckets[who]


def retry_after_header(wait_s: float) -> str:
    """A Retry-After header value: the wait in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_s)))
