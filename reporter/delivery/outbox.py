"""The outbox: an email (or an alert's webhook POST, `channel` "webhook") is queued in the same transaction that records its run, then sent
by whichever process (CLI `schedule run-due` or the service loop) gets to it first.

- never lost: rows are never deleted; a temporary failure (4xx, connection refused or lost)
  sets `next_attempt_at` with exponential backoff (capped) and the message is retried until it
  goes through; a permanent refusal (5xx) makes it `dead` at once, visible, never retried;
- every attempt is in `delivery_log` with the server's reply (code + text);
- restart-safe: pending rows are simply picked up by the next process;
- not sent twice: a sender takes a time-limited lease on the row with a conditional UPDATE, so two
  processes never send the same row concurrently; `dedupe_key` is unique, so one scheduled run
  queues one message. SMTP offers no two-phase commit: the row records the moment the body starts
  to go out, and an attempt that loses the connection after that point (or a process that dies
  there) leaves the message `possibly-sent`, not resent automatically; a requeued message carries
  the same bytes and Message-ID, so a receiver can drop the duplicate.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from phantom_report.errors import PhantomError

from .db import DeliveryLog, OutboxMessage, Schedule, utcnow
from .mail import DeliveryFailed, SendReceipt, send_bytes
from .secrets import resolve_secret
from .settings import DeliverySettings
from .specio import SmtpConfig
from .webhook import post_json


log = logging.getLogger("phantom_report.outbox")


class OutboxError(PhantomError):
    """An outbox message that does not exist or cannot be requeued."""


@dataclass(frozen=True)
class FlushResult:
    """What one outbox flush did: messages sent, attempts failed, messages still pending."""

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


def enqueue_webhook(session: Session, *, dedupe_key: str, run_id: str, url: str, body: bytes) -> bool:
    """Queue a webhook POST (JSON ``body`` to ``url``) inside the caller's transaction; it is sent,
    retried, dead-lettered and logged exactly as an email is. False if this key was queued before."""
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return False
    session.add(OutboxMessage(
        dedupe_key=dedupe_key, run_id=run_id, status="pending", mail_from="", recipients=[url],
        message=body, smtp={}, attempts=0, next_attempt_at=utcnow(), created_at=utcnow(), channel="webhook",
    ))
    return True


def backoff_s(attempts: int, settings: DeliverySettings) -> float:
    """Seconds to wait before retrying a message after ``attempts`` failures: exponential from
    `retry_base_s`, capped at `retry_max_s`."""
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
    """Messages (emails and webhooks) waiting to be sent."""
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status == "pending")) or 0)


def list_messages(sessions: sessionmaker, limit: int = 50) -> list[OutboxMessage]:
    """The newest ``limit`` outbox messages, newest first."""
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
    if msg.data_started_at is not None:
        # a sender died after transmitting the body: the server may have the message already
        _record(sessions, msg_id, "possibly-sent", settings, now,
                error="a previous attempt was interrupted after the message body was transmitted; "
                      "not resent automatically (requeue it to send again)")
        return False
    try:
        receipt = _send(sessions, settings, msg)
    except DeliveryFailed as exc:
        outcome = "possibly-sent" if exc.possibly_sent else "dead" if exc.permanent else "retry"
        _record(sessions, msg_id, outcome, settings, now, code=exc.code, response=exc.response, error=str(exc))
        return False
    except Exception as exc:  # noqa: BLE001 - any other failure (a missing secret) keeps it queued
        _record(sessions, msg_id, "retry", settings, now, error=f"{type(exc).__name__}: {exc}")
        return False
    refused = "; ".join(f"{r}: {c} {t}" for r, (c, t) in receipt.refused.items())
    _record(sessions, msg_id, "sent", settings, now, code=receipt.code, response=receipt.response,
            error=f"some recipients refused: {refused}" if refused else None)
    return True


def _send(sessions: sessionmaker, settings: DeliverySettings, msg: OutboxMessage) -> SendReceipt:
    """One attempt over the message's channel (SMTP, or a webhook POST); raises DeliveryFailed."""
    if msg.channel == "webhook":
        _mark_data_started(sessions, msg.id)  # from here on the receiver may have it
        return post_json(msg.recipients[0], msg.message, settings.webhook_timeout_s,
                         private_hosts=settings.webhook_private_hosts)
    smtp = SmtpConfig.model_validate(msg.smtp)
    password = resolve_secret(smtp.password_env, settings.secrets_file) if smtp.password_env else None
    return send_bytes(msg.message, msg.mail_from, list(msg.recipients), smtp, password,
                      settings.smtp_timeout_s, on_data=lambda: _mark_data_started(sessions, msg.id))


