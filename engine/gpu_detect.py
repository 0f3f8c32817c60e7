"""Which GPUs does this machine have? NVML, else nvidia-smi, else rocm-smi; names resolved to profiles.

Order: NVML through the optional `nvidia-ml-py` package (`import pynvml`; not a dependency),
then ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader``, then
``rocm-smi --showproductname --showmeminfo vram --json``. The first source that reports at least
one device wins. Each device's name goes through the same resolver as a typed name
(`ProfileCatalog.resolve_detail`), with the memory the tool measured as a further constraint (the
AWS API's bare 'A100' with 40960 MiB is the 40 GB part). rocm-smi's PCI device id is tried first
because its 'Card Series' can be a family ('AMD INSTINCT MI200 (MCM) OAM ...').

The tool runner is injected (`Runner`), so tests replay recorded tool outputs.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from phantom_report.errors import PhantomError, ProfileError

NVIDIA_SMI_ARGS = ("nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader")
ROCM_SMI_ARGS = ("rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json")
TOOL_TIMEOUT_S = 15
MAX_TOOL_OUTPUT_CHARS = 1_000_000  # 8 GPUs print ~1 KB; anything this large is not a GPU listing
MAX_DEVICES = 256


class ToolFailed(Exception):
    """A discovery tool exists but did not report devices (driver not loaded, bad output ...)."""


class NoLocalGpuError(PhantomError):
    """`--gpu local` on a machine with no GPU that any discovery source reports (exit 2)."""


class NoGpuFound(PhantomError):
    """`gpus detect` on a machine with no GPU: not a mistake in the input, so exit 1, not 2."""

    exit_code = 1


# argv -> stdout. FileNotFoundError: the tool is not installed; ToolFailed: it ran and failed.
Runner = Callable[[Sequence[str]], str]
# () -> the pynvml module, or None when nvidia-ml-py is not installed
NvmlLoader = Callable[[], Any]


@dataclass(frozen=True)
class DeviceReport:
    """One device as a discovery source reports it."""

    index: int
    name: str
    memory_gb: float | None  # GiB as the tool reports it (NVIDIA's marketing "GB")
    tool: str                # nvml | nvidia-smi | rocm-smi
    pci_device_id: str = ""  # AMD: '74a1' (rocm-smi 'Card Model'); '' when not reported


@dataclass(frozen=True)
class DetectedGpu:
    """A device and the profile its name resolves to (None with the reason when it does not)."""

    device: DeviceReport
    profile: str | None
    explanation: str


def run_tool(argv: Sequence[str]) -> str:
    """Run a discovery tool with a timeout; its stdout, bounded."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{argv[0]} did not answer within {TOOL_TIMEOUT_S} s") from None
    except PermissionError:
        raise ToolFailed(f"{argv[0]} is not executable") from None
    if proc.returncode != 0:
        first = (proc.stderr or proc.stdout or "").strip().splitlines()
        raise ToolFailed(f"{argv[0]} exited with {proc.returncode}: {first[0] if first else 'no output'}")
    return proc.stdout[:MAX_TOOL_OUTPUT_CHARS]


