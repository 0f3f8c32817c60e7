"""The words every area shares: report formats, listing formats, clouds and pricing options.

Defined once here (this module imports nothing from the areas) and imported by the spec, the
CLIs, the pricing catalog and the service. Numeric precisions are data-rich (bytes, compute type,
sources) and live in ``engine/precision.py`` (``PRECISIONS``, ``NATIVE_PRECISIONS``).
"""

from __future__ import annotations

# Files a report run writes (report.<format>); reporter/render.py renders each.
REPORT_FORMATS: tuple[str, ...] = ("html", "pdf", "md", "json", "csv")
# What a listing command prints on stdout (`gpus`, `models`, `prices list`, ...).
LISTING_FORMATS: tuple[str, ...] = ("table", "json", "csv")
# `calibrate validate` prints a listing or writes a validation report file.
VALIDATION_FORMATS: tuple[str, ...] = LISTING_FORMATS + ("html", "pdf")

# Clouds with prices: each name is one module pricing/clouds/<name>.py (its GPU table, snapshot
# reader, live fetcher if it has a price API, report facts), loaded in this order by the registry.
PROVIDERS: tuple[str, ...] = ("aws", "gcp", "azure", "lambda", "runpod")

# Commitment terms a cloud prices, and the pricing options a report row carries.
RESERVED_TERMS: tuple[str, ...] = ("1y", "3y")
PRICE_OPTIONS: tuple[str, ...] = ("on-demand", "spot") + tuple(f"reserved-{t}" for t in RESERVED_TERMS)
