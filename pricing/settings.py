"""Network settings shared by the live providers, injected so tests can shrink timeouts and
backoff and point every client at a local server."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FetchSettings:
    """Timeouts (s), retries and backoff (s) and the page limit of every live price request."""
    timeout_s: float = 10.0
    retries: int = 3            # extra attempts after the first
    backoff_s: float = 0.5      # first wait; doubles each retry, with jitter
    backoff_max_s: float = 8.0
    max_pages: int = 200        # a server that pages forever cannot hang a report


class RetryableError(Exception):
    """A transient failure (timeout, connection reset, HTTP 429/5xx): worth another attempt."""


class ProviderUnavailable(Exception):
    """The provider cannot give prices now (after retries, or bad/empty data); fall back."""


class CredentialsMissing(ProviderUnavailable):
    """No credentials for this provider; fall back quietly with one warning."""


def with_retries(fn: Callable[[], T], settings: FetchSettings, what: str,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Call fn, retrying RetryableError with exponential backoff; then ProviderUnavailable."""
    delay = settings.backoff_s
    for attempt in range(settings.retries + 1):
        try:
            return fn()
        except RetryableError as exc:
            if attempt == settings.retries:
                msg = str(exc) if str(exc).startswith(what) else f"{what}: {exc}"
                raise ProviderUnavailable(f"{msg} (after {attempt + 1} attempts)") from exc
            sleep(min(delay, settings.backoff_max_s) * (0.5 + random.random() / 2))
            delay *= 2
    raise AssertionError("unreachable")