def load_nvml() -> Any:
    """The pynvml module (package nvidia-ml-py) when installed, else None."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    return pynvml


def query_nvml(nvml: Any) -> list[DeviceReport]:
    """Devices through NVML; ToolFailed when the library cannot initialise (no driver)."""
    try:
        nvml.nvmlInit()
    except Exception as exc:  # pynvml raises NVMLError subclasses; any failure means "no NVML here"
        raise ToolFailed(f"NVML could not initialise: {exc}") from None
    try:
        devices = []
        for i in range(min(int(nvml.nvmlDeviceGetCount()), MAX_DEVICES)):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            name = nvml.nvmlDeviceGetName(handle)
            name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
            total = nvml.nvmlDeviceGetMemoryInfo(handle).total
            devices.append(DeviceReport(i, name.strip(), total / 2**30, "nvml"))
        return devices
    except Exception as exc:
        raise ToolFailed(f"NVML query failed: {exc}") from None
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def parse_nvidia_smi_csv(text: str) -> list[DeviceReport]:
    """`nvidia-smi --query-gpu=name,memory.total --format=csv,noheader[,nounits]` -> devices."""
    devices = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, memory = line.rpartition(",")
        if not sep or not name.strip():
            raise ToolFailed(f"nvidia-smi printed an unexpected line {line[:120]!r}; expected 'name, memory.total'")
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(MiB)?\s*", memory)
        devices.append(DeviceReport(len(devices), name.strip(), float(m.group(1)) / 1024 if m else None, "nvidia-smi"))
        if len(devices) >= MAX_DEVICES:
            break
    return devices


def _field(card: dict, *names: str) -> str:
    lowered = {str(k).lower(): v for k, v in card.items()}
    for n in names:
        v = lowered.get(n.lower())
        if isinstance(v, (str, int, float)) and str(v).strip() and str(v).strip().upper() != "N/A":
            return str(v).strip()
    return ""


def parse_rocm_smi_json(text: str) -> list[DeviceReport]:
    """`rocm-smi --showproductname [--showmeminfo vram] --json` -> devices (keys 'card0', 'card1' ...)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolFailed(f"rocm-smi printed invalid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise ToolFailed("rocm-smi JSON is not an object of cards")
    cards = sorted((k for k in doc if re.fullmatch(r"card\d+", str(k)) and isinstance(doc[k], dict)),
                   key=lambda k: int(k[4:]))[:MAX_DEVICES]
    devices = []
    for k in cards:
        card = doc[k]
        name = _field(card, "Card Series", "Card series", "Card Model", "Card model", "Device Name", "Market Name")
        model = _field(card, "Card Model", "Card model", "Device ID")
        device_id = model[2:].lower() if re.fullmatch(r"0x[0-9a-fA-F]{4}", model) else ""
        vram = _field(card, "VRAM Total Memory (B)")
        memory = int(vram) / 2**30 if vram.isdigit() else None
        devices.append(DeviceReport(int(k[4:]), name or (f"AMD device 0x{device_id}" if device_id else k),
                                    memory, "rocm-smi", device_id))
    return devices


def discover_devices(runner: Runner = run_tool, nvml_loader: NvmlLoader = load_nvml) -> tuple[list[DeviceReport], list[str]]:
    """Devices from the first source that reports any, and a note per source that did not."""
    notes: list[str] = []
    nvml = nvml_loader()
    if nvml is None:
        notes.append("NVML: nvidia-ml-py not installed")
    else:
        try:
            devices = query_nvml(nvml)
            if devices:
                return devices, notes
            notes.append("NVML: no devices")
        except ToolFailed as exc:
            notes.append(str(exc))
    for argv, parse in ((NVIDIA_SMI_ARGS, parse_nvidia_smi_csv), (ROCM_SMI_ARGS, parse_rocm_smi_json)):
        try:
            devices = parse(runner(argv))
        except FileNotFoundError:
            notes.append(f"{argv[0]}: not found")
            continue
        except ToolFailed as exc:
            notes.append(str(exc))
            continue
        if devices:
            return devices, notes
        notes.append(f"{argv[0]}: no devices")
    return [], notes


def resolve_device(catalog, device: DeviceReport) -> DetectedGpu:
    """The profile for one reported device (PCI id first for AMD, then the name with measured memory)."""
    if device.pci_device_id:
        try:
            res = catalog.resolve_detail(f"pci 1002:{device.pci_device_id}", device.memory_gb)
            return DetectedGpu(device, res.canonical, res.explain())
        except ProfileError:
            pass  # an id the alias table does not know: the series name may still say it
    try:
        res = catalog.resolve_detail(device.name, device.memory_gb)
    except ProfileError as exc:
        return DetectedGpu(device, None, str(exc))
    return DetectedGpu(device, res.canonical, res.explain())


def detect_gpus(catalog, runner: Runner = run_tool, nvml_loader: NvmlLoader = load_nvml) -> tuple[list[DetectedGpu], list[str]]:
    """This machine's GPUs resolved to profiles, and the notes of sources that reported nothing."""
    devices, notes = discover_devices(runner, nvml_loader)
    return [resolve_device(catalog, d) for d in devices], notes


def no_gpu_message(notes: Sequence[str]) -> str:
    """One line saying there is no GPU, and what was checked."""
    return f"no GPU found on this machine ({'; '.join(notes)})"


def local_gpu_profiles(catalog, runner: Runner = run_tool, nvml_loader: NvmlLoader = load_nvml) -> list[tuple[str, int, str]]:
    """For `--gpu local`: (profile, device count, reported name) per distinct local GPU profile.

    NoLocalGpuError when the machine reports no GPU; ProfileError when a device has no profile."""
    detected, notes = detect_gpus(catalog, runner, nvml_loader)
    if not detected:
        raise NoLocalGpuError(f"--gpu local: {no_gpu_message(notes)}; name a GPU instead (see `phantom-report gpus list`)")
    unresolved = [d for d in detected if d.profile is None]
    if unresolved:
        d = unresolved[0]
        raise ProfileError(f"--gpu local: GPU {d.device.index} ({d.device.name!r}, from {d.device.tool}): {d.explanation}")
    out: dict[str, tuple[str, int, str]] = {}
    for d in detected:
        prof, count, name = out.get(d.profile, (d.profile, 0, d.device.name))
        out[d.profile] = (prof, count + 1, name)
    return list(out.values())
