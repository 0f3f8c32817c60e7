"""Hostile input and faults on the schedule / mail path (issue 17): header injection refused at
creation (CLI and API), a bad stored schedule does not stop the others, SMTP 5xx dead-letters
while 4xx retries, no password without TLS, a lost reply after DATA is not resent, a killed run is
recovered and its due time taken over, and `run-due --now` ahead of the wall clock renders once.
Every SMTP server is a real aiosmtpd on 127.0.0.1; every test stops by itself."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from phantom_report.errors import SpecError
from phantom_report.reporter.delivery import outbox
from phantom_report.reporter.delivery.db import (DeliveryLog, OutboxMessage, Run, Schedule, ScheduleClaim,
                                                 as_utc, open_db)
from devserver import free_port
from phantom_report.reporter.delivery.history import list_runs
from phantom_report.reporter.delivery.mail import build_message, wire_bytes
from phantom_report.reporter.delivery.scheduler import (add_schedule, list_schedules, run_due,
                                                        schedule_to_dict)
from phantom_report.reporter.delivery.settings import DeliverySettings
from phantom_report.reporter.delivery.specio import SmtpConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CRLF_SUBJECT = '"Weekly\\r\\nBcc: attacker@evil.test"'


def _spec(port: int, *, subject: str = "Weekly", to: str = "ops@example.test", smtp_extra: str = "") -> str:
    return f"""\
model: resnet-50
gpus: [L4, T4]
demand: {{requests_per_s: 5}}
pricing: {{offline: true}}
report: {{formats: [json]}}
schedule: {{cron: "0 8 * * MON", timezone: UTC}}
email:
  to: [{to}]
  subject: {subject}
  attach: [json]
  smtp: {{host: 127.0.0.1, port: {port}, starttls: false{smtp_extra}}}
"""


class Inbox:
    """aiosmtpd handler: keeps what it accepts; refuses per recipient prefix; can drop the
    connection after storing a message (the reply never reaches the client)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.rcpt_seen: list[str] = []
        self.drop_after_data = False
        self.temp_fail = True

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_seen.append(address)
        if address.startswith("perm"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("temp") and self.temp_fail:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if b"REJECT-ME" in envelope.original_content:
            return "554 5.6.0 content rejected"
        self.messages.append(envelope.original_content)
        if self.drop_after_data:
            server.transport.abort()  # accepted and stored, but the 250 never arrives
        return "250 2.0.0 queued as test-1"


def _smtp(handler, **kw):
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kw)
    controller.start()
    return controller


def _settings(tmp_path, db: str, **kw) -> DeliverySettings:
    return DeliverySettings(db_url=db, reports_dir=tmp_path / "reports", offline=True, smtp_timeout_s=10, **kw)


def _count(sessions, model, *where) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)))


# ---- creation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,text,expected", [
    ("subject", _spec(25, subject=CRLF_SUBJECT), ":9: email.subject: contains the control character '\\r'"),
    # a block-style `cc:` list just above used to blank the subject line out of the spec
    ("subject after a block list", _spec(25, subject=CRLF_SUBJECT).replace("  subject:", "  cc:\n  - cc@example.test\n  subject:"),
     "email.subject: contains the control character '\\r'"),
    ("recipient", _spec(25, to='"x\\r\\nBcc: attacker@evil.test"'), "email.to[0]"),
    ("not an address", _spec(25, to="not-an-address"), "email.to[0]: 'not-an-address': not an email address"),
    ("plaintext auth", _spec(25, smtp_extra=", username: bot, password_env: PW"), "allow_plaintext_auth: true"),
], ids=lambda v: v if v in ("subject", "subject after a block list", "recipient", "not an address",
                            "plaintext auth") else "")
def test_header_injection_refused_by_cli_and_api(tmp_path, kind, text, expected, cli_in_process):
    from fastapi.testclient import TestClient

    from phantom_report.reporter.delivery.service import create_app

    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    db = f"sqlite:///{tmp_path}/h.db"
    res = cli_in_process("schedule", "add", str(spec), "--db", db)  # `main`: the command's exit code and message
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert expected in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr

    app = create_app(DeliverySettings(db_url=db, require_auth=False, scheduler_interval_s=0))
    client = TestClient(app)  # no lifespan: no worker pool needed to add a schedule
    r = client.post("/v1/schedules", params={"name": "hostile"}, content=text,
                    headers={"Content-Type": "application/yaml"})
    assert r.status_code == 422, r.text
    assert expected in r.json()["detail"]
    assert client.get("/v1/schedules").json() == []
    sessions = open_db(db)
    assert _count(sessions, Schedule) == 0


