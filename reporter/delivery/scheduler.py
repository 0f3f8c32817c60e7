"""Cron schedules: which report is due, run it exactly once, queue its email.

Why croniter and not APScheduler: all scheduler state (the last due time handled, the claim for
each due time, the outbox) must live in the run-history database so that the CLI's
`schedule run-due` (from system cron or a CI job) and the service's loop can run side by side and
survive restarts without running a due time twice. croniter does only the calendar arithmetic
(next/previous fire time, time-zone aware); APScheduler would bring a second store and its own
in-process timers whose "misfire" and coalescing rules would have to be reconciled with ours.

Missed due times (the scheduler was down) are coalesced: only the latest one runs, once.

One schedule never stops the others: each claim runs in isolation; a failure is logged, recorded
on the claim and on the schedule (`schedule list`, GET /v1/schedules) and retried with backoff;
a permanent failure (a spec or header that can never work) or `MAX_ATTEMPTS` failures dead-letter
the claim. Claims carry an owner and a wall-clock heartbeat (see `lease`): a claim whose process
died is taken over as soon as the death is known (same host) or after `lease.LEASE_S`. The
calendar (`run-due --now`) only decides which due times have come; leases never use it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from phantom_report.errors import PhantomError, SpecError
from phantom_report.reporter import yamlpos

from . import alerts, history, lease, outbox
from .db import Run, Schedule, ScheduleClaim, as_utc, utcnow
from .mail import build_message, recipients_of, wire_bytes
from .mailcheck import (check_addresses, check_subject, header_text_problem, parse_address,
                        plaintext_auth_problem)
from .runner import execute
from .secrets import posted_secret_problem
from .settings import DeliverySettings
from .specio import DeliverySpec, parse_delivery_spec, spec_text_of


log = logging.getLogger("phantom_report.scheduler")

MAX_ATTEMPTS = 5  # a due time that failed this many times is dead-lettered


class ScheduleError(PhantomError):
    """A schedule is unknown or cannot be added."""


@dataclass(frozen=True)
class DueRun:
    """One schedule's run at one due time: the run id and status, whether its email was queued, and
    the claim's state (queued, retry, dead) with the error when it failed."""

    schedule_id: int
    due_at: dt.datetime
    run_id: str | None
    status: str  # succeeded | failed
    queued_email: bool
    claim_state: str = "queued"  # queued | retry | dead
    error: str | None = None


def validate_cron(cron: str, timezone: str, where: str = "spec") -> ZoneInfo:
    """The time zone of a schedule, after checking ``cron`` is a 5-field cron expression and ``timezone``
    an IANA zone name; SpecError naming ``where`` and the key otherwise."""
    if not croniter.is_valid(cron):
        raise SpecError(f"{where}: schedule.cron: {cron!r} is not a valid cron expression "
                        "(5 fields: minute hour day-of-month month day-of-week)")
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(f"{where}: schedule.timezone: unknown time zone {timezone!r} "
                        "(an IANA name such as Europe/Paris)") from None


def validate_schedule(dspec: DeliverySpec, where: str, text: str | None = None) -> None:
    """Everything a schedule needs to send its email, checked when it is added (CLI and API) and
    again before each run (rows stored by older versions): cron and time zone, header-safe
    subject, RFC 5322 addresses, and no password over a connection without TLS. With the spec's
    `text`, errors name the line (`spec.yaml:14: email.subject: ...`)."""
    at = _locator(where, text)
    spec = dspec.spec
    if spec.schedule is None:
        raise SpecError(f"{where}: schedule: is required to add a schedule (cron and timezone)")
    if spec.email is None:
        raise SpecError(f"{where}: email: is required to add a schedule (to, subject, smtp)")
    if dspec.smtp is None:
        raise SpecError(f"{at('email')}: email.smtp: is required (host, port, starttls, username, password_env)")
    validate_cron(spec.schedule.cron, spec.schedule.timezone, at("schedule"))
    check_addresses(dspec.to, at("email", "to"), "email.to", required=True)
    check_addresses(dspec.cc, at("email", "cc"), "email.cc", required=False)
    if dspec.mail_from is not None:
        check_addresses([dspec.mail_from], at("email", "from"), "email.from", required=True)
    if dspec.subject is not None:
        check_subject(dspec.subject, at("email", "subject"))
    problem = plaintext_auth_problem(dspec.smtp)
    if problem:
        raise SpecError(f"{at('email', 'smtp')}: {problem}")


