"""A prediction grid's columns, normalised: defaults filled in, GPU names and precisions canonical,
impossible values refused with one specific message (docs/INTERFACES.md lists the columns).
Numpy only, so one point costs microseconds."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Mapping

import numpy as np

from phantom_report.engine import limits
from phantom_report.engine.lookup import factorize, filled
from phantom_report.engine.precision import resolve_kv_precision, resolve_precision
from phantom_report.engine.profiles import ProfileCatalog
from phantom_report.errors import PredictionError

if TYPE_CHECKING:
    import pandas as pd


def frame_columns(points: pd.DataFrame) -> dict[str, np.ndarray]:
    """A prediction grid's columns as numpy arrays (what `normalize_columns` takes)."""
    return {c: points[c].to_numpy() for c in points.columns}


_DEFAULTS = {"seq_in": np.nan, "seq_out": np.nan, "task": "inference", "runtime": "pytorch",
             "gpu_count": 1, "confidence": 0.9, "max_batch": False, "tensor_parallel": 0}


def normalize_columns(points: Mapping[str, np.ndarray], catalog: ProfileCatalog,
                      codes: dict | None = None) -> dict[str, np.ndarray]:
    """A grid's columns (name -> equal-length arrays) with defaults filled, GPU names and precisions
    canonical, impossible values refused (PredictionError naming the column, value and range).
    Numpy only, so one point costs microseconds. codes: a dict that receives, for each text column
    made canonical, (code of each point, canonical value of each code) (see lookup.ColumnCodes)."""
    df = dict(points)
    codes = {} if codes is None else codes
    for col in ("model", "gpu", "precision", "batch_size"):
        if col not in df:
            raise PredictionError(f"prediction grid is missing column '{col}'")
    n = len(df["model"])
    for col, val in _DEFAULTS.items():
        if col not in df:
            if isinstance(val, str):  # already canonical: one code for every point
                df[col], codes[col] = filled(n, val), (np.zeros(n, dtype=np.int64), np.array([val], dtype=object))
            else:
                df[col] = np.full(n, val)
        elif not isinstance(val, (float, str)):
            df[col] = _fillna(df[col], val)
    df["gpu"] = _canonical(df, "gpu", lambda g: catalog.resolve(str(g)), None, codes)
    df["precision"] = _canonical(df, "precision", lambda p: resolve_precision(str(p)), None, codes)
    if "strict_precision" in df:
        # the precision ran exactly as stated: the runtime's defaults (TF32 for "fp32") were turned off
        df["strict_precision"] = _fillna(df["strict_precision"], False).astype(bool)
    if "kv_precision" in df:
        # optional KV-cache format (blank: the activation precision); any spelling of the vocabulary
        df["kv_precision"] = _canonical(df, "kv_precision", _kv_format, "", codes)
    df["task"] = _canonical(df, "task", lambda t: str(t).lower(), "inference", codes)
    bad = sorted(set(codes["task"][1].tolist()) - {"inference", "training"})
    if bad:
        raise PredictionError(f"unknown task {bad[0]!r}; expected inference or training")
    df["runtime"] = _canonical(df, "runtime", lambda r: str(r).strip().lower(), "pytorch", codes)
    for runtime in set(codes["runtime"][1].tolist()):
        limits.check_runtime(runtime)
    for col, least, most in (("batch_size", 1, limits.MAX_BATCH_SIZE), ("gpu_count", 1, limits.MAX_GPU_COUNT),
                             ("tensor_parallel", 0, limits.MAX_GPU_COUNT)):
        df[col] = _whole_numbers(df[col], col, least, most)
    over = df["tensor_parallel"] > df["gpu_count"]
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise PredictionError(f"tensor_parallel {df['tensor_parallel'][i]} is more than gpu_count {df['gpu_count'][i]}")
    for col in ("seq_in", "seq_out"):
        df[col] = _token_counts(df[col], col)
    df["confidence"] = _confidence_levels(df["confidence"])
    return df


def _whole_numbers(values: np.ndarray, col: str, least: int, most: int) -> np.ndarray:
    """Column `col` as int64 (a fresh array), refused with the first bad cell unless every cell is
    a whole number from `least` to `most`. An integer column in range (a grid's usual column) is
    checked by its min and max, without a float copy and four tests per cell."""
    values = np.asarray(values)
    if values.dtype.kind in "iu" and len(values) and least <= values.min() and values.max() <= most:
        return values.astype(np.int64)
    # float64 first: Python ints beyond int64 (batch 1e23) must be refused, not wrapped negative
    vals = _numeric(values)
    bad = np.isnan(vals) | (vals < least) | (vals > most) | (vals != np.floor(vals))
    if bad.any():
        badv = _cell(values[bad][0])
        kind = "a positive integer" if least else "a GPU count (0 = choose automatically)"
        raise PredictionError(f"{col} must be {kind} up to {most:,}, got {limits.show(badv)}")
    return vals.astype(np.int64)