def test_plaintext_auth_allowed_only_when_asked(tmp_path):
    sessions = open_db(f"sqlite:///{tmp_path}/h.db")
    add_schedule(sessions, "ok", _spec(25, smtp_extra=", username: bot, password_env: PW, allow_plaintext_auth: true"),
                 "s.yaml", str(tmp_path))
    add_schedule(sessions, "tls", _spec(25, smtp_extra=", username: bot, password_env: PW, smtps: true"),
                 "s.yaml", str(tmp_path))
    with pytest.raises(SpecError, match="refusing to send the password of 'bot'"):
        add_schedule(sessions, "bad", _spec(25, smtp_extra=", username: bot, password_env: PW"), "s.yaml",
                     str(tmp_path))


def test_posted_schedule_may_name_only_mail_secrets(tmp_path):
    """A schedule posted over the API must not make the service send an arbitrary environment
    variable (a cloud key) as the SMTP AUTH password to a server the poster chose."""
    from fastapi.testclient import TestClient

    from phantom_report.reporter.delivery.service import create_app

    secrets = tmp_path / "secrets"
    secrets.write_text("TEAM_MAIL_PW=x\n")
    secrets.chmod(0o600)
    db = f"sqlite:///{tmp_path}/h.db"
    app = create_app(DeliverySettings(db_url=db, require_auth=False, scheduler_interval_s=0, secrets_file=secrets))
    client = TestClient(app)  # no lifespan: no worker pool needed to add a schedule

    def post(name: str, env_name: str):
        text = _spec(25, smtp_extra=f", username: bot, password_env: {env_name}, smtps: true")
        return client.post("/v1/schedules", params={"name": name}, content=text,
                           headers={"Content-Type": "application/yaml"})

    r = post("steal", "AWS_SECRET_ACCESS_KEY")
    assert r.status_code == 422 and "PHANTOM_SMTP_" in r.json()["detail"], r.text
    assert client.get("/v1/schedules").json() == []
    assert post("file", "TEAM_MAIL_PW").status_code == 201  # the operator's secrets file
    assert post("prefixed", "PHANTOM_SMTP_PASSWORD").status_code == 201
    r = client.post("/v1/schedules", params={"name": "ca"}, headers={"Content-Type": "application/yaml"},
                    content=_spec(25, smtp_extra=", smtps: true, ca_file: /etc/passwd"))
    assert r.status_code == 422 and "ca_file" in r.json()["detail"], r.text
    # the operator's own command line may name any variable, as before
    add_schedule(open_db(db), "cli", _spec(25, smtp_extra=", username: bot, password_env: ANY_NAME, smtps: true"),
                 "s.yaml", str(tmp_path))


# ---- run time: isolation, one clock ---------------------------------------------------------------