def _mark_data_started(sessions: sessionmaker, msg_id: int) -> None:
    with sessions.begin() as s:
        s.get(OutboxMessage, msg_id).data_started_at = utcnow()


_STATUS = {"sent": "sent", "retry": "pending", "dead": "dead", "possibly-sent": "possibly-sent"}


def _record(sessions: sessionmaker, msg_id: int, outcome: str, settings: DeliverySettings, now: dt.datetime,
            *, code: int | None = None, response: str | None = None, error: str | None = None) -> None:
    """The attempt's outcome on the row and in the delivery log, in one transaction."""
    with sessions.begin() as s:
        row = s.get(OutboxMessage, msg_id)
        row.attempts += 1
        row.status = _STATUS[outcome]
        row.last_error = None if outcome == "sent" and not error else (error or "")[:2000]
        if outcome == "sent":
            row.sent_at = utcnow()
        if outcome == "retry":
            row.data_started_at = None  # the server answered (or never got the body): not accepted
            # `now` may be a logical clock (`run-due --now`); never schedule a retry before real time
            row.next_attempt_at = max(now, utcnow()) + dt.timedelta(seconds=backoff_s(row.attempts, settings))
        s.add(DeliveryLog(outbox_id=msg_id, attempt=row.attempts, at=utcnow(), outcome=outcome,
                          smtp_code=code, smtp_response=response, error=(error or None) and error[:2000]))
        if outcome in ("dead", "possibly-sent"):
            _note_on_schedule(s, row.dedupe_key, outcome, error or "")
    if outcome != "sent":
        log.warning("outbox message %s: %s after attempt %s: %s", msg_id, outcome, row.attempts, error)


def _note_on_schedule(session: Session, dedupe_key: str, outcome: str, error: str) -> None:
    """A scheduled email that will not be retried shows on its schedule (`schedule list`,
    GET /v1/schedules), not only in the outbox. Keys are `schedule:<id>:<due time>`."""
    kind, _, rest = dedupe_key.partition(":")
    sid = rest.partition(":")[0]
    if kind != "schedule" or not sid.isdigit():
        return
    row = session.get(Schedule, int(sid))
    if row is not None:
        row.last_outcome = "dead" if outcome == "dead" else row.last_outcome
        row.last_error = f"email {outcome}: {error}"[:2000]


def requeue(sessions: sessionmaker, msg_id: int) -> None:
    """Send a dead or possibly-sent message again (the operator has checked it is not a duplicate,
    or fixed what the server refused). Same bytes, same Message-ID."""
    with sessions.begin() as s:
        row = s.get(OutboxMessage, msg_id)
        if row is None:
            raise OutboxError(f"no outbox message {msg_id} (see `phantom-report schedule outbox`)")
        if row.status not in ("dead", "possibly-sent"):
            raise OutboxError(f"outbox message {msg_id} is {row.status}; "
                              "only dead or possibly-sent messages are requeued")
        row.status, row.next_attempt_at, row.data_started_at = "pending", utcnow(), None


def delivery_log(sessions: sessionmaker, msg_id: int) -> list[DeliveryLog]:
    """Every send attempt of message ``msg_id`` in order, with the server's reply code and text."""
    with sessions() as s:
        return list(s.scalars(select(DeliveryLog).where(DeliveryLog.outbox_id == msg_id).order_by(DeliveryLog.id)))
