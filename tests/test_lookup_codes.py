"""Grid factorisations (engine/lookup.py): the fast paths give what grouping by value gives.

`factorize` groups long object columns by object identity first, reading each cell's pointer (also
through the strided view a frame's column often is); `combined_codes` numbers small mixed-radix
tuples with a table. Both must give each point the code of its value (tuple), numbered in order of
first appearance, whatever the column's layout, missing cells or repeated-but-distinct objects."""

import numpy as np
import pandas as pd
import pytest

from phantom_report.engine.lookup import _FAST_PATH_MIN, combined_codes, factorize


def _reference(values) -> tuple[list[int], list]:
    """Codes in order of first appearance, by value (None and NaN one missing value, as pandas)."""
    index: dict = {}
    codes = []
    for v in values:
        key = "<missing>" if v is None or (isinstance(v, float) and v != v) else v
        codes.append(index.setdefault(key, len(index)))
    return codes, list(index)


def _object_block(rng, n: int) -> np.ndarray:
    """An (n x 3) object block like a frame built from records: a few names, None, NaN, and equal
    strings held by distinct objects (as parsed text would be)."""
    names = np.array(["H100-SXM", "A100-SXM4-80GB", None, float("nan"), "L4"], dtype=object)
    block = names[rng.integers(0, len(names), (n, 3))]
    for i in rng.integers(0, n, n // 10).tolist():
        block[i, 1] = "".join(["H100", "-SXM"])  # equal to a name, another object
    return block


@pytest.mark.parametrize("layout", ["contiguous", "column of a block", "reversed", "every other row"])
def test_factorize_object_columns_by_identity_equals_by_value(layout):
    rng = np.random.default_rng(7)
    block = _object_block(rng, 3 * _FAST_PATH_MIN)
    column = {"contiguous": block[:, 1].copy(), "column of a block": block[:, 1], "reversed": block[::-1, 1],
              "every other row": block[::2, 1]}[layout]
    assert len(column) >= _FAST_PATH_MIN  # the identity path is taken
    codes, uniques = factorize(column)
    want_codes, want_uniques = _reference(column.tolist())
    assert codes.tolist() == want_codes
    got = ["<missing>" if pd.isna(u) else u for u in uniques.tolist()]
    assert got == want_uniques


def test_factorize_mostly_distinct_objects_falls_back_to_values():
    column = np.array([f"gpu-{i % 5000}" for i in range(2 * _FAST_PATH_MIN)], dtype=object)  # one object per cell
    codes, uniques = factorize(column)
    want_codes, want_uniques = _reference(column.tolist())
    assert codes.tolist() == want_codes and uniques.tolist() == want_uniques


@pytest.mark.parametrize("n, sizes", [(2, (3, 4)), (50, (2, 3, 5)), (40_000, (7, 11, 13)), (40_000, (400, 500, 600))])
def test_combined_codes_number_tuples_in_order_of_first_appearance(n, sizes):
    """Small radix (table) and large radix (hash table) alike."""
    rng = np.random.default_rng(n + len(sizes))
    parts = [(rng.integers(0, k, n), np.arange(k)) for k in sizes]
    codes, first = combined_codes(parts)
    want_codes, tuples = _reference(list(zip(*(c.tolist() for c, _ in parts))))
    assert codes.tolist() == want_codes
    firsts: dict = {}
    for i, k in enumerate(want_codes):
        firsts.setdefault(k, i)
    assert first.tolist() == [firsts[k] for k in range(len(tuples))]


def _numeric_columns(n: int) -> dict:
    rng = np.random.default_rng(11)
    return {
        "batch sizes": rng.choice([1, 8, 32, 128, 4096], n),
        "token counts as floats, with -0.0": rng.choice([128.0, 1024.0, 0.0, -0.0], n),
        "fractions": rng.choice([0.5, 0.9, 0.95], n),
        "a missing cell": np.r_[rng.choice([1.0, 2.0], n - 1), np.nan],
        "an infinite cell": np.r_[rng.choice([1.0, 2.0], n - 1), np.inf],
        "a wide range": np.r_[rng.choice([1, 2], n - 1), 2**62],
        "int8 extremes": np.r_[rng.integers(-5, 5, n - 2), 127, -128].astype(np.int8),
        "unsigned": rng.integers(0, 3, n).astype(np.uint64),
    }


@pytest.mark.parametrize("name", list(_numeric_columns(8)))
def test_factorize_numeric_columns_equals_pandas(name):
    """Whole numbers in a small range take a table; anything else pandas' hash table: same result."""
    column = _numeric_columns(2 * _FAST_PATH_MIN)[name]
    codes, uniques = factorize(column)
    want_codes, want_uniques = pd.factorize(column, use_na_sentinel=False)
    assert codes.tolist() == want_codes.tolist()
    assert uniques.dtype == column.dtype
    np.testing.assert_array_equal(uniques, want_uniques)
    assert np.signbit(uniques).tolist() == np.signbit(np.asarray(want_uniques)).tolist()  # -0.0 kept as first seen


def test_combined_codes_skip_single_valued_columns():
    """Columns with one value (defaults) add nothing to the tuples: same codes with or without them."""
    rng = np.random.default_rng(3)
    n = 20_000
    varying = [(rng.integers(0, 5, n), np.arange(5)), (rng.integers(0, 9, n), np.arange(9))]
    constant = (np.zeros(n, dtype=np.int64), np.array(["inference"], dtype=object))
    want = combined_codes(varying)
    for parts in ([constant] + varying, [varying[0], constant, varying[1], constant]):
        got = combined_codes(parts)
        assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
    only_constant = combined_codes([constant, constant])
    assert only_constant[0].tolist() == [0] * n and only_constant[1].tolist() == [0]
    assert varying[0][0].dtype == np.int64 and varying[0][0].max() < 5  # the inputs are left alone