def test_bad_stored_schedule_does_not_stop_others_and_now_ahead_renders_once(tmp_path, cli_in_process):
    """Rows written by an older version (no validation) or edited in the database: a CR/LF subject
    and a broken cron. The good schedule still mails; the bad ones are dead-lettered and visible.
    `--now` eight days ahead of the wall clock: the good due time renders exactly once."""
    inbox = Inbox()
    server = _smtp(inbox)
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    wall = dt.datetime.now(dt.timezone.utc)
    good = add_schedule(sessions, "good", _spec(server.port), "g.yaml", str(tmp_path), now=wall)
    with sessions.begin() as s:
        spec = dict(good.spec)
        spec["email"] = {**spec["email"], "subject": "Weekly\r\nBcc: attacker@evil.test"}
        s.add(Schedule(name="injected", spec=spec, cron=good.cron, timezone="UTC", enabled=1,
                       created_at=wall, last_due_at=wall))
        s.add(Schedule(name="badcron", spec=good.spec, cron="not a cron", timezone="UTC", enabled=1,
                       created_at=wall, last_due_at=wall))
    try:
        done = run_due(sessions, _settings(tmp_path, db), now=wall + dt.timedelta(days=8))
    finally:
        server.stop()
    by_name = {r.name: r for r in list_schedules(sessions)}
    good_runs = [d for d in done if d.schedule_id == good.id]
    assert len(good_runs) == 1 and good_runs[0].queued_email
    assert _count(sessions, Run, Run.schedule_id == good.id) == 1  # rendered once
    assert len(inbox.messages) == 1
    parsed = email.message_from_bytes(inbox.messages[0], policy=email.policy.default)
    assert parsed["Subject"] == "Weekly" and "attacker" not in inbox.messages[0].decode("ascii", "replace")
    assert all("attacker" not in r for r in inbox.rcpt_seen)

    bad = [d for d in done if d.schedule_id == by_name["injected"].id]
    assert len(bad) == 1 and bad[0].claim_state == "dead" and "email.subject" in bad[0].error
    with sessions() as s:
        claim = s.scalar(select(ScheduleClaim).where(ScheduleClaim.schedule_id == by_name["injected"].id))
        failed_run = s.get(Run, claim.run_id)
    assert claim.state == "dead" and failed_run.status == "failed" and "email.subject" in failed_run.error

    listed = {d["name"]: d for d in map(schedule_to_dict, list_schedules(sessions))}
    assert listed["good"]["status"] == "ok"
    assert listed["injected"]["status"] == "invalid" and "email.subject" in listed["injected"]["last_error"]
    assert listed["badcron"]["status"] == "invalid" and listed["badcron"]["next_due"] is None
    cli = cli_in_process("schedule", "list", "--db", db)
    assert cli.returncode == 0, cli.stderr
    assert "invalid: schedule injected: email.subject" in cli.stdout and "\r" not in cli.stdout
    from fastapi.testclient import TestClient

    from phantom_report.reporter.delivery.service import create_app

    api = TestClient(create_app(DeliverySettings(db_url=db, require_auth=False, scheduler_interval_s=0)))
    shown = {d["name"]: d for d in api.get("/v1/schedules").json()}
    assert shown["injected"]["status"] == "invalid" and "email.subject" in shown["injected"]["last_error"]
    assert shown["badcron"]["status"] == "invalid" and shown["good"]["status"] == "ok"

    # a dead-lettered due time is not retried: the next pass does nothing more
    again = run_due(sessions, _settings(tmp_path, db), now=wall + dt.timedelta(days=8))
    assert again == [] and _count(sessions, Run) == 2


def test_failed_run_is_retried_with_backoff_then_dead_lettered(tmp_path):
    inbox = Inbox()
    server = _smtp(inbox)
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    wall = dt.datetime.now(dt.timezone.utc)
    add_schedule(sessions, "flaky", _spec(server.port), "f.yaml", str(tmp_path), now=wall)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the reports directory should be")
    now = wall + dt.timedelta(days=8)
    try:
        # base 0 s: the retry is due at once, so the test needs no sleeping
        broken = DeliverySettings(db_url=db, reports_dir=blocked / "reports", offline=True, retry_base_s=0.0)
        first = run_due(sessions, broken, now=now, max_attempts=3)
        assert [d.claim_state for d in first] == ["retry"]
        with sessions() as s:
            claim = s.scalar(select(ScheduleClaim))
        assert claim.attempts == 1 and claim.next_attempt_at is not None
        assert schedule_to_dict(list_schedules(sessions)[0])["status"] == "retrying"
        second = run_due(sessions, _settings(tmp_path, db), now=now)  # the disk is fixed
    finally:
        server.stop()
    assert [(d.claim_state, d.queued_email) for d in second] == [("queued", True)]
    assert len(inbox.messages) == 1
    assert schedule_to_dict(list_schedules(sessions)[0])["status"] == "ok"
    # too many failures: dead-lettered, never retried
    add_schedule(sessions, "doomed", _spec(free_port()), "d.yaml", str(tmp_path), now=wall)
    broken = DeliverySettings(db_url=db, reports_dir=blocked / "reports", offline=True, retry_base_s=0.0)
    states = [d.claim_state for d in run_due(sessions, broken, now=now, max_attempts=2)]
    states += [d.claim_state for d in run_due(sessions, broken, now=now, max_attempts=2)]
    assert states == ["retry", "dead"]
    assert run_due(sessions, broken, now=now, max_attempts=2) == []


