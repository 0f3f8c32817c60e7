"""Per-distinct-value evaluation over point columns: a grid of millions of points repeats a few
hundred GPU names, precisions and runtimes, so a Python function of those values runs once per
distinct value (or tuple of values) and is broadcast back to every point."""

from __future__ import annotations

import ctypes

import numpy as np

MEMO_MAX = 65536  # distinct keys an engine's memo tables hold before they start over


def lookup(values: np.ndarray, fn, dtype=None) -> np.ndarray:
    """fn applied once per distinct value, broadcast back to every point (grids repeat values)."""
    if len(values) == 1:  # the single-point path: factorizing costs more than the call
        return np.asarray([fn(values[0])], dtype=dtype)
    codes, uniq = factorize(values)  # grids only: one point never loads pandas
    return np.asarray([fn(u) for u in uniq], dtype=dtype)[codes]


def lookup_pairs(a: np.ndarray, b: np.ndarray, fn) -> np.ndarray:
    """fn(a_i, b_i) evaluated once per distinct pair (without building string keys per point)."""
    return lookup_tuples((a, b), fn)


def lookup_tuples(arrays: tuple, fn, dtype=None) -> np.ndarray:
    """fn(*values_i) evaluated once per distinct tuple of the arrays' values (mixed-radix codes),
    with the values as Python scalars."""
    if len(arrays[0]) == 1:
        return np.asarray([fn(*(a[0] for a in arrays))], dtype=dtype)
    codes, first = combined_codes([ColumnCodes({"v": a}).of("v") for a in arrays])
    values = [fn(*args) for args in zip(*(np.asarray(a)[first].tolist() for a in arrays))]
    return np.asarray(values, dtype=dtype)[codes]


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each value, distinct values in order of first appearance), missing values (None,
    NaN) being values like any other. For a grid (pandas is loaded)."""
    values = np.asarray(values)
    if values.dtype == object and len(values) >= _FAST_PATH_MIN:
        return _factorize_objects(values)
    if values.dtype.kind in "iuf" and len(values) >= _FAST_PATH_MIN:
        low, high = values.min().item(), values.max().item()  # Python numbers: no wrap-around; NaN if one is
        if low == high:  # one value (a default, a fixed confidence level): no table, no hashing
            return np.zeros(len(values), dtype=np.int64), values[:1].copy()
        dense = _factorize_whole_numbers(values, low, high)
        if dense is not None:
            return dense
    return _factorize_values(values)


def _factorize_whole_numbers(values: np.ndarray, low, high) -> tuple[np.ndarray, np.ndarray] | None:
    """`factorize` of a numeric column of whole numbers in a small range (batch sizes, token counts,
    GPU counts, novelty levels): numbered with a table indexed by value - min (`_dense_codes`)
    instead of a hash table. None when the column has other values (fractions, NaN, a wide range).
    low, high: the column's min and max as Python numbers."""
    if not (np.isfinite(low) and np.isfinite(high)) or high - low >= max(4 * len(values), 1 << 16):
        return None
    whole = values.astype(np.int64) if values.dtype.kind == "f" else values
    if values.dtype.kind == "f" and not np.array_equal(whole, values):  # fractions
        return None
    low, high = int(whole.min()), int(whole.max())
    codes, first = _dense_codes(whole - low, high - low + 1)
    return codes, values[first]


# columns at least this long take a fast path (object identity, a table of whole numbers); a
# shorter column is hashed by pandas directly, which then costs less than the extra passes
_FAST_PATH_MIN = 4096


