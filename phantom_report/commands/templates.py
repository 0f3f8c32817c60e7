"""`phantom-report templates init DIR`: scaffold a custom report template that renders out of the box."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from phantom_report.errors import TemplateError

templates_app = typer.Typer(help="Report templates.", no_args_is_help=True)


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
    Console().print(f"[green]created[/] {directory} — try: phantom-report run examples/quickstart.yaml --template {directory}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the `templates` command group to the `phantom-report` app."""
    app.add_typer(templates_app, name="templates")
