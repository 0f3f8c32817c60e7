"""The FastAPI app factory: `create_app(settings)` builds one independent service instance.

Reports render in a worker pool (processes, or a Dask cluster), never in the request thread. The
in-service scheduler runs the same `run_due` as the CLI, so both can be used together safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import jinja2

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from phantom_report import __version__ as _pkg_version
from phantom_report.errors import PhantomError

from .apikeys import KeyStore
from .auth import make_auth
from .db import Run, open_db
from .hotreload import ProfileSource
from .limits import BodySizeLimit, bounded_message
from .metrics import RequestCounter, ServiceMetrics
from .ratelimit import RateLimiter
from .scaleout import make_executor
from .settings import DeliverySettings
from .specio import spec_text_of
from .state import PoolUnavailable, ServiceState

log = logging.getLogger("phantom_report.service")


def create_app(settings: DeliverySettings) -> FastAPI:
    """The FastAPI application of `phantom-report serve`: the /v1 API, the browser UI, /healthz and
    /metrics, with body-size limit, authentication, rate limits, the report worker pool and the
    scheduler loop started and stopped with the app."""
    sessions = open_db(settings.db_url)

    def _load_engine(profiles_dir: str):
        from phantom_report.engine.api import Engine

        return Engine.load(profiles_dir=profiles_dir or None)

    state = ServiceState(
        settings=settings, sessions=sessions, keys=KeyStore(sessions),
        limiter=RateLimiter(settings.rate_limit_per_min),
        failed_auth=RateLimiter(settings.invalid_key_rate_per_min), metrics=ServiceMetrics(sessions),
        engine=ProfileSource(settings.profiles_dir, settings.state_dir / "profiles", _load_engine),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.engine.get()  # load (or fall back) before the first request, and say so in the log
        if state.engine.error:
            log.warning("GPU profiles: %s", state.engine.error)
        state.pool = make_executor(settings.executor, settings.workers, settings.dask_address, isolate=True,
                                   preload=_WORKER_PRELOAD, task_timeout_s=settings.run_timeout_s)
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
        docs_url=None, redoc_url=None, openapi_url=None,  # served below, behind a key unless public
    )
    app.state.svc = state
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestCounter, metrics=state.metrics)  # outermost: counts the 413s too

    @app.exception_handler(PhantomError)
    async def phantom_error(_request: Request, exc: PhantomError):
        # the same one-line message the CLI prints, bounded (a hostile input can make it huge)
        status = 503 if isinstance(exc, PoolUnavailable) else 422
        return JSONResponse({"detail": bounded_message(str(exc))}, status_code=status)

    @app.get("/healthz", tags=["ops"], summary="Liveness and readiness: database, worker pool, profiles, templates")
    def healthz() -> dict:
        return health(state)

    _ops_routes(app, state)

    from .api import build_router
    from .ui import build_ui

    app.include_router(build_router(state))
    build_ui(app, state)
    return app


# imported by each spare report worker before it is handed a run, so a run does not wait for them
# (a fresh process per run otherwise costs ~1 s of imports on a json-only report); matplotlib, which
# draws the PDF's static charts, is warmed too (~0.7 s of CPU that a run then no longer waits for),
# and the PDF child is started, so WeasyPrint's import (~1.3 s of CPU) is done before the run arrives
_WORKER_PRELOAD = ("phantom_report.reporter.delivery.runner", "phantom_report.reporter.run",
                   "phantom_report.engine.api", "phantom_report.pricing.catalog",
                   "phantom_report.reporter.mplchart:warm_up", "phantom_report.reporter.pdf:prestart_child")


def health(state: ServiceState) -> dict:
    """`status` is "ok", or "degraded" with `reasons` when the service answers but something is
    wrong: the worker pool cannot start runs, the profile directory does not load (the last good
    catalog is served), or the template directory is unusable."""
    with state.sessions() as s:
        s.execute(select(1))
    state.engine.get()  # a pending profile change is checked now, not at the next request
    pool = state.pool.health() if state.pool is not None else {"ok": False, "error": "not started"}
    profiles = state.engine.health()
    templates = _templates_health(state.settings.templates_dir)
    reasons = []
    if not pool.get("ok"):
        reasons.append("worker pool: " + str(pool.get("start_error") or pool.get("error") or pool.get("status")))
    if not profiles["ok"]:
        reasons.append(f"profiles: {profiles['error']}")
    if not templates["ok"]:
        reasons.append(f"templates: {templates['error']}")
    return {"status": "degraded" if reasons else "ok", "reasons": [bounded_message(r, 500) for r in reasons],
            "version": _pkg_version, "executor": state.settings.executor, "pool": pool,
            "profiles": profiles, "templates": templates,
            "profiles_reload_error": profiles["error"]}


def _templates_health(templates_dir: Path | None) -> dict:
    """Runs read templates fresh, so a broken directory would show only when a run fails; this
    parses its templates (with the reports' own Jinja settings) so /healthz says it first."""
    if templates_dir is None:
        return {"ok": True, "error": None}
    from phantom_report.reporter.templating import make_env

    path = Path(templates_dir)
    if not path.is_dir():
        return {"ok": False, "error": f"{path}: template directory does not exist"}
    env = make_env(path)
    for f in sorted(path.glob("*.j2"))[:200]:
        try:
            env.parse(f.read_text(encoding="utf-8"), name=f.name)
        except jinja2.TemplateSyntaxError as exc:
            return {"ok": False, "error": f"{f}:{exc.lineno}: template syntax error: {exc.message}"}
        except (OSError, UnicodeDecodeError) as exc:
            return {"ok": False, "error": f"{f}: cannot read template: {exc}"}
    return {"ok": True, "error": None}


def _ops_routes(app: FastAPI, state: ServiceState) -> None:
    """/metrics, /openapi.json, /docs and /redoc: open without a key only where the settings say
    (`serve` opens them on loopback addresses), else behind the same key as the API."""
    auth = make_auth(state)
    docs_deps = [] if state.settings.public_docs else [Depends(auth)]
    metrics_deps = [] if state.settings.public_metrics else [Depends(auth)]

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse,
             dependencies=metrics_deps)
    def metrics():
        return PlainTextResponse(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False, dependencies=docs_deps)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=docs_deps, response_class=HTMLResponse)
    def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API")

    @app.get("/redoc", include_in_schema=False, dependencies=docs_deps, response_class=HTMLResponse)
    def redoc():
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} API")


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
    """Scheduled renders run in a process of their own (one pass at a time), like API reports: a
    crash there fails that pass, not the server; the claim it held is taken over on the next pass
    (its owner is dead), so the email is late, not lost."""
    from .isolation import IsolatedExecutor
    from .runner import run_due_in_worker

    isolated = IsolatedExecutor(1, task_timeout_s=state.settings.run_timeout_s)
    try:
        while True:
            try:
                # like API reports, scheduled ones read the profile snapshot the API serves
                settings = dataclasses.replace(state.settings, profiles_dir=state.engine.worker_dir)
                await asyncio.to_thread(lambda: isolated.submit(run_due_in_worker, settings).result())
            except Exception:  # noqa: BLE001 - keep the loop alive; the failure is in history/outbox
                log.exception("scheduler pass failed")
            await asyncio.sleep(state.settings.scheduler_interval_s)
    finally:
        isolated.shutdown(wait=False)
