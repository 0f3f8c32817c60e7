"""The result every actual-spend provider returns (one module per cloud: aws_spend.py,
azure_spend.py), so the report compares clouds through one type.

Rows are daily costs in the provider's billing currency; totals over a date range are sums of
the rows whose day falls in it (both ends inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from phantom_report.pricing.settings import CredentialsMissing


class NoCredentials(CredentialsMissing):
    """No credentials were found at all (as opposed to credentials the cloud rejected): the
    report then says how to enable actual spend instead of warning."""


@dataclass(frozen=True)
class SpendRow:
    """One day's cost (in `currency`) of one group of the grouping dimension, or of everything."""
    day: date
    cost: float
    currency: str
    group: str | None  # value of the grouping dimension (e.g. the meter subcategory), if any


@dataclass(frozen=True)
class SpendReport:
    """What an actual-spend provider returns: daily actual rows, forecast rows where the cloud gives
    them, when they were fetched and from where (`source_detail`), and warnings."""
    scope: str                       # what was asked for, in the provider's words
    actual: tuple[SpendRow, ...]
    forecast: tuple[SpendRow, ...]   # the cloud's own forecast, where asked for (Azure)
    fetched_at: datetime
    source_detail: str               # endpoint, scope and filter, for the report's methodology
    warnings: tuple[str, ...] = ()

    @property
    def actual_total(self) -> float:
        """Sum of the actual rows, in the report's currency."""
        return sum(r.cost for r in self.actual)

    @property
    def forecast_total(self) -> float:
        """Sum of the forecast rows, in the report's currency."""
        return sum(r.cost for r in self.forecast)

    @property
    def currency(self) -> str | None:
        """The currency of the first row (actual, then forecast); None when there are no rows."""
        return next((r.currency for r in self.actual + self.forecast), None)

    def actual_between(self, first: date, last: date) -> float:
        """Actual cost of the days first..last (both inclusive)."""
        return sum(r.cost for r in self.actual if first <= r.day <= last)

    def currencies(self) -> frozenset[str]:
        """Every currency the actual rows use (more than one means totals cannot be added)."""
        return frozenset(r.currency for r in self.actual)
