"""Budgets and alerts (issue 14 item 2): budget status in every output format, scheduled runs that
alert once per crossed threshold by email (real SMTP server) and webhook (real HTTP server), both
on 127.0.0.1, and the spec errors for bad budgets, channels and webhook URLs."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from phantom_report.reporter.delivery import outbox
from phantom_report.reporter.delivery.db import AlertState, DeliveryLog, OutboxMessage, open_db
from devserver import free_port
from phantom_report.reporter.delivery.mail import DeliveryFailed
from phantom_report.reporter.delivery.scheduler import add_schedule, remove_schedule, run_due
from phantom_report.reporter.delivery.settings import DeliverySettings
from phantom_report.reporter.delivery.webhook import MAX_RESPONSE_BYTES, post_json

pytestmark = [pytest.mark.heavy, pytest.mark.timeout(600)]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "budget-alerts.yaml"
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)


# ---- real servers on 127.0.0.1 ---------------------------------------------------------------------

class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                      policy=email.policy.default))
        return "250 OK"


class Hooks:
    """A webhook receiver: records every POST (path, JSON body); `script` maps a path to the status
    codes to answer in turn (then 200), or a callable giving (code, headers, body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        self.script: dict[str, list] = {}
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                plan = hooks.script.get(self.path) or []
                step = plan.pop(0) if plan else 200
                code, headers, reply = step(self) if callable(step) else (step, {}, b"ok")
                if code == 200:
                    hooks.posts.append((self.path, json.loads(body)))
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks():
    h = Hooks()
    yield h
    h.close()


@pytest.fixture
def inbox():
    from aiosmtpd.controller import Controller

    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


def _example(smtp_port: int, hooks: Hooks, scale: float = 1.0) -> str:
    """The example spec pointed at the local servers, its budgets multiplied by `scale`, rendering
    only JSON (the alerts read report.json; PDF rendering is covered by the report test)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["email"]["smtp"] = {"host": "127.0.0.1", "port": smtp_port, "starttls": False}
    data["email"]["attach"] = ["json"]
    data["report"] = {"formats": ["json"]}
    data["alerts"]["channels"] = [{"type": "email"}, {"type": "webhook", "url": hooks.url("/json")},
                                  {"type": "slack", "url": hooks.url("/slack")}]
    for holder in [data, *data["workloads"]]:
        if "budget" in holder:
            holder["budget"]["monthly_usd"] = holder["budget"]["monthly_usd"] * scale
    return yaml.safe_dump(data, sort_keys=False)


def _crossed(sessions, run_id: str) -> set[str]:
    """The thresholds a run's report.json says are crossed, as 'scope:name:fraction'."""
    from phantom_report.reporter.delivery.db import Run

    with sessions() as s:
        payload = s.get(Run, run_id).payload
    return {f"{b['scope']}:{b['name']}:{float(f):g}" for b in payload["budget"]["entries"] for f in b["crossed"]}


def _alert_mails(inbox: Inbox) -> list:
    return [m for m in inbox.messages if m["X-Phantom-Alert"]]


def _run(sessions, settings, when: dt.datetime):
    done = run_due(sessions, settings, now=when)
    assert [d.status for d in done] == ["succeeded"], [d.error for d in done]
    return done[0].run_id


# ---- the scheduled runs -----------------------------------------------------------------------

def test_scheduled_runs_alert_once_per_crossed_threshold(tmp_path, inbox, hooks, monkeypatch):
    monkeypatch.setenv("PHANTOM_OFFLINE", "1")
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    settings = DeliverySettings(db_url=db, reports_dir=tmp_path / "reports", offline=True, smtp_timeout_s=10,
                                webhook_timeout_s=10, webhook_private_hosts=True)

    # run 1: the example's budgets
    add_schedule(sessions, "budget-watch", _example(inbox.port, hooks), "budget-alerts.yaml", str(tmp_path), now=T0)
    run1 = _run(sessions, settings, T0 + dt.timedelta(days=1))
    first = _crossed(sessions, run1)
    assert first, "the example's budgets should have thresholds crossed"
    assert _alert_mails(inbox) and len(_alert_mails(inbox)) == len(first)
    json_posts = [b for p, b in hooks.posts if p == "/json"]
    assert sorted(b["condition"].removeprefix("budget:") for b in json_posts) == sorted(first)
    assert all(b["kind"] == "budget" and b["schedule"] == "budget-watch" and b["run_id"] == run1 for b in json_posts)
    slack = [b for p, b in hooks.posts if p == "/slack"]
    assert len(slack) == len(first) and all(set(b) == {"text"} and "budget threshold reached" in b["text"] for b in slack)
    # one report email as well, and every alert email names its run and condition
    assert len([m for m in inbox.messages if not m["X-Phantom-Alert"]]) == 1
    assert all(m["X-Phantom-Run"] == run1 and "of the" in m.get_content() for m in _alert_mails(inbox))

    # run 2: the same schedule name with budgets halved: only thresholds not crossed before alert
    remove_schedule(sessions, "budget-watch")
    t1 = T0 + dt.timedelta(days=1, hours=1)
    add_schedule(sessions, "budget-watch", _example(inbox.port, hooks, scale=0.5), "budget-alerts.yaml",
                 str(tmp_path), now=t1)
    run2 = _run(sessions, settings, t1 + dt.timedelta(days=1))
    second = _crossed(sessions, run2)
    new = second - first
    assert new, "halving the budgets should cross further thresholds"
    json_posts = [b for p, b in hooks.posts if p == "/json"]
    # every threshold crossed so far was posted exactly once (first and new are disjoint)
    assert sorted(b["condition"].removeprefix("budget:") for b in json_posts) == sorted([*first, *new])
    assert all(b["run_id"] == run2 for b in json_posts[len(first):])
    assert len(_alert_mails(inbox)) == len(first) + len(new)
    assert len([p for p, _ in hooks.posts if p == "/slack"]) == len(first) + len(new)

    # run 3: nothing changed: no alert at all (the crossed thresholds were alerted already)
    before = (len(inbox.messages), len(hooks.posts))
    run3 = _run(sessions, settings, t1 + dt.timedelta(days=2))
    assert _crossed(sessions, run3) == second
    assert (len(inbox.messages), len(hooks.posts)) == (before[0] + 1, before[1])  # the report email only
    with sessions() as s:
        state = s.get(AlertState, "schedule:budget-watch")
        assert state.last_run_id == run3
        assert {k.removeprefix("budget:") for k in state.active} == second
        assert all(m.status == "sent" for m in s.scalars(select(OutboxMessage)))


def test_webhook_alert_is_retried_until_it_goes_through(tmp_path, inbox, hooks, monkeypatch):
    monkeypatch.setenv("PHANTOM_OFFLINE", "1")
    db = f"sqlite:///{tmp_path}/h.db"
    sessions = open_db(db)
    settings = DeliverySettings(db_url=db, reports_dir=tmp_path / "reports", offline=True, smtp_timeout_s=10,
                                retry_base_s=0.0, webhook_timeout_s=10, webhook_private_hosts=True)
    hooks.script["/json"] = [503]  # the first POST fails, the retry succeeds
    hooks.script["/slack"] = [404]  # a permanent refusal: dead at once, never retried
    add_schedule(sessions, "w", _example(inbox.port, hooks, scale=0.01), "b.yaml", str(tmp_path), now=T0)
    run = _run(sessions, settings, T0 + dt.timedelta(days=1))
    crossed = _crossed(sessions, run)
    with sessions() as s:
        hooks_rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook")))
    json_rows = [r for r in hooks_rows if r.recipients[0].endswith("/json")]
    slack_rows = [r for r in hooks_rows if r.recipients[0].endswith("/slack")]
    assert len(json_rows) == len(slack_rows) == len(crossed)
    assert sorted(r.status for r in json_rows) == ["pending"] + ["sent"] * (len(crossed) - 1)
    assert sorted(r.status for r in slack_rows) == ["dead"] + ["sent"] * (len(crossed) - 1)
    outbox.flush(sessions, settings)
    with sessions() as s:
        json_rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.id.in_([r.id for r in json_rows]))))
        codes = [log.smtp_code for log in s.scalars(select(DeliveryLog).order_by(DeliveryLog.id))]
    assert all(r.status == "sent" for r in json_rows)
    assert 503 in codes and 404 in codes
    assert len([p for p, _ in hooks.posts if p == "/json"]) == len(crossed)  # each delivered once


