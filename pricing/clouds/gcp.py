"""GCP: accelerator-optimized machine types (pricing/data/gcp_instances.csv), the GPU SKU
description table (pricing/data/gcp_gpu_skus.csv), the embedded snapshot reader, the live fetcher
(Cloud Billing Catalog, providers/gcp.py) and the report's GCP facts.

A GPU VM's price is its vCPU + RAM SKUs (of the machine series) plus gpu_count GPU SKUs.  N1 +
attachable GPUs are left out: there is no single "instance" to quote without inventing a host shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING

from phantom_report.errors import PricingError
from phantom_report.pricing.clouds.base import Cloud, package_gpu_table
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.snapshot import detail, num, rows, snapshot_file

if TYPE_CHECKING:
    from phantom_report.pricing.providers.gcp import GcpProvider
    from phantom_report.pricing.settings import FetchSettings

HOSTS_SNAPSHOT = "snapshot_gcp_hosts.csv"
ACCELERATORS_SNAPSHOT = "snapshot_gcp_accelerators.csv"

# GPU SKUs are matched by description, through gcp_gpu_skus.csv (sku_key, canonical gpu, description
# pattern, source).  A description is read with one grammar:
#   [kind prefix] <GPU name> [attached to [Spot Preemptible ]VMs] [running ]in <where> [for N Year(s)]
# and anchored on purpose: substring matching picks up DWS / flex-start / calendar-mode SKUs of the
# same GPU at other prices (data/README.md's "implausible GCP unit prices").  Kind prefixes
# ('Spot Preemptible ', 'Commitment v1: ', ...) are removed by providers/gcp.py before matching.
_TAIL = r"(?: attached to (?:Spot Preemptible )?VMs)? (?:running )?in [A-Za-z][\w .,()/-]*?(?: for [0-9]+ Years?)?$"


@dataclass(frozen=True)
class GcpGpuSku:
    """A GPU SKU family: the key machine types refer to, its canonical GPU, the anchored description
    pattern and the row's source."""
    key: str
    gpu: str
    pattern: re.Pattern[str]
    source: str


def _load_gpu_skus() -> tuple[GcpGpuSku, ...]:
    table = package_gpu_table("gcp_gpu_skus.csv", "sku_key")
    return tuple(GcpGpuSku(k, r.gpu, re.compile(f"^(?:{r.extra['description_pattern']}){_TAIL}"), r.source)
                 for k, r in table.items())


GPU_SKUS: tuple[GcpGpuSku, ...] = _load_gpu_skus()
SKU_GPU: dict[str, str] = {s.key: s.gpu for s in GPU_SKUS}


def gpu_sku_key(description: str) -> str | None:
    """The GPU SKU key of a Compute Engine SKU description (kind prefix already removed), or None
    when it is not a plain per-GPU SKU of a catalogued GPU."""
    for sku in GPU_SKUS:
        if sku.pattern.match(description):
            return sku.key
    return None


@dataclass(frozen=True)
class GcpMachine:
    """An accelerator-optimized machine type: the billing series of its vCPU/RAM SKUs ('A3' in
    'A3 Instance Core running in Americas'), its GPU SKU key, GPUs, vCPUs and memory (GiB)."""
    series: str
    gpu_key: str
    gpu_count: int
    vcpus: float
    memory_gib: float


def _whole_or_float(text: str) -> float:
    """'12' -> 12 (kept an int, as the quotes always carried it), '1.5' -> 1.5."""
    return int(text) if text.isdigit() else float(text)


GPU_TABLE = package_gpu_table("gcp_instances.csv", "instance_type")


def _machines() -> dict[str, GcpMachine]:
    """Machine types from the table; each row's gpu must be its GPU SKU's GPU (one decision, two views)."""
    out = {}
    for mt, r in GPU_TABLE.items():
        key = r.extra["gpu_sku_key"]
        if SKU_GPU.get(key) != r.gpu or r.gpu_count is None:
            raise PricingError(f"pricing/data/gcp_instances.csv: {mt}: gpu {r.gpu!r} / gpu_sku_key {key!r} / "
                               f"gpu_count {r.gpu_count} disagree with gcp_gpu_skus.csv")
        out[mt] = GcpMachine(r.extra["series"], key, r.gpu_count, _whole_or_float(r.extra["vcpus"]),
                             _whole_or_float(r.extra["memory_gib"]))
    return out


MACHINES: dict[str, GcpMachine] = _machines()


def _composed(h: dict[str, str], a: dict[str, str], m: GcpMachine) -> PriceQuote:
    """One snapshot quote from a host VM row plus the accelerator row for its GPU count."""
    hosts_f = snapshot_file(HOSTS_SNAPSHOT)
    host_od, acc_od = num(h["Price"]), num(a["Price"])
    host_spot, acc_spot = num(h["SpotPrice"]), num(a["SpotPrice"])
    od = host_od + acc_od if host_od is not None and acc_od is not None else None
    spot = host_spot + acc_spot if host_spot is not None and acc_spot is not None else None
    warnings: tuple[str, ...] = ()
    # The upstream accelerator SpotPrice can exceed its own on-demand (SKU mix-up); the sum can
    # hide that, so check the GPU part on its own too.
    if acc_od is not None and acc_spot is not None and acc_spot > acc_od:
        spot = None
        warnings = (f"GPU part spot {acc_spot:.4f} > GPU part on-demand {acc_od:.4f} $/h in source; spot dropped",)
    return PriceQuote(provider="gcp", region=h["Region"], zone=None, instance_type=h["InstanceType"],
                      gpu=SKU_GPU[m.gpu_key], gpu_count=m.gpu_count, vcpus=num(h["vCPUs"]),
                      memory_gib=num(h["MemoryGiB"]), on_demand_usd_per_hour=od, spot_usd_per_hour=spot,
                      fetched_at=hosts_f.as_of, source="snapshot",
                      source_detail=detail(hosts_f, "host VM + accelerator rows of " + (h.get("Source") or hosts_f.upstream)),
                      warnings=warnings)


@lru_cache(maxsize=1)  # immutable package data
def read_snapshot() -> tuple[PriceQuote, ...]:
    """GCP quotes of the embedded snapshot: host VM row + accelerator row for the machine's GPU
    count (how the upstream catalog prices GPUs); GPUs without a host row are not quoted."""
    acc = {(r["AcceleratorName"], int(r["AcceleratorCount"]), r["Region"]): r for r in rows(ACCELERATORS_SNAPSHOT)}
    out = []
    for h in rows(HOSTS_SNAPSHOT):
        m = MACHINES.get(h["InstanceType"])
        a = acc.get((m.gpu_key, m.gpu_count, h["Region"])) if m is not None else None
        if m is not None and a is not None:  # no GPU price for this host in this region: not quotable
            out.append(_composed(h, a, m))
    return tuple(out)


def live(settings: "FetchSettings") -> "GcpProvider":
    """The live GCP fetcher with Application Default Credentials."""
    from phantom_report.pricing.providers.gcp import GcpProvider
    return GcpProvider(settings=settings)


CLOUD = Cloud(
    name="gcp", title="GCP", gpu_table=GPU_TABLE, table_key="instance_type",
    read_snapshot=read_snapshot, snapshot_as_of=partial(snapshot_file, HOSTS_SNAPSHOT), live=live,
    commitment_kind="committed use discount (resource-based)",
    pue=1.1, pue_source="Cloud Carbon Footprint cloud constants (PUE_AVG)",
)
