"""The predictor reads a GPU's matmul width and its power-limit slowdown at the clock its peaks are quoted at."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from phantom_report.engine.api import Engine

PROFILES_DIR = Path(__file__).resolve().parents[1] / "profiles"


def _h100_variant(tmp_path: Path, name: str, peak_clock_mhz: float) -> None:
    """The built-in H100-SXM under another name, with its tensor peaks quoted at `peak_clock_mhz`."""
    text = (PROFILES_DIR / "h100-sxm.toml").read_text(encoding="utf-8")
    text = text.replace('name = "H100-SXM"', f'name = "{name}"').replace(
        "peak_clock_mhz = 1830\n", f"peak_clock_mhz = {peak_clock_mhz}\n")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("aliases"))
    assert tomllib.loads(text)["peak_clock_mhz"] == peak_clock_mhz
    (tmp_path / f"{name.lower()}.toml").write_text(text + "\n", encoding="utf-8")


def test_power_limit_is_measured_from_the_peak_clock(tmp_path):
    # same peaks and base clock (1590 MHz): quoted at 1830 MHz the part loses (1590/1830)^b under
    # load, quoted at the 1980 MHz boost it would lose (1590/1980)^b
    _h100_variant(tmp_path, "H100-At-1830", 1830)
    _h100_variant(tmp_path, "H100-At-1980", 1980)
    eng = Engine.load(profiles_dir=str(tmp_path))
    params = replace(eng.params, base_clock_exponent=0.5, matmul_width_exponent=0.0)
    pts = pd.DataFrame({"model": ["resnet-50"] * 2, "gpu": ["H100-At-1830", "H100-At-1980"],
                        "precision": ["fp16"] * 2, "batch_size": [256] * 2})
    lat = eng.predict_grid(pts, params=params).latency_ms.to_numpy()
    assert lat[0] < lat[1]
    assert lat[1] / lat[0] <= (1830 / 1590 * 1590 / 1980) ** -0.5 + 1e-9


def _variant(tmp_path: Path, builtin: str, name: str, old: str, new: str) -> None:
    """A built-in profile under another name with one line replaced (aliases dropped: they would clash)."""
    text = (PROFILES_DIR / f"{builtin.lower()}.toml").read_text(encoding="utf-8")
    assert old in text
    text = text.replace(f'name = "{builtin}"', f'name = "{name}"').replace(old, new)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("aliases"))
    (tmp_path / f"{name.lower()}.toml").write_text(text + "\n", encoding="utf-8")


def test_matmul_width_uses_the_peak_clock(tmp_path):
    # the RTX 4090's 165.2 TFLOPS quoted at 2520 MHz is 512 FLOP/clk/SM; had it been quoted at its
    # 2235 MHz base clock the units would be 577 wide, nearer the 2048 reference, so they would reach
    # less of their peak: the predictor must divide by the peak clock, not the boost clock
    _variant(tmp_path, "RTX-4090", "At-Boost", "peak_clock_mhz = 2520\n", "peak_clock_mhz = 2520\n")
    _variant(tmp_path, "RTX-4090", "At-Base", "peak_clock_mhz = 2520\n", "peak_clock_mhz = 2235\n")
    eng = Engine.load(profiles_dir=str(tmp_path))
    params = replace(eng.params, base_clock_exponent=0.0, matmul_width_exponent=0.5,
                     compute_eff={a: {**v, "matmul": 0.3} for a, v in eng.params.compute_eff.items()})
    pts = pd.DataFrame({"model": ["resnet-50"] * 2, "gpu": ["At-Boost", "At-Base"],
                        "precision": ["fp16"] * 2, "batch_size": [256] * 2})
    lat = eng.predict_grid(pts, params=params).latency_ms.to_numpy()
    assert lat[1] > lat[0] * 1.01
