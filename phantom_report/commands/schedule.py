"""`phantom-report schedule add|list|remove|run-due|outbox`: scheduled email reports (cron) and the
outbox of emails and alert webhooks. Every command takes `--db URL` (default $PHANTOM_DB_URL, else
sqlite:///phantom-history.db)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Optional

import typer

from phantom_report.commands.options import DB_OPT, delivery_settings, open_history
from phantom_report.engine.limits import printable

schedule_app = typer.Typer(help="Scheduled email reports (cron).", no_args_is_help=True)


def _parse_when(value: str | None) -> dt.datetime | None:
    from phantom_report.errors import PhantomError

    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise PhantomError(f"--now: expected an ISO time such as 2026-01-05T08:00:00+00:00, got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


@schedule_app.command("add")
def schedule_add(spec: Path = typer.Argument(..., help="spec YAML with `schedule` and `email` sections"),
                 name: Optional[str] = typer.Option(None, help="schedule name (default: the spec file stem)"),
                 db: Optional[str] = DB_OPT) -> None:
    """Add a schedule; it first fires at the next cron time after now."""
    from phantom_report.reporter.delivery.scheduler import add_schedule, next_due
    from phantom_report.reporter.yamlpos import read_bounded

    text = read_bounded(spec)  # size and UTF-8 bounded, one-line SpecError otherwise
    sessions = open_history(delivery_settings(db))
    row = add_schedule(sessions, name or spec.stem, text, str(spec), str(spec.resolve().parent),
                       allow_local_assets=True)
    typer.echo(f"schedule {row.id} {row.name!r}: {row.cron} ({row.timezone}); "
               f"next run {next_due(row, row.last_due_at).isoformat()}")

@schedule_app.command("list")
def schedule_list(db: Optional[str] = DB_OPT, as_json: bool = typer.Option(False, "--json")) -> None:
    """List schedules with their next due time and health (ok, retrying, dead, invalid)."""
    from phantom_report.reporter.delivery.scheduler import list_schedules, schedule_to_dict

    items = [schedule_to_dict(r) for r in list_schedules(open_history(delivery_settings(db)))]
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

@schedule_app.command("remove")
def schedule_remove(ident: str = typer.Argument(..., help="schedule id or name"), db: Optional[str] = DB_OPT) -> None:
    """Remove a schedule (its past runs stay in history)."""
    from phantom_report.reporter.delivery.scheduler import remove_schedule

    remove_schedule(open_history(delivery_settings(db)), ident)
    typer.echo(f"removed schedule {ident}")

@schedule_app.command("run-due")
def schedule_run_due(db: Optional[str] = DB_OPT,
                     now: Optional[str] = typer.Option(None, help="pretend it is this ISO time (backfill, tests)"),
                     reports_dir: Optional[Path] = typer.Option(None, help="where run outputs go (default ./reports)"),
                     offline: Optional[bool] = typer.Option(None, "--offline/--online", help="prices from the snapshot only"),
                     secrets_file: Optional[Path] = typer.Option(None, help="NAME=value file for SMTP passwords")) -> None:
    """Run every schedule that is due (exactly once per due time), then send pending emails.
    Meant for system cron (`*/5 * * * * phantom-report schedule run-due`); the service runs the same loop."""
    from phantom_report.reporter.delivery.scheduler import run_due

    settings = delivery_settings(db, reports_dir=reports_dir, offline=offline, secrets_file=secrets_file)
    sessions = open_history(settings)
    done = run_due(sessions, settings, now=_parse_when(now))
    from phantom_report.reporter.delivery.outbox import pending_count

    for d in done:
        failure = "" if d.claim_state == "queued" else (
            f", {'dead-lettered' if d.claim_state == 'dead' else 'will retry'}: {printable(d.error or '')}")
        typer.echo(f"schedule {d.schedule_id} due {d.due_at.isoformat()}: run {d.run_id} {d.status}"
                   + (", email queued" if d.queued_email else "") + failure)
    typer.echo(f"{len(done)} run(s); outbox pending: {pending_count(sessions)}")

@schedule_app.command("outbox")
def schedule_outbox(db: Optional[str] = DB_OPT, limit: int = 20,
                    log: Optional[int] = typer.Option(
                        None, "--log", help="show every attempt of this message with the server's replies"),
                    requeue: Optional[int] = typer.Option(
                        None, "--requeue", help="send this dead or possibly-sent message again")) -> None:
    """Queued, sent, dead and possibly-sent emails and alert webhooks with the server's last reply
    (never passwords: those are not stored)."""
    from phantom_report.reporter.delivery import outbox

    sessions = open_history(delivery_settings(db))
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


def register(app: typer.Typer) -> None:
    """Add the `schedule` command group to the `phantom-report` app."""
    app.add_typer(schedule_app, name="schedule")
