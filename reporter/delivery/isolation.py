"""An executor that runs every task in a process of its own, so one crash fails one task.

A `ProcessPoolExecutor` shares its workers: when one dies (abort, segfault, the OOM killer) the
whole pool is marked broken, every pending future fails and every later `submit` raises. Report
runs are untrusted work, so the service runs each one in a fresh process instead. To keep runs from
paying for Python start-up and imports, up to `workers` spare processes are started ahead of time;
each imports the `preload` modules (and calls the warm-up of a "module:function" entry), then waits for exactly one task and exits after it.
Where the platform has one, spares are forked by multiprocessing's fork server, which imported the
preload modules once, so a spare starts with them imported; elsewhere they are spawned.

A task whose process dies raises `WorkerCrashed` (with the signal or exit code); one that runs past
`task_timeout_s` is killed and raises `WorkerTimeout`; one still running at `shutdown` is stopped
and raises `WorkerStopped`, so the caller can put it back in the queue rather than fail it.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
import threading
from collections import deque
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from phantom_report import gc_tuning

# The service has threads, so a worker is never forked from it. Where the platform has it, workers
# are forked by multiprocessing's fork server instead: a single-threaded process that imports the
# preload modules once, so each new worker starts with them imported (copy-on-write) rather than
# spending ~2 s of CPU importing them again; every run still gets a process of its own.
_FORKSERVER = "forkserver" in multiprocessing.get_all_start_methods()
_CONTEXT = multiprocessing.get_context("forkserver" if _FORKSERVER else "spawn")
START_TIMEOUT_S = 300.0  # a worker process that cannot even start its task in this time is stuck


class WorkerCrashed(RuntimeError):
    """The task's process ended without a result."""


class WorkerTimeout(WorkerCrashed):
    """The task ran longer than the executor allows and was killed."""


class WorkerStopped(RuntimeError):
    """The executor shut down while the task was running; the task did not finish."""