def _factorize_objects(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`factorize` of an object column whose cells are few distinct objects (a grid's names: a
    frame built from a product of axes repeats the same str objects): the cells are grouped by the
    address of the object they hold (integers: hashing 8 bytes, not a string), then the distinct
    objects by value (equal strings held by different objects share a code). The addresses are read
    while `values` holds a reference to every object, and never outlive this call. Columns of mostly
    distinct objects (strings parsed one per cell) are factorised by value directly."""
    import pandas as pd

    n = len(values)
    object_codes, distinct = _factorize_runs(_addresses(values))
    if len(distinct) > n // 4:
        return _factorize_values(values)
    holder = np.empty(len(distinct), dtype=np.int64)
    holder[object_codes] = np.arange(n)  # a cell holding each distinct object (any one: they hold the same)
    codes, uniques = _factorize_values(values[holder])  # in order of first appearance, as `distinct` is
    return codes[object_codes], uniques


def _factorize_runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize of integer keys (codes in order of first appearance). A column of long runs of
    one key (a product grid's leading axes: model, GPU, precision) is numbered by hashing only the
    first key of each run, then repeating its code over the run: the same codes."""
    import pandas as pd

    change = keys[1:] != keys[:-1]
    if not len(keys) or np.count_nonzero(change) * _RUN_LENGTH_MIN > len(keys):  # short runs: hash every key
        return pd.factorize(keys)
    heads = np.flatnonzero(np.concatenate(([True], change)))  # the first key of each run
    head_codes, distinct = pd.factorize(keys[heads])
    return np.repeat(head_codes, np.diff(np.append(heads, len(keys)))), distinct


_RUN_LENGTH_MIN = 8  # mean run length from which `_factorize_runs` hashes run heads only


def _addresses(values: np.ndarray) -> np.ndarray:
    """The address of the object each cell of a 1-d object array holds (a fresh uint64 array). A
    column of a frame is often a strided view of a 2-d block: its pointers are read in place, with
    the view's stride, instead of copying the cells (which touches every object's reference count)."""
    item = ctypes.sizeof(ctypes.c_size_t)
    if values.strides[0] <= 0 or values.strides[0] % item:
        values = np.ascontiguousarray(values)
    step = values.strides[0] // item
    span = (len(values) - 1) * step + 1  # the words from the first cell to the last, all inside the block
    words = np.ctypeslib.as_array((ctypes.c_size_t * span).from_address(values.ctypes.data))
    return words[::step].copy()  # a copy: `words` is a view of memory this function does not own


def _factorize_values(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`factorize` by value (pandas' hash tables)."""
    import pandas as pd

    # without NA sentinel pandas first tests every cell for NA (a second pass over the strings):
    # take the common case, no missing cell, in one pass and fall back when there is one
    codes, uniques = pd.factorize(values)
    if len(codes) and codes.min() < 0:
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), np.asarray(uniques)


def filled(n: int, value) -> np.ndarray:
    """An object column of n copies of `value` (np.full with dtype=object converts per cell: 30x slower)."""
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


class ColumnCodes:
    """The columns of one grid, each factorised at most once: (code of each point, distinct values
    in order of first appearance). A grid of millions of points repeats a few hundred names;
    hashing their strings once, then grouping by integer codes, keeps string work out of the
    per-block path. `known` takes codes already computed (normalize_columns records those of the
    columns it canonicalises). A single point needs no pandas: its code is 0."""

    def __init__(self, cols, known: dict | None = None):
        self.cols = cols
        self._memo: dict[str, tuple[np.ndarray, np.ndarray]] = dict(known or {})

    def of(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(code of each point, distinct values) of column `name`."""
        hit = self._memo.get(name)
        if hit is None:
            values = np.asarray(self.cols[name])
            if len(values) <= 1:
                hit = (np.zeros(len(values), dtype=np.int64), values)
            else:
                codes, uniques = factorize(values)
                hit = (codes, np.asarray(uniques, dtype=values.dtype))
            self._memo[name] = hit
        return hit

    def map(self, name: str, fn, dtype=None) -> np.ndarray:
        """fn of each point's value of column `name`, evaluated once per distinct value."""
        codes, uniques = self.of(name)
        return np.asarray([fn(u) for u in uniques.tolist()], dtype=dtype)[codes]

    def derived(self, name: str, fn) -> tuple[np.ndarray, np.ndarray]:
        """(code, distinct values) of fn(column `name`): the codes of a value derived per distinct
        value (a GPU's architecture, a model's family) without touching the points' strings."""
        codes, uniques = self.of(name)
        mapped = [fn(u) for u in uniques.tolist()]
        index: dict = {}
        remap = np.array([index.setdefault(m, len(index)) for m in mapped], dtype=np.int64)
        values = np.empty(len(index), dtype=object)
        values[:] = list(index)
        return remap[codes] if len(codes) else codes, values


def combined_codes(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(code of each point's tuple of values, 0..k-1 in order of first appearance; the position of
    the first point of each distinct tuple) from each column's (codes, distinct values)."""
    n = len(parts[0][0])
    if n <= 1:
        return np.zeros(n, dtype=np.int64), np.zeros(min(n, 1), dtype=np.int64)
    import pandas as pd  # grids only

    code, radix = None, 1
    for c, u in parts:
        if len(u) <= 1:
            continue  # one value (a column filled with its default): every point's digit is 0
        if code is None:
            code, radix = np.array(c, dtype=np.int64), len(u)  # a copy: the digits below are added in place
            continue
        if radix * len(u) >= 2**62:  # renumber before the mixed-radix number could overflow
            code, uniq = pd.factorize(code)
            radix = len(uniq)
        code *= len(u)
        code += c
        radix *= len(u)
    if code is None:
        return np.zeros(n, dtype=np.int64), np.zeros(1, dtype=np.int64)
    if radix <= max(4 * n, 1 << 16):
        return _dense_codes(code, radix)
    codes, _ = pd.factorize(code)
    first = np.full(int(codes.max()) + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(n))
    return codes.astype(np.int64, copy=False), first


def _dense_codes(code: np.ndarray, radix: int) -> tuple[np.ndarray, np.ndarray]:
    """`combined_codes`' result from mixed-radix numbers below a small `radix`: a table indexed by
    the number (first point of each) instead of a hash table (a grid's tuples repeat, so the
    numbers are few and a table of them is cheaper than hashing every point)."""
    n = len(code)
    first_of = np.full(radix, n, dtype=np.int64)
    np.minimum.at(first_of, code, np.arange(n))
    first = np.sort(first_of[first_of < n])  # first point of each distinct tuple, in order of appearance
    rank = np.empty(radix, dtype=np.int64)  # read only at numbers that occur
    rank[code[first]] = np.arange(len(first))
    return rank[code], first
