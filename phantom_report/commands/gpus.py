"""`phantom-report gpus list|show|resolve|detect`: the GPU profiles (datasheet figures with sources)
and the GPUs of this machine."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from phantom_report.commands.options import FORMAT_OPT, PROFILES_OPT, load_engine

gpus_app = typer.Typer(help="GPU profiles (datasheet figures with sources).", no_args_is_help=True)


@gpus_app.command("list")
def gpus_list(fmt: str = FORMAT_OPT, profiles: Optional[str] = PROFILES_OPT) -> None:
    """List every known GPU with its headline figures."""
    import pandas as pd

    from phantom_report.commands.output import check_format, emit

    check_format(fmt)
    eng = load_engine(profiles)
    rows = [{
        "name": p.name, "architecture": p.architecture, "memory_gb": p.memory_gb,
        "memory_bandwidth_gbps": p.memory_bandwidth_gbps, "fp16_tflops": p.peak("fp16") or float("nan"),
        "bf16_tflops": p.peak("bf16") or float("nan"), "fp8_tflops": p.peak("fp8") or float("nan"),
        "tdp_w": p.tdp_w, "aliases": ", ".join(p.aliases), "source": p.source,
    } for p in eng.catalog]
    emit(pd.DataFrame(rows), fmt, [
        ("name", "Name", ""), ("architecture", "Arch", ""), ("memory_gb", "Mem GB", ".0f"),
        ("memory_bandwidth_gbps", "BW GB/s", ",.0f"), ("fp16_tflops", "FP16 TF", ".1f"),
        ("bf16_tflops", "BF16 TF", ".1f"), ("fp8_tflops", "FP8 TF", ".1f"), ("tdp_w", "TDP W", ".0f"),
    ], title=f"{len(rows)} GPUs (dense peak TFLOPS)")


@gpus_app.command("show")
def gpus_show(name: str, fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
              profiles: Optional[str] = PROFILES_OPT) -> None:
    """Every figure of one GPU, with its source."""
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from phantom_report.commands.output import check_format

    check_format(fmt, ("table", "json"))
    p = load_engine(profiles).catalog.get(name)
    data = asdict(p)
    if fmt == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    t = Table(title=p.name, show_header=True, header_style="bold")
    t.add_column("Figure")
    t.add_column("Value", justify="right")
    t.add_column("Source")
    for key, val in data.items():
        if key in ("peak_tflops", "sources", "name", "path"):
            continue
        t.add_row(key, str(val), p.source_for(key) if key not in ("aliases", "source") else "")
    for col, v in p.peak_tflops.items():
        t.add_row(f"peak {col} (dense {'TOPS' if col == 'int8' else 'TFLOPS'})", f"{v:g}", p.source_for(f"peak_tflops.{col}"))
    Console().print(t)


@gpus_app.command("resolve")
def gpus_resolve(names: list[str] = typer.Argument(..., help="GPU names as written, e.g. 'NVIDIA A100-SXM4-80GB'"),
                 profiles: Optional[str] = PROFILES_OPT) -> None:
    """Which profile each name resolves to, and by which rule (alias, parsed name, family default)."""
    catalog = load_engine(profiles).catalog
    for name in names:
        sys.stdout.write(catalog.resolve_detail(name).explain() + "\n")


@gpus_app.command("detect")
def gpus_detect(fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
                profiles: Optional[str] = PROFILES_OPT) -> None:
    """Name this machine's GPUs (NVML, nvidia-smi or rocm-smi) and the profile each resolves to.

    Exit codes: 0 every GPU found has a profile; 1 no GPU found (one line on stderr); 2 a GPU was
    found whose name resolves to no profile (the table is printed, then the reason)."""
    from phantom_report.engine.gpu_detect import NoGpuFound, detect_gpus, no_gpu_message
    from phantom_report.commands.output import check_format
    from phantom_report.errors import ProfileError

    check_format(fmt, ("table", "json"))
    detected, notes = detect_gpus(load_engine(profiles).catalog)
    if not detected:
        raise NoGpuFound(no_gpu_message(notes))
    rows = [{"index": d.device.index, "name": d.device.name, "memory_gb": d.device.memory_gb, "tool": d.device.tool,
             "profile": d.profile, "explanation": d.explanation} for d in detected]
    if fmt == "json":
        sys.stdout.write(json.dumps({"gpus": rows}, indent=2) + "\n")
    else:
        for r in rows:
            mem = f"{r['memory_gb']:.1f} GB" if r["memory_gb"] is not None else "memory not reported"
            sys.stdout.write(f"GPU {r['index']}: {r['name']} ({mem}, {r['tool']}) -> {r['profile'] or 'no profile'}\n")
    bad = [d for d in detected if d.profile is None]
    if bad:
        raise ProfileError(f"GPU {bad[0].device.index} ({bad[0].device.name!r}): {bad[0].explanation}")


def register(app: typer.Typer) -> None:
    """Add the `gpus` command group to the `phantom-report` app."""
    app.add_typer(gpus_app, name="gpus")
