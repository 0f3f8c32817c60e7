"""GPU profiles: one TOML file per GPU (see profiles/README.md for the schema).

Built-in profiles ship in `phantom_report.profiles`; a user directory (``--profiles DIR`` or the
``PHANTOM_PROFILES`` environment variable) adds GPUs or overrides built-ins by canonical name.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from phantom_report.engine.executed import ACCUMULATE_VARIANTS
from phantom_report.engine.precision import NATIVE_PRECISIONS
from phantom_report.errors import ProfileError
from phantom_report.gpu_naming import name_key

# a profile lists one peak per natively computed precision, plus the executed-only accumulate
# variants (engine/executed.py: fp16_acc16, FP16 with FP16 accumulation) where their rate differs
PEAK_KEYS = NATIVE_PRECISIONS + tuple(ACCUMULATE_VARIANTS)

# Idle board power / TDP for a GPU whose profile has no sourced `idle_power_w`: the median of the
# built-in sourced figures (Cloud Carbon Footprint's GPU "Watts (Idle)" over each profile's TDP:
# A10G 0.060, T4 0.114, A100 SXM 0.115 x2, V100 SXM2 0.117 x2, P4 0.120, P100 SXM2 0.120 ->
# median 0.116). tests/test_profiles.py re-derives it from the profiles.
IDLE_POWER_FALLBACK_FRACTION = 0.116

# key -> (python types accepted, human description, required)
_SCALAR_SCHEMA: dict[str, tuple[tuple[type, ...], str, bool]] = {
    "name": ((str,), "a string", True),
    "vendor": ((str,), "a string (nvidia|amd)", True),
    "architecture": ((str,), "a string (architecture family, e.g. hopper)", True),
    "form_factor": ((str,), "a string", False),
    "launch_year": ((int,), "an integer year", False),
    "launch_price_usd": ((int, float), "a number (USD)", False),
    "memory_gb": ((int, float), "a positive number (GB)", True),
    "memory_bandwidth_gbps": ((int, float), "a positive number (GB/s)", True),
    "sm_count": ((int,), "a positive integer (SMs or CUs)", True),
    "l2_cache_mb": ((int, float), "a positive number (MB)", True),
    "boost_clock_mhz": ((int, float), "a positive number (MHz)", True),
    "peak_clock_mhz": ((int, float), "a positive number (MHz, the clock the tensor peaks are quoted at)", False),
    "sustained_clock_mhz": ((int, float), "a positive number (MHz)", True),
    "tdp_w": ((int, float), "a positive number (W)", True),
    "idle_power_w": ((int, float), "a positive number (W drawn idle, below tdp_w)", False),
    "interconnect": ((str,), "a string (e.g. nvlink4, pcie4)", True),
    "interconnect_gbps": ((int, float), "a positive number (GB/s, bidirectional)", True),
    "pcie_gbps": ((int, float), "a positive number (GB/s, bidirectional)", False),
    "usable_memory_fraction": ((int, float), "a number in (0, 1] (share of memory_gb left to programs)", False),
    "source": ((str,), "a string naming the datasheet/whitepaper (URL)", True),
}


# Integer ALU lanes per SM (NVIDIA) / CU (AMD). Volta, Turing, GA100, GA10x, Ada and Hopper issue INT32
# on 64 lanes per SM whatever their FP32 width (GA10x/Ada/Hopper double only the FP32 lanes: one of the
# two datapaths is FP32-only; NVIDIA Ampere GA102 whitepaper, "2x FP32 throughput"; Hopper H100
# whitepaper SM diagram: 128 FP32, 64 INT32 per SM); CDNA CUs are 4 SIMD16 (64 lanes; the packed /
# matrix FP32 peak counts twice that). Pascal and Blackwell run INT32 on every FP32 lane.
INT32_LANES = 64
INT32_ON_EVERY_FP32_LANE = ("pascal", "blackwell")


@dataclass(frozen=True)
class GpuProfile:
    """Datasheet figures of one GPU. Peak TFLOPS are dense (no structured sparsity)."""

    name: str
    vendor: str
    architecture: str
    memory_gb: float
    memory_bandwidth_gbps: float
    sm_count: int
    l2_cache_mb: float
    boost_clock_mhz: float
    sustained_clock_mhz: float
    tdp_w: float
    interconnect: str
    interconnect_gbps: float
    source: str
    peak_tflops: Mapping[str, float]
    aliases: tuple[str, ...] = ()
    form_factor: str = ""
    launch_year: int | None = None
    launch_price_usd: float | None = None
    pcie_gbps: float | None = None
    # board power with nothing running (sourced); None: estimated from TDP, see idle_power()
    idle_power_w: float | None = None
    # share of the datasheet capacity programs can allocate: data-center GDDR6 parts keep in-band
    # ECC on by default, which reserves 1/16 of the memory (a 16 GB T4 reports 15360 MiB)
    usable_memory_fraction: float = 1.0
    # the clock [peak_tflops]'s tensor/matrix figures are quoted at (Hopper: 1830 MHz on H100 SXM while
    # its boost clock is 1980); 0 in a hand-built profile means "the boost clock" (see peak_clock)
    peak_clock_mhz: float = 0.0
    sources: Mapping[str, str] = field(default_factory=dict)
    path: str = ""

    def peak(self, column: str) -> float | None:
        """Peak dense TFLOPS (TOPS for int8) for a compute column, or None if the chip lacks it."""
        return self.peak_tflops.get(column)

    @property
    def peak_clock(self) -> float:
        """MHz the tensor peaks are quoted at: `peak_clock_mhz`, else the boost clock."""
        return self.peak_clock_mhz or self.boost_clock_mhz

    def idle_power(self) -> tuple[float, bool]:
        """(W the board draws idle, estimated?): the sourced `idle_power_w`, else TDP x
        IDLE_POWER_FALLBACK_FRACTION (estimated)."""
        if self.idle_power_w is not None:
            return self.idle_power_w, False
        return self.tdp_w * IDLE_POWER_FALLBACK_FRACTION, True

    @property
    def int32_ops_per_s(self) -> float:
        """Peak integer instructions per second (lanes x SMs x boost clock): the rate weight-only formats'
        unpacking (shifts, masks, converts) issues at. FP32 lanes per SM = fp32 peak / (2 FLOPs per FMA x
        SMs x boost clock); INT32 lanes are those, capped at INT32_LANES except where every lane runs both."""
        fp32 = self.peak("fp32")
        clock_hz = self.boost_clock_mhz * 1e6
        if not fp32:
            return float("nan")
        fp32_lanes = fp32 * 1e12 / (2.0 * self.sm_count * clock_hz)
        lanes = fp32_lanes if self.architecture in INT32_ON_EVERY_FP32_LANE else min(fp32_lanes, INT32_LANES)
        return lanes * self.sm_count * clock_hz

    def source_for(self, key: str) -> str:
        """Source of one figure: its own entry, else its table's (peak_tflops.fp16 -> peak_tflops)."""
        return self.sources.get(key) or self.sources.get(key.split(".")[0]) or self.source


