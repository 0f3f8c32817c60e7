"""The embedded price snapshot (package data in data/): catalog rows -> PriceQuote with
source='snapshot', the file's stated date as fetched_at and provenance in source_detail.

Rows whose GPU has no canonical name (K80, M60, MI25, T4g-less shapes, P100, P4, B300, GH200, ...)
are skipped, not guessed.  GCP GPU VMs are composed as host VM row + accelerator row, the way the
upstream catalog prices them; GPUs without a host row (N1 attachables) are not quoted.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Iterator

from phantom_report.pricing.gpu_names import (AZURE_INSTANCE_GPU, GCP_GPU_CANONICAL,
                                              GCP_MACHINES, LAMBDA_GPU, RUNPOD_GPU, aws_instance_gpu)
from phantom_report.pricing.quote import PriceQuote


@dataclass(frozen=True)
class SnapshotFile:
    name: str
    upstream: str
    as_of: datetime
    as_of_basis: str


def _read_text(name: str) -> str:
    return resources.files("phantom_report.pricing").joinpath("data", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)  # immutable package data: safe to memoise
def snapshot_files() -> dict[str, SnapshotFile]:
    meta = json.loads(_read_text("snapshot_meta.json"))["files"]
    return {n: SnapshotFile(n, m["upstream"], datetime.fromisoformat(m["as_of"]), m["as_of_basis"]) for n, m in meta.items()}


def _rows(name: str) -> Iterator[dict[str, str]]:
    yield from csv.DictReader(_read_text(name).splitlines())


def _f(v: str | None) -> float | None:
    return float(v) if v not in (None, "") else None


def _detail(f: SnapshotFile, row_source: str | None) -> str:
    return f"snapshot {f.name} <- {row_source or f.upstream}; as of {f.as_of.date()} ({f.as_of_basis})"


def _aws() -> Iterator[PriceQuote]:
    f = snapshot_files()["snapshot_aws.csv"]
    for r in _rows(f.name):
        gpu = aws_instance_gpu(r["InstanceType"])
        if gpu is None:
            continue
        # Spot: the cheapest AZ's latest price, as the live provider reports it.
        yield PriceQuote(provider="aws", region=r["Region"], zone=None, instance_type=r["InstanceType"], gpu=gpu,
                         gpu_count=int(float(r["AcceleratorCount"])), vcpus=_f(r["vCPUs"]), memory_gib=_f(r["MemoryGiB"]),
                         on_demand_usd_per_hour=_f(r["Price"]), spot_usd_per_hour=_f(r["SpotPriceMin"]),
                         fetched_at=f.as_of, source="snapshot", source_detail=_detail(f, r.get("Source")),
                         warnings=("AZ rows incomplete in snapshot",) if r.get("PartialRegion") == "True" else ())


def _gcp() -> Iterator[PriceQuote]:
    hosts_f = snapshot_files()["snapshot_gcp_hosts.csv"]
    acc_f = snapshot_files()["snapshot_gcp_accelerators.csv"]
    acc = {(r["AcceleratorName"], int(r["AcceleratorCount"]), r["Region"]): r for r in _rows(acc_f.name)}
    for h in _rows(hosts_f.name):
        m = GCP_MACHINES.get(h["InstanceType"])
        if m is None:
            continue
        a = acc.get((m.gpu_key, m.gpu_count, h["Region"]))
        if a is None:
            continue  # no GPU price for this host in this region: not quotable
        host_od, acc_od = _f(h["Price"]), _f(a["Price"])
        host_spot, acc_spot = _f(h["SpotPrice"]), _f(a["SpotPrice"])
        od = host_od + acc_od if host_od is not None and acc_od is not None else None
        spot = host_spot + acc_spot if host_spot is not None and acc_spot is not None else None
        warnings: tuple[str, ...] = ()
        # The upstream accelerator SpotPrice can exceed its own on-demand (SKU mix-up); the sum can
        # hide that, so check the GPU part on its own too.
        if acc_od is not None and acc_spot is not None and acc_spot > acc_od:
            spot = None
            warnings = (f"GPU part spot {acc_spot:.4f} > GPU part on-demand {acc_od:.4f} $/h in source; spot dropped",)
        yield PriceQuote(provider="gcp", region=h["Region"], zone=None, instance_type=h["InstanceType"],
                         gpu=GCP_GPU_CANONICAL[m.gpu_key], gpu_count=m.gpu_count, vcpus=_f(h["vCPUs"]),
                         memory_gib=_f(h["MemoryGiB"]), on_demand_usd_per_hour=od, spot_usd_per_hour=spot,
                         fetched_at=hosts_f.as_of, source="snapshot",
                         source_detail=_detail(hosts_f, "host VM + accelerator rows of " + (h.get("Source") or hosts_f.upstream)),
                         warnings=warnings)


def _azure() -> Iterator[PriceQuote]:
    f = snapshot_files()["snapshot_azure.csv"]
    for r in _rows(f.name):
        ig = AZURE_INSTANCE_GPU.get(r["InstanceType"])
        if ig is None:
            continue
        yield PriceQuote(provider="azure", region=r["Region"], zone=None, instance_type=r["InstanceType"], gpu=ig.gpu,
                         gpu_count=int(float(r["AcceleratorCount"])),  # verbatim; sanity checks it against the size
                         vcpus=_f(r["vCPUs"]), memory_gib=_f(r["MemoryGiB"]), on_demand_usd_per_hour=_f(r["Price"]),
                         spot_usd_per_hour=_f(r["SpotPrice"]), fetched_at=f.as_of, source="snapshot",
                         source_detail=_detail(f, r.get("Source")))


def _lambda() -> Iterator[PriceQuote]:
    f = snapshot_files()["snapshot_lambda.csv"]
    for r in _rows(f.name):
        gpu = LAMBDA_GPU.get(r["AcceleratorName"])
        if gpu is None:
            continue
        for region in r["Regions"].split(";"):
            yield PriceQuote(provider="lambda", region=region, zone=None, instance_type=r["InstanceType"], gpu=gpu,
                             gpu_count=int(float(r["AcceleratorCount"])), vcpus=_f(r["vCPUs"]), memory_gib=_f(r["MemoryGiB"]),
                             on_demand_usd_per_hour=_f(r["Price"]), spot_usd_per_hour=_f(r["SpotPrice"]),
                             fetched_at=f.as_of, source="snapshot", source_detail=_detail(f, r.get("Source")),
                             warnings=("catalog lists every type in every region; not live availability",))


def _runpod() -> Iterator[PriceQuote]:
    f = snapshot_files()["snapshot_runpod.csv"]
    for r in _rows(f.name):
        gpu = RUNPOD_GPU.get(r["AcceleratorName"])
        if gpu is None:
            continue
        yield PriceQuote(provider="runpod", region="global", zone=None, instance_type=r["InstanceType"], gpu=gpu,
                         gpu_count=int(float(r["AcceleratorCount"])), vcpus=_f(r["vCPUs"]), memory_gib=_f(r["MemoryGiB"]),
                         on_demand_usd_per_hour=_f(r["Price"]), spot_usd_per_hour=_f(r["SpotPrice"]),
                         fetched_at=f.as_of, source="snapshot", source_detail=_detail(f, r.get("Source")))


_LOADERS = {"aws": _aws, "gcp": _gcp, "azure": _azure, "lambda": _lambda, "runpod": _runpod}


@lru_cache(maxsize=8)
def _provider_quotes(provider: str) -> tuple[PriceQuote, ...]:
    return tuple(_LOADERS[provider]())


def snapshot_quotes(providers: tuple[str, ...] | None = None) -> list[PriceQuote]:
    """Raw snapshot quotes (before sanity rules) for the given providers (default: all)."""
    out: list[PriceQuote] = []
    for p in providers or tuple(_LOADERS):
        out.extend(_provider_quotes(p))
    return out


def snapshot_as_of(provider: str) -> SnapshotFile:
    name = {"gcp": "snapshot_gcp_hosts.csv"}.get(provider, f"snapshot_{provider}.csv")
    return snapshot_files()[name]

