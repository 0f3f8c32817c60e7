"""RunPod (snapshot only): accelerator names (pricing/data/runpod_gpus.csv) and the embedded
snapshot reader.  Prices are the same in every data centre: one quote in region 'global'."""

from __future__ import annotations

from functools import lru_cache, partial

from phantom_report.pricing.clouds.base import Cloud, package_gpu_table
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.snapshot import catalog_quote, rows, snapshot_file

SNAPSHOT = "snapshot_runpod.csv"
GPU_TABLE = package_gpu_table("runpod_gpus.csv", "accelerator")


@lru_cache(maxsize=1)  # immutable package data
def read_snapshot() -> tuple[PriceQuote, ...]:
    """RunPod rows of the embedded snapshot."""
    f = snapshot_file(SNAPSHOT)
    out = []
    for r in rows(f.name):
        row = GPU_TABLE.get(r["AcceleratorName"])
        if row is None:
            continue
        out.append(catalog_quote(f, r, "runpod", row.gpu, region="global"))
    return tuple(out)


CLOUD = Cloud(name="runpod", title="RunPod", gpu_table=GPU_TABLE, table_key="accelerator",
              read_snapshot=read_snapshot, snapshot_as_of=partial(snapshot_file, SNAPSHOT))
