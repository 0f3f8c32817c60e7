"""Grid carbon intensity per cloud region and data-centre PUE per provider.

The table (``data/grid_intensity.csv``) is location-based grid intensity transcribed from the Cloud
Carbon Footprint project's published coefficients, each row naming its primary source. Regions the
table lacks (smaller clouds, new regions) fall back, visibly, first to a same-named region of another
provider and then to the world average, so a report never shows carbon without saying where the
figure came from.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import pandas as pd

from phantom_report.pricing.clouds import default_clouds

# Ember, Global Electricity Review 2024: world average intensity of electricity generation in 2023.
WORLD_AVG_KGCO2E_PER_KWH = 0.480
WORLD_AVG_SOURCE = "Ember, Global Electricity Review 2024 (world average 2023, 480 gCO2e/kWh); fallback"

# Data-centre power usage effectiveness: each cloud's own figure and source live in its module
# (pricing/clouds/<name>.py: AWS/GCP/Azure from the Cloud Carbon Footprint constants, PUE_AVG);
# clouds without one get the Uptime Institute Global Data Center Survey 2023 industry average.
PUE_BY_PROVIDER: dict[str, float] = {c.name: c.pue for c in default_clouds() if c.pue is not None}
PUE_DEFAULT = 1.58
PUE_DEFAULT_SOURCE = "Uptime Institute Global Data Center Survey 2023 average"


def _pue_source() -> str:
    """'AWS 1.135, GCP 1.1, Azure 1.185: <their source>; other providers 1.58: <default source>'."""
    by_source: dict[str, list[str]] = {}
    for c in default_clouds():
        if c.pue is not None:
            by_source.setdefault(c.pue_source, []).append(f"{c.title} {c.pue:g}")
    parts = [f"{', '.join(names)}: {source}" for source, names in by_source.items()]
    return "; ".join(parts + [f"other providers {PUE_DEFAULT:g}: {PUE_DEFAULT_SOURCE}"])


PUE_SOURCE = _pue_source()


@dataclass(frozen=True)
class Intensity:
    """A region's grid carbon intensity (kgCO2e/kWh), the place it stands for, its source, and how
    the region was matched (`exact`, `region-name` or the world-average `fallback`)."""

    kgco2e_per_kwh: float
    location: str
    source: str
    matched: str  # exact | region-name | fallback


@lru_cache(maxsize=1)
def intensity_table() -> pd.DataFrame:
    """Columns: provider, region, location, kgco2e_per_kwh, source."""
    text = resources.files("phantom_report.reporter").joinpath("data/grid_intensity.csv").read_text("utf-8")
    rows = [line for line in text.splitlines() if not line.startswith("#")]
    return pd.read_csv(io.StringIO("\n".join(rows)))


def _norm(region: str) -> str:
    return region.lower().replace(" ", "").replace("_", "-")


@lru_cache(maxsize=1)
def _index() -> tuple[dict[tuple[str, str], Any], dict[str, Any]]:
    """The table's first row per (provider, normalised region) and per normalised region: a report
    looks up dozens of regions, and filtering the frame for each one cost ~10 ms apiece."""
    exact: dict[tuple[str, str], Any] = {}
    by_name: dict[str, Any] = {}
    for r in intensity_table().itertuples(index=False):
        key = _norm(r.region)
        exact.setdefault((r.provider, key), r)
        by_name.setdefault(key, r)
    return exact, by_name


def lookup(provider: str, region: str) -> Intensity:
    """The grid intensity of a provider's region: the exact provider/region row, else a row of
    any provider with the same region name, else the world average (``matched`` says which)."""
    exact, by_name = _index()
    key = _norm(region)
    r = exact.get((provider, key))
    if r is not None:
        return Intensity(float(r.kgco2e_per_kwh), r.location, r.source, "exact")
    r = by_name.get(key)
    if r is not None:
        return Intensity(float(r.kgco2e_per_kwh), r.location, f"{r.source} (same region name at {r.provider})", "region-name")
    return Intensity(WORLD_AVG_KGCO2E_PER_KWH, "unknown", WORLD_AVG_SOURCE, "fallback")


def pue(provider: str) -> float:
    """The provider's data-centre power usage effectiveness (``PUE_BY_PROVIDER``; ``PUE_DEFAULT``
    for others), a factor ≥ 1 on GPU energy."""
    return PUE_BY_PROVIDER.get(provider, PUE_DEFAULT)


def region_frame(pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """One row per (provider, region): grid_kgco2e_per_kwh, grid_location, grid_source, grid_match, pue."""
    out = []
    for provider, region in sorted(set(pairs)):
        i = lookup(provider, region)
        out.append({
            "provider": provider, "region": region, "grid_kgco2e_per_kwh": i.kgco2e_per_kwh,
            "grid_location": i.location, "grid_source": i.source, "grid_match": i.matched,
            "pue": pue(provider),
        })
    return pd.DataFrame(out, columns=["provider", "region", "grid_kgco2e_per_kwh", "grid_location",
                                      "grid_source", "grid_match", "pue"])
