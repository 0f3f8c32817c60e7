"""`phantom-report validate`: the engine computes (engine/calibration_cli.run_validation), the
reporter presents the HTML/PDF report (reporter/validation_render.py); table/json/csv are the
engine's listings. The command lives here because the engine may not import the reporter
(tests/test_import_direction.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def validate(
    data: Optional[list[Path]] = typer.Option(None, "--data", help="Measurements CSV (columns below); repeatable"),
    confidence: float = typer.Option(0.9, "--confidence", help="Interval confidence, between 0 and 1"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json, csv, html or pdf"),
    out: Optional[Path] = typer.Option(None, "--out", help="Output file (html/pdf default: validation.<format>)"),
    schemes: str = typer.Option("source,gpu,gpu_model", "--schemes",
                                help="Cross-validation schemes (no --data): source (headline), gpu, gpu_model"),
    refit: str = typer.Option("full", "--refit",
                              help="full: refit every fold (exact, minutes); "
                                   "newton: few-step Gauss-Newton approximate refit (seconds)"),
    jobs: int = typer.Option(0, "--jobs", help="Worker processes for cross-validation (0 = all cores)"),
    profiles: Optional[str] = typer.Option(None, "--profiles", envvar="PHANTOM_PROFILES", help="Extra GPU profiles"),
    template_dir: Optional[Path] = typer.Option(
        None, "--template-dir",
        help="html/pdf: a directory searched first for validation.html.j2 (may extend default:validation.html.j2)"),
) -> None:
    """Accuracy against measurements: grouped cross-validation, or score your own CSV (--data)."""
    from rich.console import Console

    from phantom_report.engine import calibration_cli as C
    from phantom_report.errors import TemplateError

    C.check_validate_options(fmt, refit, confidence)
    if template_dir is not None and not template_dir.is_dir():  # before minutes of cross-validation
        raise TemplateError(f"template directory {str(template_dir)[:200]} does not exist")
    run = C.run_validation(data, confidence, fmt, schemes, refit, jobs, profiles)
    if fmt not in ("html", "pdf"):
        C.write_listing(run, fmt, out)
        return
    from phantom_report.reporter.validation_render import write_validation_report

    path = write_validation_report(C.report_data(run), out or Path(f"validation.{fmt}"), fmt, template_dir)
    Console(stderr=True).print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    from phantom_report.engine.measurement_format import COLUMNS_HELP

    app.command("validate", epilog=COLUMNS_HELP)(validate)
