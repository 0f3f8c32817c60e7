"""The cloud registry: one module per cloud (`pricing/clouds/<name>.py`, exposing `CLOUD`), listed
once.  The price chain (catalog.py), the snapshot, the sanity rules, the `prices` commands and the
report take the clouds from here instead of keeping their own lists.

The package's clouds are the names of `vocab.PROVIDERS` (the shared word the report spec
validates against), each loaded from the module of that name.  A caller may pass its own
`Clouds` (e.g. `default_clouds().with_cloud(my_cloud)`) to `catalog.get_quotes`,
`snapshot.snapshot_quotes` and `sanity.apply_sanity`: no global list is changed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from phantom_report.errors import PricingError
from phantom_report.pricing.clouds.base import Cloud, GpuRow
from phantom_report.vocab import PROVIDERS

__all__ = ["Cloud", "Clouds", "GpuRow", "default_clouds"]


@dataclass(frozen=True)
class Clouds:
    """An ordered, immutable set of clouds with unique names."""
    clouds: tuple[Cloud, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.clouds]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise PricingError(f"cloud {dup!r} is registered twice")

    @property
    def names(self) -> tuple[str, ...]:
        """Cloud names in registry order."""
        return tuple(c.name for c in self.clouds)

    @property
    def live_names(self) -> tuple[str, ...]:
        """Names of the clouds with a live price API (the others are priced from their snapshot)."""
        return tuple(c.name for c in self.clouds if c.live is not None)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[Cloud]:
        return iter(self.clouds)

    def get(self, name: str) -> Cloud:
        """The cloud called `name`; a PricingError listing the known names otherwise."""
        for c in self.clouds:
            if c.name == name:
                return c
        raise PricingError(f"unknown provider {name!r}; expected one of {', '.join(self.names)}")

    def with_cloud(self, cloud: Cloud) -> "Clouds":
        """A new registry with `cloud` added at the end (this one is unchanged)."""
        return Clouds(self.clouds + (cloud,))


@lru_cache(maxsize=1)  # the package's own modules and data: immutable, safe to memoise
def default_clouds() -> Clouds:
    """The clouds shipped with the package: the module `pricing/clouds/<name>.py` of each name in
    `vocab.PROVIDERS`, in that order."""
    return Clouds(tuple(importlib.import_module(f"{__name__}.{name}").CLOUD for name in PROVIDERS))
