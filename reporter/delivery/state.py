"""Everything one service instance holds, built from its settings (no module-level state)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import sessionmaker

from phantom_report.errors import SpecError

from . import history
from .apikeys import KeyStore
from .hotreload import Reloading
from .metrics import ServiceMetrics
from .ratelimit import RateLimiter
from .runner import execute_in_worker
from .scaleout import ExecutorHandle
from .settings import DeliverySettings
from .specio import parse_delivery_spec


@dataclass
class ServiceState:
    settings: DeliverySettings
    sessions: sessionmaker
    keys: KeyStore
    limiter: RateLimiter
    metrics: ServiceMetrics
    engine: Reloading
    pool: ExecutorHandle | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    inflight: dict[str, Any] = field(default_factory=dict)  # run id -> future
    # accuracy figures of the current engine (scoring the corpus takes seconds; recomputed on reload)
    accuracy_cache: tuple[Any, dict] | None = None

    def submit_spec(self, text: str, filename: str = "request") -> str:
        """Validate (SpecError -> 422 upstream), record as queued, hand to the pool."""
        dspec = parse_delivery_spec(text, filename=filename, base_dir=".")
        run_id = history.create_run(self.sessions, dspec.stored, "api")
        self.dispatch(run_id, text, filename)
        return run_id

    def dispatch(self, run_id: str, text: str, filename: str) -> None:
        if self.pool is None:
            raise SpecError("the report worker pool is not running")
        started = time.monotonic()
        fut = self.pool.executor.submit(execute_in_worker, self.settings, run_id, text, filename, ".")
        with self._lock:
            self.inflight[run_id] = fut

        def _done(f, run_id=run_id) -> None:
            self.metrics.run_duration.observe(time.monotonic() - started)
            with self._lock:
                self.inflight.pop(run_id, None)
            try:
                if f.cancelled():
                    # shutdown cancelled it before it started: leave it queued for the next start
                    history.requeue(self.sessions, run_id)
                elif f.exception() is not None:
                    # the worker died (killed, out of memory): the row must not stay "running"
                    history.record_failure(self.sessions, run_id, f"worker failed: {f.exception()}")
            except Exception:  # noqa: BLE001 - database gone at shutdown; startup recovery resumes it
                pass

        fut.add_done_callback(_done)
