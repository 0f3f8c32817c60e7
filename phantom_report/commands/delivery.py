"""CLI of the delivery area: `schedule add|list|remove|run-due`, `history list|show|diff`, `serve`.

Every command takes `--db URL` (default $PHANTOM_DB_URL, else sqlite:///phantom-history.db).
Heavy imports happen inside the commands to keep `phantom-report --help` fast.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

import typer

from phantom_report.engine.limits import printable

DbOpt = typer.Option(None, "--db", help="history database URL (default $PHANTOM_DB_URL or sqlite:///phantom-history.db)")


def _settings(db: str | None, **kw):
    from phantom_report.reporter.delivery.settings import DeliverySettings

    return DeliverySettings.from_env(db_url=db, **kw)


def _sessions(settings):
    from phantom_report.reporter.delivery.db import open_db

    return open_db(settings.db_url)


def _parse_when(value: str | None) -> dt.datetime | None:
    from phantom_report.errors import PhantomError

    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise PhantomError(f"--now: expected an ISO time such as 2026-01-05T08:00:00+00:00, got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can reach the server."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    schedule = typer.Typer(help="Scheduled email reports (cron).", no_args_is_help=True)
    hist = typer.Typer(help="Run history: every report run with its spec, prices and results.", no_args_is_help=True)
    app.add_typer(schedule, name="schedule")
    app.add_typer(hist, name="history")

    @schedule.command("add")
    def schedule_add(spec: Path = typer.Argument(..., help="spec YAML with `schedule` and `email` sections"),
                     name: Optional[str] = typer.Option(None, help="schedule name (default: the spec file stem)"),
                     db: Optional[str] = DbOpt) -> None:
        """Add a schedule; it first fires at the next cron time after now."""
        from phantom_report.reporter.delivery.scheduler import add_schedule, next_due
        from phantom_report.reporter.yamlpos import read_bounded

        text = read_bounded(spec)  # size and UTF-8 bounded, one-line SpecError otherwise
        sessions = _sessions(_settings(db))
        row = add_schedule(sessions, name or spec.stem, text, str(spec), str(spec.resolve().parent),
                           allow_local_assets=True)
        typer.echo(f"schedule {row.id} {row.name!r}: {row.cron} ({row.timezone}); "
                   f"next run {next_due(row, row.last_due_at).isoformat()}")

    @schedule.command("list")
    def schedule_list(db: Optional[str] = DbOpt, as_json: bool = typer.Option(False, "--json")) -> None:
        """List schedules with their next due time and health (ok, retrying, dead, invalid)."""
        from phantom_report.reporter.delivery.scheduler import list_schedules, schedule_to_dict

        items = [schedule_to_dict(r) for r in list_schedules(_sessions(_settings(db)))]
        if as_json:
            typer.echo(json.dumps(items, indent=2))
            return
        if not items:
            typer.echo("no schedules")
        for i in items:
            typer.echo(printable(f"{i['id']:>4}  {i['name']:<24} {i['cron']:<16} {i['timezone']:<16} next {i['next_due']}  "
                                 f"{i['status']:<8} to {', '.join(map(str, i['to']))}"))
            detail = i["problem"] or i["last_error"]
            if detail:
                typer.echo(f"      {i['status']}: {printable(detail)}")

    @schedule.command("remove")
    def schedule_remove(ident: str = typer.Argument(..., help="schedule id or name"), db: Optional[str] = DbOpt) -> None:
        """Remove a schedule (its past runs stay in history)."""
        from phantom_report.reporter.delivery.scheduler import remove_schedule

        remove_schedule(_sessions(_settings(db)), ident)
        typer.echo(f"removed schedule {ident}")

    @schedule.command("run-due")
    def schedule_run_due(db: Optional[str] = DbOpt,
                         now: Optional[str] = typer.Option(None, help="pretend it is this ISO time (backfill, tests)"),
                         reports_dir: Optional[Path] = typer.Option(None, help="where run outputs go (default ./reports)"),
                         offline: Optional[bool] = typer.Option(None, "--offline/--online", help="prices from the snapshot only"),
                         secrets_file: Optional[Path] = typer.Option(None, help="NAME=value file for SMTP passwords")) -> None:
        """Run every schedule that is due (exactly once per due time), then send pending emails.
        Meant for system cron (`*/5 * * * * phantom-report schedule run-due`); the service runs the same loop."""
        from phantom_report.reporter.delivery.scheduler import run_due

        settings = _settings(db, reports_dir=reports_dir, offline=offline, secrets_file=secrets_file)
        sessions = _sessions(settings)
        done = run_due(sessions, settings, now=_parse_when(now))
        from phantom_report.reporter.delivery.outbox import pending_count

        for d in done:
            failure = "" if d.claim_state == "queued" else (
                f", {'dead-lettered' if d.claim_state == 'dead' else 'will retry'}: {printable(d.error or '')}")
            typer.echo(f"schedule {d.schedule_id} due {d.due_at.isoformat()}: run {d.run_id} {d.status}"
                       + (", email queued" if d.queued_email else "") + failure)
        typer.echo(f"{len(done)} run(s); outbox pending: {pending_count(sessions)}")

    @schedule.command("outbox")
    def schedule_outbox(db: Optional[str] = DbOpt, limit: int = 20,
                        log: Optional[int] = typer.Option(
                            None, "--log", help="show every attempt of this message with the server's replies"),
                        requeue: Optional[int] = typer.Option(
                            None, "--requeue", help="send this dead or possibly-sent message again")) -> None:
        """Queued, sent, dead and possibly-sent emails and alert webhooks with the server's last reply
        (never passwords: those are not stored)."""
        from phantom_report.reporter.delivery import outbox

        sessions = _sessions(_settings(db))
        if requeue is not None:
            outbox.requeue(sessions, requeue)
            typer.echo(f"outbox message {requeue} queued again")
            return
        if log is not None:
            entries = outbox.delivery_log(sessions, log)
            if not entries:
                typer.echo(f"no attempts recorded for outbox message {log}")
            for e in entries:
                typer.echo(f"attempt {e.attempt}  {e.at:%Y-%m-%d %H:%M:%S}  {e.outcome:<13} "
                           f"{e.smtp_code or '-'} {printable(e.smtp_response or '')}"
                           + (f"  ({printable(e.error)})" if e.error else ""))
            return
        from phantom_report.reporter.delivery.webhook import where

        for m in outbox.list_messages(sessions, limit):
            # a webhook's path is often its secret (Slack): only its origin is shown
            to = f"webhook {where(m.recipients[0])}" if m.channel == "webhook" else ", ".join(m.recipients)
            typer.echo(f"{m.id:>4}  {m.status:<13} attempts {m.attempts}  run {m.run_id}  to {to}"
                       + (f"  last error: {printable(m.last_error)}" if m.last_error else ""))

    @hist.command("list")
    def history_list(db: Optional[str] = DbOpt, limit: int = 20, status: Optional[str] = None,
                     as_json: bool = typer.Option(False, "--json")) -> None:
        """Most recent runs first."""
        from phantom_report.reporter.delivery.history import list_runs, run_to_dict

        runs = [run_to_dict(r) for r in list_runs(_sessions(_settings(db)), limit, status)]
        if as_json:
            typer.echo(json.dumps(runs, indent=2))
            return
        if not runs:
            typer.echo("no runs yet")
        for r in runs:
            dur = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else "-"
            typer.echo(f"{r['id']}  {r['created_at'][:19]}  {r['status']:<9} {r['origin']:<8} {dur:>7}  "
                       + (r["error"] or (r["summary"] or "")[:80]).replace("\n", " "))

    @hist.command("show")
    def history_show(run_id: str, db: Optional[str] = DbOpt) -> None:
        """Everything recorded for one run, as JSON."""
        from phantom_report.reporter.delivery.history import get_run, run_to_dict

        typer.echo(json.dumps(run_to_dict(get_run(_sessions(_settings(db)), run_id, prefix=True), full=True), indent=2))

    @hist.command("diff")
    def history_diff(run_a: str, run_b: str, db: Optional[str] = DbOpt,
                     as_json: bool = typer.Option(False, "--json")) -> None:
        """What changed between two runs: prices, predictions, recommendation."""
        from phantom_report.reporter.delivery.history import diff_runs, get_run

        sessions = _sessions(_settings(db))
        d = diff_runs(get_run(sessions, run_a, prefix=True), get_run(sessions, run_b, prefix=True))
        if as_json:
            typer.echo(json.dumps(d, indent=2))
            return
        typer.echo(f"{d['from']} -> {d['to']}")
        typer.echo(f"prices: {len(d['prices'])} change(s)")
        for p in d["prices"]:
            typer.echo(f"  {p['quote']}: " + (p["change"] if "change" in p else
                       f"{p['field']} {p['from']} -> {p['to']} ({p['change_pct']}%)"))
        typer.echo(f"predictions: {len(d['predictions'])} change(s)")
        for p in d["predictions"][:50]:
            typer.echo(f"  {p['path']}: {p['from']} -> {p['to']}" + (f" ({p['change_pct']}%)" if p["change_pct"] is not None else ""))
        rec = d["recommendation"]
        typer.echo("recommendation: " + ("changed" if rec["changed"] else "unchanged"))
        if rec["changed"]:
            typer.echo(f"  was: {rec['summary_from']}\n  now: {rec['summary_to']}")

    @app.command("serve")
    def serve(host: str = typer.Option("127.0.0.1", help="bind address"),
              port: int = typer.Option(8080),
              db: Optional[str] = DbOpt,
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
        from phantom_report.reporter.delivery.settings import DeliverySettings

        settings = DeliverySettings.from_env(
            db_url=db, reports_dir=reports_dir, profiles_dir=profiles, templates_dir=templates,
            workers=workers, executor=executor, dask_address=dask_address, rate_limit_per_min=rate_limit,
            max_request_bytes=max_request_bytes, scheduler_interval_s=scheduler_interval, offline=offline,
            secrets_file=secrets_file, require_auth=not no_auth,
            public_docs=_is_loopback(host) if public_docs is None else public_docs,
            public_metrics=_is_loopback(host) if public_metrics is None else public_metrics)
        if add_key:
            from phantom_report.reporter.delivery.apikeys import create_key

            key = create_key(_sessions(settings), add_key)
            typer.echo(key)
            return
        if executor not in ("local", "dask"):
            raise PhantomError(f"--executor: expected local or dask, got {executor!r}")
        if executor == "dask" and not dask_address:
            raise PhantomError("--executor dask needs --dask-address tcp://HOST:PORT")
        import uvicorn

        from phantom_report.reporter.delivery.service import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
