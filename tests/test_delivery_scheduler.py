"""Exactly once per due time, even with several scheduler processes racing; missed due times are
coalesced; failed sends back off."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from phantom_report.reporter.delivery.db import OutboxMessage, Run, ScheduleClaim, as_utc, open_db
from devserver import free_port
from phantom_report.reporter.delivery.scheduler import add_schedule, latest_due, list_schedules

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _spec(port: int) -> str:
    return f"""\
model: resnet-50
gpus: [L4, T4]
demand: {{requests_per_s: 5}}
pricing: {{offline: true}}
report: {{formats: [pdf]}}
schedule: {{cron: "0 8 * * MON", timezone: America/New_York}}
email:
  to: [a@example.test]
  smtp: {{host: 127.0.0.1, port: {port}, starttls: false}}
"""


def _count(sessions, model) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)))


def test_racing_schedulers_run_a_due_time_once(tmp_path):
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)  # a Thursday
    add_schedule(sessions, "weekly", _spec(free_port()), "w.yaml", str(tmp_path), now=start)
    row = list_schedules(sessions)[0]
    assert latest_due(row, start + dt.timedelta(days=3)) is None
    # Monday 5 Jan 08:00 in New York is 13:00 UTC
    assert latest_due(row, dt.datetime(2026, 1, 5, 13, 1, tzinfo=dt.timezone.utc)) == \
        dt.datetime(2026, 1, 5, 13, 0, tzinfo=dt.timezone.utc)

    # two weeks of downtime: the two missed Mondays coalesce into one run (the latest), and three
    # processes racing for it produce exactly one run and one queued email
    now = "2026-01-13T00:00:00+00:00"
    procs = [subprocess.Popen([sys.executable, "-m", "phantom_report", "schedule", "run-due", "--db", db, "--now", now,
                               "--reports-dir", str(tmp_path / "reports")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert _count(sessions, Run) == 1 and _count(sessions, ScheduleClaim) == 1 and _count(sessions, OutboxMessage) == 1
    with sessions() as s:
        claim = s.scalar(select(ScheduleClaim))
        msg = s.scalar(select(OutboxMessage))
    assert as_utc(claim.due_at) == dt.datetime(2026, 1, 12, 13, 0, tzinfo=dt.timezone.utc)
    assert claim.state == "queued"
    # the SMTP port is closed: the message waits with backoff, it is not dropped
    assert msg.status == "pending" and msg.attempts == 1 and as_utc(msg.next_attempt_at) > dt.datetime.now(dt.timezone.utc)