def normalize_name(name: str) -> str:
    """Case-, space- and punctuation-insensitive key: 'H100 SXM' == 'h100-sxm' == 'H100_SXM'."""
    return name_key(name)


def _check(path: Path, key: str, value: Any, types: tuple[type, ...], desc: str) -> None:
    # bool is an int subclass; a profile saying `sm_count = true` is a mistake
    if isinstance(value, bool) or not isinstance(value, types):
        raise ProfileError(f"{path}: key '{key}': expected {desc}, got {value!r}")
    # TOML spells inf and nan: a nan peak would read as "no compute path" and an inf one as a GPU
    # that takes no time, so neither is a number a datasheet gives (ints are exact: only floats can
    # be either, and a huge int would overflow the test); no figure but the launch year is <= 0
    not_finite = isinstance(value, float) and not math.isfinite(value)
    if not_finite or (isinstance(value, (int, float)) and key != "launch_year" and value <= 0):
        raise ProfileError(f"{path}: key '{key}': expected {desc}, got {value!r}")


def _check_peak_clock(path: Path, data: Mapping[str, Any]) -> None:
    # the predictor derives FLOPs per SM per clock from the peak and this clock, and slows compute by
    # (sustained / peak clock) ** b: it lies between the base clock and the boost clock
    peak_clock = data.get("peak_clock_mhz", data["boost_clock_mhz"])
    if not data["sustained_clock_mhz"] <= peak_clock <= data["boost_clock_mhz"]:
        raise ProfileError(f"{path}: key 'peak_clock_mhz': expected the clock the peaks are quoted at, between "
                           f"sustained_clock_mhz ({data['sustained_clock_mhz']!r}) and boost_clock_mhz "
                           f"({data['boost_clock_mhz']!r}), got {peak_clock!r}")


