"""Same outputs before and after a restructuring: every example's report.json, computed on a fixed
clock and the spec's seed, offline (embedded price snapshot), equals the committed golden copy.

A change that moves code around must leave these files alone. A change that means to alter the
numbers (a refit, a new profile, a price snapshot, a new report field) regenerates them and the
diff is reviewed with the change:

    PHANTOM_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_same_outputs.py

Compared: the whole payload except `timings_s` (wall-clock); strings, keys, order of lists and
integers exactly, floats to 1e-9 relative (the same numbers computed on a CPU with other SIMD
paths may differ in the last bits; anything a reader sees differs far more)."""

from __future__ import annotations

import gzip
import json
import math
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
FIXED_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
REL_TOL = 1e-9


def _payload(spec_path: Path, out_dir: Path, engine) -> dict:
    from phantom_report.reporter.delivery.specio import load_run_spec
    from phantom_report.reporter.render import json_bytes
    from phantom_report.reporter.run import run_report

    spec = load_run_spec(spec_path)  # a schedule spec (budget-alerts) runs as well
    result = run_report(spec, out_dir=out_dir, formats=("json",), offline=True, engine=engine, now=FIXED_NOW)
    payload = json.loads(json_bytes(result.payload))  # exactly what report.json holds
    payload.pop("timings_s", None)
    return payload


def _differences(got, want, path: str = "$") -> list[str]:
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}: key {k!r} {'added' if k in got else 'missing'}" for k in sorted(set(got) ^ set(want))]
        if list(k for k in got if k in want) != list(k for k in want if k in got):
            out.append(f"{path}: key order changed")
        for k in want:
            if k in got:
                out += _differences(got[k], want[k], f"{path}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items, golden has {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in _differences(g, w, f"{path}[{i}]")]
    if isinstance(want, float) and isinstance(got, float):
        if math.isclose(got, want, rel_tol=REL_TOL, abs_tol=0.0) or got == want:
            return []
        return [f"{path}: {got!r} != golden {want!r}"]
    if type(got) is not type(want) or got != want:
        return [f"{path}: {got!r} != golden {want!r}"]
    return []


def _relative_spec_file(payload: dict) -> None:
    """report.spec_file is an absolute path: compare it from examples/ on, so the golden copy holds
    in any checkout (it was written in another one)."""
    path = payload.get("report", {}).get("spec_file")
    if isinstance(path, str) and "/examples/" in path:
        payload["report"]["spec_file"] = "examples/" + path.rsplit("/examples/", 1)[1]


@pytest.mark.parametrize("spec_path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_report_json_matches_golden(spec_path, tmp_path, engine):
    got = _payload(spec_path, tmp_path, engine)
    golden = GOLDEN / f"{spec_path.stem}.report.json.gz"
    if os.environ.get("PHANTOM_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        # mtime=0: the compressed file changes only when the report does
        golden.write_bytes(gzip.compress(json.dumps(got, indent=1, ensure_ascii=False).encode("utf-8"), mtime=0))
    assert golden.is_file(), f"no golden copy for {spec_path.name}: run with PHANTOM_UPDATE_GOLDEN=1"
    want = json.loads(gzip.decompress(golden.read_bytes()))
    _relative_spec_file(got)
    _relative_spec_file(want)
    diffs = _differences(got, want)
    assert not diffs, f"{spec_path.name}: {len(diffs)} differences from the golden report.json, first: " + "; ".join(diffs[:8])


def test_comparison_sees_a_changed_number():
    """The comparison is not vacuous: a changed figure, a dropped key, a reordered list fail."""
    want = {"a": [1.0, {"b": "x"}], "c": 2}
    assert _differences({"a": [1.0 + 1e-6, {"b": "x"}], "c": 2}, want)
    assert _differences({"a": [1.0, {}], "c": 2}, want)
    assert _differences({"a": [{"b": "x"}, 1.0], "c": 2}, want)
    assert _differences({"a": [1.0, {"b": "x"}], "c": 2.0}, want)  # int became float
    assert not _differences({"a": [1.0 + 1e-13, {"b": "x"}], "c": 2}, want)
