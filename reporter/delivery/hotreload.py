"""The service's GPU catalog: built-in profiles plus the user profile directory, hot-reloaded, and
never broken by a bad file.

Every load reads a private copy of the user directory (so what was checked is exactly what is
served, even if a file changes meanwhile). A copy that loads becomes an immutable "last good"
snapshot under `state_dir`; report workers load that same snapshot, so a report uses the catalog
the API serves. A change that fails to load keeps the previous catalog and says why in `error`
(shown by /healthz). At start, a user directory that fails to load is replaced by the last good
snapshot of a previous run, else by the built-in profiles alone, again with `error` set.

Polling a directory signature (names, sizes, mtimes) at most once a second is enough for
hand-edited files and needs no inotify dependency.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from phantom_report.atomic import write_atomic
from phantom_report.errors import PhantomError, ProfileError

KEEP_SNAPSHOTS = 5  # older snapshots are deleted; a run started on one finishes within minutes


def dir_signature(path: Path | None) -> tuple:
    """(name, mtime ns, size) of each file in ``path``, sorted: changes when a profile is added,
    edited or removed, so the service knows to reload. Empty for no directory."""
    if path is None or not path.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in path.iterdir() if p.is_file()))


def _profile_files(directory: Path) -> list[Path]:
    # the same selection as engine.profiles.load_catalog
    return sorted(p for p in directory.glob("*.toml") if p.is_file())


class ProfileSource:
    """Holds the engine built from the last good profile set; `build(dir)` makes one from a dir."""

    def __init__(self, user_dir: Path | None, state_dir: Path, build: Callable[[str], Any],
                 check_every_s: float = 1.0) -> None:
        self._user_dir = Path(user_dir) if user_dir is not None else None
        self._root = Path(state_dir)
        self._build = build
        self._check_every_s = check_every_s
        self._lock = threading.RLock()
        self._value: Any = None
        self._snapshot: Path | None = None
        self._sig: tuple | None = None
        self._checked_at = float("-inf")
        self.reloads = 0
        self.error: str | None = None  # why the user directory as it is now is not what is served

    # -- public ---------------------------------------------------------------------------------
    def get(self) -> Any:
        """The engine to use now (reloaded first if the user directory changed)."""
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._checked_at >= self._check_every_s:
                self._checked_at = now
                sig = dir_signature(self._user_dir)
                if self._value is None or sig != self._sig:
                    self._sig = sig
                    self._reload()
            return self._value

    def current(self) -> Any:
        """The engine `get` would return, when that needs no check of the directory now (one was
        done within `check_every_s`) and no reload is under way; else None (call `get`, off the event
        loop: it may read the directory and rebuild the engine). Never blocks."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            if self._value is None or time.monotonic() - self._checked_at >= self._check_every_s:
                return None
            return self._value
        finally:
            self._lock.release()

    @property
    def worker_dir(self) -> Path | None:
        """The snapshot directory report workers load profiles from (None: built-ins only)."""
        with self._lock:
            self.get()
            return self._snapshot

    def invalidate(self) -> None:
        """Forget the last check: the next `get` re-reads the profile directory (after the editor saved)."""
        with self._lock:
            self._checked_at = float("-inf")
            self._sig = None

    def health(self) -> dict:
        """What /healthz shows: whether the last reload worked, how many there were, its error and what is served."""
        with self._lock:
            serving = "built-in profiles" if self._snapshot is None or self._snapshot.name == "builtin-only" \
                else f"user profiles snapshot {self._snapshot.name}"
            return {"ok": self.error is None, "reloads": self.reloads, "error": self.error, "serving": serving}

    def validate_with(self, filename: str, text: str) -> Any:
        """The engine the user directory would give with `filename` holding `text` (ProfileError
        if it would not load). Loads exactly as a reload would: the whole directory together."""
        if self._user_dir is None:
            raise ProfileError("the service has no user profile directory")
        stage = self._stage()
        try:
            (stage / filename).write_text(text, encoding="utf-8")
            return self._load(stage)
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    # -- internals ------------------------------------------------------------------------------
    def _reload(self) -> None:
        if self._user_dir is None:
            self._value, self.error = self._build(""), None
            return
        stage = self._stage()
        try:
            if not self._user_dir.is_dir():
                raise ProfileError(f"{self._user_dir}: profile directory does not exist")
            engine = self._load(stage)
        except ProfileError as exc:
            shutil.rmtree(stage, ignore_errors=True)
            self.error = str(exc)
            if self._value is None:
                self._start_from_fallback()
            return
        self._value, self._snapshot = engine, self._keep(stage)
        self.error = None
        self.reloads += 1

    def _stage(self) -> Path:
        """A private copy of the user directory's profile files."""
        self._root.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix="stage-", dir=self._root))
        if self._user_dir is not None and self._user_dir.is_dir():
            for f in _profile_files(self._user_dir):
                shutil.copyfile(f, stage / f.name)
        return stage

    def _load(self, directory: Path) -> Any:
        """Build from `directory`; errors name the user's directory, not our copy of it."""
        try:
            return self._build(str(directory))
        except PhantomError as exc:
            raise ProfileError(str(exc).replace(str(directory), str(self._user_dir))) from None
        except RecursionError:
            raise ProfileError(f"{self._user_dir}: a profile is nested too deeply") from None

    def _keep(self, stage: Path) -> Path:
        """Turn a loaded copy into the immutable snapshot named by its content digest."""
        digest = hashlib.sha256()
        for f in _profile_files(stage):
            digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        final = self._root / f"good-{digest.hexdigest()[:16]}"
        try:
            stage.rename(final)
        except OSError:  # the same set is kept already (by us, or by another service process)
            shutil.rmtree(stage, ignore_errors=True)
        final.touch()  # newest first when pruning and when starting from it
        write_atomic(self._root / "current", final.name, private=True)
        self._prune(final)
        return final

    def _prune(self, keep: Path) -> None:
        old = sorted((p for p in self._root.glob("good-*") if p.is_dir() and p != keep),
                     key=lambda p: p.stat().st_mtime, reverse=True)
        for p in old[KEEP_SNAPSHOTS - 1:]:
            shutil.rmtree(p, ignore_errors=True)
        cutoff = time.time() - 3600  # copies left by a process killed while loading
        for p in self._root.glob("stage-*"):
            if p.stat().st_mtime < cutoff:
                shutil.rmtree(p, ignore_errors=True)

    def _start_from_fallback(self) -> None:
        pointer = self._root / "current"
        name = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else ""
        snapshot = self._root / name if name.startswith("good-") else None
        if snapshot is not None and snapshot.is_dir():
            try:
                self._value, self._snapshot = self._build(str(snapshot)), snapshot
                self.error += f" (serving the last good profiles from {snapshot})"
                return
            except PhantomError:
                pass
        empty = self._root / "builtin-only"
        empty.mkdir(exist_ok=True)
        self._value, self._snapshot = self._build(str(empty)), empty
        self.error += " (serving the built-in profiles only)"
