"""The email outbox: a message is queued in the same transaction that records its run, then sent
by whichever process (CLI `schedule run-due` or the service loop) gets to it first.

- never lost: rows are never deleted; a failed attempt sets `next_attempt_at` with exponential
  backoff (capped) and the message is retried until it goes through;
- restart-safe: pending rows are simply picked up by the next process;
- not sent twice: a sender takes a time-limited lease on the row with a conditional UPDATE, so two
  processes never send the same row concurrently; `dedupe_key` is unique, so one scheduled run
  queues one message. (If a process dies after the server accepted a message but before it marked
  the row sent, the lease expires and the message is sent again with the same Message-ID: SMTP
  offers no two-phase commit, this is the narrowest window it allows.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from .db import OutboxMessage, utcnow
from .mail import DeliveryFailed, send_bytes
from .secrets import resolve_secret
from .settings import DeliverySettings
from .specio import SmtpConfig


@dataclass(frozen=True)
class FlushResult:
    sent: int
    failed: int
    pending: int


def enqueue(session: Session, *, dedupe_key: str, run_id: str, mail_from: str,
            recipients: list[str], message: bytes, smtp: SmtpConfig) -> bool:
    """Queue inside the caller's transaction; False if this key was queued before."""
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return False
    session.add(OutboxMessage(
        dedupe_key=dedupe_key, run_id=run_id, status="pending", mail_from=mail_from,
        recipients=recipients, message=message, smtp=smtp.model_dump(), attempts=0,
        next_attempt_at=utcnow(), created_at=utcnow(),
    ))
    return True


def backoff_s(attempts: int, settings: DeliverySettings) -> float:
    return min(settings.retry_base_s * (2 ** max(attempts - 1, 0)), settings.retry_max_s)


def flush(sessions: sessionmaker, settings: DeliverySettings, now: dt.datetime | None = None) -> FlushResult:
    """Try every pending message that is due."""
    now = now or utcnow()
    with sessions() as s:
        due = list(s.scalars(select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now,
        ).order_by(OutboxMessage.id)))
    sent = failed = 0
    for msg_id in due:
        outcome = _attempt(sessions, settings, msg_id, now)
        sent += outcome is True
        failed += outcome is False
    return FlushResult(sent=sent, failed=failed, pending=pending_count(sessions))


def pending_count(sessions: sessionmaker) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status == "pending")) or 0)


def list_messages(sessions: sessionmaker, limit: int = 50) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)))


def _attempt(sessions: sessionmaker, settings: DeliverySettings, msg_id: int, now: dt.datetime) -> bool | None:
    lease_until = now + dt.timedelta(seconds=settings.smtp_timeout_s * 3 + 60)
    with sessions.begin() as s:
        # the lease: only one process wins this UPDATE for a given due row
        won = s.execute(update(OutboxMessage).where(
            OutboxMessage.id == msg_id, OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
        ).values(next_attempt_at=lease_until)).rowcount
    if not won:
        return None
    with sessions() as s:
        msg = s.get(OutboxMessage, msg_id)
    smtp = SmtpConfig.model_validate(msg.smtp)
    try:
        password = resolve_secret(smtp.password_env, settings.secrets_file) if smtp.password_env else None
        send_bytes(msg.message, msg.mail_from, list(msg.recipients), smtp, password, settings.smtp_timeout_s)
    except Exception as exc:  # noqa: BLE001 - any failure keeps the message queued
        error = str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"
        with sessions.begin() as s:
            row = s.get(OutboxMessage, msg_id)
            row.attempts += 1
            row.last_error = error[:2000]
            # `now` may be a logical clock (`run-due --now`); never schedule a retry before real time
            row.next_attempt_at = max(now, utcnow()) + dt.timedelta(seconds=backoff_s(row.attempts, settings))
        return False
    with sessions.begin() as s:
        row = s.get(OutboxMessage, msg_id)
        row.attempts += 1
        row.status = "sent"
        row.sent_at = utcnow()
        row.last_error = None
    return True