def test_killed_run_is_recovered_and_its_due_time_taken_over(tmp_path):
    """SIGKILL while rendering: the history row does not stay "running" and the email is not held
    back by a long stale-claim timeout: the owner is known dead, the next pass takes over."""
    inbox = Inbox()
    server = _smtp(inbox)
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    wall = dt.datetime.now(dt.timezone.utc)
    add_schedule(sessions, "weekly", _spec(server.port), "w.yaml", str(tmp_path), now=wall)
    now = (wall + dt.timedelta(days=8)).isoformat()
    env = {**os.environ, "PHANTOM_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "phantom_report", "schedule", "run-due", "--db", db, "--now", now,
                             "--reports-dir", str(tmp_path / "reports")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not _count(sessions, Run, Run.status == "running"):
            assert proc.poll() is None, "run-due ended before the run started"
            time.sleep(0.02)
        assert _count(sessions, Run, Run.status == "running") == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        runs = list_runs(sessions)  # listing notices the dead owner
        assert [r.status for r in runs] == ["failed"] and runs[0].error.startswith("interrupted")
        done = run_due(sessions, _settings(tmp_path, db), now=dt.datetime.fromisoformat(now))
    finally:
        if proc.poll() is None:
            proc.kill()
        server.stop()
    assert [(d.status, d.queued_email) for d in done] == [("succeeded", True)]
    assert len(inbox.messages) == 1
    with sessions() as s:
        assert [c.state for c in s.scalars(select(ScheduleClaim))] == ["queued"]
    assert sorted(r.status for r in list_runs(sessions)) == ["failed", "succeeded"]


# ---- mail: 5xx / 4xx / plaintext / lost reply --------------------------------------------------------

def _queue(sessions, key: str, to: list[str], port: int, *, body: str = "hello", **smtp_kw) -> int:
    msg = build_message(title="T", summary=body, recommendations=[], to=to, cc=[], subject="S",
                        mail_from="reports@example.test", outputs={}, attach=(), dedupe_key=key, run_id="r1")
    with sessions.begin() as s:
        outbox.enqueue(s, dedupe_key=key, run_id="r1", mail_from="reports@example.test", recipients=to,
                       message=wire_bytes(msg), smtp=SmtpConfig(host="127.0.0.1", port=port, starttls=False, **smtp_kw))
    with sessions() as s:
        return s.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))


def _row(sessions, msg_id):
    with sessions() as s:
        return s.get(OutboxMessage, msg_id)


