"""`phantom-report run SPEC`: predict, price and report a run spec (reporter/run.py), with a progress
bar per stage; every run is recorded in the run history (PHANTOM_DB_URL)."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from rich.console import Console


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
            if stage == "render":
                _preload_history()

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


def _preload_history() -> None:
    """Import the run-history modules (SQLAlchemy and its ORM: ~0.2 s of a ~2.5 s quickstart run,
    measured) on a thread while the report renders: the main thread then mostly waits for the PDF
    child, so the import no longer adds to the run's wall time. `_record_history` imports the same
    modules; Python's module locks make it wait for this import if it is still going. Nothing is
    written here."""
    def load() -> None:
        try:
            import phantom_report.reporter.delivery.runner  # noqa: F401
        except Exception:  # noqa: BLE001 - _record_history imports it again and reports the problem
            pass
    threading.Thread(target=load, name="history-preload", daemon=True).start()


def _record_history(console: "Console", spec, result=None, error: str | None = None) -> str | None:
    """Every CLI run lands in the run history (PHANTOM_DB_URL); a history problem never fails a report."""
    from phantom_report.reporter.delivery.runner import record_cli_run

    try:
        return record_cli_run(spec, result=result, error=error)
    except Exception as exc:  # noqa: BLE001 - the report is written; history is best effort here
        console.print(f"[yellow]warning:[/] run not recorded in history: {exc}", highlight=False)
        return None


def register(app: typer.Typer) -> None:
    """Add `run` to the `phantom-report` app."""
    app.command("run")(run_cmd)
