"""Per-distinct-value evaluation over point columns: a grid of millions of points repeats a few
hundred GPU names, precisions and runtimes, so a Python function of those values runs once per
distinct value (or tuple of values) and is broadcast back to every point."""

from __future__ import annotations

import numpy as np

MEMO_MAX = 65536  # distinct keys an engine's memo tables hold before they start over


def lookup(values: np.ndarray, fn, dtype=None) -> np.ndarray:
    """fn applied once per distinct value, broadcast back to every point (grids repeat values)."""
    if len(values) == 1:  # the single-point path: factorizing costs more than the call
        return np.asarray([fn(values[0])], dtype=dtype)
    import pandas as pd  # grids only: one point never loads pandas

    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    return np.asarray([fn(u) for u in uniq], dtype=dtype)[codes]


def lookup_pairs(a: np.ndarray, b: np.ndarray, fn) -> np.ndarray:
    """fn(a_i, b_i) evaluated once per distinct pair (without building string keys per point)."""
    return lookup_tuples((a, b), fn)


def lookup_tuples(arrays: tuple, fn, dtype=None) -> np.ndarray:
    """fn(*values_i) evaluated once per distinct tuple of the arrays' values (mixed-radix codes)."""
    if len(arrays[0]) == 1:
        return np.asarray([fn(*(a[0] for a in arrays))], dtype=dtype)
    codes, combos, uniques = combination_codes(arrays)
    values = []
    for combo in combos:
        parts = []
        for u in reversed(uniques):
            combo, r = divmod(int(combo), len(u))
            parts.append(u[r])
        values.append(fn(*reversed(parts)))
    return np.asarray(values, dtype=dtype)[codes]


def combination_codes(arrays) -> tuple[np.ndarray, np.ndarray, list]:
    """(code of each point's tuple of values, 0..k-1 in order of first appearance; the mixed-radix
    number of each distinct tuple; each array's distinct values) for equal-length arrays."""
    import pandas as pd  # grids only: one point never gets here

    code = np.zeros(len(arrays[0]), dtype=np.int64)
    uniques = []
    for a in arrays:
        c, u = pd.factorize(a, use_na_sentinel=False)
        code = code * len(u) + c
        uniques.append(u)
    codes, combos = pd.factorize(code)
    return codes, combos, uniques
