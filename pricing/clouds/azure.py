"""Azure: GPU VM sizes (pricing/data/azure_instances.csv), the embedded snapshot reader, the live
fetcher (Retail Prices API, providers/azure_retail.py) and the report's Azure facts.

Fractional-GPU sizes (NV*ads_A10_v5 below 36 vCPUs) and GPUs without a profile (K80, M60, MI25)
are deliberately absent from the table: their rows are skipped, not guessed."""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING

from phantom_report.pricing.clouds.base import Cloud, package_gpu_table
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.snapshot import catalog_quote, rows, snapshot_file

if TYPE_CHECKING:
    from phantom_report.pricing.providers.azure_retail import AzureRetailProvider
    from phantom_report.pricing.settings import FetchSettings

SNAPSHOT = "snapshot_azure.csv"
# exact VM sizes (the Retail API's armSkuName) -> GPU and the size's real GPU count
GPU_TABLE = package_gpu_table("azure_instances.csv", "instance_type")


@lru_cache(maxsize=1)  # immutable package data
def read_snapshot() -> tuple[PriceQuote, ...]:
    """Azure rows of the embedded snapshot; the GPU count is kept verbatim (sanity checks it)."""
    f = snapshot_file(SNAPSHOT)
    out = []
    for r in rows(f.name):
        row = GPU_TABLE.get(r["InstanceType"])
        if row is None:
            continue
        out.append(catalog_quote(f, r, "azure", row.gpu))
    return tuple(out)


def live(settings: "FetchSettings") -> "AzureRetailProvider":
    """The live Azure fetcher (the Retail Prices API needs no credentials)."""
    from phantom_report.pricing.providers.azure_retail import AzureRetailProvider
    return AzureRetailProvider(settings=settings)


CLOUD = Cloud(
    name="azure", title="Azure", gpu_table=GPU_TABLE, table_key="instance_type",
    read_snapshot=read_snapshot, snapshot_as_of=partial(snapshot_file, SNAPSHOT), live=live,
    commitment_kind="Azure Reservation",
    pue=1.185, pue_source="Cloud Carbon Footprint cloud constants (PUE_AVG)",
)
