"""`phantom-report models list|show|inspect`: the built-in model zoo and the model card of any
model source (zoo name, config.json, model directory, ONNX, TorchScript, pkg.mod:factory)."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from phantom_report.commands.options import ALLOW_PYTHON_OPT, FORMAT_OPT

models_app = typer.Typer(help="Built-in model zoo and model inspection.", no_args_is_help=True)


@models_app.command("list")
def models_list(fmt: str = FORMAT_OPT) -> None:
    """List the built-in models."""
    import pandas as pd

    from phantom_report.commands.output import check_format, emit
    from phantom_report.engine.zoo import builtin_workloads

    check_format(fmt)
    rows = [{
        "name": w.name, "display_name": w.display_name, "family": w.family,
        "params_total_b": w.params_total / 1e9, "params_active_b": w.params_active / 1e9,
        "gflops_per_sample": w.flops() / 1e9, "generative": w.generative,
        "aliases": ", ".join(w.aliases), "source": w.source,
    } for w in builtin_workloads().values()]
    emit(pd.DataFrame(rows), fmt, [
        ("name", "Name", ""), ("family", "Family", ""), ("params_total_b", "Params (B)", ".3f"),
        ("params_active_b", "Active (B)", ".3f"), ("gflops_per_sample", "GFLOP/sample*", ",.1f"),
    ], title="Built-in models (*at the default input size: 512 tokens for text models)")


@models_app.command("show")
def models_show(name: str, fmt: str = typer.Option("table", "--format", "-f", help="table or json")) -> None:
    """Operators, parameters and FLOPs of one built-in model."""
    from phantom_report.engine.zoo import resolve_builtin

    _inspect(resolve_builtin(name), 1, None, None, fmt)


@models_app.command("inspect")
def models_inspect(source: str = typer.Argument(..., help="zoo name, config.json, model dir, .onnx, .pt, or pkg.mod:factory"),
                   batch: int = typer.Option(1, "--batch", min=1), seq: Optional[int] = typer.Option(None, "--seq", min=1),
                   input_shape: Optional[str] = typer.Option(None, "--input-shape",
                                                             help="torch sources: 1,3,224,224 (';' between inputs)"),
                   fmt: str = typer.Option("table", "--format", "-f", help="table or json"),
                   allow_python: bool = ALLOW_PYTHON_OPT) -> None:
    """Model report card for any front end: params, FLOPs, bytes per precision, op classes."""
    _inspect(source, batch, seq, input_shape, fmt, allow_python=allow_python)


def _parse_shapes(text: str | None):
    from phantom_report.errors import ModelError

    if not text:
        return None
    try:
        shapes = [[int(d) for d in part.split(",")] for part in text.split(";") if part.strip()]
    except ValueError:
        raise ModelError(f"--input-shape must look like 1,3,224,224 (';' between inputs), got {text!r}") from None
    return shapes[0] if len(shapes) == 1 else shapes


def _inspect(source: str, batch: int, seq: int | None, input_shape: str | None, fmt: str,
             allow_python: bool = False) -> None:
    from phantom_report.engine.frontends.card import model_card, render_card
    from phantom_report.commands.output import check_format, wide_console
    from phantom_report.engine.sources import load_workload

    check_format(fmt, ("table", "json"))
    workload = load_workload(source, batch_size=batch, seq_len=seq, input_shape=_parse_shapes(input_shape),
                             allow_python=allow_python)
    card = model_card(workload, batch_size=batch, seq_len=seq)
    if fmt == "json":
        sys.stdout.write(json.dumps(card, indent=2, default=str) + "\n")
    else:
        wide_console().print(render_card(card))


def register(app: typer.Typer) -> None:
    """Add the `models` command group to the `phantom-report` app."""
    app.add_typer(models_app, name="models")
