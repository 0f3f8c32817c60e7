"""The shared layer beside phantom_report/errors.py: the one atomic writer, the one JSON cleaner
and the vocabularies every area imports."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import os
import stat
import types
from pathlib import Path

import numpy as np
import pytest

from phantom_report import vocab
from phantom_report.atomic import write_atomic
from phantom_report.jsonsafe import to_jsonable


def test_write_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "deep" / "dir" / "out.json"
    assert write_atomic(target, "first") == target
    write_atomic(target, b"\x00second")
    assert target.read_bytes() == b"\x00second"
    assert [p.name for p in target.parent.iterdir()] == ["out.json"]


def test_write_atomic_modes(tmp_path):
    old = os.umask(0o022)
    try:
        public = write_atomic(tmp_path / "report.html", "x")
        private = write_atomic(tmp_path / "cache.json", "x", private=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(public.stat().st_mode) == 0o644  # like open(path, "w") under the umask
    assert stat.S_IMODE(private.stat().st_mode) == 0o600  # like tempfile.mkstemp


def test_write_atomic_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "params.json"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["params.json"]


def test_to_jsonable_nan_inf_numpy_recursive():
    value = {"a": [np.float64("nan"), float("inf"), -np.inf, np.int64(3), (1.5, np.bool_(True))], 2: {"x": None}}
    out = to_jsonable(value)
    assert out == {"a": [None, None, None, 3, [1.5, True]], "2": {"x": None}}
    assert type(out["a"][3]) is int and type(out["a"][4][1]) is bool
    json.dumps(out, allow_nan=False)  # strict JSON


def test_to_jsonable_subclasses_clean_like_the_builtin_types():
    # the exact dict/list/str/float fast path and the Mapping/sequence path give the same JSON
    class Key(str):
        pass

    plain = {"k": [1.0, None, 2, True, "s"], "3": {"x": None}}
    dressed = collections.OrderedDict([(Key("k"), (np.float64(1.0), float("nan"), np.int32(2), np.bool_(True), Key("s"))),
                                       (3, types.MappingProxyType({"x": -np.inf}))])
    assert to_jsonable(plain) == plain
    out = to_jsonable(dressed)
    assert out == plain and json.dumps(out, allow_nan=False) == json.dumps(plain)
    assert all(type(k) is str for k in out) and type(out["k"][4]) is Key  # values are kept, keys become str


def test_to_jsonable_default_hook_converts_other_types():
    @dataclasses.dataclass(frozen=True)
    class Row:
        when: dt.date
        path: Path
        ratio: float

    out = to_jsonable([Row(dt.date(2026, 1, 2), Path("/x"), float("nan"))],
                      lambda v: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else str(v))
    assert out == [{"when": "2026-01-02", "path": "/x", "ratio": None}]
    assert to_jsonable(Path("/x")) == Path("/x")  # without a hook other types pass through


def test_history_and_api_use_the_one_cleaner():
    from phantom_report.reporter.delivery import api, history

    assert api.clean is to_jsonable
    assert history.to_jsonable({"t": dt.datetime(2026, 1, 1), "s": {1}, "v": np.float32("nan")}) == \
        {"t": "2026-01-01T00:00:00", "s": [1], "v": None}


def test_vocabularies_are_imported_not_repeated():
    from phantom_report.engine.precision import FORMATS as NUMERIC_FORMATS
    from phantom_report.engine.precision import NATIVE_PRECISIONS
    from phantom_report.engine.profiles import PEAK_KEYS
    from phantom_report.pricing.clouds import default_clouds
    from phantom_report.reporter import spec
    from phantom_report.reporter.delivery.settings import DeliverySettings

    # the registry loads one module per shared cloud name; which have a live API is the modules' word
    assert default_clouds().names == vocab.PROVIDERS
    assert set(default_clouds().live_names) == {"aws", "gcp", "azure"}
    assert spec.Report().formats == list(vocab.REPORT_FORMATS)
    assert DeliverySettings().formats == vocab.REPORT_FORMATS
    assert vocab.PRICE_OPTIONS == ("on-demand", "spot", "reserved-1y", "reserved-3y")
    assert NATIVE_PRECISIONS == ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
    # plus the executed-only accumulate variants (engine/executed.py ACCUMULATE_VARIANTS)
    assert PEAK_KEYS == NATIVE_PRECISIONS + ("fp16_acc16",)
    assert all(NUMERIC_FORMATS[p].compute == p for p in NATIVE_PRECISIONS)


@pytest.mark.parametrize("field, bad", [("providers", ["oracle"]), ("reserved", ["5y"])])
def test_spec_literals_come_from_the_vocabulary(field, bad):
    from pydantic import ValidationError

    from phantom_report.reporter import spec

    with pytest.raises(ValidationError) as err:
        spec.Pricing(**{field: bad})
    expected = vocab.PROVIDERS if field == "providers" else vocab.RESERVED_TERMS
    assert all(repr(v) in str(err.value) for v in expected)
