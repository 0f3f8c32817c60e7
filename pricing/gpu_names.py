"""GPU naming for pricing: canonical names (docs/INTERFACES.md) and the user-facing alias rule.

pricing must not import the engine, so the canonical list is repeated here; a contract test keeps
the two in step when both packages are present.  Each cloud's catalog-name -> canonical-name
table is CSV data with a source per row, read by that cloud's module (pricing/clouds/<name>.py).
"""

from __future__ import annotations

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
