"""Reload the engine when the profile directory changes.

Polling a directory signature (names, sizes, mtimes) at most once a second is enough for
hand-edited files and needs no inotify dependency; report runs read templates fresh each time,
so the template directory needs no watcher of its own.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable


def dir_signature(path: Path | None) -> tuple:
    if path is None or not path.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in path.iterdir() if p.is_file()))


class Reloading:
    """Holds a value built from a directory; rebuilds it when the directory changes."""

    def __init__(self, path: Path | None, build: Callable[[], Any], check_every_s: float = 1.0) -> None:
        self._path = path
        self._build = build
        self._check_every_s = check_every_s
        self._lock = threading.Lock()
        self._value: Any = None
        self._sig: tuple | None = None
        self._checked_at = float("-inf")
        self.reloads = 0
        self.error: str | None = None  # why the latest change was not loaded

    def get(self) -> Any:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._checked_at >= self._check_every_s:
                self._checked_at = now
                sig = dir_signature(self._path)
                if self._value is None or sig != self._sig:
                    try:
                        self._value = self._build()
                        self.error = None
                        self.reloads += 1
                    except Exception as exc:  # a bad file: keep serving the last good value
                        if self._value is None:
                            raise
                        self.error = str(exc)
                    self._sig = sig
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._checked_at = float("-inf")
            self._sig = None
