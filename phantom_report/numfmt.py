"""Numbers as text: the one home of every number formatter (reports, the validation report, the
terminal tables), so the same value always renders to the same text and a missing value is judged
the same way everywhere (issue 16). Shared layer: engine, reporter and commands import it; it
imports nothing of theirs.

Missing means None, NaN or +-inf (`is_missing`); each formatter returns its ``missing`` text for it
("n/a" in reports, "—" in the validation report and terminal tables).
"""

from __future__ import annotations

import math


def is_missing(v) -> bool:
    """True for None and for a number that is NaN or infinite (Python or NumPy): nothing to print."""
    if v is None:
        return True
    try:
        return not math.isfinite(v)
    except TypeError:  # not a real number (a string, a Decimal NaN...): the formatter decides
        return False


def finite_or_none(v) -> float | None:
    """``v`` as a float, or None when it is missing, not a number, or not finite."""
    if v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def usd(v, missing: str = "n/a") -> str:
    """US dollars for a report: $1.23M, $12,345, $12.34, $0.0123 (3 significant figures below $1)."""
    if is_missing(v):
        return missing
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


def num(v, digits: int = 3, missing: str = "n/a") -> str:
    """A count or measurement in a report: 1.23B, 4.56M, 12,345, 123, 1.5, 0.0123 (``digits``
    significant figures below 1,000; never an exponent)."""
    if is_missing(v):
        return missing
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
    text = f"{v:.{digits}g}"
    # 999.6 at 3 significant figures is "1e+03": print the whole number instead
    return f"{v:,.0f}" if "e+" in text else text


def pct(v, digits: int = 0, missing: str = "n/a") -> str:
    """A value already in percent (12.3 -> "12%"; digits after the point, thousands separated)."""
    return missing if is_missing(v) else f"{float(v):,.{digits}f}%"


def fraction_pct(v, digits: int = 1, missing: str = "—") -> str:
    """A fraction as a percentage (0.123 -> "12.3%"): APEs, coverages and shares of rows."""
    return missing if is_missing(v) else pct(100 * float(v), digits)


def ms(v, missing: str = "n/a") -> str:
    """A duration given in milliseconds: "12.3 s" from 10 s up, "123 ms" from 10 ms, "1.2 ms" below."""
    if is_missing(v):
        return missing
    v = float(v)
    return f"{v / 1000:,.2f} s" if v >= 10_000 else f"{v:,.0f} ms" if v >= 10 else f"{v:.2g} ms"


def months(v) -> str:
    """A payback or break-even time in months; a missing one is "never"."""
    if is_missing(v):
        return "never"
    return f"{float(v):,.1f} months"


def interval(fn, lo, hi) -> str:
    """"low–high", each end formatted by ``fn``."""
    return f"{fn(lo)}–{fn(hi)}"


def share_below(p: float, threshold: float) -> str:
    """A share just under a threshold as a percentage that reads as under it: 0.897 against 0.9 is
    '89.7%', not '90%' (which would print '90% < 90% required')."""
    text = f"{p:.0%}"
    return f"{p:.1%}" if text == f"{threshold:.0%}" else text


def compact(x, missing: str = "—") -> str:
    """A number for a terminal table column: fixed decimals by magnitude so digits line up
    (1,234 / 12.3 / 1.23 / 0.0123), thousands separated, never an exponent."""
    if is_missing(x):
        return missing
    ax = abs(x)
    if ax >= 100:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def compact_range(mid, low, high) -> str:
    """"mid (low–high)" in the `compact` style: a prediction with its interval."""
    return f"{compact(mid)} ({compact(low)}–{compact(high)})"