# ---- the webhook client ------------------------------------------------------------------------

def test_webhook_refuses_redirect_to_another_host_and_bounds_the_answer(hooks):
    other = f"http://localhost:{hooks.port}/json"  # same port, another host name
    hooks.script["/away"] = [lambda h: (307, {"Location": other}, b"")]
    with pytest.raises(DeliveryFailed) as err:
        post_json(hooks.url("/away"), b"{}", timeout_s=5, private_hosts=True)
    assert err.value.permanent and "redirect to another host" in str(err.value)
    assert hooks.posts == []
    # a redirect to the same origin is followed (307 keeps the POST and its body)
    hooks.script["/here"] = [lambda h: (307, {"Location": "/json"}, b"")]
    assert post_json(hooks.url("/here"), b'{"a": 1}', timeout_s=5, private_hosts=True).code == 200
    assert hooks.posts == [("/json", {"a": 1})]
    # a huge answer is read only up to the bound
    hooks.script["/big"] = [lambda h: (500, {}, b"x" * (MAX_RESPONSE_BYTES * 8))]
    with pytest.raises(DeliveryFailed) as err:
        post_json(hooks.url("/big"), b"{}", timeout_s=5, private_hosts=True)
    assert not err.value.permanent and len(err.value.response) <= 500
    # nothing listens: retried later, not possibly sent
    with pytest.raises(DeliveryFailed) as err:
        post_json(f"http://127.0.0.1:{free_port()}/x", b"{}", timeout_s=5, private_hosts=True)
    assert not err.value.permanent and not err.value.possibly_sent


