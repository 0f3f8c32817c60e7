"""Numbers as report templates see them (`figure`: value, text, unit and interval texts). The
number-to-text formatters themselves live in phantom_report/numfmt.py (one home for engine, reporter
and commands); they are re-exported here so reporter modules keep writing `fmt.usd(...)`."""

from __future__ import annotations

from phantom_report.numfmt import (  # noqa: F401  (re-exported: fmt.usd, fmt.num, ... in the reporter)
    finite_or_none, interval, months, ms, num, pct, share_below, usd,
)


def figure(value, fn=None, low=None, high=None, unit: str = "") -> dict:
    """A number as templates see it: value/text and, when known, low/high and their texts
    (``fn`` formats each; `num` by default)."""
    fn = fn or num
    v, lo, hi = finite_or_none(value), finite_or_none(low), finite_or_none(high)
    out = {"value": v, "text": fn(v), "unit": unit}
    if lo is not None and hi is not None:
        out.update(low=lo, high=hi, low_text=fn(lo), high_text=fn(hi), interval_text=interval(fn, lo, hi))
    else:
        out.update(low=None, high=None, low_text="", high_text="", interval_text="")
    return out
