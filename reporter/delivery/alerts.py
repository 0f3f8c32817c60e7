"""Alerts of scheduled runs: what changed since the previous run of the same schedule, queued once.

A condition is one fact about a run's report (its report.json payload):

- ``budget``: the forecast of a budget's recommended configuration(s) has reached a threshold of
  its ``alert_at`` (the report's ``budget`` block, reporter/budget.py); it holds as long as the
  forecast stays at or above it;
- ``config``: a workload's recommended configuration differs from the previous run's;
- ``price``: the same configuration's monthly cost moved more than ``alerts.price_change_pct``
  since the previous run.

The previous run is the one this series was last evaluated on (``AlertState.last_run_id``; its
payload is read from run history). A series is a schedule's name, so removing a schedule and adding
it again under the same name (to change a budget, say) continues the series. A condition is
alerted when it holds and did not hold (or was not alerted) on the previous run: the set of
conditions that hold is stored per series, so the same crossed threshold is never alerted twice,
and one that clears and is crossed again is alerted again.

Each new condition goes to every channel of ``alerts.channels`` as its own outbox row (email, or a
webhook POST with a generic JSON body or a Slack-compatible ``{"text": ...}``), in the caller's
transaction: the run's outcome, its alerts and the new state commit together. Sending, retries,
backoff and dead-lettering are the outbox's (outbox.py); ``dedupe_key`` makes a re-run of the same
due time queue nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping

from sqlalchemy.orm import Session

from phantom_report.engine.limits import clip

from . import outbox
from .db import AlertState, Run, utcnow
from .mail import recipients_of, wire_bytes
from .specio import DeliverySpec

KINDS = ("budget", "config", "price")
_TITLES = {"budget": "budget threshold reached", "config": "recommended configuration changed",
           "price": "price of the recommended configuration moved"}


@dataclass(frozen=True)
class Condition:
    """One alertable fact. ``key`` identifies it across runs (the dedupe unit)."""

    kind: str  # budget | config | price
    key: str
    text: str
    details: Mapping[str, Any]


def conditions(payload: Mapping[str, Any], previous: Mapping[str, Any] | None,
               price_change_pct: float) -> list[Condition]:
    """Every condition that holds for a run's payload, given the previous run's payload (None for
    the first run of a series: nothing to compare, so no config or price condition)."""
    out = _budget_conditions(payload)
    if previous:
        before = _picks(previous)
        for name, (desc, cost) in _picks(payload).items():
            if name not in before:
                continue
            old_desc, old_cost = before[name]
            if desc != old_desc:
                out.append(Condition("config", f"config:{name}:{desc}",
                                     f"{name}: the recommended configuration changed from {old_desc} "
                                     f"({_usd(old_cost)}/month) to {desc} ({_usd(cost)}/month).",
                                     {"workload": name, "from": old_desc, "to": desc,
                                      "from_monthly_usd": old_cost, "to_monthly_usd": cost}))
            elif _moved_pct(old_cost, cost) is not None and abs(_moved_pct(old_cost, cost)) > price_change_pct:
                pct = _moved_pct(old_cost, cost)
                out.append(Condition("price", f"price:{name}:{desc}:{old_cost:.2f}:{cost:.2f}",
                                     f"{name}: the monthly cost of {desc} moved {pct:+.1f}% since the previous run "
                                     f"({_usd(old_cost)} to {_usd(cost)}; alert above {price_change_pct:g}%).",
                                     {"workload": name, "configuration": desc, "from_monthly_usd": old_cost,
                                      "to_monthly_usd": cost, "change_pct": pct}))
    return out


def _budget_conditions(payload: Mapping[str, Any]) -> list[Condition]:
    out = []
    for b in (payload.get("budget") or {}).get("entries") or []:
        who = "All workloads" if b["scope"] == "total" else b["name"]
        for f in b.get("crossed") or []:
            out.append(Condition(
                "budget", f"budget:{b['scope']}:{b['name']}:{float(f):g}",
                f"{who}: forecast {b['forecast']['text']}/month reached {float(f):.0%} of the {b['budget']['text']} "
                f"budget ({b['forecast']['interval_text'] or 'no interval'}; {b['probability_over']['text']} "
                "chance of exceeding it).",
                {"scope": b["scope"], "name": b["name"], "threshold": float(f), "budget_usd": b["budget"]["value"],
                 "forecast_usd": b["forecast"]["value"], "forecast_low_usd": b["forecast"]["low"],
                 "forecast_high_usd": b["forecast"]["high"], "probability_over": b["probability_over"]["value"]}))
    return out


def _picks(payload: Mapping[str, Any]) -> dict[str, tuple[str, float | None]]:
    """workload -> (description, monthly cost) of its recommended configuration; "none" when no
    configuration meets the SLOs."""
    out = {}
    for w in payload.get("workloads") or []:
        c = (w.get("cheapest") or {}).get("config")
        out[w["name"]] = (c["description"], c["monthly_cost"]["value"]) if c else ("no configuration", None)
    return out


def _moved_pct(old: float | None, new: float | None) -> float | None:
    if old is None or new is None or old <= 0:
        return None
    return (new - old) / old * 100.0


def _usd(v: float | None) -> str:
    from phantom_report.reporter import fmt

    return fmt.usd(v)


def queue_alerts(session: Session, *, series: str, schedule_id: int, dspec: DeliverySpec,
                 payload: Mapping[str, Any], run_id: str, mail_from: str) -> list[Condition]:
    """Evaluate a run against its series' state and queue one outbox row per new condition and
    channel, in the caller's transaction. Returns the new conditions."""
    alerts = dspec.spec.alerts
    if alerts is None:
        return []
    state = session.get(AlertState, series)
    previous = None
    if state is not None and state.last_run_id:
        prev_run = session.get(Run, state.last_run_id)
        previous = prev_run.payload if prev_run is not None else None
    now = conditions(payload, previous, alerts.price_change_pct)
    seen = set(state.active) if state else set()
    new = [c for c in now if c.key not in seen]
    if state is None:
        state = AlertState(series=series, active=[], last_run_id=None)
        session.add(state)
    state.active, state.last_run_id, state.updated_at = [c.key for c in now], run_id, utcnow()
    for c in new:
        digest = hashlib.sha256(c.key.encode("utf-8")).hexdigest()[:20]
        for i, channel in enumerate(alerts.channels):
            key = f"schedule:{schedule_id}:alert:{run_id}:{i}:{digest}"
            if channel.type == "email":
                msg = alert_message(c, dspec, mail_from, key, run_id)
                outbox.enqueue(session, dedupe_key=key, run_id=run_id, mail_from=mail_from,
                               recipients=recipients_of(dspec.to, dspec.cc), message=wire_bytes(msg), smtp=dspec.smtp)
            else:
                outbox.enqueue_webhook(session, dedupe_key=key, run_id=run_id, url=channel.url,
                                       body=webhook_body(c, channel.type, dspec.spec.title, series, run_id))
    return new


