"""Run one report and record it in history. Used by the CLI, the scheduler and the service's
worker processes alike, so every run lands in history the same way."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import sessionmaker

from phantom_report.errors import PhantomError

from . import history
from .db import open_db
from .settings import DeliverySettings
from .specio import DeliverySpec, parse_delivery_spec


def report_formats(dspec: DeliverySpec) -> tuple[str, ...]:
    """What the spec asks for, plus what the email attaches and what history stores (json)."""
    wanted = list(dspec.spec.report.formats)
    for fmt in (*dspec.attach, "json"):
        if fmt not in wanted:
            wanted.append(fmt)
    return tuple(wanted)


def execute(sessions: sessionmaker, settings: DeliverySettings, dspec: DeliverySpec, run_id: str,
            allow_local_assets: bool = False) -> Any | None:
    """Render the report for an already created history row; returns the RunResult or None.

    The service's template directory applies to specs that name none; every run builds a fresh
    Jinja environment from disk, so an edited template is live on the next run (hot reload).
    ``allow_local_assets`` stays False for specs that came over the API: they may not name server
    files (template_dir, template paths, a logo outside the service's template directory)."""
    history.mark_running(sessions, run_id)
    out_dir = Path(settings.reports_dir) / run_id
    try:
        from phantom_report.reporter.run import run_report

        with history.heartbeat(sessions, run_id):  # a dead owner is told from a slow one
            result = run_report(dspec.spec, out_dir=out_dir, formats=report_formats(dspec), offline=settings.offline,
                                allow_local_assets=allow_local_assets, template_dir=settings.templates_dir)
    except PhantomError as exc:
        history.record_failure(sessions, run_id, str(exc))
        return None
    except Exception as exc:  # noqa: BLE001 - a bug, but the run must still end as failed
        history.record_failure(sessions, run_id, f"internal error: {type(exc).__name__}: {exc}")
        return None
    history.record_success(sessions, run_id, result)
    return result


def record_cli_run(spec: Any, result: Any | None = None, error: str | None = None,
                   db_url: str | None = None) -> str:
    """For `phantom-report run`: store a run rendered in the CLI process (the spec is a RunSpec)."""
    settings = DeliverySettings.from_env(db_url=db_url)
    sessions = open_db(settings.db_url)
    try:
        run_id = history.create_run(sessions, spec.as_dict(), "cli")
        history.mark_running(sessions, run_id)
        if result is not None:
            history.record_success(sessions, run_id, result)
        else:
            history.record_failure(sessions, run_id, error or "failed")
        return run_id
    finally:
        sessions.kw["bind"].dispose()


def execute_in_worker(settings: DeliverySettings, run_id: str, spec_text: str, filename: str,
                      base_dir: str) -> str:
    """Process-pool / Dask entry point: everything arrives as picklable values, the worker opens
    its own database connection. Returns the final status."""
    if settings.profiles_dir:
        os.environ["PHANTOM_PROFILES"] = str(settings.profiles_dir)  # this worker process only
    sessions = open_db(settings.db_url)
    try:
        try:
            dspec = parse_delivery_spec(spec_text, filename=filename, base_dir=base_dir)
        except PhantomError as exc:
            history.record_failure(sessions, run_id, str(exc))
            return "failed"
        execute(sessions, settings, dspec, run_id)
        return history.get_run(sessions, run_id).status
    finally:
        sessions.kw["bind"].dispose()


def run_due_in_worker(settings: DeliverySettings) -> int:
    """One scheduler pass in a worker process (the service's scheduler loop): it opens its own
    database connection and reads the profile directory the service serves. Returns the number of
    due runs handled."""
    from .scheduler import run_due

    if settings.profiles_dir:
        os.environ["PHANTOM_PROFILES"] = str(settings.profiles_dir)  # this worker process only
    sessions = open_db(settings.db_url)
    try:
        return len(run_due(sessions, settings))
    finally:
        sessions.kw["bind"].dispose()
