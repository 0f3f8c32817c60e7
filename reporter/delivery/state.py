"""Everything one service instance holds, built from its settings (no module-level state)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy.orm import sessionmaker

from phantom_report.errors import PhantomError

from . import history
from .apikeys import KeyStore
from .hotreload import ProfileSource
from .isolation import WorkerStopped
from .metrics import ServiceMetrics
from .posted import refuse_server_files
from .predictmemo import PredictMemo
from .ratelimit import RateLimiter
from .runner import execute_in_worker
from .scaleout import ExecutorHandle
from .settings import DeliverySettings
from .specio import parse_delivery_spec

log = logging.getLogger("phantom_report.service")


class PoolUnavailable(PhantomError):
    """No worker pool to run reports on (stopped, or a remote cluster out of reach)."""


@dataclass
class ServiceState:
    """Everything the service's endpoints share: settings, database sessions, API keys, rate limiters,
    metrics, the hot-reloaded engine, the worker pool and the cached accuracy figures."""

    settings: DeliverySettings
    sessions: sessionmaker
    keys: KeyStore
    limiter: RateLimiter
    failed_auth: RateLimiter  # per client address
    metrics: ServiceMetrics
    engine: ProfileSource
    pool: ExecutorHandle | None = None
    # what a worker runs for one report; the tests swap in a wrapper that crashes the worker
    run_in_worker: Callable[..., str] = execute_in_worker
    _lock: threading.Lock = field(default_factory=threading.Lock)
    profile_writes: threading.Lock = field(default_factory=threading.Lock)  # check + write of one PUT
    inflight: dict[str, Any] = field(default_factory=dict)  # run id -> future
    # accuracy figures of the current engine (scoring the corpus takes seconds; recomputed on reload)
    accuracy_cache: tuple[Any, dict] | None = None
    # /v1/predict answers of the current engine, bounded (dashboards ask the same points again)
    predict_memo: PredictMemo = field(default_factory=PredictMemo)

    def check_spec(self, text: str, filename: str = "request") -> Any:
        """Validate a posted spec (SpecError -> 422 upstream); it may not name server files."""
        dspec = parse_delivery_spec(text, filename=filename, base_dir=".")
        refuse_server_files(dspec.spec, filename)
        return dspec

    def submit_spec(self, text: str, filename: str = "request") -> str:
        """Validate, record as queued, hand to the pool."""
        return self.enqueue(self.check_spec(text, filename), text, filename)

    def enqueue(self, dspec: Any, text: str, filename: str = "request") -> str:
        """Record an already validated spec as queued and hand it to the pool."""
        run_id = history.create_run(self.sessions, dspec.stored, "api")
        self.dispatch(run_id, text, filename)
        return run_id

    def dispatch(self, run_id: str, text: str, filename: str) -> None:
        """Run queued run ``run_id`` (spec ``text``) on the worker pool and record its outcome and duration;
        PoolUnavailable when the pool is not running."""
        if self.pool is None:
            raise PoolUnavailable("the report worker pool is not running")
        # workers read the profile snapshot the API serves, never the live directory
        settings = dataclasses.replace(self.settings, profiles_dir=self.engine.worker_dir)
        started = time.monotonic()
        try:
            fut = self.pool.executor.submit(self.run_in_worker, settings, run_id, text, filename, ".")
        except Exception as exc:  # noqa: BLE001 - e.g. a Dask client that lost its scheduler
            history.record_failure(self.sessions, run_id, f"could not start the run: {type(exc).__name__}: {exc}")
            raise PoolUnavailable(f"the report worker pool cannot take runs now: {exc}") from None
        with self._lock:
            self.inflight[run_id] = fut

        def _done(f, run_id=run_id) -> None:
            self.metrics.run_duration.observe(time.monotonic() - started)
            with self._lock:
                self.inflight.pop(run_id, None)
            try:
                exc = None if f.cancelled() else f.exception()
                if f.cancelled() or isinstance(exc, WorkerStopped):
                    # the service stopped before or during the run: queued again for the next start
                    history.requeue(self.sessions, run_id)
                elif exc is not None and history.get_run(self.sessions, run_id).status in ("queued", "running"):
                    # the worker died (crash, out of memory, timeout): this run fails, and only it
                    log.warning("run %s: worker failed: %s", run_id, exc)
                    history.record_failure(self.sessions, run_id, f"worker failed: {exc}")
            except Exception:  # noqa: BLE001 - database gone at shutdown; startup recovery resumes it
                pass

        fut.add_done_callback(_done)
