"""The scheduler loop inside `serve`: a schedule added over the API fires at its cron time and the
email reaches a real SMTP server; password from a secrets file (not the environment)."""

from __future__ import annotations

import datetime as dt
import os
import time

import httpx
import pytest
from sqlalchemy import select

from devserver import create_key, free_port, start_server

from phantom_report.reporter.delivery.db import Schedule, ScheduleClaim, as_utc, open_db
from phantom_report.reporter.delivery.secrets import SecretError, resolve_secret

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


def test_secrets_file_rules(tmp_path, monkeypatch):
    f = tmp_path / "secrets"
    f.write_text("# smtp\nSMTP_PW = from-file\n")
    f.chmod(0o644)
    monkeypatch.delenv("SMTP_PW", raising=False)
    with pytest.raises(SecretError, match="readable by others"):
        resolve_secret("SMTP_PW", f)
    f.chmod(0o600)
    assert resolve_secret("SMTP_PW", f) == "from-file"
    monkeypatch.setenv("SMTP_PW", "from-env")
    assert resolve_secret("SMTP_PW", f) == "from-env"  # the environment wins
    with pytest.raises(SecretError) as err:
        resolve_secret("OTHER", f)
    assert "from-file" not in str(err.value)


def test_service_scheduler_sends_at_cron_time(tmp_path):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def auth(server, session, envelope, mechanism, data):
        return AuthResult(success=isinstance(data, LoginPassword) and data.password == b"file-pw")

    inbox = Inbox()
    port = free_port()
    # plain SMTP on loopback with AUTH allowed without TLS: STARTTLS is covered by test_delivery_email
    smtp = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=auth, auth_required=True,
                      auth_require_tls=False)
    smtp.start()
    secrets = tmp_path / "secrets"
    secrets.write_text("LOOP_SMTP_PW=file-pw\n")
    secrets.chmod(0o600)
    db = f"sqlite:///{tmp_path}/history.db"
    key = create_key(db, "sched")
    env = {k: v for k, v in os.environ.items() if k != "LOOP_SMTP_PW"}
    # one report worker: one scheduled run, and each spare worker preloads ~3 s of CPU
    srv = start_server(tmp_path, db, "--scheduler-interval", "1", "--offline", "--secrets-file", str(secrets),
                       "--workers", "1", env=env)
    try:
        spec = ("title: Every minute\nmodel: resnet-50\ngpus: [L4, T4]\ndemand: {requests_per_s: 5}\n"
                "pricing: {offline: true}\nreport: {formats: [json]}\n"  # a PDF by email: test_delivery_email
                "schedule: {cron: '* * * * *', timezone: UTC}\n"
                f"email:\n  to: [ops@example.test]\n  smtp: {{host: 127.0.0.1, port: {port}, starttls: false, "
                "username: bot, password_env: LOOP_SMTP_PW, allow_plaintext_auth: true}\n")
        h = {"Authorization": f"Bearer {key}", "Content-Type": "application/yaml"}
        r = httpx.post(srv.base_url + "/v1/schedules", params={"name": "minutely"}, content=spec, headers=h, timeout=30)
        assert r.status_code == 201, r.text
        # the cron's next fire time is the next minute boundary (computed just before `now` was read)
        next_due = dt.datetime.fromisoformat(r.json()["next_due"])
        now = dt.datetime.now(dt.timezone.utc)
        assert next_due.second == 0 and next_due.microsecond == 0
        assert now - dt.timedelta(seconds=30) < next_due <= now + dt.timedelta(minutes=1)
        # back-date the schedule by a minute (as if added then) so that a cron time has already come:
        # the loop must fire it now, rather than the test waiting up to a minute for the next one
        sessions = open_db(db)
        with sessions.begin() as s:
            row = s.scalar(select(Schedule).where(Schedule.name == "minutely"))
            row.last_due_at = row.created_at = now - dt.timedelta(seconds=61)
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and not inbox.messages:
            time.sleep(0.1)
        assert len(inbox.messages) == 1, srv.log()[-3000:]
        with sessions() as s:
            due_at = s.scalar(select(ScheduleClaim.due_at))
        # it fired for the cron time that had come (a minute boundary), not at an arbitrary moment
        due_at = as_utc(due_at)
        assert due_at > now - dt.timedelta(seconds=61) and due_at.second == 0 and due_at.microsecond == 0
        assert b"Every minute" in inbox.messages[0]
        runs = httpx.get(srv.base_url + "/v1/reports", headers=h, timeout=30).json()
        assert runs[0]["origin"] == "schedule" and runs[0]["status"] == "succeeded"
        metrics = httpx.get(srv.base_url + "/metrics", timeout=30).text
        assert "phantom_email_outbox_depth 0.0" in metrics
    finally:
        srv.stop()
        smtp.stop()
