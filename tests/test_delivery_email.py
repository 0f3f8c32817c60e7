"""Scheduled email through a real SMTP server (aiosmtpd, STARTTLS + AUTH) on 127.0.0.1, including
the server dying mid-run: the message stays in the outbox, survives a process restart and is
delivered exactly once when the server is back."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import os
import re
import ssl
import subprocess
import sys
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from phantom_report.errors import SpecError
from phantom_report.reporter.delivery.db import OutboxMessage, Run, open_db
from devserver import free_port
from phantom_report.reporter.delivery.specio import parse_delivery_spec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PASSWORD = "s3cret-Pa55-not-in-db"
USER = "reports@example.test"


class Inbox:
    """aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


def _tls_files(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _smtp_server(inbox: Inbox, port: int, cert, key):
    from aiosmtpd.controller import Controller

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                            authenticator=_authenticator, auth_required=True, auth_require_tls=True)
    controller.start()
    return controller


def _cli(*args, env, timeout=300):
    return subprocess.run([sys.executable, "-m", "phantom_report", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def _next_monday_8_paris(after: dt.datetime) -> dt.datetime:
    paris = after.astimezone(ZoneInfo("Europe/Paris"))
    day = paris.date() + dt.timedelta(days=(7 - paris.weekday()) % 7 or 7)
    return dt.datetime(day.year, day.month, day.day, 8, 0, tzinfo=ZoneInfo("Europe/Paris")).astimezone(dt.timezone.utc)


def test_password_in_spec_is_refused():
    text = ("model: resnet-50\ngpus: [L4]\ndemand: {requests_per_s: 5}\n"
            "email:\n  to: [a@example.test]\n  smtp:\n    host: 127.0.0.1\n    password: hunter2\n")
    with pytest.raises(SpecError) as err:
        parse_delivery_spec(text, filename="s.yaml")
    assert str(err.value).startswith("s.yaml:8: email.smtp.password: passwords may not be written in a spec")
    assert "hunter2" not in str(err.value)


def test_scheduled_email_survives_smtp_outage(tmp_path, cli_in_process):
    cert, key = _tls_files(tmp_path)
    port = free_port()
    db_path = tmp_path / "history.db"
    db = f"sqlite:///{db_path}"
    spec = tmp_path / "weekly.yaml"
    spec.write_text(f"""\
title: Weekly GPU cost report
model: resnet-50
gpus: [H100-SXM, A100-80GB-SXM, L4]
demand:
  requests_per_s: 50
pricing:
  offline: true
report:
  formats: [pdf, json]
schedule:
  cron: "0 8 * * MON"
  timezone: Europe/Paris
email:
  to: [cto@example.test]
  cc: [finance@example.test]
  subject: "Monday GPU report"
  smtp:
    host: 127.0.0.1
    port: {port}
    starttls: true
    username: {USER}
    password_env: PHANTOM_TEST_SMTP_PASSWORD
    ca_file: {cert}
""")
    env = {**os.environ, "PHANTOM_TEST_SMTP_PASSWORD": PASSWORD}
    # adding and listing run `main` in this process (a second of imports each as a process); the
    # rendering run and the restart below are real processes
    added = cli_in_process("schedule", "add", str(spec), "--db", db, env={"PHANTOM_TEST_SMTP_PASSWORD": PASSWORD})
    assert added.returncode == 0, added.stderr
    listed = cli_in_process("schedule", "list", "--db", db, "--json", env={"PHANTOM_TEST_SMTP_PASSWORD": PASSWORD})
    assert '"cron": "0 8 * * MON"' in listed.stdout

    inbox = Inbox()
    server = _smtp_server(inbox, port, cert, key)
    due = _next_monday_8_paris(dt.datetime.now(dt.timezone.utc))
    first_now = (due + dt.timedelta(minutes=1)).isoformat()
    run_due = subprocess.Popen(
        [sys.executable, "-m", "phantom_report", "schedule", "run-due", "--db", db, "--now", first_now,
         "--reports-dir", str(tmp_path / "reports")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    # kill the SMTP server while the report is rendering
    sessions = open_db(db)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sessions() as s:
            if s.scalar(select(Run.id).where(Run.status == "running")):
                break
        time.sleep(0.02)
    else:
        pytest.fail("the scheduled run never started")
    server.stop()
    out, err = run_due.communicate(timeout=300)
    assert run_due.returncode == 0, err
    assert "run " in out and "succeeded" in out and "email queued" in out
    assert "outbox pending: 1" in out
    assert inbox.messages == []
    with sessions() as s:
        msg = s.scalar(select(OutboxMessage))
        assert msg.status == "pending" and msg.attempts == 1 and "Connection refused" in msg.last_error

    # the server comes back; a new process (a restart) resumes the pending send
    server = _smtp_server(inbox, port, cert, key)
    try:
        later = (due + dt.timedelta(minutes=30)).isoformat()
        again = _cli("schedule", "run-due", "--db", db, "--now", later, "--reports-dir", str(tmp_path / "reports"), env=env)
        assert again.returncode == 0, again.stderr
        assert "0 run(s); outbox pending: 0" in again.stdout
        # and once more (in this process): nothing is due, nothing is sent twice
        third = cli_in_process("schedule", "run-due", "--db", db, "--now", later,
                               env={"PHANTOM_TEST_SMTP_PASSWORD": PASSWORD})
        assert "0 run(s); outbox pending: 0" in third.stdout
    finally:
        server.stop()

    assert len(inbox.messages) == 1
    mail_from, rcpt, raw = inbox.messages[0]
    assert sorted(rcpt) == ["cto@example.test", "finance@example.test"] and mail_from == USER
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Monday GPU report" and parsed["Cc"] == "finance@example.test"
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "<script" not in html.lower() and "style=" in html  # inline-safe: inline styles, no scripts
    with sessions() as s:
        run = s.scalar(select(Run))
        summary, reasons = run.summary, [r["reason"] for r in run.recommendations]
    assert summary.split(",")[0] in html
    pdfs = [p for p in parsed.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(pdfs) == 1
    from pypdf import PdfReader

    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdfs[0].get_content())).pages)
    words = " ".join(text.split())
    headline_gpu = re.search(r"run \d+x (\S+)", summary)
    assert headline_gpu and headline_gpu.group(1) in words  # the recommended GPU is in the PDF
    assert "Recommendation" in words or "recommend" in words.lower()
    assert reasons
    # the password is nowhere at rest
    assert PASSWORD.encode() not in db_path.read_bytes()
    for p in tmp_path.glob("history.db*"):
        assert PASSWORD.encode() not in p.read_bytes()