def webhook_body(c: Condition, kind: str, title: str, series: str, run_id: str) -> bytes:
    """A generic JSON alert (``kind`` "webhook") or a Slack incoming-webhook payload ("slack")."""
    if kind == "slack":
        text = f"*{_slack_escape(clip(title, 200))}* ({_TITLES[c.kind]}): {_slack_escape(c.text)}"
        return json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
    return json.dumps({"event": "phantom-report.alert", "kind": c.kind, "condition": c.key, "text": c.text,
                       "title": title, "schedule": series.removeprefix("schedule:"), "run_id": run_id,
                       "details": dict(c.details)}, ensure_ascii=False, default=str).encode("utf-8")


def _slack_escape(text: str) -> str:
    """Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def alert_message(c: Condition, dspec: DeliverySpec, mail_from: str, key: str, run_id: str) -> EmailMessage:
    """A short plain-text email for one condition; the subject is header-safe (no user text)."""
    msg = EmailMessage()
    msg["Subject"] = f"phantom-report alert: {_TITLES[c.kind]}"
    msg["From"] = mail_from
    msg["To"] = ", ".join(dspec.to)
    if dspec.cc:
        msg["Cc"] = ", ".join(dspec.cc)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = mail_from.rsplit("@", 1)[-1] if "@" in mail_from else "phantom-report.local"
    msg["Message-ID"] = make_msgid(idstring=hashlib.sha256(key.encode()).hexdigest()[:24], domain=domain)
    msg["X-Phantom-Run"] = run_id
    msg["X-Phantom-Alert"] = c.kind
    msg.set_content(f"{clip(dspec.spec.title, 200)}\n\n{c.text}\n\nRun {run_id} "
                    f"(phantom-report history show {run_id}).\n")
    return msg