def _check_accumulate_variants(path: Path, peaks: Mapping[str, Any]) -> None:
    # fp16_acc16 is the same tensor cores with a narrower accumulator: never slower than the fp16
    # (FP32-accumulate) figure it varies, and meaningless without it
    for variant, base in ACCUMULATE_VARIANTS.items():
        if variant not in peaks:
            continue
        if base not in peaks:
            raise ProfileError(f"{path}: key 'peak_tflops.{variant}': expected alongside peak_tflops.{base} "
                               f"(it is the {base} tensor path with a narrower accumulator)")
        if peaks[variant] < peaks[base]:
            raise ProfileError(f"{path}: key 'peak_tflops.{variant}': expected at least peak_tflops.{base} "
                               f"({peaks[base]!r}), got {peaks[variant]!r}")


def parse_profile(path: Path, data: Mapping[str, Any]) -> GpuProfile:
    """A validated GpuProfile from a profile's parsed TOML; ProfileError naming the file, the key
    and what was expected for the first problem (missing or unknown keys, wrong types, clocks or
    powers out of order, peak precisions outside PEAK_KEYS)."""
    for key, (types, desc, required) in _SCALAR_SCHEMA.items():
        if key not in data:
            if required:
                raise ProfileError(f"{path}: missing key '{key}': expected {desc}")
            continue
        _check(path, key, data[key], types, desc)
    if data.get("usable_memory_fraction", 1.0) > 1.0:
        raise ProfileError(f"{path}: key 'usable_memory_fraction': expected a number in (0, 1], "
                           f"got {data['usable_memory_fraction']!r}")
    # the predictor slows compute by (sustained / boost) ** b; above boost it would beat the peak
    if data["sustained_clock_mhz"] > data["boost_clock_mhz"]:
        raise ProfileError(f"{path}: key 'sustained_clock_mhz': expected the base clock, at most "
                           f"boost_clock_mhz ({data['boost_clock_mhz']!r}), got {data['sustained_clock_mhz']!r}")
    _check_peak_clock(path, data)
    if data.get("idle_power_w", 0) >= data["tdp_w"]:
        raise ProfileError(f"{path}: key 'idle_power_w': expected the board power at idle, below tdp_w "
                           f"({data['tdp_w']!r}), got {data['idle_power_w']!r}")
    peaks = data.get("peak_tflops")
    if not isinstance(peaks, dict) or not peaks:
        raise ProfileError(f"{path}: key 'peak_tflops': expected a table of precision = TFLOPS")
    for key, value in peaks.items():
        if key not in PEAK_KEYS:
            raise ProfileError(
                f"{path}: key 'peak_tflops.{key}': unknown precision; expected one of {', '.join(PEAK_KEYS)}"
            )
        _check(path, f"peak_tflops.{key}", value, (int, float), "a positive number (dense TFLOPS)")
    _check_accumulate_variants(path, peaks)
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ProfileError(f"{path}: key 'aliases': expected a list of strings")
    sources = data.get("sources", {})
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise ProfileError(f"{path}: key 'sources': expected a table of key = source string")
    if not isinstance(data.get("notes", ""), str):
        raise ProfileError(f"{path}: key 'notes': expected a string")
    known = set(_SCALAR_SCHEMA) | {"peak_tflops", "aliases", "sources", "notes"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ProfileError(f"{path}: unknown key '{unknown[0]}'; expected one of {', '.join(sorted(known))}")
    return GpuProfile(
        name=data["name"],
        vendor=data["vendor"],
        architecture=data["architecture"].lower(),
        memory_gb=float(data["memory_gb"]),
        memory_bandwidth_gbps=float(data["memory_bandwidth_gbps"]),
        sm_count=int(data["sm_count"]),
        l2_cache_mb=float(data["l2_cache_mb"]),
        boost_clock_mhz=float(data["boost_clock_mhz"]),
        sustained_clock_mhz=float(data["sustained_clock_mhz"]),
        tdp_w=float(data["tdp_w"]),
        interconnect=data["interconnect"],
        interconnect_gbps=float(data["interconnect_gbps"]),
        source=data["source"],
        peak_tflops={k: float(v) for k, v in peaks.items()},
        aliases=tuple(aliases),
        form_factor=data.get("form_factor", ""),
        launch_year=data.get("launch_year"),
        launch_price_usd=float(data["launch_price_usd"]) if "launch_price_usd" in data else None,
        pcie_gbps=float(data["pcie_gbps"]) if "pcie_gbps" in data else None,
        idle_power_w=float(data["idle_power_w"]) if "idle_power_w" in data else None,
        usable_memory_fraction=float(data.get("usable_memory_fraction", 1.0)),
        peak_clock_mhz=float(data.get("peak_clock_mhz", data["boost_clock_mhz"])),
        sources=dict(sources),
        path=str(path),
    )


def load_profile_file(path: Path) -> GpuProfile:
    """The GpuProfile of one TOML file; ProfileError for unreadable or malformed files (see `parse_profile`)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: malformed TOML: {exc}") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read profile: {exc.strerror}") from None
    return parse_profile(path, data)


def _builtin_files() -> list[Path]:
    root = resources.files("phantom_report.profiles")
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml"))


@dataclass(frozen=True)
class ProfileCatalog:
    """All known GPUs, looked up by canonical name or alias, case-insensitively."""

    profiles: Mapping[str, GpuProfile]  # canonical name -> profile, in display order
    _index: Mapping[str, str]  # normalized name or alias -> canonical name

    @property
    def names(self) -> list[str]:
        """Canonical profile names, in catalog order."""
        return list(self.profiles)

    def __iter__(self):
        return iter(self.profiles.values())

    def __len__(self) -> int:
        return len(self.profiles)

    @cached_property
    def names_resolver(self):
        """The resolver behind `resolve` (engine/gpu_names.py holds the rules)."""
        from phantom_report.engine.gpu_names import GpuNameResolver, builtin_alias_table

        return GpuNameResolver(self.profiles, self._index, builtin_alias_table())

    def resolve(self, name: str) -> str:
        """Canonical name for a GPU name as written ('NVIDIA A100-SXM4-80GB', 'h100', 'A100 80GB PCIe').

        ProfileError (UnknownGpuError / NoGpuProfileError / AmbiguousGpuError) listing the close
        matches or candidates otherwise; the rules are in engine/gpu_names.py."""
        return self.names_resolver.resolve(name).canonical

    def resolve_detail(self, name: str, measured_memory_gb: float | None = None):
        """`GpuResolution` for a written name: canonical name, which rule decided, alternatives."""
        return self.names_resolver.resolve(name, measured_memory_gb)

    def get(self, name: str) -> GpuProfile:
        """The profile a GPU name (any known spelling or alias) resolves to; ProfileError when none does."""
        return self.profiles[self.resolve(name)]


def load_catalog(user_dir: str | os.PathLike | None = None) -> ProfileCatalog:
    """Built-in profiles, then the user directory (argument, else $PHANTOM_PROFILES) on top."""
    files = _builtin_files()
    user_dir = user_dir or os.environ.get("PHANTOM_PROFILES") or None
    if user_dir:
        udir = Path(user_dir)
        if not udir.is_dir():
            raise ProfileError(f"{udir}: profile directory does not exist")
        files += sorted(udir.glob("*.toml"))
    profiles: dict[str, GpuProfile] = {}
    for path in files:
        prof = load_profile_file(path)
        profiles[prof.name] = prof  # a user file with the same name overrides the built-in
    index: dict[str, str] = {}
    for prof in profiles.values():
        for alias in (prof.name, *prof.aliases):
            key = normalize_name(alias)
            if index.get(key, prof.name) != prof.name:
                # two GPUs claiming one name would make every lookup of it ambiguous
                raise ProfileError(f"{prof.path}: alias {alias!r} is already used by GPU {index[key]!r}; "
                                   "aliases must be unique across profiles")
            index[key] = prof.name
    return ProfileCatalog(profiles=profiles, _index=index)
