"""Run-history tables (SQLAlchemy 2). SQLite by default, PostgreSQL or any other URL works.

The same database holds the email outbox and the schedule claims, so "report rendered" and
"message queued" commit in one transaction: that is what makes delivery exactly-once per
scheduled run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from phantom_report.errors import PhantomError


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC: every timestamp stored in the history database."""
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite drops tzinfo on the way back; every stored time is UTC, so put it back."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of the history database's tables (JSON columns for dict and list fields)."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Run(Base):
    """One report run (CLI, API or schedule): its spec, status, timings, outputs, prices and results."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    origin: Mapped[str] = mapped_column(String(16))  # cli | api | schedule
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued|running|succeeded|failed
    schedule_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    quotes: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    recommendations: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # format -> path
    timings_s: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    price_fallbacks: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # which process works on the row (lease.owner_id) and when it last said so: a row whose owner
    # is gone is recovered instead of staying "running" forever (see history.recover_stale_runs)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Schedule(Base):
    """A scheduled email report: spec (never with a password), cron expression, time zone and health."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # never holds a password (checked on add)
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the latest due time already claimed; the next due time is computed from it
    last_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # health shown by `schedule list` and GET /v1/schedules: ok | retrying | dead (null: never ran)
    last_outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    consecutive_failures: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ScheduleClaim(Base):
    """One row per (schedule, due time). The unique key is the exactly-once guard: two scheduler
    processes racing for the same due time cannot both insert it."""

    __tablename__ = "schedule_claims"
    __table_args__ = (UniqueConstraint("schedule_id", "due_at", name="uq_claim_due"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # claimed (a process works on it) | queued (email queued) | retry (failed, tried again after
    # next_attempt_at) | dead (permanent failure, never retried); "failed" in databases from before
    state: Mapped[str] = mapped_column(String(16), default="claimed")
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the lease, always on the wall clock (never `run-due --now`): owner + heartbeat
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxMessage(Base):
    """A rendered email waiting to be sent. Never deleted; temporary failures are retried with capped
    backoff. status: pending | sent | dead (the server refused it permanently, 5xx) |
    possibly-sent (the message body went out but no reply came back: not resent automatically,
    since the server may have accepted it; `schedule outbox --requeue ID` sends it again)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending|sent
    mail_from: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[list[Any]] = mapped_column(JSON)
    message: Mapped[bytes] = mapped_column(LargeBinary)  # RFC 5322 bytes, identical on retries
    smtp: Mapped[dict[str, Any]] = mapped_column(JSON)  # host/port/starttls/username/password_env
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # set (and committed) just before the message body is transmitted: a sender that dies after
    # this point may have delivered it, so the next process marks it possibly-sent, not resends
    data_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # how the message goes out: null (or "smtp") for email; "webhook" for an alert POSTed to
    # recipients[0] with `message` as the JSON body (reporter/delivery/webhook.py)
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AlertState(Base):
    """Per series of scheduled runs (a schedule's name): the alert conditions that hold now and
    have been alerted (so the same condition is never alerted twice) and the run they were last
    evaluated on (whose payload in `runs` is the "previous run" for changes). See alerts.py."""

    __tablename__ = "alert_state"

    series: Mapped[str] = mapped_column(String(250), primary_key=True)
    active: Mapped[list[Any]] = mapped_column(JSON)  # condition keys
    last_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DeliveryLog(Base):
    """One row per send attempt with what the server answered (code + text), so an operator can
    tell a refused message from a lost connection or a possibly duplicated one."""

    __tablename__ = "delivery_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))  # sent | retry | dead | possibly-sent
    smtp_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # or the HTTP status of a webhook
    smtp_response: Mapped[str | None] = mapped_column(Text, nullable=True)  # the server's text
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ApiKey(Base):
    """An API key of the service: its name, SHA-256 digest (never the key) and optional rate limit per minute."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    rate_limit_per_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class UiSession(Base):
    """A browser login: the cookie holds a random token, the table only its SHA-256, the key it
    stands for and when it expires (so a stolen cookie is not the API key and dies on its own)."""

    __tablename__ = "ui_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


def open_db(url: str) -> sessionmaker:
    """Engine + session factory, tables created if missing."""
    try:
        engine = create_engine(url, future=True, **_engine_kwargs(url))
    except Exception as exc:  # bad URL or missing driver: the user can fix that
        raise PhantomError(f"history database {url!r}: {exc}") from None
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    Base.metadata.create_all(engine)
    _add_missing_columns(engine)
    return sessionmaker(engine, expire_on_commit=False)


def _add_missing_columns(engine) -> None:
    """Migrate a database created by an older version: `create_all` makes missing tables but not
    missing columns. Every column added after the first release is nullable, so a plain
    ADD COLUMN is enough on SQLite and PostgreSQL alike."""
    names = inspect(engine).get_table_names()
    for table in Base.metadata.sorted_tables:
        if table.name not in names:
            continue
        have = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            ddl = f"ALTER TABLE {table.name} ADD COLUMN {column.name} {column.type.compile(engine.dialect)}"
            try:
                with engine.begin() as conn:
                    conn.execute(text(ddl))
            except DBAPIError:  # another process added it first
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        # several processes (CLI, service, report workers) share the file
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {"pool_pre_ping": True}


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
