"""Record runs and answer `history list|show|diff`.

A run row holds everything needed to explain an old report later: the spec (without secrets), the
price quotes used, the results JSON, output paths, status, timings and the error if any.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import uuid
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from phantom_report import jsonsafe
from phantom_report.errors import PhantomError

from . import lease
from .db import Run, as_utc, utcnow
from .limits import bounded_message

log = logging.getLogger("phantom_report.history")


class HistoryError(PhantomError):
    """A run id that does not exist, or a diff that cannot be made."""


def new_run_id() -> str:
    """A new random run id: 16 hex characters (64 bits), short enough to type, unique in practice."""
    return uuid.uuid4().hex[:16]


def create_run(sessions: sessionmaker, spec: dict, origin: str, *, run_id: str | None = None,
               schedule_id: int | None = None) -> str:
    """Record a queued run with its spec and origin (cli, api or schedule); returns its id."""
    run_id = run_id or new_run_id()
    with sessions.begin() as s:
        s.add(Run(id=run_id, origin=origin, status="queued", spec=spec, schedule_id=schedule_id,
                  created_at=utcnow(), owner=lease.owner_id(), heartbeat_at=lease.wall_now()))
    return run_id


def mark_running(sessions: sessionmaker, run_id: str) -> None:
    """The calling process now works on the run; it owns the row until it records the outcome."""
    with sessions.begin() as s:
        run = s.get(Run, run_id)
        run.status = "running"
        run.started_at = utcnow()
        run.owner, run.heartbeat_at = lease.owner_id(), lease.wall_now()


def heartbeat(sessions: sessionmaker, run_id: str) -> lease.Heartbeat:
    """`with heartbeat(sessions, run_id):` around a long render keeps the row's lease fresh, so
    another host can tell a slow run from a dead one."""

    def beat() -> None:
        with sessions.begin() as s:
            s.execute(update(Run).where(Run.id == run_id, Run.status == "running")
                      .values(heartbeat_at=lease.wall_now()))

    return lease.Heartbeat(beat)


def recover_stale_runs(sessions: sessionmaker) -> int:
    """Rows left "running" (or, outside the service, "queued") by a process that died (SIGKILL,
    power loss) are ended: API runs go back to "queued" (the service resumes them when it
    starts), the others are marked failed as interrupted. Returns how many rows changed; never
    raises (a read-only or busy database only postpones the repair)."""
    try:
        with sessions() as s:
            rows = list(s.execute(select(Run.id, Run.origin, Run.status, Run.owner, Run.heartbeat_at, Run.started_at)
                                  .where(Run.status.in_(("queued", "running")))))
        changed = 0
        for rid, origin, status, owner, beat, started in rows:
            if origin == "api" and status == "queued":
                continue  # waiting for a service worker, not owned by a process yet
            if not lease.is_abandoned(owner, as_utc(beat) or as_utc(started)):
                continue
            changed += _end_abandoned(sessions, rid, origin, status, owner)
        return changed
    except SQLAlchemyError:
        log.warning("could not check for interrupted runs", exc_info=True)
        return 0


def _end_abandoned(sessions: sessionmaker, run_id: str, origin: str, status: str, owner: str | None) -> int:
    who = f"process {owner}" if owner else "its process"
    with sessions.begin() as s:
        # conditional on the row being unchanged, so a concurrent owner's outcome is never overwritten
        same_owner = Run.owner.is_(None) if owner is None else Run.owner == owner
        q = update(Run).where(Run.id == run_id, Run.status == status, same_owner)
        if origin == "api":
            n = s.execute(q.values(status="queued", started_at=None, owner=None, heartbeat_at=None)).rowcount
        else:
            n = s.execute(q.values(status="failed", finished_at=utcnow(),
                                   error=f"interrupted: {who} stopped before the run finished")).rowcount
    if n:
        log.warning("run %s was left %s by %s, which is gone; now %s", run_id, status, who,
                    "queued again" if origin == "api" else "failed")
    return n


def requeue(sessions: sessionmaker, run_id: str) -> None:
    """Put a queued or running run back in the queue (its worker was lost before it started work)."""
    with sessions.begin() as s:
        run = s.get(Run, run_id)
        if run.status in ("queued", "running"):
            run.status, run.started_at = "queued", None


def record_success(sessions: sessionmaker, run_id: str, result: Any) -> None:
    """Store a `RunResult` (see docs/INTERFACES.md)."""
    quotes = quotes_to_json(getattr(result, "quotes", None))
    with sessions.begin() as s:
        run = s.get(Run, run_id)
        run.status = "succeeded"
        run.payload = to_jsonable(getattr(result, "payload", None))
        run.summary = getattr(result, "summary", None)
        run.recommendations = to_jsonable(list(getattr(result, "recommendations", None) or []))
        run.outputs = {k: str(Path(v).resolve()) for k, v in (getattr(result, "outputs", {}) or {}).items()}
        run.timings_s = to_jsonable(dict(getattr(result, "timings_s", {}) or {}))
        run.quotes = quotes
        run.price_fallbacks = sum(1 for q in quotes if q.get("source") not in (None, "live"))
        _finish(run)


def record_failure(sessions: sessionmaker, run_id: str, message: str) -> None:
    """Mark a run failed; the message is bounded (a hostile spec can make it huge)."""
    with sessions.begin() as s:
        run = s.get(Run, run_id)
        run.status = "failed"
        run.error = bounded_message(message)
        _finish(run)


def _finish(run: Run) -> None:
    run.finished_at = utcnow()
    started = as_utc(run.started_at) or as_utc(run.created_at)
    run.duration_s = (run.finished_at - started).total_seconds()


def get_run(sessions: sessionmaker, run_id: str, *, prefix: bool = False) -> Run:
    """The run with exactly this id; with `prefix` (the CLI, since ids are long) also the one run
    whose id starts with it, as git does. The prefix is literal text, never a LIKE pattern."""
    recover_stale_runs(sessions)
    with sessions() as s:
        run = s.get(Run, run_id)
        if run is None and prefix and run_id:
            rows = s.scalars(select(Run).where(Run.id.startswith(run_id, autoescape=True)).limit(2)).all()
            run = rows[0] if len(rows) == 1 else None
        if run is None:
            raise HistoryError(f"no run with id {bounded_message(run_id, 100)!r} (see `phantom-report history list`)")
        return run


def list_runs(sessions: sessionmaker, limit: int = 50, status: str | None = None) -> list[Run]:
    """The most recent runs first, at most ``limit``, optionally only those with ``status``; runs left
    behind by a stopped process are recovered first so their status is current."""
    recover_stale_runs(sessions)
    with sessions() as s:
        q = select(Run).order_by(Run.created_at.desc()).limit(limit)
        if status:
            q = q.where(Run.status == status)
        return list(s.scalars(q))


def count_by_status(sessions: sessionmaker) -> dict[str, int]:
    """Runs per status ({"succeeded": 12, ...}): the service metrics' run gauges."""
    with sessions() as s:
        return dict(s.execute(select(Run.status, func.count()).group_by(Run.status)).all())


