"""GPU naming for pricing: canonical names (docs/INTERFACES.md), the user-facing alias rule, and
the mapping from each catalog's names to canonical ones.

pricing must not import the engine, so the canonical list is repeated here; a contract test keeps
the two in step when both packages are present.  Every catalog-name -> canonical-name decision
lives in the tables below (one place to review and test).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from phantom_report.errors import PricingError
from phantom_report.gpu_naming import name_key, parse_gpu_name, vendorless_key

CANONICAL_GPUS: tuple[str, ...] = (
    "V100-SXM2-16GB", "V100-SXM2-32GB", "V100-PCIe-16GB", "T4", "Quadro-RTX-8000", "A10", "A10G",
    "L4", "L40S", "A100-40GB-SXM", "A100-80GB-SXM", "A100-80GB-PCIe", "H100-SXM", "H100-PCIe",
    "H100-NVL", "H200", "B200", "RTX-3090", "RTX-4090", "RTX-5090", "RTX-A4000", "RTX-A6000",
    "RTX-6000-Ada", "MI250X", "MI300X",
)

# Extra spellings people type; anything else must be a canonical name or a family prefix.
_ALIASES: dict[str, tuple[str, ...]] = {
    "h100sxm5": ("H100-SXM",),
    "h10080gbhbm3": ("H100-SXM",),  # nvidia-smi's name for the SXM5 part (the PCIe card is 'H100 PCIe', HBM2e)
    "a100": ("A100-40GB-SXM", "A100-80GB-SXM", "A100-80GB-PCIe"),
    "a100sxm": ("A100-40GB-SXM", "A100-80GB-SXM"),
    "a10080gb": ("A100-80GB-SXM", "A100-80GB-PCIe"),
    "a10040gb": ("A100-40GB-SXM",),
    "v100": ("V100-SXM2-16GB", "V100-SXM2-32GB", "V100-PCIe-16GB"),
    "a6000": ("RTX-A6000",),
    "a4000": ("RTX-A4000",),
    "3090": ("RTX-3090",),
    "4090": ("RTX-4090",),
    "5090": ("RTX-5090",),
    "6000ada": ("RTX-6000-Ada",),
    "rtx8000": ("Quadro-RTX-8000",),
}


def _key(name: str) -> str:
    """Case- and punctuation-insensitive key: 'H100-SXM', 'h100 sxm' and 'h100_sxm' agree."""
    return name_key(name)


_CANONICAL_BY_KEY = {_key(n): n for n in CANONICAL_GPUS}
_CANONICAL_PARSED = {n: parse_gpu_name(n) for n in CANONICAL_GPUS}


def _parsed_matches(name: str) -> tuple[str, ...]:
    """Canonical names whose family equals the parsed name's and whose form factor / memory (where
    the canonical name states them) agree: 'NVIDIA A100-SXM4-80GB' -> A100-80GB-SXM. The parsing
    rules are shared with the engine (phantom_report/gpu_naming.py)."""
    want = parse_gpu_name(name)
    if not want.family:
        return ()
    return tuple(
        n for n, got in _CANONICAL_PARSED.items() if got.family == want.family
        and not (want.form_factor and got.form_factor and want.form_factor != got.form_factor)
        and not (want.memory_gb is not None and got.memory_gb is not None and want.memory_gb != got.memory_gb)
    )


def resolve_gpu(name: str) -> tuple[str, ...]:
    """Canonical GPU names a user-typed name stands for.

    Rule: an exact canonical name (ignoring case/punctuation, then also vendor words) wins ('a10'
    is the A10, not the A100s); then the alias table; then the parsed name (family, form factor,
    memory: 'NVIDIA H100 80GB PCIe Gen5' -> H100-PCIe); then a family prefix ('h100' -> H100-SXM,
    H100-PCIe, H100-NVL). A price filter may keep several GPUs, so a family is not an error here.
    """
    k = _key(name)
    if not k:
        raise PricingError("empty GPU name")
    for kk in (k, vendorless_key(name)):
        if kk in _CANONICAL_BY_KEY:
            return (_CANONICAL_BY_KEY[kk],)
        if kk in _ALIASES:
            return _ALIASES[kk]
    parsed = _parsed_matches(name)
    if parsed:
        return parsed
    family = tuple(n for kk, n in _CANONICAL_BY_KEY.items() if kk.startswith(k))
    if family:
        return family
    raise PricingError(f"unknown GPU {name!r}; expected one of {', '.join(CANONICAL_GPUS)} or a family like 'h100'")


def resolve_gpus(names: object) -> frozenset[str] | None:
    """None (all GPUs) or the union of canonical names for the given names."""
    if names is None:
        return None
    if isinstance(names, str):
        names = [names]
    out: set[str] = set()
    for n in names:  # type: ignore[union-attr]
        out.update(resolve_gpu(str(n)))
    return frozenset(out)


# ---------------------------------------------------------------------------------------------
# Catalog names -> canonical.  `None` = a real GPU with no canonical profile (skipped, not guessed).

@dataclass(frozen=True)
class InstanceGpu:
    gpu: str
    gpu_count: int


# AWS: GPU model by instance family (the Price List API reports a count but no model name).
AWS_FAMILY_GPU: dict[str, str] = {
    "p3": "V100-SXM2-16GB", "p3dn": "V100-SXM2-32GB", "g4dn": "T4",
    "g5g": "T4",  # NVIDIA T4G = the T4 chip on a Graviton host
    "g5": "A10G", "g6": "L4", "g6e": "L40S", "p4d": "A100-40GB-SXM", "p4de": "A100-80GB-SXM",
    "p5": "H100-SXM", "p5e": "H200", "p5en": "H200", "p6-b200": "B200",
}
# GPU count per AWS instance type (public instance specs); used to check catalog counts.
AWS_INSTANCE_GPU_COUNT: dict[str, int] = {
    "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8, "p3dn.24xlarge": 8,
    "g4dn.xlarge": 1, "g4dn.2xlarge": 1, "g4dn.4xlarge": 1, "g4dn.8xlarge": 1, "g4dn.16xlarge": 1,
    "g4dn.12xlarge": 4, "g4dn.metal": 8,
    "g5.xlarge": 1, "g5.2xlarge": 1, "g5.4xlarge": 1, "g5.8xlarge": 1, "g5.16xlarge": 1,
    "g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8, "g5g.xlarge": 1, "g5g.2xlarge": 1,
    "g5g.4xlarge": 1, "g5g.8xlarge": 1, "g5g.16xlarge": 2, "g5g.metal": 2,
    "g6.xlarge": 1, "g6.2xlarge": 1, "g6.4xlarge": 1, "g6.8xlarge": 1, "g6.16xlarge": 1,
    "g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8,
    "g6e.xlarge": 1, "g6e.2xlarge": 1, "g6e.4xlarge": 1, "g6e.8xlarge": 1, "g6e.16xlarge": 1,
    "g6e.12xlarge": 4, "g6e.24xlarge": 4, "g6e.48xlarge": 8,
    "p4d.24xlarge": 8, "p4de.24xlarge": 8, "p5.4xlarge": 1, "p5.48xlarge": 8,
    "p5e.48xlarge": 8, "p5en.48xlarge": 8, "p6-b200.48xlarge": 8,
}


def aws_instance_gpu(instance_type: str) -> str | None:
    family = instance_type.split(".", 1)[0]
    return AWS_FAMILY_GPU.get(family)


# Azure: exact VM sizes (the Retail API's armSkuName) -> GPU and the size's real GPU count.
# Fractional-GPU sizes (NV*ads_A10_v5 below 36 vCPUs) and GPUs without a profile (K80, M60,
# MI25) are deliberately absent.
AZURE_INSTANCE_GPU: dict[str, InstanceGpu] = {
    "Standard_NC6s_v3": InstanceGpu("V100-PCIe-16GB", 1), "Standard_NC12s_v3": InstanceGpu("V100-PCIe-16GB", 2),
    "Standard_NC24s_v3": InstanceGpu("V100-PCIe-16GB", 4), "Standard_NC24rs_v3": InstanceGpu("V100-PCIe-16GB", 4),
    "Standard_ND40rs_v2": InstanceGpu("V100-SXM2-32GB", 8),
    "Standard_NC4as_T4_v3": InstanceGpu("T4", 1), "Standard_NC8as_T4_v3": InstanceGpu("T4", 1),
    "Standard_NC16as_T4_v3": InstanceGpu("T4", 1), "Standard_NC64as_T4_v3": InstanceGpu("T4", 4),
    "Standard_NV36ads_A10_v5": InstanceGpu("A10", 1), "Standard_NV36adms_A10_v5": InstanceGpu("A10", 1),
    "Standard_NV72ads_A10_v5": InstanceGpu("A10", 2),
    "Standard_NC24ads_A100_v4": InstanceGpu("A100-80GB-PCIe", 1), "Standard_NC48ads_A100_v4": InstanceGpu("A100-80GB-PCIe", 2),
    "Standard_NC96ads_A100_v4": InstanceGpu("A100-80GB-PCIe", 4),
    "Standard_ND96asr_v4": InstanceGpu("A100-40GB-SXM", 8), "Standard_ND96amsr_A100_v4": InstanceGpu("A100-80GB-SXM", 8),
    "Standard_NC40ads_H100_v5": InstanceGpu("H100-NVL", 1), "Standard_NC80adis_H100_v5": InstanceGpu("H100-NVL", 2),
    # confidential-computing NCC H100 v5: one H100 NVL per VM, like NC40ads_H100_v5
    "Standard_NCC40ads_H100_v5": InstanceGpu("H100-NVL", 1),
    "Standard_ND96isr_H100_v5": InstanceGpu("H100-SXM", 8), "Standard_ND96isr_H200_v5": InstanceGpu("H200", 8),
    "Standard_ND96isr_MI300X_v5": InstanceGpu("MI300X", 8),
}


# GCP: GPU SKUs are matched by description, through the data table pricing/data/gcp_gpu_skus.csv
# (sku_key, canonical gpu, description pattern, source).  A description is read with one grammar:
#   [kind prefix] <GPU name> [attached to [Spot Preemptible ]VMs] [running ]in <where> [for N Year(s)]
# and anchored on purpose: substring matching picks up DWS / flex-start / calendar-mode SKUs of the
# same GPU at other prices (the snapshot README's "implausible GCP unit prices").  Kind prefixes
# ('Spot Preemptible ', 'Commitment v1: ', ...) are removed by providers/gcp.py before matching.
_GCP_TAIL = r"(?: attached to (?:Spot Preemptible )?VMs)? (?:running )?in [A-Za-z][\w .,()/-]*?(?: for [0-9]+ Years?)?$"


@dataclass(frozen=True)
class GcpGpuSku:
    key: str          # the SKU family key machine types refer to (GCP_MACHINES.gpu_key)
    gpu: str          # canonical GPU name
    pattern: re.Pattern[str]
    source: str


def _load_gcp_gpu_skus() -> tuple[GcpGpuSku, ...]:
    import csv
    from importlib import resources
    text = resources.files("phantom_report.pricing").joinpath("data", "gcp_gpu_skus.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return tuple(GcpGpuSku(r["sku_key"], r["gpu"], re.compile(f"^(?:{r['description_pattern']}){_GCP_TAIL}"), r["source"])
                 for r in rows)


GCP_GPU_SKUS: tuple[GcpGpuSku, ...] = _load_gcp_gpu_skus()
GCP_GPU_CANONICAL: dict[str, str] = {s.key: s.gpu for s in GCP_GPU_SKUS}


def gcp_gpu_sku_key(description: str) -> str | None:
    """The GPU SKU key of a Compute Engine SKU description (kind prefix already removed), or None
    when it is not a plain per-GPU SKU of a catalogued GPU."""
    for sku in GCP_GPU_SKUS:
        if sku.pattern.match(description):
            return sku.key
    return None


@dataclass(frozen=True)
class GcpMachine:
    series: str          # the 'A3' in 'A3 Instance Core running in Americas'
    gpu_key: str         # GcpGpuSku.key (pricing/data/gcp_gpu_skus.csv)
    gpu_count: int
    vcpus: float
    memory_gib: float


# GCP accelerator-optimized machine types: the GPU is part of the type, so a VM's price is its
# vCPU + RAM SKUs plus gpu_count GPU SKUs.  N1 + attachable GPUs are left out: there is no single
# "instance" to quote without inventing a host shape.
GCP_MACHINES: dict[str, GcpMachine] = {
    "a2-highgpu-1g": GcpMachine("A2", "A100", 1, 12, 85), "a2-highgpu-2g": GcpMachine("A2", "A100", 2, 24, 170),
    "a2-highgpu-4g": GcpMachine("A2", "A100", 4, 48, 340), "a2-highgpu-8g": GcpMachine("A2", "A100", 8, 96, 680),
    "a2-megagpu-16g": GcpMachine("A2", "A100", 16, 96, 1360),
    "a2-ultragpu-1g": GcpMachine("A2", "A100-80GB", 1, 12, 170), "a2-ultragpu-2g": GcpMachine("A2", "A100-80GB", 2, 24, 340),
    "a2-ultragpu-4g": GcpMachine("A2", "A100-80GB", 4, 48, 680), "a2-ultragpu-8g": GcpMachine("A2", "A100-80GB", 8, 96, 1360),
    "a3-highgpu-1g": GcpMachine("A3", "H100", 1, 26, 234), "a3-highgpu-2g": GcpMachine("A3", "H100", 2, 52, 468),
    "a3-highgpu-4g": GcpMachine("A3", "H100", 4, 104, 936), "a3-highgpu-8g": GcpMachine("A3", "H100", 8, 208, 1872),
    "a3-edgegpu-8g": GcpMachine("A3", "H100", 8, 208, 1872),
    # A3 Mega bills its own core/RAM SKUs ('A3Plus Instance Core running in ...')
    "a3-megagpu-8g": GcpMachine("A3Plus", "H100-MEGA", 8, 208, 1872),
    "a3-ultragpu-8g": GcpMachine("A3", "H200", 8, 224, 2952),
    "a4-highgpu-8g": GcpMachine("A4", "B200", 8, 224, 3968),
    "g2-standard-4": GcpMachine("G2", "L4", 1, 4, 16), "g2-standard-8": GcpMachine("G2", "L4", 1, 8, 32),
    "g2-standard-12": GcpMachine("G2", "L4", 1, 12, 48), "g2-standard-16": GcpMachine("G2", "L4", 1, 16, 64),
    "g2-standard-24": GcpMachine("G2", "L4", 2, 24, 96), "g2-standard-32": GcpMachine("G2", "L4", 1, 32, 128),
    "g2-standard-48": GcpMachine("G2", "L4", 4, 48, 192), "g2-standard-96": GcpMachine("G2", "L4", 8, 96, 384),
}

# Data-only providers (snapshot): catalog accelerator name -> canonical.
LAMBDA_GPU: dict[str, str] = {"V100": "V100-SXM2-16GB", "A6000": "RTX-A6000", "H100": "H100-SXM", "B200": "B200",
                              "A100": "A100-40GB-SXM", "A100-80GB": "A100-80GB-SXM", "A10": "A10"}
RUNPOD_GPU: dict[str, str] = {"A100-80GB": "A100-80GB-PCIe", "H100": "H100-PCIe", "A100-80GB-SXM": "A100-80GB-SXM",
                              "H100-SXM": "H100-SXM", "RTX4090": "RTX-4090", "L40S": "L40S"}
