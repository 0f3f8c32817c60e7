"""Sanity rules applied to every quote, whatever its source.

They encode the data-quality findings of the shared price snapshot (data/README.md): missing or
zero prices, spot above or equal to on-demand, a GPU count the instance family cannot have, and
per-GPU prices far from the same GPU's price in the provider's other regions.  A rule either fixes
the quote (drops the bad field) or flags it; each leaves a warning on the quote saying why.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from phantom_report.pricing.clouds import Clouds, default_clouds
from phantom_report.pricing.quote import PriceQuote


@dataclass(frozen=True)
class SanitySettings:
    """Tolerances of the sanity rules (ratios and fractions, unitless)."""
    # Outlier band around the cross-region median of on-demand $/GPU-h for one instance shape:
    # accept median/ratio .. median*ratio.  1.5 keeps ordinary regional spread (AWS, Azure differ
    # by up to ~1.4x between regions) and flags the GCP SKU mix-ups (2-3x).
    median_band_ratio: float = 1.5
    min_regions_for_median: int = 3
    # Spot below this fraction of on-demand is not a market price (providers floor near 10%).
    min_spot_fraction: float = 0.05
    relative_tolerance: float = 1e-6


def expected_gpu_count(provider: str, instance_type: str, clouds: Clouds | None = None) -> int | None:
    """GPUs the instance type really has, from the cloud's GPU table; None when the cloud's table
    does not say (snapshot-only clouds keyed by accelerator name, unknown types or clouds)."""
    reg = clouds or default_clouds()
    return reg.get(provider).expected_gpu_count(instance_type) if provider in reg else None


def _check_one(q: PriceQuote, s: SanitySettings, clouds: Clouds) -> PriceQuote | None:
    od, spot = q.on_demand_usd_per_hour, q.spot_usd_per_hour
    if od is not None and not od > 0:
        q, od = q.with_changes(on_demand_usd_per_hour=None).with_warning(f"on-demand price {od} is not > 0; dropped"), None
    if spot is not None and not spot > 0:
        q, spot = q.with_changes(spot_usd_per_hour=None).with_warning(f"spot price {spot} is not > 0; dropped"), None
    bad_terms = {t: v for t, v in q.reserved_usd_per_hour.items() if not v > 0}
    if bad_terms:
        kept = {t: v for t, v in q.reserved_usd_per_hour.items() if t not in bad_terms}
        q = q.with_changes(reserved_usd_per_hour=kept).with_warning(f"reserved price not > 0 for {sorted(bad_terms)}; dropped")
    if od is None and spot is not None:
        q = q.with_warning("no on-demand price in the source (e.g. Capacity-Block-only); spot only")
    if od is not None and spot is not None:
        if spot > od * (1 + s.relative_tolerance):
            q = q.with_changes(spot_usd_per_hour=None).with_warning(
                f"spot {spot:.4f} > on-demand {od:.4f} $/h; spot dropped")
        elif abs(spot - od) <= od * s.relative_tolerance:
            q = q.with_changes(spot_usd_per_hour=None).with_warning(
                "spot == on-demand (no spot meter, or capacity-constrained); spot dropped")
        elif spot < od * s.min_spot_fraction:
            q = q.with_changes(spot_usd_per_hour=None).with_warning(
                f"spot {spot:.6f} is below {s.min_spot_fraction:.0%} of on-demand; not a market price, dropped")
    expected = expected_gpu_count(q.provider, q.instance_type, clouds)
    if expected is not None and expected != q.gpu_count:
        q = q.with_changes(gpu_count=expected).with_warning(
            f"source says {q.gpu_count} GPUs but {q.instance_type} has {expected}; using {expected}")
    if q.on_demand_usd_per_hour is None and q.spot_usd_per_hour is None and not q.reserved_usd_per_hour:
        return None
    return q


def _flag_outliers(quotes: list[PriceQuote], s: SanitySettings) -> list[PriceQuote]:
    # Compared within one instance shape (provider + instance type, hence one GPU and count):
    # across shapes the per-GPU price legitimately differs (a 1-GPU host with 64 vCPUs costs more
    # per GPU than a 4-GPU one), across regions of one shape it should not differ by much.
    by_shape: dict[tuple[str, str], list[float]] = defaultdict(list)
    for q in quotes:
        if q.on_demand_usd_per_gpu_hour is not None:
            by_shape[(q.provider, q.instance_type)].append(q.on_demand_usd_per_gpu_hour)
    medians = {k: statistics.median(v) for k, v in by_shape.items() if len(v) >= s.min_regions_for_median}
    spread = {k: max(v) / min(v) for k, v in by_shape.items() if len(v) >= s.min_regions_for_median}
    out = []
    for q in quotes:
        key = (q.provider, q.instance_type)
        per_gpu = q.on_demand_usd_per_gpu_hour
        # The median cannot say which side of a bimodal catalog is right (GCP's H100 SKUs: 4.2 vs
        # 9.8-12.7 $/GPU-h), so every quote of a shape whose price varies across regions by more
        # than the band on both sides says so, not only the ones beyond the median.
        if per_gpu is not None and spread.get(key, 1.0) > s.median_band_ratio ** 2:
            q = q.with_warning(f"{q.instance_type} on-demand prices differ {spread[key]:.1f}x across regions; "
                               "catalog SKUs may be mixed up")
        med = medians.get(key)
        if med and per_gpu is not None and not (med / s.median_band_ratio <= per_gpu <= med * s.median_band_ratio):
            q = q.with_warning(
                f"OUTLIER: {per_gpu:.4f} $/GPU-h is outside {1 / s.median_band_ratio:.2f}-{s.median_band_ratio:.2f}x "
                f"the cross-region median {med:.4f} of {q.provider} {q.instance_type} ({q.gpu})")
        out.append(q)
    return out


def apply_sanity(quotes: list[PriceQuote] | tuple[PriceQuote, ...],
                 settings: SanitySettings = SanitySettings(),
                 clouds: Clouds | None = None) -> tuple[list[PriceQuote], list[str]]:
    """Checked quotes plus set-level warnings for quotes dropped entirely; GPU counts are held to
    the tables of `clouds` (default: the registered clouds)."""
    reg = clouds or default_clouds()
    kept: list[PriceQuote] = []
    dropped: list[str] = []
    for q in quotes:
        checked = _check_one(q, settings, reg)
        if checked is None:
            dropped.append(f"{q.provider} {q.region} {q.instance_type}: no usable price; dropped ({'; '.join(q.warnings) or 'all prices missing or <= 0'})")
        else:
            kept.append(checked)
    return _flag_outliers(kept, settings), dropped


def is_flagged(q: PriceQuote) -> bool:
    """True if a sanity rule flagged the quote's on-demand $/GPU-h as a cross-region OUTLIER."""
    return any(w.startswith("OUTLIER") for w in q.warnings)
