"""`phantom-report spec check|schema`: validate a run spec without running it, or print the JSON
Schema of run specs."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

spec_app = typer.Typer(help="Validate run specs or print their JSON Schema.", no_args_is_help=True)


@spec_app.command("check")
def spec_check(spec_file: Path = typer.Argument(..., help="Run spec (YAML)."),
               allow_python: bool = typer.Option(False, "--allow-python",
                                                 help="Accept `module:callable` model factories (not loaded here).")
               ) -> None:
    """Validate a spec without running it: schema, ranges, and GPU/region names."""
    from phantom_report.engine.profiles import load_catalog
    from phantom_report.reporter.delivery.specio import load_run_spec
    from phantom_report.reporter.spec import check_names

    spec = load_run_spec(spec_file, allow_python=allow_python)
    check_names(spec, load_catalog())
    names = ", ".join(w.label for w in spec.workloads)
    Console().print(f"[green]ok[/] {spec_file}: {len(spec.workloads)} workload(s) ({names}); gpus: "
                    f"{spec.gpus if spec.gpus == 'all' else len(spec.gpus)}; formats: {','.join(spec.report.formats)}", highlight=False)


@spec_app.command("schema")
def spec_schema() -> None:
    """Print the JSON Schema of run specs."""
    from phantom_report.reporter.spec import spec_json_schema

    typer.echo(json.dumps(spec_json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    """Add the `spec` command group to the `phantom-report` app."""
    app.add_typer(spec_app, name="spec")