def test_5xx_dead_letters_4xx_retries_and_replies_are_logged(tmp_path, cli_in_process):
    inbox = Inbox()
    server = _smtp(inbox)
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    settings = _settings(tmp_path, db)
    weekly = add_schedule(sessions, "weekly", _spec(server.port), "w.yaml", str(tmp_path))
    perm = _queue(sessions, f"schedule:{weekly.id}:2026-01-05T08:00:00+00:00", ["perm@example.test"], server.port)
    temp = _queue(sessions, "temp", ["temp@example.test"], server.port)
    content = _queue(sessions, "content", ["ok@example.test"], server.port, body="REJECT-ME")
    ok = _queue(sessions, "ok", ["ok@example.test", "perm2@example.test"], server.port)
    try:
        outbox.flush(sessions, settings)
        assert _row(sessions, perm).status == "dead" and _row(sessions, content).status == "dead"
        assert _row(sessions, temp).status == "pending" and _row(sessions, ok).status == "sent"
        assert "550 5.1.1 mailbox unavailable" in _row(sessions, perm).last_error
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        first_retry_at = as_utc(_row(sessions, temp).next_attempt_at)
        outbox.flush(sessions, settings, now=later)  # 4xx again: backed off further
        assert as_utc(_row(sessions, temp).next_attempt_at) > first_retry_at
        inbox.temp_fail = False
        outbox.flush(sessions, settings, now=later + dt.timedelta(days=1))
    finally:
        server.stop()
    assert _row(sessions, temp).status == "sent" and _row(sessions, temp).attempts == 3
    assert inbox.rcpt_seen.count("perm@example.test") == 1  # a 5xx is never retried
    assert _row(sessions, perm).attempts == 1 and _row(sessions, content).attempts == 1
    logs = {m: [(e.outcome, e.smtp_code, e.smtp_response) for e in outbox.delivery_log(sessions, m)]
            for m in (perm, temp, content, ok)}
    assert logs[perm] == [("dead", 550, "5.1.1 mailbox unavailable")]
    assert logs[content] == [("dead", 554, "5.6.0 content rejected")]
    assert [o for o, _, _ in logs[temp]] == ["retry", "retry", "sent"] and logs[temp][0][1] == 451
    assert logs[temp][-1] == ("sent", 250, "2.0.0 queued as test-1")
    assert logs[ok][0][:2] == ("sent", 250)
    with sessions() as s:
        partial = s.scalar(select(DeliveryLog).where(DeliveryLog.outbox_id == ok))
    assert "perm2@example.test: 550" in partial.error  # the accepted-with-refusals case is visible
    cli = cli_in_process("schedule", "outbox", "--db", db, "--log", str(perm))
    assert "dead" in cli.stdout and "550 5.1.1 mailbox unavailable" in cli.stdout
    shown = schedule_to_dict(list_schedules(sessions)[0])  # the dead email shows on its schedule
    assert shown["status"] == "dead" and "email dead" in shown["last_error"] and "550" in shown["last_error"]


def test_auth_without_tls_is_refused_at_send_time(tmp_path):
    """An outbox row from before the creation check: the password is never sent in clear."""
    from aiosmtpd.smtp import AuthResult

    seen = []

    def auth(server, session, envelope, mechanism, data):
        seen.append(mechanism)
        return AuthResult(success=True)

    inbox = Inbox()
    server = _smtp(inbox, authenticator=auth, auth_required=True, auth_require_tls=False)
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    os.environ["PHANTOM_TEST_FAULTS_PW"] = "pw-never-in-clear"
    try:
        clear = _queue(sessions, "clear", ["ok@example.test"], server.port, username="bot",
                       password_env="PHANTOM_TEST_FAULTS_PW")
        allowed = _queue(sessions, "allowed", ["ok@example.test"], server.port, username="bot",
                         password_env="PHANTOM_TEST_FAULTS_PW", allow_plaintext_auth=True)
        outbox.flush(sessions, _settings(tmp_path, db))
    finally:
        server.stop()
        os.environ.pop("PHANTOM_TEST_FAULTS_PW", None)
    row = _row(sessions, clear)
    assert row.status == "dead" and "without TLS" in row.last_error and "allow_plaintext_auth" in row.last_error
    assert _row(sessions, allowed).status == "sent"
    assert len(seen) == 1 and len(inbox.messages) == 1  # only the explicitly allowed one authenticated


def test_reply_lost_after_data_is_possibly_sent_not_resent(tmp_path):
    inbox = Inbox()
    inbox.drop_after_data = True
    server = _smtp(inbox)
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    settings = _settings(tmp_path, db)
    lost = _queue(sessions, "lost", ["ok@example.test"], server.port)
    crashed = _queue(sessions, "crashed", ["ok@example.test"], server.port)
    with sessions.begin() as s:  # what a sender killed after transmitting the body leaves behind
        s.get(OutboxMessage, crashed).data_started_at = dt.datetime.now(dt.timezone.utc)
    try:
        outbox.flush(sessions, settings)
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
        outbox.flush(sessions, settings, now=later)
        assert len(inbox.messages) == 1  # accepted once, not sent again
        assert _row(sessions, lost).status == "possibly-sent" and _row(sessions, crashed).status == "possibly-sent"
        assert [e.outcome for e in outbox.delivery_log(sessions, lost)] == ["possibly-sent"]
        # the operator checked: send it again; same bytes, same Message-ID (deduplicable)
        inbox.drop_after_data = False
        outbox.requeue(sessions, lost)
        outbox.flush(sessions, settings, now=later)
    finally:
        server.stop()
    assert _row(sessions, lost).status == "sent" and len(inbox.messages) == 2
    ids = [email.message_from_bytes(m, policy=email.policy.default)["Message-ID"] for m in inbox.messages]
    assert ids[0] == ids[1]
    assert _row(sessions, crashed).attempts == 1  # never connected for it


