"""AWS: EC2 GPU instance types (pricing/data/aws_instances.csv), the embedded snapshot reader, the
live fetcher (Price List API + EC2 spot history, providers/aws.py) and the report's AWS facts."""

from __future__ import annotations

from functools import lru_cache, partial
from typing import TYPE_CHECKING

from phantom_report.errors import PricingError
from phantom_report.pricing.clouds.base import Cloud, package_gpu_table
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.snapshot import catalog_quote, rows, snapshot_file

if TYPE_CHECKING:
    from phantom_report.pricing.providers.aws import AwsProvider
    from phantom_report.pricing.settings import FetchSettings

SNAPSHOT = "snapshot_aws.csv"
GPU_TABLE = package_gpu_table("aws_instances.csv", "instance_type")
# GPUs per instance type (public instance specs); the sanity rules hold catalog counts to it.
GPU_COUNT: dict[str, int] = {t: r.gpu_count for t, r in GPU_TABLE.items() if r.gpu_count is not None}


def _family_gpu() -> dict[str, str]:
    """GPU model by instance family ('g5' -> A10G): the Price List API reports a GPU count but no
    model, so the family decides; every type of a family in the table must name the same GPU."""
    out: dict[str, str] = {}
    for itype, row in GPU_TABLE.items():
        family = itype.split(".", 1)[0]
        if out.setdefault(family, row.gpu) != row.gpu:
            raise PricingError(f"pricing/data/aws_instances.csv: {itype} says {row.gpu}, family {family} says {out[family]}")
    return out


FAMILY_GPU: dict[str, str] = _family_gpu()


def instance_gpu(instance_type: str) -> str | None:
    """Canonical GPU of an EC2 instance type by its family, or None for a family not in the table."""
    return FAMILY_GPU.get(instance_type.split(".", 1)[0])


@lru_cache(maxsize=1)  # immutable package data
def read_snapshot() -> tuple[PriceQuote, ...]:
    """AWS rows of the embedded snapshot; spot = the cheapest AZ's price, as the live provider reports it."""
    f = snapshot_file(SNAPSHOT)
    out = []
    for r in rows(f.name):
        gpu = instance_gpu(r["InstanceType"])
        if gpu is None:
            continue
        out.append(catalog_quote(f, r, "aws", gpu, spot_column="SpotPriceMin",
                                 warnings=("AZ rows incomplete in snapshot",) if r.get("PartialRegion") == "True" else ()))
    return tuple(out)


def live(settings: "FetchSettings") -> "AwsProvider":
    """The live AWS fetcher with the default credential chain (boto3 is imported only here)."""
    from phantom_report.pricing.providers.aws import AwsProvider
    return AwsProvider(settings=settings)


CLOUD = Cloud(
    name="aws", title="AWS", gpu_table=GPU_TABLE, table_key="instance_type",
    read_snapshot=read_snapshot, snapshot_as_of=partial(snapshot_file, SNAPSHOT), live=live,
    commitment_kind="EC2 Reserved Instance (Standard, No Upfront)",
    pue=1.135, pue_source="Cloud Carbon Footprint cloud constants (PUE_AVG)",
)
