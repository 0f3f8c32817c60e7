"""Making values JSON-safe: the one place NaN and infinity become null.

JSON has no NaN or infinity (``json.dumps`` writes the non-standard ``NaN`` token, which browsers
and most parsers reject), and numpy scalars are not JSON types. Every JSON the tool writes or
serves (report.json, the service's responses and run history, ``--format json`` listings) passes
through :func:`to_jsonable`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Callable


def to_jsonable(value: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """``value`` with NaN/±inf replaced by None and numpy scalars by Python scalars, recursively
    through mappings (keys become strings) and lists/tuples (which become lists).

    ``default`` converts any other non-JSON value (like ``json.dumps``'s ``default``); its result
    is cleaned in turn. Without it such values are returned unchanged."""
    # exact scalars and dicts before the Mapping ABC check: a report's payload is tens of thousands
    # of plain values, and that check costs ~3 us each (half of the run history's write, measured)
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict or isinstance(value, Mapping):
        return {str(k): to_jsonable(v, default) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, default) for v in value]
    if isinstance(value, (str, bool, int)):  # their subclasses (the exact types returned above)
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if default is None or isinstance(value, (str, bool, int)) or value is None:  # e.g. np.str_.item()
        return value
    return to_jsonable(default(value), default)
