"""Cron schedules: which report is due, run it exactly once, queue its email.

Why croniter and not APScheduler: all scheduler state (the last due time handled, the claim for
each due time, the outbox) must live in the run-history database so that the CLI's
`schedule run-due` (from system cron or a CI job) and the service's loop can run side by side and
survive restarts without running a due time twice. croniter does only the calendar arithmetic
(next/previous fire time, time-zone aware); APScheduler would bring a second store and its own
in-process timers whose "misfire" and coalescing rules would have to be reconciled with ours.

Missed due times (the scheduler was down) are coalesced: only the latest one runs, once.
A claim whose process died mid-render is taken over after `stale_claim_s`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from phantom_report.errors import PhantomError, SpecError

from . import history, outbox
from .db import Schedule, ScheduleClaim, as_utc, utcnow
from .mail import build_message, recipients_of, wire_bytes
from .runner import execute
from .settings import DeliverySettings
from .specio import DeliverySpec, parse_delivery_spec, spec_text_of


class ScheduleError(PhantomError):
    """A schedule is unknown or cannot be added."""


@dataclass(frozen=True)
class DueRun:
    schedule_id: int
    due_at: dt.datetime
    run_id: str | None
    status: str  # succeeded | failed
    queued_email: bool


def validate_cron(cron: str, timezone: str, where: str = "spec") -> ZoneInfo:
    if not croniter.is_valid(cron):
        raise SpecError(f"{where}: schedule.cron: {cron!r} is not a valid cron expression "
                        "(5 fields: minute hour day-of-month month day-of-week)")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(f"{where}: schedule.timezone: unknown time zone {timezone!r} "
                        "(an IANA name such as Europe/Paris)") from None


def add_schedule(sessions: sessionmaker, name: str, text: str, filename: str, base_dir: str,
                 now: dt.datetime | None = None) -> Schedule:
    dspec = parse_delivery_spec(text, filename=filename, base_dir=base_dir)
    spec = dspec.spec
    if spec.schedule is None:
        raise SpecError(f"{filename}: schedule: is required to add a schedule (cron and timezone)")
    if spec.email is None:
        raise SpecError(f"{filename}: email: is required to add a schedule (to, subject, smtp)")
    if dspec.smtp is None:
        raise SpecError(f"{filename}: email.smtp: is required (host, port, starttls, username, password_env)")
    validate_cron(spec.schedule.cron, spec.schedule.timezone, filename)
    stored = {**dspec.stored, "_base_dir": base_dir}
    with sessions.begin() as s:
        if s.scalar(select(Schedule.id).where(Schedule.name == name)):
            raise ScheduleError(f"a schedule named {name!r} exists; remove it first or pick another name")
        row = Schedule(name=name, spec=stored, cron=spec.schedule.cron, timezone=spec.schedule.timezone,
                       enabled=1, created_at=utcnow(), last_due_at=now or utcnow())
        s.add(row)
    return row


def list_schedules(sessions: sessionmaker) -> list[Schedule]:
    with sessions() as s:
        return list(s.scalars(select(Schedule).order_by(Schedule.id)))


def get_schedule(sessions: sessionmaker, ident: str | int) -> Schedule:
    with sessions() as s:
        row = None
        if str(ident).isdigit():
            row = s.get(Schedule, int(ident))
        row = row or s.scalar(select(Schedule).where(Schedule.name == str(ident)))
        if row is None:
            raise ScheduleError(f"no schedule {ident!r} (see `phantom-report schedule list`)")
        return row


def remove_schedule(sessions: sessionmaker, ident: str | int) -> None:
    row = get_schedule(sessions, ident)
    with sessions.begin() as s:
        for claim in s.scalars(select(ScheduleClaim).where(ScheduleClaim.schedule_id == row.id)):
            s.delete(claim)
        s.delete(s.get(Schedule, row.id))


def next_due(row: Schedule, after: dt.datetime) -> dt.datetime:
    tz = ZoneInfo(row.timezone)
    it = croniter(row.cron, as_utc(after).astimezone(tz))
    return it.get_next(dt.datetime).astimezone(dt.timezone.utc)


def latest_due(row: Schedule, now: dt.datetime) -> dt.datetime | None:
    """The latest fire time in (last_due_at, now], or None if nothing is due."""
    tz = ZoneInfo(row.timezone)
    it = croniter(row.cron, as_utc(now).astimezone(tz) + dt.timedelta(microseconds=1))
    prev = it.get_prev(dt.datetime).astimezone(dt.timezone.utc)
    last = as_utc(row.last_due_at) or as_utc(row.created_at)
    return prev if prev > last else None


def run_due(sessions: sessionmaker, settings: DeliverySettings, now: dt.datetime | None = None,
            stale_claim_s: float = 900.0) -> list[DueRun]:
    """Claim and run every schedule that is due, queue the emails, then flush the outbox."""
    now = now or utcnow()
    claims = _claim_due(sessions, now) + _stale_claims(sessions, now, stale_claim_s)
    done = [_run_claim(sessions, settings, claim_id) for claim_id in claims]
    outbox.flush(sessions, settings, now=max(now, utcnow()))
    return done


def _claim_due(sessions: sessionmaker, now: dt.datetime) -> list[int]:
    claimed = []
    for row in list_schedules(sessions):
        if not row.enabled:
            continue
        due = latest_due(row, now)
        if due is None:
            continue
        try:
            with sessions.begin() as s:
                claim = ScheduleClaim(schedule_id=row.id, due_at=due, state="claimed", claimed_at=utcnow())
                s.add(claim)
                s.get(Schedule, row.id).last_due_at = due
            claimed.append(claim.id)
        except IntegrityError:
            continue  # another scheduler process claimed this due time first
    return claimed


def _stale_claims(sessions: sessionmaker, now: dt.datetime, stale_claim_s: float) -> list[int]:
    cutoff = now - dt.timedelta(seconds=stale_claim_s)
    with sessions.begin() as s:
        rows = list(s.scalars(select(ScheduleClaim).where(
            ScheduleClaim.state == "claimed", ScheduleClaim.claimed_at < cutoff)))
        for row in rows:  # re-stamp so only this process takes each one over
            row.claimed_at = utcnow()
        return [r.id for r in rows]


def _run_claim(sessions: sessionmaker, settings: DeliverySettings, claim_id: int) -> DueRun:
    with sessions() as s:
        claim = s.get(ScheduleClaim, claim_id)
        row = s.get(Schedule, claim.schedule_id)
    stored = dict(row.spec)
    base_dir = stored.pop("_base_dir", ".")
    due_at = as_utc(claim.due_at)
    run_id = None
    try:
        dspec = parse_delivery_spec(spec_text_of(stored), filename=f"schedule {row.name}", base_dir=base_dir)
        run_id = history.create_run(sessions, dspec.stored, "schedule", schedule_id=row.id)
        result = execute(sessions, settings, dspec, run_id)
    except PhantomError as exc:
        if run_id is None:
            run_id = history.create_run(sessions, stored, "schedule", schedule_id=row.id)
            history.record_failure(sessions, run_id, str(exc))
        result = None
    if result is None:
        _set_claim(sessions, claim_id, "failed", run_id)
        return DueRun(row.id, due_at, run_id, "failed", False)
    key = f"schedule:{row.id}:{due_at.isoformat()}"
    queued = _queue_email(sessions, claim_id, dspec, result, run_id, key)
    return DueRun(row.id, due_at, run_id, "succeeded", queued)


def _queue_email(sessions: sessionmaker, claim_id: int, dspec: DeliverySpec, result, run_id: str, key: str) -> bool:
    mail_from = dspec.mail_from or (dspec.smtp.username if dspec.smtp.username and "@" in dspec.smtp.username
                                    else "phantom-report@localhost")
    msg = build_message(
        title=dspec.spec.title, summary=getattr(result, "summary", "") or "",
        recommendations=getattr(result, "recommendations", None) or [],
        to=dspec.to, cc=dspec.cc, subject=dspec.subject, mail_from=mail_from,
        outputs={k: str(v) for k, v in result.outputs.items()}, attach=dspec.attach or ("pdf",),
        dedupe_key=key, run_id=run_id,
    )
    # the run's outcome and its email commit together: a crash leaves neither or both
    with sessions.begin() as s:
        queued = outbox.enqueue(s, dedupe_key=key, run_id=run_id, mail_from=mail_from,
                                recipients=recipients_of(dspec.to, dspec.cc), message=wire_bytes(msg),
                                smtp=dspec.smtp)
        claim = s.get(ScheduleClaim, claim_id)
        claim.state, claim.run_id = "queued", run_id
    return queued


def _set_claim(sessions: sessionmaker, claim_id: int, state: str, run_id: str | None) -> None:
    with sessions.begin() as s:
        claim = s.get(ScheduleClaim, claim_id)
        claim.state, claim.run_id = state, run_id
