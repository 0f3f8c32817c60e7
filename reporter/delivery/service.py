"""The FastAPI app factory: `create_app(settings)` builds one independent service instance.

Reports render in a worker pool (processes, or a Dask cluster), never in the request thread. The
in-service scheduler runs the same `run_due` as the CLI, so both can be used together safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from phantom_report import __version__ as _pkg_version
from phantom_report.errors import PhantomError

from .apikeys import KeyStore
from .db import Run, open_db
from .hotreload import Reloading
from .limits import BodySizeLimit
from .metrics import ServiceMetrics
from .ratelimit import RateLimiter
from .scaleout import make_executor
from .settings import DeliverySettings
from .specio import spec_text_of
from .state import ServiceState

log = logging.getLogger("phantom_report.service")


def create_app(settings: DeliverySettings) -> FastAPI:
    sessions = open_db(settings.db_url)
    profiles_dir = str(settings.profiles_dir) if settings.profiles_dir else None

    def _load_engine():
        from phantom_report.engine.api import Engine

        return Engine.load(profiles_dir=profiles_dir)

    state = ServiceState(
        settings=settings, sessions=sessions, keys=KeyStore(sessions),
        limiter=RateLimiter(settings.rate_limit_per_min), metrics=ServiceMetrics(sessions),
        engine=Reloading(settings.profiles_dir, _load_engine),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.pool = make_executor(settings.executor, settings.workers, settings.dask_address)
        _resume_unfinished(state)
        task = asyncio.create_task(_scheduler_loop(state)) if settings.scheduler_interval_s > 0 else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            state.pool.close()
            sessions.kw["bind"].dispose()

    app = FastAPI(
        title="phantom-report",
        version=_pkg_version,
        description="Predict ML model performance and cost on GPUs, and render reports. "
                    "Authenticate with `Authorization: Bearer <key>` or `X-API-Key`.",
        lifespan=lifespan,
    )
    app.state.svc = state
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        state.metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        return response

    @app.exception_handler(PhantomError)
    async def phantom_error(_request: Request, exc: PhantomError):
        # the same one-line message the CLI prints
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/healthz", tags=["ops"], summary="Liveness and readiness")
    def healthz() -> dict:
        with sessions() as s:
            s.execute(select(1))
        return {"status": "ok", "version": _pkg_version, "executor": settings.executor,
                "profiles_reload_error": state.engine.error}

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics():
        return PlainTextResponse(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    from .api import build_router
    from .ui import build_ui

    app.include_router(build_router(state))
    build_ui(app, state)
    return app


def _resume_unfinished(state: ServiceState) -> None:
    """Runs queued or running when a previous service process stopped are dispatched again, so a
    restart loses none."""
    with state.sessions() as s:
        rows = list(s.scalars(select(Run).where(Run.origin == "api", Run.status.in_(("queued", "running")))))
    for run in rows:
        with state.sessions.begin() as s:
            s.get(Run, run.id).status = "queued"
        state.dispatch(run.id, spec_text_of(run.spec), "request")
        log.info("resumed run %s after restart", run.id)


async def _scheduler_loop(state: ServiceState) -> None:
    from .scheduler import run_due

    while True:
        try:
            await asyncio.to_thread(run_due, state.sessions, state.settings)
        except Exception:  # noqa: BLE001 - keep the loop alive; the failure is in history/outbox
            log.exception("scheduler pass failed")
        await asyncio.sleep(state.settings.scheduler_interval_s)
