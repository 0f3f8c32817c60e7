"""The embedded price snapshot (package data in data/): the shared pieces every cloud's snapshot
reader uses (the files' stated dates, CSV rows, provenance text), and `snapshot_quotes` /
`snapshot_as_of` over the registered clouds.

Each cloud's reader lives in its module (`pricing/clouds/<name>.py`) and turns catalog rows into
PriceQuote with source='snapshot', the file's stated date as fetched_at and provenance in
source_detail.  Rows whose GPU has no canonical name are skipped there, not guessed.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Iterator, Mapping

from phantom_report.pricing.clouds import Clouds, default_clouds
from phantom_report.pricing.quote import PriceQuote


@dataclass(frozen=True)
class SnapshotFile:
    """One snapshot file: its name in data/, the upstream file@commit it was copied from, the date
    its prices are treated as fetched (UTC) and why that date (data/README.md)."""
    name: str
    upstream: str
    as_of: datetime
    as_of_basis: str


def read_text(name: str) -> str:
    """Text of a file in pricing/data/ (package data)."""
    return resources.files("phantom_report.pricing").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)  # immutable package data: safe to memoise
def snapshot_files() -> dict[str, SnapshotFile]:
    """Every embedded snapshot file by name, from data/snapshot_meta.json."""
    meta = json.loads(read_text("snapshot_meta.json"))["files"]
    return {n: SnapshotFile(n, m["upstream"], datetime.fromisoformat(m["as_of"]), m["as_of_basis"]) for n, m in meta.items()}


def snapshot_file(name: str) -> SnapshotFile:
    """The embedded snapshot file `name` (e.g. 'snapshot_aws.csv')."""
    return snapshot_files()[name]


def rows(name: str) -> Iterator[dict[str, str]]:
    """The rows of an embedded snapshot CSV as dicts of the upstream column names."""
    yield from csv.DictReader(read_text(name).splitlines())


def num(v: str | None) -> float | None:
    """A CSV cell as a float; None for an empty cell."""
    return float(v) if v not in (None, "") else None


def detail(f: SnapshotFile, row_source: str | None) -> str:
    """The source_detail of a snapshot quote: file, upstream (the row's own source when it has one)
    and the stated date with its basis."""
    return f"snapshot {f.name} <- {row_source or f.upstream}; as of {f.as_of.date()} ({f.as_of_basis})"


def catalog_quote(f: SnapshotFile, r: Mapping[str, str], provider: str, gpu: str, *, region: str | None = None,
                  spot_column: str = "SpotPrice", warnings: tuple[str, ...] = ()) -> PriceQuote:
    """A quote from one row of a SkyPilot-style catalog CSV (InstanceType, AcceleratorCount, vCPUs,
    MemoryGiB, Price and a spot column in USD per hour, Region, Source): the columns every cloud's
    snapshot shares, so each cloud module says only which GPU a row is and what differs."""
    return PriceQuote(
        provider=provider, region=region or r["Region"], zone=None, instance_type=r["InstanceType"], gpu=gpu,
        gpu_count=int(float(r["AcceleratorCount"])), vcpus=num(r["vCPUs"]), memory_gib=num(r["MemoryGiB"]),
        on_demand_usd_per_hour=num(r["Price"]), spot_usd_per_hour=num(r[spot_column]),
        fetched_at=f.as_of, source="snapshot", source_detail=detail(f, r.get("Source")), warnings=warnings)


def snapshot_quotes(providers: tuple[str, ...] | None = None, clouds: Clouds | None = None) -> list[PriceQuote]:
    """Raw snapshot quotes (before sanity rules) for the given providers (default: every
    registered cloud), in registry order."""
    reg = clouds or default_clouds()
    out: list[PriceQuote] = []
    for p in providers or reg.names:
        out.extend(reg.get(p).read_snapshot())
    return out


def snapshot_as_of(provider: str, clouds: Clouds | None = None) -> SnapshotFile:
    """The snapshot file whose stated date labels the provider's snapshot prices."""
    return (clouds or default_clouds()).get(provider).snapshot_as_of()