def test_webhook_to_a_non_public_host_is_refused_unless_the_operator_allows_it(hooks):
    # a spec must not aim the server at its own network: loopback, private ranges, the link-local
    # cloud metadata address; refused before any connection, and dead at once (no retries)
    for url in (hooks.url("/json"), "http://10.0.0.1:9/x", "http://169.254.169.254/latest/meta-data",
                "http://[::1]:9/x"):
        with pytest.raises(DeliveryFailed) as err:
            post_json(url, b"{}", timeout_s=5)
        assert err.value.permanent and "not a public address" in str(err.value)
    assert hooks.posts == []
    assert post_json(hooks.url("/json"), b"{}", timeout_s=5, private_hosts=True).code == 200
    assert DeliverySettings.from_env().webhook_private_hosts is False


# ---- conditions (pure function over report payloads) ----------------------------------------------

def _payload(desc: str, cost: float) -> dict:
    return {"workloads": [{"name": "w", "cheapest": {"config": {"description": desc, "monthly_cost": {"value": cost}}}}],
            "budget": {"entries": []}}


def test_config_and_price_changes_against_the_previous_run():
    from phantom_report.reporter.delivery.alerts import conditions

    assert conditions(_payload("4x L4", 1000), None, 10) == []  # first run: nothing to compare
    assert conditions(_payload("4x L4", 1050), _payload("4x L4", 1000), 10) == []  # 5% < 10%
    price = conditions(_payload("4x L4", 1200), _payload("4x L4", 1000), 10)
    assert [c.kind for c in price] == ["price"] and "+20.0%" in price[0].text
    change = conditions(_payload("2x H100", 900), _payload("4x L4", 1000), 10)
    assert [c.kind for c in change] == ["config"] and "4x L4" in change[0].text and "2x H100" in change[0].text


# ---- the report ---------------------------------------------------------------------------------

def test_example_shows_budget_status_in_every_format(tmp_path, cli_in_process):
    out = tmp_path / "out"
    # `main` in this process: the command's outputs without a second of interpreter start-up
    r = cli_in_process("run", str(EXAMPLE), "--out", str(out), "--format", "html,pdf,md,json")
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "report.json").read_text())
    entries = data["budget"]["entries"]
    assert [(b["scope"], b["name"]) for b in entries] == [("workload", "assistant-8b"), ("workload", "embeddings"),
                                                         ("total", "total")]
    by_name = {w["name"]: w["cheapest"]["config"] for w in data["workloads"]}
    for b in entries:
        f = b["forecast"]
        if b["scope"] == "workload":  # the forecast is the recommended configuration's cost and interval
            c = by_name[b["name"]]["monthly_cost"]
            assert (f["value"], f["low"], f["high"]) == pytest.approx((c["value"], c["low"], c["high"]))
        assert f["low"] <= f["value"] <= f["high"] and 0 <= b["probability_over"]["value"] <= 1
        assert b["crossed"] == [t for t in b["alert_at"] if f["value"] >= t * b["budget"]["value"]]
        assert b["state"] == ("over" if f["value"] > b["budget"]["value"] else "warning" if b["crossed"] else "within")
    total = entries[-1]["forecast"]["value"]
    assert total == pytest.approx(sum(c["monthly_cost"]["value"] for c in by_name.values()))
    states = {b["state"] for b in entries}
    assert "over" in states and "warning" in states  # the example shows both
    md = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for b in entries:
        assert b["forecast"]["interval_text"] in md and b["probability_over"]["text"] in md
        assert b["forecast"]["interval_text"] in html
    assert "Budget status" in md and 'id="budget"' in html
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(str(out / "report.pdf")).pages)
    assert "budget status" in text.lower() and entries[0]["forecast"]["interval_text"] in text