def _confidence_levels(values: np.ndarray) -> np.ndarray:
    """The confidence column as float64, refused unless every level is strictly between 0 and 1
    (min and max: a NaN makes both comparisons false, so it is refused too)."""
    conf = _numeric(values)
    if not (len(conf) == 0 or (0 < conf.min() and conf.max() < 1)):
        raise PredictionError("confidence must be between 0 and 1 (e.g. 0.9)")
    return conf


def _token_counts(values: np.ndarray, col: str) -> np.ndarray:
    """Column `col` as float64 token counts (NaN: the model's default), refused with the first bad
    cell unless every number is from 0 to MAX_SEQ_LEN. Checked by min and max first (a NaN makes
    both comparisons false, so a column with defaults takes the per-cell test)."""
    vals = _numeric(values)
    if len(vals) and 0 <= vals.min() and vals.max() <= limits.MAX_SEQ_LEN:
        return vals
    bad = (vals < 0) | (vals > limits.MAX_SEQ_LEN) | np.isinf(vals)
    if bad.any():
        raise PredictionError(f"{col} must be from 0 to {limits.MAX_SEQ_LEN:,} tokens, "
                              f"got {limits.show(_cell(np.asarray(values)[bad][0]))}")
    return vals


def _canonical(df: dict, name: str, fn, fill, codes: dict) -> np.ndarray:
    """Column `name` mapped by fn once per distinct value (missing cells read as `fill` when it is
    not None); records (codes, canonical values) in `codes`. A column filled with its default is
    canonical already and is returned as it is."""
    if name in codes:
        return df[name]
    values = np.asarray(df[name])
    if len(values) <= 1:  # the single-point path: factorizing costs more than the call
        c, uniques = np.zeros(len(values), dtype=np.int64), values
    else:
        c, uniques = factorize(values)  # grids only: one point never loads pandas
    missing = _isna(np.asarray(uniques)) if fill is not None else np.zeros(len(uniques), dtype=bool)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [fn(fill if m else u) for u, m in zip(uniques, missing.tolist())]
    codes[name] = (c, mapped)
    return mapped[c]


def _cell(value):
    """A cell as the user wrote it: numpy scalars as Python numbers (errors say "got 0", not "np.int64(0)")."""
    return value.item() if isinstance(value, np.generic) else value


def _kv_format(value) -> str:
    """Canonical KV-cache format of a cell ("" = the activation precision)."""
    k = str(value).strip()
    return resolve_kv_precision(k) if k else ""


def _fillna(values: np.ndarray, fill) -> np.ndarray:
    """values with missing cells (None, NaN, NA) replaced by fill; unchanged when none is missing."""
    values = np.asarray(values)
    if values.dtype.kind in "biu":
        return values
    missing = _isna(values)
    if not missing.any():
        return values
    out = values.astype(object)
    out[missing] = fill
    return out


def _isna(values: np.ndarray) -> np.ndarray:
    """`pandas.isna` of an array, without importing pandas for a single prediction: while pandas is
    not loaded no pd.NA or pd.NaT can exist, so None, NaN, NaT and Decimal NaN are every missing cell."""
    pd = sys.modules.get("pandas")
    if pd is not None:
        return pd.isna(values)
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind in "mM":
        return np.isnat(values)
    if values.dtype.kind != "O":
        return np.zeros(values.shape, dtype=bool)
    return np.array([_is_missing(v) for v in values.ravel().tolist()], dtype=bool).reshape(values.shape)


def _is_missing(v) -> bool:
    """One cell is missing: None, a float NaN, NaT or a Decimal NaN."""
    if v is None:
        return True
    if isinstance(v, (float, complex, np.floating, np.complexfloating)):
        return v != v
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(v))
    return isinstance(v, Decimal) and v.is_nan()


def _numeric(col: np.ndarray) -> np.ndarray:
    """A column as float64; non-numbers become NaN, Python ints beyond int64 become inf (not wrapped)."""
    col = np.asarray(col)
    if col.dtype.kind in "iuf":
        return col.astype(float)
    return np.array([_as_float(v) for v in col.tolist()], dtype=float)


def _as_float(v) -> float:
    """A cell as float (NaN when not numeric); huge Python ints become inf instead of overflowing."""
    try:
        return float(v)
    except OverflowError:
        return float("inf")
    except (TypeError, ValueError):
        return float("nan")

def merged_columns(points: pd.DataFrame, cols: Mapping[str, np.ndarray], out: Mapping[str, np.ndarray]) -> dict:
    """The result frame's columns: the input's (normalised ones replaced, in place), then the
    defaults filled in, then the outputs; other input columns pass through unchanged."""
    merged = {c: (cols[c] if c in cols else points[c].to_numpy()) for c in points.columns}
    for c, v in cols.items():
        merged.setdefault(c, v)
    merged.update(out)
    return merged

