"""Number formatting shared by the context builder, the reasons and the Markdown output, so the
same value always renders to the same text (the JSON cross-check relies on it)."""

from __future__ import annotations

import math


def _bad(v) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def finite_or_none(v) -> float | None:
    """``v`` as a float, or None when it is missing, not a number, or not finite."""
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def figure(value, fn=None, low=None, high=None, unit: str = "") -> dict:
    """A number as templates see it: value/text and, when known, low/high and their texts
    (``fn`` formats each; `num` by default)."""
    fn = fn or num
    v, lo, hi = finite_or_none(value), finite_or_none(low), finite_or_none(high)
    out = {"value": v, "text": fn(v), "unit": unit}
    if lo is not None and hi is not None:
        out.update(low=lo, high=hi, low_text=fn(lo), high_text=fn(hi), interval_text=f"{fn(lo)}–{fn(hi)}")
    else:
        out.update(low=None, high=None, low_text="", high_text="", interval_text="")
    return out


def usd(v) -> str:
    """US dollars for reading: ``$1.23M``, ``$1,234``, cents below $100; ``n/a`` for a missing value."""
    if _bad(v):
        return "n/a"
    v = float(v)
    a = abs(v)
    sign = "-" if v < 0 else ""
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.2f}M"
    if a >= 100:
        return f"{sign}${a:,.0f}"
    if a >= 1:
        return f"{sign}${a:,.2f}"
    if a == 0:
        return "$0"
    return f"{sign}${a:.3g}"


def num(v, digits: int = 3) -> str:
    """A plain number for reading with ``digits`` significant digits, ``K``/``M``/``B`` for large
    ones; ``n/a`` for a missing value."""
    if _bad(v):
        return "n/a"
    v = float(v)
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:,.2f}B"
    if a >= 1e6:
        return f"{v / 1e6:,.2f}M"
    if a >= 1000:
        return f"{v:,.0f}"
    if a == 0:
        return "0"
    return f"{v:.{digits}g}"


def pct(v, digits: int = 0) -> str:
    """A value already in percent as ``12%`` (``digits`` decimals); ``n/a`` for a missing value."""
    return "n/a" if _bad(v) else f"{float(v):,.{digits}f}%"


def ms(v) -> str:
    """Milliseconds for reading (``12 ms``, ``0.45 ms``; ``12.30 s`` from 10 s on); ``n/a`` for a
    missing value."""
    if _bad(v):
        return "n/a"
    v = float(v)
    return f"{v / 1000:,.2f} s" if v >= 10_000 else f"{v:,.0f} ms" if v >= 10 else f"{v:.2g} ms"


def months(v) -> str:
    """A month count as ``3.5 months``; ``never`` for a missing value (no break-even)."""
    if _bad(v):
        return "never"
    return f"{float(v):,.1f} months"


def interval(fn, lo, hi) -> str:
    """An interval as ``low–high``, both ends formatted by ``fn``."""
    return f"{fn(lo)}–{fn(hi)}"


def share_below(p: float, threshold: float) -> str:
    """A share just under a threshold as a percentage that reads as under it: 0.897 against 0.9 is
    '89.7%', not '90%' (which would print '90% < 90% required')."""
    text = f"{p:.0%}"
    return f"{p:.1%}" if text == f"{threshold:.0%}" else text