def _locator(where: str, text: str | None):
    """key path -> "file:line" (just "file" without the text or the key)."""
    root = None
    if text is not None:
        try:
            root = yamlpos.compose(text)
        except Exception:  # noqa: BLE001 - the spec parsed already; a line number is a nicety
            root = None

    def at(*path: str) -> str:
        line = yamlpos.line_of(root, path) if root is not None else None
        return f"{where}:{line}" if line else where

    return at


def add_schedule(sessions: sessionmaker, name: str, text: str, filename: str, base_dir: str,
                 now: dt.datetime | None = None, allow_local_assets: bool = False, *,
                 posted: bool = False, secrets_file: Path | None = None) -> Schedule:
    """Validate (`validate_schedule`) and store a schedule; it first fires after `now`.

    ``allow_local_assets``: True only for a spec file the operator added from the command line,
    whose template directory and logo may then live next to it (as for `run`); a schedule posted
    over the API keeps False, so its runs cannot read server files.
    ``posted``: the schedule came over the API; its `smtp.password_env` must then name an entry of
    the service's ``secrets_file`` or a PHANTOM_SMTP_* variable (`secrets.posted_secret_problem`)."""
    problem = header_text_problem(name, 200)
    if problem:
        raise ScheduleError(f"schedule name: {problem}")
    dspec = parse_delivery_spec(text, filename=filename, base_dir=base_dir)
    validate_schedule(dspec, filename, text)
    if posted and dspec.smtp is not None:
        if dspec.smtp.ca_file:  # a server path: posted specs name no server files (as for logos)
            raise ScheduleError("email.smtp.ca_file: a schedule posted over the API may not name a file on the "
                                "server; add it with `phantom-report schedule add` on the server instead")
        problem = posted_secret_problem(dspec.smtp.password_env, secrets_file) if dspec.smtp.password_env else None
        if problem:
            raise ScheduleError(f"email.smtp.password_env: {problem}")
    spec = dspec.spec
    stored = {**dspec.stored, "_base_dir": base_dir, "_local_assets": bool(allow_local_assets)}
    with sessions.begin() as s:
        if s.scalar(select(Schedule.id).where(Schedule.name == name)):
            raise ScheduleError(f"a schedule named {name!r} exists; remove it first or pick another name")
        row = Schedule(name=name, spec=stored, cron=spec.schedule.cron, timezone=spec.schedule.timezone,
                       enabled=1, created_at=utcnow(), last_due_at=now or utcnow())
        s.add(row)
    return row


def list_schedules(sessions: sessionmaker) -> list[Schedule]:
    """Every schedule, oldest first."""
    with sessions() as s:
        return list(s.scalars(select(Schedule).order_by(Schedule.id)))


def get_schedule(sessions: sessionmaker, ident: str | int) -> Schedule:
    """The schedule with id or name ``ident``; ScheduleError when there is none."""
    with sessions() as s:
        row = None
        if str(ident).isdigit():
            row = s.get(Schedule, int(ident))
        row = row or s.scalar(select(Schedule).where(Schedule.name == str(ident)))
        if row is None:
            raise ScheduleError(f"no schedule {ident!r} (see `phantom-report schedule list`)")
        return row


def remove_schedule(sessions: sessionmaker, ident: str | int) -> None:
    """Delete a schedule and its claims; its past runs stay in the history."""
    row = get_schedule(sessions, ident)
    with sessions.begin() as s:
        for claim in s.scalars(select(ScheduleClaim).where(ScheduleClaim.schedule_id == row.id)):
            s.delete(claim)
        s.delete(s.get(Schedule, row.id))


def next_due(row: Schedule, after: dt.datetime) -> dt.datetime:
    """The schedule's next cron time after ``after``, evaluated in its time zone, returned in UTC."""
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
            max_attempts: int = MAX_ATTEMPTS) -> list[DueRun]:
    """Claim and run every schedule that is due, queue the emails, then flush the outbox.
    `now` is the calendar (which due times have come); claims and leases use the wall clock."""
    now = now or utcnow()
    history.recover_stale_runs(sessions)
    me = lease.owner_id()
    claims = _take_over(sessions, me) + _claim_due(sessions, now, me)
    done = [_run_isolated(sessions, settings, claim_id, me, max_attempts) for claim_id in claims]
    outbox.flush(sessions, settings, now=max(now, utcnow()))
    return done


def _claim_due(sessions: sessionmaker, now: dt.datetime, me: str) -> list[int]:
    claimed = []
    for row in list_schedules(sessions):
        if not row.enabled:
            continue
        try:
            due = latest_due(row, now)
        except Exception as exc:  # noqa: BLE001 - a stored cron/zone that no longer parses
            error = f"schedule {row.name}: cannot compute the next due time: {exc}"
            if row.last_error != error:  # noted once, not on every pass
                log.warning("%s", error)
                _note_schedule(sessions, row.id, "dead", error)
            continue
        if due is None:
            continue
        try:
            with sessions.begin() as s:
                claim = ScheduleClaim(schedule_id=row.id, due_at=due, state="claimed", claimed_at=utcnow(),
                                      owner=me, heartbeat_at=lease.wall_now(), attempts=0)
                s.add(claim)
                s.get(Schedule, row.id).last_due_at = due
            claimed.append(claim.id)
        except IntegrityError:
            continue  # another scheduler process claimed this due time first
    return claimed