def total_price_fallbacks(sessions: sessionmaker) -> int:
    """How many price quotes of all recorded runs came from a cache or the snapshot instead of a live API."""
    with sessions() as s:
        return int(s.scalar(select(func.coalesce(func.sum(Run.price_fallbacks), 0))) or 0)


def run_to_dict(run: Run, *, full: bool = False) -> dict:
    """A run as JSON-able dict (times ISO 8601, durations in seconds); ``full`` adds the spec,
    payload, recommendations, quotes and timings."""
    out = {
        "id": run.id,
        "status": run.status,
        "origin": run.origin,
        "schedule_id": run.schedule_id,
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": run.duration_s,
        "error": bounded_message(run.error) if run.error else run.error,  # rows stored before the bound
        "formats": sorted((run.outputs or {}).keys()),
        "summary": run.summary,
    }
    if full:
        out.update(spec=run.spec, quotes=run.quotes, payload=run.payload, outputs=run.outputs,
                   timings_s=run.timings_s, recommendations=run.recommendations,
                   price_fallbacks=run.price_fallbacks)
    return out


def _iso(value: dt.datetime | None) -> str | None:
    value = as_utc(value)
    return value.isoformat() if value else None


# ---- serialization -------------------------------------------------------------------------

def to_jsonable(value: Any) -> Any:
    """Dataclasses, Paths, datetimes, numpy scalars and NaN into plain JSON (NaN -> null)."""
    return jsonsafe.to_jsonable(value, _plain)


