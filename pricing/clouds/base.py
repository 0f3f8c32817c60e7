"""What a cloud is to pricing: the `Cloud` description every cloud module exposes as `CLOUD`, and
the reader of the instance-to-GPU tables (CSV data with a source on every row).

A cloud module (`pricing/clouds/<name>.py`) owns everything that differs between clouds: its
catalog-name -> GPU table (`pricing/data/<name>_*.csv`), its snapshot reader, its live fetcher
factory (None for a snapshot-only cloud), and the facts the reporter shows per cloud (what its
reserved price is, its data-centre PUE).  Everything else (the price chain, sanity rules, the
report) is written once and takes the list of clouds from the registry (`pricing/clouds/__init__.py`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping

from phantom_report.errors import PricingError
from phantom_report.pricing.gpu_names import CANONICAL_GPUS
from phantom_report.pricing.quote import PROVIDER_NAME

if TYPE_CHECKING:
    from phantom_report.pricing.providers.base import LiveProvider
    from phantom_report.pricing.quote import PriceQuote
    from phantom_report.pricing.settings import FetchSettings
    from phantom_report.pricing.snapshot import SnapshotFile

# Bounds for a table read from a file a user may hand us (a cloud added outside the package).
MAX_TABLE_BYTES = 1_000_000
MAX_TABLE_ROWS = 10_000


@dataclass(frozen=True)
class GpuRow:
    """One row of a cloud's GPU table: the canonical GPU a catalog name stands for, the number of
    GPUs (None where the table is keyed by accelerator name, not by instance type), the row's
    source (URL or repo@commit:path) and every other column verbatim in `extra`."""
    gpu: str
    gpu_count: int | None
    source: str
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)


def parse_gpu_table(text: str, origin: str, key: str) -> dict[str, GpuRow]:
    """Rows of a GPU table CSV keyed by its `key` column ('instance_type' or 'accelerator'), in file
    order. Required columns: `key`, gpu, source; optional gpu_count.  A missing column, an empty
    source, a GPU that is not a canonical name, a bad count or a repeated key is a PricingError
    naming `origin`, the line and the column."""
    if len(text) > MAX_TABLE_BYTES:
        raise PricingError(f"{origin}: larger than {MAX_TABLE_BYTES} bytes")
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in (key, "gpu", "source") if c not in (reader.fieldnames or ())]
    if missing:
        raise PricingError(f"{origin}: missing column {missing[0]!r} (expected {key}, gpu, [gpu_count,] source)")
    out: dict[str, GpuRow] = {}
    for line, r in enumerate(reader, start=2):
        if line - 1 > MAX_TABLE_ROWS:
            raise PricingError(f"{origin}: more than {MAX_TABLE_ROWS} rows")
        name, gpu, source = (r.get(key) or "").strip(), (r.get("gpu") or "").strip(), (r.get("source") or "").strip()
        where = f"{origin}, line {line}"
        if not name or name in out:
            raise PricingError(f"{where}: {key} {name!r} is {'empty' if not name else 'repeated'}")
        if gpu not in CANONICAL_GPUS:
            raise PricingError(f"{where}: gpu {gpu!r} is not a canonical GPU name (docs/INTERFACES.md)")
        if not source:
            raise PricingError(f"{where}: source is empty; every row names where its mapping comes from")
        count_text = (r.get("gpu_count") or "").strip()
        if count_text and not (count_text.isdigit() and int(count_text) >= 1):
            raise PricingError(f"{where}: gpu_count {count_text!r} is not a whole number >= 1")
        extra = {k: v for k, v in r.items() if k not in (key, "gpu", "gpu_count", "source") and k is not None}
        out[name] = GpuRow(gpu, int(count_text) if count_text else None, source, extra)
    return out


def package_gpu_table(file_name: str, key: str) -> dict[str, GpuRow]:
    """A GPU table shipped in pricing/data/ (see `parse_gpu_table`)."""
    text = resources.files("phantom_report.pricing").joinpath("data", file_name).read_text(encoding="utf-8")
    return parse_gpu_table(text, f"pricing/data/{file_name}", key)


def file_gpu_table(path: Path, key: str) -> dict[str, GpuRow]:
    """A GPU table from a file outside the package (a cloud added by a user or a test)."""
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise PricingError(f"{path}: larger than {MAX_TABLE_BYTES} bytes")
    return parse_gpu_table(path.read_text(encoding="utf-8"), str(path), key)


@dataclass(frozen=True)
class Cloud:
    """One cloud as pricing and the report see it.

    `gpu_table` maps the catalog's names to GPUs; `table_key` says which names: 'instance_type'
    (the table also gives each type's GPU count, which the sanity rules enforce) or 'accelerator'
    (the catalog's accelerator column; counts come from the catalog rows).  `read_snapshot` yields
    the raw snapshot quotes (before sanity rules) and `snapshot_as_of` the file whose stated date
    labels them.  `live` builds the live price fetcher from the fetch settings (None: snapshot
    only).  `commitment_kind` names what its reserved price is; `pue` is its data-centre power
    usage effectiveness (None: the report's industry default) with `pue_source`."""
    name: str
    title: str
    gpu_table: Mapping[str, GpuRow] = field(hash=False)
    table_key: str
    read_snapshot: Callable[[], Iterable["PriceQuote"]] = field(hash=False)
    snapshot_as_of: Callable[[], "SnapshotFile"] = field(hash=False)
    live: Callable[["FetchSettings"], "LiveProvider"] | None = field(default=None, hash=False)
    commitment_kind: str | None = None
    pue: float | None = None
    pue_source: str = ""

    def __post_init__(self) -> None:
        if not PROVIDER_NAME.fullmatch(self.name):
            raise PricingError(f"cloud name {self.name!r}: expected a lower-case letter, then letters, digits or '-'")
        if self.table_key not in ("instance_type", "accelerator"):
            raise PricingError(f"cloud {self.name}: table_key {self.table_key!r}; expected 'instance_type' or 'accelerator'")

    def expected_gpu_count(self, instance_type: str) -> int | None:
        """GPUs an instance type really has (the table's count), or None when the table does not say."""
        if self.table_key != "instance_type":
            return None
        row = self.gpu_table.get(instance_type)
        return row.gpu_count if row else None

