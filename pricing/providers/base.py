"""The one interface every live price provider implements.

A provider fetches the requested price kinds for the requested GPUs/regions and returns quotes
with source='live'.  It raises CredentialsMissing when it has no credentials and
ProviderUnavailable for anything else that stops it (after its retries); the catalog turns both
into a fallback with one warning, never a traceback.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.settings import CredentialsMissing, ProviderUnavailable, RetryableError

__all__ = ["LiveProvider", "CredentialsMissing", "ProviderUnavailable", "RetryableError", "RETRYABLE_HTTP_STATUS"]

RETRYABLE_HTTP_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class LiveProvider(Protocol):
    """What the price chain asks of a cloud's live fetcher (built by its module's `live` factory)."""
    name: str

    def fetch(self, kinds: frozenset[str], gpus: frozenset[str] | None, regions: tuple[str, ...] | None,
              now: datetime) -> list[PriceQuote]:
        """Quotes for the kinds ('on_demand' also brings reserved terms, 'spot')."""
        ...