def _plain(value: Any) -> Any:
    """One step towards JSON for a value that is not a JSON type (jsonsafe cleans the result)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict") and callable(value.to_dict):  # pandas objects
        return value.to_dict(orient="records") if hasattr(value, "columns") else value.to_dict()
    try:
        return dict(value)
    except (TypeError, ValueError):
        return str(value)


def quotes_to_json(quotes: Any) -> list[dict]:
    """Price quotes (a QuoteSet or an iterable of PriceQuote) as JSON-able dicts, NaN as null."""
    if quotes is None:
        return []
    if hasattr(quotes, "quotes"):  # a QuoteSet
        quotes = quotes.quotes
    return [to_jsonable(q) for q in quotes]


# ---- diff ----------------------------------------------------------------------------------

def diff_runs(a: Run, b: Run, *, rel_tol: float = 1e-9, max_rows: int = 200) -> dict:
    """What changed from run `a` to run `b`: prices, predictions (numbers in the results JSON) and
    the recommendation."""
    return {
        "from": a.id,
        "to": b.id,
        "prices": _diff_quotes(a.quotes or [], b.quotes or [], rel_tol)[:max_rows],
        "predictions": _diff_numbers(_flatten(a.payload or {}), _flatten(b.payload or {}), rel_tol)[:max_rows],
        "recommendation": {
            "changed": (a.recommendations or []) != (b.recommendations or []) or a.summary != b.summary,
            "from": a.recommendations, "to": b.recommendations,
            "summary_from": a.summary, "summary_to": b.summary,
        },
    }


_PRICE_FIELDS = ("on_demand_usd_per_hour", "spot_usd_per_hour")


def _quote_key(q: dict) -> str:
    return "/".join(str(q.get(k) or "-") for k in ("provider", "region", "zone", "instance_type"))


def _diff_quotes(qa: Iterable[dict], qb: Iterable[dict], rel_tol: float) -> list[dict]:
    ma = {_quote_key(q): q for q in qa}
    mb = {_quote_key(q): q for q in qb}
    rows = []
    for key in sorted(set(ma) | set(mb)):
        if key not in ma or key not in mb:
            rows.append({"quote": key, "change": "added" if key in mb else "removed"})
            continue
        for field_name in _PRICE_FIELDS:
            va, vb = ma[key].get(field_name), mb[key].get(field_name)
            if _differs(va, vb, rel_tol):
                rows.append({"quote": key, "field": field_name, "from": va, "to": vb,
                             "change_pct": _pct(va, vb)})
    return rows


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in ("quotes", "generated_at", "timings_s", "run_id"):  # prices have their own section
                continue
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list):
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _diff_numbers(fa: dict, fb: dict, rel_tol: float) -> list[dict]:
    rows = []
    for key in sorted(set(fa) | set(fb)):
        va, vb = fa.get(key), fb.get(key)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb) if v is not None)
        if numeric and _differs(va, vb, rel_tol):
            rows.append({"path": key, "from": va, "to": vb, "change_pct": _pct(va, vb)})
    return rows


def _differs(va: Any, vb: Any, rel_tol: float) -> bool:
    if va is None or vb is None:
        return (va is None) != (vb is None)
    if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
        return not math.isclose(va, vb, rel_tol=rel_tol, abs_tol=1e-12)
    return va != vb


def _pct(va: Any, vb: Any) -> float | None:
    if isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va:
        return round((vb - va) / abs(va) * 100.0, 3)
    return None
