"""`phantom-report serve`: the REST API and browser UI (FastAPI/uvicorn, reporter/delivery/service.py),
or `--add-key NAME` to create an API key."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from phantom_report.commands.options import DB_OPT, delivery_settings, open_history


def _is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can reach the server."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(host: str = typer.Option("127.0.0.1", help="bind address"),
          port: int = typer.Option(8080),
          db: Optional[str] = DB_OPT,
          reports_dir: Optional[Path] = typer.Option(None),
          profiles: Optional[Path] = typer.Option(None, help="user GPU profile directory (hot-reloaded; the UI editor saves here)"),
          templates: Optional[Path] = typer.Option(None, help="user template directory (hot-reloaded)"),
          workers: int = typer.Option(2, help="report worker processes"),
          executor: str = typer.Option("local", help="local | dask"),
          dask_address: Optional[str] = typer.Option(None, help="tcp://host:port of a Dask scheduler"),
          rate_limit: int = typer.Option(120, help="requests per minute per API key"),
          max_request_bytes: int = typer.Option(1_000_000),
          scheduler_interval: float = typer.Option(30.0, help="seconds between schedule checks; 0 disables"),
          offline: Optional[bool] = typer.Option(None, "--offline/--online"),
          secrets_file: Optional[Path] = typer.Option(None),
          no_auth: bool = typer.Option(False, "--no-auth", help="serve without API keys (local use only)"),
          public_docs: Optional[bool] = typer.Option(
              None, "--public-docs/--private-docs",
              help="/docs and /openapi.json without a key (default: only when bound to a loopback address)"),
          public_metrics: Optional[bool] = typer.Option(
              None, "--public-metrics/--private-metrics",
              help="/metrics without a key (default: only when bound to a loopback address)"),
          add_key: Optional[str] = typer.Option(None, help="create an API key with this name, print it once, exit")) -> None:
    """REST API + browser UI (FastAPI/uvicorn). Create a key first with --add-key NAME."""
    from phantom_report.errors import PhantomError

    settings = delivery_settings(
        db, reports_dir=reports_dir, profiles_dir=profiles, templates_dir=templates,
        workers=workers, executor=executor, dask_address=dask_address, rate_limit_per_min=rate_limit,
        max_request_bytes=max_request_bytes, scheduler_interval_s=scheduler_interval, offline=offline,
        secrets_file=secrets_file, require_auth=not no_auth,
        public_docs=_is_loopback(host) if public_docs is None else public_docs,
        public_metrics=_is_loopback(host) if public_metrics is None else public_metrics)
    if add_key:
        from phantom_report.reporter.delivery.apikeys import create_key

        key = create_key(open_history(settings), add_key)
        typer.echo(key)
        return
    if executor not in ("local", "dask"):
        raise PhantomError(f"--executor: expected local or dask, got {executor!r}")
    if executor == "dask" and not dask_address:
        raise PhantomError("--executor dask needs --dask-address tcp://HOST:PORT")
    import uvicorn

    from phantom_report.reporter.delivery.service import create_app

    # http="auto": requests parsed by httptools (a dependency: ~25% less CPU a request than h11)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add `serve` to the `phantom-report` app."""
    app.command("serve")(serve)
