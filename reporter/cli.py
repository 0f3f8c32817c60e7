"""CLI commands of the reporter: `run`, `spec check|schema`, `templates init`.

Heavy imports (pandas, the engine, plotly, WeasyPrint) happen inside the commands so that
`phantom-report --help` stays fast.
"""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from phantom_report.errors import TemplateError

if TYPE_CHECKING:
    from rich.console import Console

spec_app = typer.Typer(help="Validate run specs or print their JSON Schema.", no_args_is_help=True)
templates_app = typer.Typer(help="Report templates.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.add_typer(spec_app, name="spec")
    app.add_typer(templates_app, name="templates")


def run_cmd(
    spec_file: Path = typer.Argument(..., help="Run spec (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory (default: report.out_dir or reports/<title>)."),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help="Comma-separated: html,pdf,md,json,csv."),
    offline: bool = typer.Option(False, "--offline", help="Use the embedded price snapshot; no network."),
    template: Optional[str] = typer.Option(None, "--template", "-t", help="Template name (executive, detailed) or a directory."),
    open_: bool = typer.Option(False, "--open", help="Open the HTML report when done."),
    allow_python: bool = typer.Option(False, "--allow-python",
                                      help="Allow `module:callable` model factories in the spec (imports and runs "
                                           "that Python code; only for specs you wrote)."),
) -> None:
    """Predict, price and report a run spec."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from phantom_report.reporter.run import STAGES, run_report
    from phantom_report.reporter.delivery.specio import load_run_spec

    console = Console()
    spec = load_run_spec(spec_file, allow_python=allow_python)  # a spec for `schedule add` runs as well
    if out is not None:
        _check_out_dir(out)
    formats = [f.strip() for f in fmt.split(",") if f.strip()] if fmt else None
    with Progress(TextColumn("[bold]{task.description:<12}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=len(STAGES))
        seen: list[str] = []

        def progress(stage: str) -> None:
            if seen:
                bar.advance(task)
            seen.append(stage)
            bar.update(task, description=stage)

        try:
            result = run_report(spec, out_dir=out, formats=formats, offline=True if offline else None,
                                template=template, progress=progress)
        except Exception as exc:
            _record_history(console, spec, error=str(exc))
            raise
        bar.update(task, completed=len(STAGES))
    run_id = _record_history(console, spec, result=result)
    console.print(f"[bold green]Decision:[/] {result.headline}", highlight=False)
    console.print(result.summary, highlight=False)
    for w in result.warnings[:3]:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    for kind, path in result.outputs.items():
        console.print(f"  {kind:<4} {path}", highlight=False)
    if run_id:
        console.print(f"  run history id {run_id} (phantom-report history show {run_id})", highlight=False)
    console.print(f"[dim]{result.timings_s['total']:.2f} s ({', '.join(f'{k} {v:.2f}' for k, v in result.timings_s.items() if k != 'total')})[/]")
    if open_ and "html" in result.outputs:
        webbrowser.open(result.outputs["html"].resolve().as_uri())


def _check_out_dir(out: Path) -> None:
    """Refuse an --out the OS will refuse, before minutes of work: a file on the way, a name too long."""
    from phantom_report.engine.limits import MAX_PATH_COMPONENT_BYTES
    from phantom_report.errors import SpecError

    for part in out.parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_PATH_COMPONENT_BYTES:
            raise SpecError(f"--out: a path component is {len(part.encode('utf-8', 'surrogateescape'))} bytes; "
                            f"file names may have at most {MAX_PATH_COMPONENT_BYTES}")
    for parent in (out, *out.parents):
        if parent.exists():
            if not parent.is_dir():
                raise SpecError(f"--out {out}: {parent} is a file, not a directory")
            return


def _record_history(console: "Console", spec, result=None, error: str | None = None) -> str | None:
    """Every CLI run lands in the run history (PHANTOM_DB_URL); a history problem never fails a report."""
    from phantom_report.reporter.delivery.runner import record_cli_run

    try:
        return record_cli_run(spec, result=result, error=error)
    except Exception as exc:  # noqa: BLE001 - the report is written; history is best effort here
        console.print(f"[yellow]warning:[/] run not recorded in history: {exc}", highlight=False)
        return None


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
    from rich.console import Console

    Console().print(f"[green]ok[/] {spec_file}: {len(spec.workloads)} workload(s) ({names}); gpus: "
                    f"{spec.gpus if spec.gpus == 'all' else len(spec.gpus)}; formats: {','.join(spec.report.formats)}", highlight=False)


@spec_app.command("schema")
def spec_schema() -> None:
    """Print the JSON Schema of run specs."""
    from phantom_report.reporter.spec import spec_json_schema

    typer.echo(json.dumps(spec_json_schema(), indent=2))


@templates_app.command("init")
def templates_init(
    directory: Path = typer.Argument(..., help="Directory to create (must not exist or be empty)."),
    force: bool = typer.Option(False, "--force", help="Overwrite files already there."),
) -> None:
    """Scaffold a custom template that renders out of the box."""
    from phantom_report.reporter.outputs import write_outputs
    from phantom_report.reporter.templating import builtin_dir

    src = builtin_dir() / "scaffold"
    try:
        if directory.exists() and not directory.is_dir():
            raise TemplateError(f"{directory} exists and is not a directory; name a new or empty directory")
        if directory.is_dir() and any(directory.iterdir()) and not force:
            raise TemplateError(f"{directory} is not empty; use --force to overwrite")
        files = {f.name: f.read_bytes() for f in sorted(src.iterdir()) if f.is_file()}
    except OSError as exc:
        raise TemplateError(f"templates init {str(directory)[:200]}: {exc.strerror or exc}") from None
    # staged and renamed into place: all files or none, and a symlink in DIR is replaced, not followed
    write_outputs(directory, files)
    from rich.console import Console

    Console().print(f"[green]created[/] {directory} — try: phantom-report run examples/quickstart.yaml --template {directory}", highlight=False)