# ---- bad input: exit 2, file:line: key, nothing written -----------------------------------------

BAD = [
    ("workloads:\n  - name: assistant-8b", "    budget:\n      monthly_usd: 5000", "    budget:\n      monthly_usd: 0",
     "workloads[0].budget.monthly_usd: must be a positive number, got 0"),
    ("budget:", "  monthly_usd: 5500", "  monthly_usd: -50", "budget.monthly_usd: must be a positive number, got -50"),
    ("alerts:", "    - type: slack ", "    - type: sms ", "alerts.channels[2].type: must be 'email', 'webhook' or 'slack'"),
    ("alerts:", "      url: http://127.0.0.1:9009/phantom-alerts", "      url: ftp://127.0.0.1/x",
     "alerts.channels[1].url: must be an http:// or https:// URL"),
    ("alerts:", "      url: http://127.0.0.1:9009/phantom-alerts", "      url: \"http://user:pw@example.com/x\"",
     "alerts.channels[1].url: must not carry a user name or password"),
    ("alerts:", "      url: http://127.0.0.1:9009/phantom-alerts", "      url: \"http://exa mple.com/x\"",
     "alerts.channels[1].url: must not contain spaces"),
    ("alerts:", "      url: http://127.0.0.1:9009/phantom-alerts", "      url: \"https:///nohost\"",
     "alerts.channels[1].url: must name a host"),
    ("alerts:", "      url: http://127.0.0.1:9009/phantom-alerts", "      url: \"http://example.com:99999/x\"",
     "alerts.channels[1].url: is not a valid URL"),
    ("budget:", "  alert_at: [0.5, 0.8, 1.0]", "  alert_at: [1.0, 0.8]", "budget.alert_at: must list distinct fractions"),
]


@pytest.mark.parametrize("anchor,old,new,expected", BAD, ids=[b[3].split(":")[0] + "-" + str(i) for i, b in enumerate(BAD)])
def test_bad_budget_and_alert_input_exits_2_with_file_line_key(tmp_path, cli_in_process, anchor, old, new, expected):
    text = EXAMPLE.read_text()
    start = text.index(anchor)
    assert old in text[start:], old
    pos = text.index(old, start)
    bad = text[:pos] + new + text[pos + len(old):]
    line = bad[:pos].count("\n") + 1 + (new.count("\n") if "\n" in new else 0)
    spec = tmp_path / "bad.yaml"
    spec.write_text(bad)
    out = tmp_path / "out"
    for args in (("run", str(spec), "--out", str(out)), ("spec", "check", str(spec))):
        r = cli_in_process(*args)  # `main` in-process: the message and exit code of the real command
        assert r.returncode == 2, (r.stdout, r.stderr)
        assert f"{spec}:{line}: {expected}" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert not out.exists()


def test_email_channel_without_email_section_names_its_line(tmp_path, cli_in_process):
    data = EXAMPLE.read_text()
    start = data.index("\nschedule:") + 1
    end = data.index("\nalerts:") + 1
    spec = tmp_path / "no-email.yaml"
    spec.write_text(data[:start] + data[end:])
    r = cli_in_process("spec", "check", str(spec))
    line = (data[:start] + data[end:]).splitlines().index("    - type: email              # the `email` recipients above") + 1
    assert r.returncode == 2 and f"{spec}:{line}: alerts.channels[0].type: an email channel needs" in r.stderr, r.stderr