def _take_over(sessions: sessionmaker, me: str) -> list[int]:
    """Claims whose owner died (mid-render, SIGKILL) and failed claims whose backoff is over.
    Each is won by one process only: a conditional UPDATE on the state it was seen in."""
    wall = lease.wall_now()
    with sessions() as s:
        rows = list(s.execute(select(ScheduleClaim.id, ScheduleClaim.state, ScheduleClaim.owner,
                                     ScheduleClaim.heartbeat_at, ScheduleClaim.claimed_at,
                                     ScheduleClaim.next_attempt_at)
                              .where(ScheduleClaim.state.in_(("claimed", "retry")))
                              .order_by(ScheduleClaim.id)))
    won = []
    for cid, state, owner, beat, claimed_at, next_at in rows:
        if state == "claimed":
            if not lease.is_abandoned(owner, as_utc(beat) or as_utc(claimed_at), now=wall):
                continue
            cond = [ScheduleClaim.owner.is_(None) if owner is None else ScheduleClaim.owner == owner]
        else:
            if next_at is not None and as_utc(next_at) > wall:
                continue
            cond = []
        with sessions.begin() as s:
            n = s.execute(update(ScheduleClaim).where(ScheduleClaim.id == cid, ScheduleClaim.state == state, *cond)
                          .values(state="claimed", owner=me, heartbeat_at=wall, claimed_at=wall)).rowcount
        if n:
            if state == "claimed":
                log.warning("schedule claim %s: its process %s is gone; taking it over", cid, owner or "?")
            won.append(cid)
    return won


def _run_isolated(sessions: sessionmaker, settings: DeliverySettings, claim_id: int, me: str,
                  max_attempts: int) -> DueRun:
    """One claim, with its lease kept fresh; whatever goes wrong is this schedule's failure only."""

    def beat() -> None:
        with sessions.begin() as s:
            s.execute(update(ScheduleClaim).where(ScheduleClaim.id == claim_id, ScheduleClaim.owner == me,
                                                  ScheduleClaim.state == "claimed")
                      .values(heartbeat_at=lease.wall_now()))

    try:
        with lease.Heartbeat(beat):
            return _run_claim(sessions, settings, claim_id, max_attempts)
    except Exception as exc:  # noqa: BLE001 - one schedule's failure must not stop the others
        log.exception("schedule claim %s failed", claim_id)
        return _fail_claim(sessions, settings, claim_id, None, f"internal error: {type(exc).__name__}: {exc}",
                           permanent=False, max_attempts=max_attempts)


def _run_claim(sessions: sessionmaker, settings: DeliverySettings, claim_id: int, max_attempts: int) -> DueRun:
    with sessions() as s:
        claim = s.get(ScheduleClaim, claim_id)
        row = s.get(Schedule, claim.schedule_id)
    stored = dict(row.spec)
    base_dir = stored.pop("_base_dir", ".")
    allow_local_assets = bool(stored.pop("_local_assets", False))  # rows from before the flag: API rules
    due_at = as_utc(claim.due_at)
    where = f"schedule {row.name}"
    try:
        dspec = parse_delivery_spec(spec_text_of(stored), filename=where, base_dir=base_dir)
        validate_schedule(dspec, where)  # rows stored before this check existed
    except PhantomError as exc:  # the stored spec can never run: dead-letter, do not retry
        run_id = history.create_run(sessions, stored, "schedule", schedule_id=row.id)
        history.record_failure(sessions, run_id, str(exc))
        return _fail_claim(sessions, settings, claim_id, run_id, str(exc), permanent=True, max_attempts=max_attempts)
    run_id = history.create_run(sessions, dspec.stored, "schedule", schedule_id=row.id)
    result = execute(sessions, settings, dspec, run_id, allow_local_assets=allow_local_assets)
    if result is None:
        with sessions() as s:
            error = s.get(Run, run_id).error or "the run failed"
        return _fail_claim(sessions, settings, claim_id, run_id, error, permanent=False, max_attempts=max_attempts)
    key = f"schedule:{row.id}:{due_at.isoformat()}"
    queued = _queue_email(sessions, claim_id, dspec, result, run_id, key)
    return DueRun(row.id, due_at, run_id, "succeeded", queued)