# ---- migration ---------------------------------------------------------------------------------------

def test_database_from_before_gains_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE runs (id VARCHAR(32) PRIMARY KEY, origin VARCHAR(16), status VARCHAR(16), schedule_id INTEGER,
            spec JSON, quotes JSON, payload JSON, summary TEXT, recommendations JSON, outputs JSON, timings_s JSON,
            price_fallbacks INTEGER, error TEXT, created_at DATETIME, started_at DATETIME, finished_at DATETIME,
            duration_s FLOAT);
        INSERT INTO runs (id, origin, status, spec, price_fallbacks, created_at, started_at)
            VALUES ('old1', 'schedule', 'running', '{}', 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00');
    """)
    con.commit()
    con.close()
    sessions = open_db(f"sqlite:///{path}")
    runs = list_runs(sessions)  # an old "running" row without owner or heartbeat: long abandoned
    assert [(r.id, r.status) for r in runs] == [("old1", "failed")] and runs[0].error.startswith("interrupted")
    open_db(f"sqlite:///{path}")  # opening again is a no-op


def test_smtps_authenticates_without_the_plaintext_opt_in(tmp_path):
    """Implicit TLS (port 465 style) counts as TLS: AUTH goes through, over an encrypted link."""
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    tls_seen = []

    def auth(server, session, envelope, mechanism, data):
        tls_seen.append(server.transport.get_extra_info("ssl_object") is not None)
        return AuthResult(success=isinstance(data, LoginPassword) and data.password == b"pw-over-tls")

    inbox = Inbox()
    # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; the authenticator checks the
    # session's TLS itself
    server = _smtp(inbox, ssl_context=ctx, authenticator=auth, auth_required=True, auth_require_tls=False)
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    os.environ["PHANTOM_TEST_FAULTS_TLS_PW"] = "pw-over-tls"
    try:
        msg_id = _queue(sessions, "smtps", ["ok@example.test"], server.port, username="bot", smtps=True,
                        password_env="PHANTOM_TEST_FAULTS_TLS_PW", ca_file=str(cert))
        outbox.flush(sessions, _settings(tmp_path, db))
    finally:
        server.stop()
        os.environ.pop("PHANTOM_TEST_FAULTS_TLS_PW", None)
    assert _row(sessions, msg_id).status == "sent", _row(sessions, msg_id).last_error
    assert tls_seen == [True] and len(inbox.messages) == 1


def test_header_and_address_checks():
    from phantom_report.reporter.delivery.mailcheck import (check_addresses, check_subject, parse_address,
                                                            subject_line)

    assert parse_address("CTO <cto@example.test>").addr_spec == "cto@example.test"
    assert parse_address('"Doe, J" <j@example.test>').display_name == "Doe, J"
    for bad in ["not-an-address", "x@", "@x", "a b@c.d", "a@b.c extra", "x\r\nBcc: e@x.test", "a@b\u2028c",
                "a@.b", "a@b..c", "x" * 400 + "@example.test"]:
        with pytest.raises(ValueError):
            parse_address(bad)
    for bad in ["Hi\nBcc: x@y.z", "Hi\rthere", "nul\x00", "sep\u2029x", "x" * 251]:
        with pytest.raises(SpecError, match="email.subject"):
            check_subject(bad, "s.yaml")
    check_subject("Weekly GPU report \u2014 H100 vs L4\t(EU)", "s.yaml")
    with pytest.raises(SpecError, match="expected a list"):
        check_addresses("a@example.test", "s.yaml", "email.to", required=True)
    with pytest.raises(SpecError, match="at most 100"):
        check_addresses([f"u{i}@example.test" for i in range(101)], "s.yaml", "email.to", required=True)
    # the title stands in for a missing subject on one line, whatever the YAML held
    assert subject_line(None, "Weekly\r\nBcc: x@y.z\n report") == "Weekly Bcc: x@y.z report"
    assert subject_line("Given", "ignored") == "Given"