def describe_exit(exitcode: int | None) -> str:
    """'killed by signal SIGABRT' / 'exited with status 3', for error messages."""
    if exitcode is None:
        return "did not exit"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def _child_main(conn: Connection, preload: tuple[str, ...]) -> None:
    """Body of a worker process: import, wait for one task, send its outcome, exit."""
    # the parent owns this process's lifetime; a terminal's Ctrl-C must not fail the task
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in preload:
        _preload_one(name)
    # one task, then exit (phantom_report/gc_tuning.py)
    gc_tuning.freeze_loaded_and_collect_rarely()
    try:
        job = conn.recv()
    except EOFError:
        return
    if job is None:
        return
    fn, args, kwargs = job
    conn.send(("started", None))  # the time limit counts from here, not from process start-up
    try:
        outcome = ("ok", fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's future
        outcome = ("err", exc)
    try:
        conn.send(outcome)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        conn.send(("err", RuntimeError(f"{type(exc).__name__}: {exc}")))
    conn.close()


def _preload_one(name: str) -> None:
    """Import module `name`; for "module:function", also call `function()` (a warm-up that fills the
    process's caches). A failing warm-up is ignored: the task that follows reports its own errors."""
    module, _, function = name.partition(":")
    mod = importlib.import_module(module)
    if function:
        try:
            getattr(mod, function)()
        except Exception:  # noqa: BLE001 - warming is best effort, never a reason to lose a worker
            pass


def _preload_fork_server(preload: tuple[str, ...]) -> None:
    """Have the fork server import the modules of ``preload`` (warm-up functions still run in each
    worker: they may start threads, which a fork server must not have). The fork server is one per
    process and starts with the first worker: an executor created after that finds it running with
    the first one's modules, and its workers import the rest themselves. An executor with nothing
    to preload (the scheduler's) leaves the list alone, so a restarted fork server keeps it."""
    if _FORKSERVER and preload:
        _CONTEXT.set_forkserver_preload(list(dict.fromkeys(name.partition(":")[0] for name in preload)))


class _Worker:
    def __init__(self, preload: tuple[str, ...]) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.proc = _CONTEXT.Process(target=_child_main, args=(child, preload), name="phantom-report-worker")
        self.proc.start()
        child.close()

    def kill(self) -> None:
        """End the process; safe from any thread (the task's supervising thread sees it die)."""
        if self.proc.is_alive():
            self.proc.kill()

    def stop(self) -> None:
        """End the process and close the pipe: only by the thread that owns the worker (its
        supervisor, or the pool for a spare), so the pipe is never closed under a thread reading it."""
        self.kill()
        self.proc.join(5)
        if not self.conn.closed:
            self.conn.close()


class IsolatedExecutor(Executor):
    """`concurrent.futures.Executor`: at most `max_workers` tasks at once, each in its own process."""

    def __init__(self, max_workers: int, *, preload: tuple[str, ...] = (), task_timeout_s: float | None = None) -> None:
        self.max_workers = max(1, int(max_workers))
        self._preload = tuple(preload)
        self._timeout_s = task_timeout_s
        self._threads = ThreadPoolExecutor(self.max_workers, thread_name_prefix="isolated-run")
        self._lock = threading.Lock()
        self._spares: deque[_Worker] = deque()
        self._running: set[_Worker] = set()
        self._closing = False
        self.crashes = 0
        self.last_crash: str | None = None
        self.start_error: str | None = None
        _preload_fork_server(self._preload)
        for _ in range(self.max_workers):
            self._add_spare()

    # -- Executor API ---------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` in a worker process; the future fails with WorkerCrashed or
        WorkerStopped instead of hanging if that process dies or the pool shuts down."""
        return self._threads.submit(self._supervise, fn, args, kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop accepting work and stop every worker process; running tasks fail with WorkerStopped."""
        with self._lock:
            self._closing = True
            spares, running = list(self._spares), list(self._running)
            self._spares.clear()
        for w in spares:
            w.stop()
        # a running task's supervising thread owns its worker: killing the process makes that thread
        # raise WorkerStopped and stop the worker itself (stopping it here closed the pipe while that
        # thread waited on it: the run failed with "Bad file descriptor" instead of being requeued)
        for w in running:
            w.kill()
        self._threads.shutdown(wait=wait, cancel_futures=cancel_futures)

    # -- health -----------------------------------------------------------------------------------
    def health(self) -> dict:
        """What /healthz shows about the pool: workers, busy and spare processes, crashes, start errors."""
        with self._lock:
            return {"workers": self.max_workers, "busy": len(self._running), "spares": len(self._spares),
                    "crashes": self.crashes, "last_crash": self.last_crash, "start_error": self.start_error,
                    "ok": not self._closing and self.start_error is None}

    # -- internals ------------------------------------------------------------------------------
    def _add_spare(self) -> None:
        try:
            worker = _Worker(self._preload)
        except OSError as exc:  # out of processes or memory: the task will try again on use
            self.start_error = f"cannot start a worker process: {exc}"
            return
        self.start_error = None
        with self._lock:
            if self._closing:
                worker.stop()
            else:
                self._spares.append(worker)

    def _take(self) -> _Worker:
        with self._lock:
            if self._closing:
                raise WorkerStopped("the worker pool is shutting down")
            while self._spares:
                worker = self._spares.popleft()
                if worker.proc.is_alive():
                    self._running.add(worker)
                    return worker
                worker.stop()  # a spare that died while idle (killed from outside)
        worker = _Worker(self._preload)
        with self._lock:
            self._running.add(worker)
        return worker

    def _supervise(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        worker = self._take()
        try:
            try:
                worker.conn.send((fn, args, kwargs))
            except OSError:  # the process died before its task arrived; _outcome says how
                pass
            return self._outcome(worker)
        finally:
            with self._lock:
                self._running.discard(worker)
                closing = self._closing
            worker.stop()
            if not closing:
                self._add_spare()

    def _outcome(self, worker: _Worker) -> Any:
        limit_s = START_TIMEOUT_S
        kind, value = self._next_message(worker, limit_s)
        if kind == "started":
            limit_s = self._timeout_s
            kind, value = self._next_message(worker, limit_s)
        if kind == "ok":
            return value
        if kind == "err":
            raise value
        if self._closing:
            raise WorkerStopped("the service stopped while the run was in progress")
        if kind == "timeout":
            worker.stop()
            raise self._crashed(WorkerTimeout(f"worker process ran longer than {limit_s:g} s and was stopped"))
        worker.proc.join(5)
        raise self._crashed(WorkerCrashed(f"worker process {describe_exit(worker.proc.exitcode)}"))

    @staticmethod
    def _next_message(worker: _Worker, timeout_s: float | None) -> tuple[str, Any]:
        """("started" | "ok" | "err", value), or ("died" | "timeout", None)."""
        ready = wait([worker.conn, worker.proc.sentinel], timeout=timeout_s)
        if not ready:
            return "timeout", None
        if worker.conn in ready or worker.conn.poll(0):
            try:
                return worker.conn.recv()
            except (EOFError, OSError):
                pass
        return "died", None

    def _crashed(self, exc: WorkerCrashed) -> WorkerCrashed:
        with self._lock:
            self.crashes += 1
            self.last_crash = str(exc)
        return exc
