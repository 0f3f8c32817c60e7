"""Who works on a database row, and whether that worker is still alive.

A run row or a schedule claim records its owner (host, pid and the process's start time, so a
reused pid is not mistaken for the owner) and a heartbeat on the wall clock. A row is abandoned
when its owner is a process of this host that no longer exists (known at once), or, for an owner
on another host, when its heartbeat is older than the lease. Leases are always on the wall clock:
`run-due --now` moves the calendar, never the liveness of processes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from typing import Callable

log = logging.getLogger("phantom_report.lease")

HEARTBEAT_S = 10.0  # how often a live owner refreshes its rows
LEASE_S = 60.0  # an owner on another host that has not beaten for this long is gone


def wall_now() -> dt.datetime:
    """Wall-clock time, timezone-aware UTC: heartbeats other processes compare against their own clock."""
    return dt.datetime.now(dt.timezone.utc)


def owner_id() -> str:
    """This process, as stored in `owner` columns: host:pid:start-ticks."""
    pid = os.getpid()
    return f"{_host_key()}:{pid}:{_start_ticks(pid) or 0}"


def _host_key() -> str:
    """The host name plus the pid namespace: two containers that share a host name (and the
    database) must not judge each other's pids."""
    try:
        ns = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        return socket.gethostname()
    return f"{socket.gethostname()}/{ns}"


def owner_alive(owner: str | None) -> bool | None:
    """True/False for an owner on this host, None when it cannot be told (another host, no owner)."""
    if not owner:
        return None
    parts = owner.split(":")
    if len(parts) < 3:
        return None
    host, pid_text, ticks_text = ":".join(parts[:-2]), parts[-2], parts[-1]
    if host != _host_key() or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    ticks = _start_ticks(pid)
    if ticks is not None and ticks_text not in ("0", str(ticks)):
        return False  # the pid was reused by a newer process
    return not _is_zombie(pid)


def is_abandoned(owner: str | None, heartbeat_at: dt.datetime | None, lease_s: float = LEASE_S,
                 now: dt.datetime | None = None) -> bool:
    """The row's owner is gone: dead on this host, or silent for longer than the lease."""
    alive = owner_alive(owner)
    if alive is not None:
        return not alive
    if heartbeat_at is None:
        return True
    if heartbeat_at.tzinfo is None:
        heartbeat_at = heartbeat_at.replace(tzinfo=dt.timezone.utc)
    return heartbeat_at < (now or wall_now()) - dt.timedelta(seconds=lease_s)


class Heartbeat:
    """Calls `beat()` every `interval_s` on a daemon thread while the `with` block runs. A failed
    beat (database briefly locked) is logged and retried on the next tick."""

    def __init__(self, beat: Callable[[], None], interval_s: float = HEARTBEAT_S) -> None:
        self._beat = beat
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="phantom-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self._interval_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - a missed beat only shortens the margin
                log.warning("heartbeat failed", exc_info=True)


def _start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().decode("ascii", "replace").rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False