def _fail_claim(sessions: sessionmaker, settings: DeliverySettings, claim_id: int, run_id: str | None,
                error: str, *, permanent: bool, max_attempts: int) -> DueRun:
    """Record a failed attempt: retry after a backoff, or dead-letter (permanent, or too many)."""
    with sessions.begin() as s:
        claim = s.get(ScheduleClaim, claim_id)
        claim.attempts = (claim.attempts or 0) + 1
        dead = permanent or claim.attempts >= max_attempts
        claim.state = "dead" if dead else "retry"
        claim.run_id = run_id or claim.run_id
        claim.last_error = error[:2000]
        claim.next_attempt_at = None if dead else lease.wall_now() + dt.timedelta(
            seconds=outbox.backoff_s(claim.attempts, settings))
        schedule_id, due_at, attempts = claim.schedule_id, as_utc(claim.due_at), claim.attempts
    _note_schedule(sessions, schedule_id, "dead" if dead else "retrying", error)
    log.warning("schedule %s due %s: attempt %s failed (%s): %s", schedule_id, due_at.isoformat(), attempts,
                "dead-lettered" if dead else "will retry", error)
    return DueRun(schedule_id, due_at, run_id, "failed", False, "dead" if dead else "retry", error)


def _note_schedule(sessions: sessionmaker, schedule_id: int, outcome: str, error: str | None) -> None:
    with sessions.begin() as s:
        row = s.get(Schedule, schedule_id)
        if row is None:
            return
        row.last_outcome = outcome
        row.last_error = error[:2000] if error else None
        row.consecutive_failures = 0 if outcome == "ok" else (row.consecutive_failures or 0) + 1


def _mail_from(dspec: DeliverySpec) -> str:
    if dspec.mail_from:
        return dspec.mail_from
    user = dspec.smtp.username
    if user and "@" in user:
        try:
            parse_address(user)
            return user
        except ValueError:
            pass
    return "phantom-report@localhost"


def _queue_email(sessions: sessionmaker, claim_id: int, dspec: DeliverySpec, result, run_id: str, key: str) -> bool:
    mail_from = _mail_from(dspec)
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
        claim.state, claim.run_id, claim.last_error = "queued", run_id, None
        row = s.get(Schedule, claim.schedule_id)
        row.last_outcome, row.last_error, row.consecutive_failures = "ok", None, 0
        # alerts (budget thresholds, configuration or price changes) commit with the run as well
        new = alerts.queue_alerts(s, series=f"schedule:{row.name}", schedule_id=row.id, dspec=dspec,
                                  payload=getattr(result, "payload", None) or {}, run_id=run_id, mail_from=mail_from)
    if new:
        log.info("schedule %s run %s: %d new alert(s): %s", claim.schedule_id, run_id, len(new),
                 ", ".join(c.key for c in new))
    return queued


def schedule_to_dict(row: Schedule) -> dict:
    """What `schedule list` and GET /v1/schedules show: timing, recipients and health (`status`:
    ok | retrying | dead | invalid | new; `last_error`; `problem` when the stored spec would be
    refused today, as rows from older versions can be)."""
    email = row.spec.get("email", {}) if isinstance(row.spec, dict) else {}
    try:
        next_at = next_due(row, max(as_utc(row.last_due_at) or utcnow(), utcnow())).isoformat()
    except Exception:  # noqa: BLE001 - a stored cron/zone that no longer parses
        next_at = None
    problem = _stored_problem(row)
    return {"id": row.id, "name": row.name, "cron": row.cron, "timezone": row.timezone,
            "enabled": bool(row.enabled), "to": email.get("to", []), "next_due": next_at,
            "status": "invalid" if problem else (row.last_outcome or "new"),
            "last_error": row.last_error, "consecutive_failures": row.consecutive_failures or 0,
            "problem": problem}


def _stored_problem(row: Schedule) -> str | None:
    """The header/address/cron checks of `validate_schedule` on a stored row (no full spec parse:
    listing stays cheap)."""
    spec = row.spec if isinstance(row.spec, dict) else {}
    email = spec.get("email") if isinstance(spec.get("email"), dict) else {}
    where = f"schedule {row.name}"
    try:
        validate_cron(row.cron, row.timezone, where)
        check_addresses(email.get("to") or [], where, "email.to", required=True)
        check_addresses(email.get("cc") or [], where, "email.cc", required=False)
        if email.get("from") is not None:
            check_addresses([email["from"]], where, "email.from", required=True)
        if email.get("subject") is not None:
            check_subject(email["subject"], where)
    except PhantomError as exc:
        return str(exc)
    return None
