"""Lambda (snapshot only): accelerator names (pricing/data/lambda_gpus.csv) and the embedded
snapshot reader.  The catalog lists every type in every region: one quote per listed region, with
a warning that it is a catalog listing, not live availability."""

from __future__ import annotations

from functools import lru_cache, partial

from phantom_report.pricing.clouds.base import Cloud, package_gpu_table
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.snapshot import catalog_quote, rows, snapshot_file

SNAPSHOT = "snapshot_lambda.csv"
GPU_TABLE = package_gpu_table("lambda_gpus.csv", "accelerator")


@lru_cache(maxsize=1)  # immutable package data
def read_snapshot() -> tuple[PriceQuote, ...]:
    """Lambda rows of the embedded snapshot, one quote per listed region."""
    f = snapshot_file(SNAPSHOT)
    out = []
    for r in rows(f.name):
        row = GPU_TABLE.get(r["AcceleratorName"])
        if row is None:
            continue
        for region in r["Regions"].split(";"):
            out.append(catalog_quote(f, r, "lambda", row.gpu, region=region,
                                     warnings=("catalog lists every type in every region; not live availability",)))
    return tuple(out)


CLOUD = Cloud(name="lambda", title="Lambda", gpu_table=GPU_TABLE, table_key="accelerator",
              read_snapshot=read_snapshot, snapshot_as_of=partial(snapshot_file, SNAPSHOT))
