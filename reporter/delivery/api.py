"""The /v1 REST endpoints. Thin: validation through pydantic models, work through the engine,
pricing, history, scheduler and the worker pool."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from phantom_report.atomic import write_atomic
from phantom_report.errors import PhantomError
from phantom_report.jsonsafe import to_jsonable as clean  # NaN/inf -> null: JSON has no NaN
from phantom_report.reporter.render import media_type
from phantom_report.vocab import REPORT_FORMATS

from . import history
from .auth import make_auth
from .limits import BoundedWork
from .state import ServiceState

Format = Literal[REPORT_FORMATS]
_SPEC_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object", "description": "a run spec (see `phantom-report spec schema`)"}},
            "application/yaml": {"schema": {"type": "string", "description": "a run spec in YAML"}},
        },
    }
}


class _Req(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictRequest(_Req):
    """Body of POST /v1/predict: one configuration (zoo model, GPU name, precision, batch, token counts)."""

    model: str = Field(min_length=1, max_length=200, description="zoo name or alias")
    gpu: str = Field(min_length=1, max_length=200)
    precision: str = Field(default="fp16", min_length=1, max_length=20)
    batch_size: int = Field(default=1, ge=1, le=65536)
    seq_in: int | None = Field(default=None, ge=1, le=1_048_576)
    seq_out: int | None = Field(default=None, ge=1, le=1_048_576)
    task: Literal["inference", "training"] = "inference"
    runtime: str = Field(default="pytorch", min_length=1, max_length=40)
    gpu_count: int = Field(default=1, ge=1, le=1024)


class CompareRequest(_Req):
    """Body of POST /v1/compare: the axes of a grid (models x GPUs x precisions x batch sizes),
    bounded per axis here and in points by the service's max_grid_points."""

    models: list[str] = Field(min_length=1, max_length=50)
    gpus: list[str] = Field(min_length=1, max_length=100)
    precisions: list[str] = Field(default_factory=lambda: ["fp16"], min_length=1, max_length=8)
    batch_sizes: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=32)
    seq_in: int | None = Field(default=None, ge=1, le=1_048_576)
    seq_out: int | None = Field(default=None, ge=1, le=1_048_576)
    task: Literal["inference", "training"] = "inference"
    runtime: str = Field(default="pytorch", min_length=1, max_length=40)


class ProfileText(_Req):
    """Body of the profile editor's endpoints: one GPU profile as TOML text (at most 200,000 characters)."""

    toml: str = Field(max_length=200_000)


class RunAccepted(BaseModel):
    """Answer of POST /v1/reports (202): the queued run's id, its status and where to poll it."""

    id: str
    status: str
    links: dict[str, str]


def _links(run_id: str, formats: list[str]) -> dict[str, str]:
    links = {"self": f"/v1/reports/{run_id}"}
    links.update({fmt: f"/v1/reports/{run_id}/report.{fmt}" for fmt in formats})
    return links


def build_router(state: ServiceState) -> APIRouter:
    """The /v1 router of the service: every endpoint behind the API-key check (`make_auth`), in the
    order the OpenAPI document lists them. Spec checks (reports, schedules) share one bounded pool."""
    router = APIRouter(prefix="/v1", dependencies=[Depends(make_auth(state))])
    spec_checks = BoundedWork(state.settings.spec_check_slots, state.settings.spec_check_timeout_s)
    _reports_routes(router, state, spec_checks)
    _engine_routes(router, state)
    _profiles_routes(router, state)
    _prices_routes(router, state)
    _accuracy_routes(router, state)
    _schedules_routes(router, state, spec_checks)
    return router


def _reports_routes(router: APIRouter, state: ServiceState, spec_checks: BoundedWork) -> None:
    """Queue report runs and read them back: POST/GET /reports, a run's status and files, the diff of two runs."""
    sessions = state.sessions

    @router.post("/reports", status_code=202, response_model=RunAccepted, tags=["reports"],
                 summary="Queue a report run (spec as JSON or YAML)", openapi_extra=_SPEC_BODY)
    async def create_report(request: Request) -> RunAccepted:
        text = _utf8(await request.body())
        # validated off the event loop and within a time bound: a hostile body stalls no one else
        dspec = await spec_checks.run(state.check_spec, text)
        run_id = await run_in_threadpool(state.enqueue, dspec, text)
        return RunAccepted(id=run_id, status="queued", links=_links(run_id, []))

    @router.get("/reports", tags=["reports"], summary="Run history, newest first")
    def list_reports(limit: int = Query(50, ge=1, le=500),
                     status: Literal["queued", "running", "succeeded", "failed"] | None = None) -> list[dict]:
        return [history.run_to_dict(r) for r in history.list_runs(sessions, limit, status)]

    @router.get("/reports/{run_id}", tags=["reports"], summary="Status, links and (full=true) everything recorded")
    def get_report(run_id: str, full: bool = False) -> dict:
        run = _run_or_404(run_id)
        out = clean(history.run_to_dict(run, full=full))
        out["links"] = _links(run.id, out["formats"])
        return out

    @router.get("/reports/{run_id}/report.{fmt}", tags=["reports"], summary="A rendered report file",
                response_class=FileResponse)
    def get_report_file(run_id: str, fmt: Format):
        run = _run_or_404(run_id)
        path = (run.outputs or {}).get(fmt)
        if run.status != "succeeded" or not path or not Path(path).is_file():
            raise HTTPException(404, f"run {run_id} has no {fmt} output (status {run.status})")
        return FileResponse(path, media_type=media_type(fmt), filename=f"report-{run.id}.{fmt}")

    @router.get("/reports/{run_a}/diff/{run_b}", tags=["reports"], summary="What changed between two runs")
    def diff_reports(run_a: str, run_b: str) -> dict:
        return clean(history.diff_runs(_run_or_404(run_a), _run_or_404(run_b)))

    def _run_or_404(run_id: str):
        try:
            return history.get_run(sessions, run_id)
        except history.HistoryError as exc:
            raise HTTPException(404, str(exc)) from None


def _engine_routes(router: APIRouter, state: ServiceState) -> None:
    """The engine's catalogue and predictions: /gpus, a GPU's profile TOML, /models, /predict, /compare (bounded by max_grid_points)."""
    @router.get("/gpus", tags=["engine"], summary="GPU profiles")
    def gpus() -> list[dict]:
        return [_gpu_dict(p) for p in state.engine.get().catalog]

    @router.get("/gpus/{name}/profile", tags=["engine"], summary="A GPU profile's TOML text")
    def gpu_profile(name: str) -> dict:
        try:
            prof = state.engine.get().catalog.get(name)
        except PhantomError as exc:
            raise HTTPException(404, str(exc)) from None
        text = Path(prof.path).read_text(encoding="utf-8") if prof.path and Path(prof.path).is_file() else ""
        return {"name": prof.name, "file": Path(prof.path).name if prof.path else None, "toml": text}

    @router.get("/models", tags=["engine"], summary="Built-in model zoo")
    def models() -> list[dict]:
        return [clean({"name": w.name, "display_name": w.display_name, "family": w.family,
                       "params_total": w.params_total, "params_active": w.params_active,
                       "generative": w.generative, "source": w.source}) for w in state.engine.get().models()]

    @router.post("/predict", tags=["engine"], summary="Predict one configuration")
    async def predict(req: PredictRequest) -> dict:
        # on the event loop: a memo hit is microseconds and a miss ~1 ms of bounded arithmetic (zoo
        # models only), cheaper than the thread pool's hand-off and GIL switching under load
        kw = {k: v for k, v in req.model_dump().items() if v is not None}
        engine = state.engine.current()
        if engine is None:  # a profile directory check is due: it reads files, so off the loop
            engine = await run_in_threadpool(state.engine.get)
        body = state.predict_memo.answer(engine, tuple(kw.items()), lambda: engine.predict(**kw))
        return Response(body, media_type="application/json")

    @router.post("/compare", tags=["engine"], summary="Predict the cartesian product of models x GPUs x precisions x batch sizes")
    def compare(req: CompareRequest) -> dict:
        from .scaleout import grid

        n = len(req.models) * len(req.gpus) * len(req.precisions) * len(req.batch_sizes)
        if n > state.settings.max_grid_points:
            raise HTTPException(422, f"{n} points requested; at most {state.settings.max_grid_points} per request")
        fixed = {k: v for k, v in (("seq_in", req.seq_in), ("seq_out", req.seq_out)) if v is not None}
        points = grid(req.models, req.gpus, req.precisions, req.batch_sizes, task=req.task,
                      runtime=req.runtime, **fixed)
        frame = state.engine.get().predict_grid(points)
        return {"rows": clean(frame.to_dict(orient="records")), "count": int(len(frame))}


def _profiles_routes(router: APIRouter, state: ServiceState) -> None:
    """The UI's GPU profile editor: validate a profile TOML, save it into the user profile directory (then hot-reloaded)."""
    @router.post("/profiles/validate", tags=["profiles"], summary="Validate a GPU profile TOML")
    def validate_profile(body: ProfileText) -> dict:
        prof = _parse_profile(body.toml, "profile.toml")
        return {"ok": True, "name": prof.name}

    @router.put("/profiles/{filename}", tags=["profiles"], summary="Validate and save a profile into the user profile directory")
    def save_profile(filename: str, body: ProfileText) -> dict:
        pdir = state.settings.profiles_dir
        if pdir is None:
            raise HTTPException(409, "the service has no user profile directory (start it with --profiles DIR)")
        if not _PROFILE_FILENAME.fullmatch(filename):
            raise HTTPException(422, f"{filename[:100]!r}: expected a simple file name of lower-case letters, "
                                     "digits, '.', '_' or '-' ending in .toml (at most 100 characters)")
        prof = _parse_profile(body.toml, filename)
        with state.profile_writes:  # two saves must not each be checked without the other
            # the whole directory with this file in it, loaded as the service will load it
            state.engine.validate_with(filename, body.toml)
            write_atomic(pdir / filename, body.toml, private=True)  # hot reload never sees half a file
        state.engine.invalidate()
        return {"ok": True, "name": prof.name, "file": filename}


def _prices_routes(router: APIRouter, state: ServiceState) -> None:
    """GET /prices: normalized quotes (live, cache or snapshot; a server started offline stays offline)."""
    @router.get("/prices", tags=["pricing"], summary="Normalized price quotes (live, cache or snapshot)")
    def prices(gpu: list[str] | None = Query(None), provider: list[str] | None = Query(None),
               region: list[str] | None = Query(None), offline: bool | None = None) -> dict:
        from phantom_report.pricing.catalog import get_quotes

        # a server started offline stays offline; a client may only ask for less network, not more
        qs = get_quotes(gpus=gpu, providers=provider, regions=region,
                        offline=bool(state.settings.offline) or bool(offline))
        return {"quotes": history.quotes_to_json(qs), "warnings": list(qs.warnings)}


def _accuracy_routes(router: APIRouter, state: ServiceState) -> None:
    """GET /accuracy: the recorded accuracy of the engine in use (cached until the engine reloads)."""
    @router.get("/accuracy", tags=["engine"], summary="Validation results per GPU and model")
    def accuracy() -> dict:
        from .accuracy import accuracy_summary

        engine = state.engine.get()
        cached = state.accuracy_cache
        if cached is None or cached[0] is not engine:
            cached = state.accuracy_cache = (engine, clean(accuracy_summary(engine)))
        return cached[1]


def _schedules_routes(router: APIRouter, state: ServiceState, spec_checks: BoundedWork) -> None:
    """Scheduled email reports: list, add (spec checked like a report's), show and delete."""
    sessions = state.sessions

    @router.get("/schedules", tags=["schedules"])
    def list_schedules() -> list[dict]:
        from .scheduler import list_schedules as _list

        return [_schedule_dict(r) for r in _list(sessions)]

    @router.post("/schedules", status_code=201, tags=["schedules"], summary="Add a schedule (spec with schedule and email sections)",
                 openapi_extra=_SPEC_BODY)
    async def add_schedule(request: Request, name: str = Query(..., min_length=1, max_length=200)) -> dict:
        from .scheduler import add_schedule as _add

        text = _utf8(await request.body())
        await spec_checks.run(state.check_spec, text)  # bounded, and names no server files
        return _schedule_dict(await run_in_threadpool(_add, sessions, name, text, "request", ".",
                                                      posted=True, secrets_file=state.settings.secrets_file))

    @router.get("/schedules/{ident}", tags=["schedules"])
    def get_schedule(ident: str) -> dict:
        from .scheduler import ScheduleError, get_schedule as _get

        try:
            return _schedule_dict(_get(sessions, ident))
        except ScheduleError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.delete("/schedules/{ident}", status_code=204, tags=["schedules"])
    def delete_schedule(ident: str) -> None:
        from .scheduler import ScheduleError, remove_schedule

        try:
            remove_schedule(sessions, ident)
        except ScheduleError as exc:
            raise HTTPException(404, str(exc)) from None


_PROFILE_FILENAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,94}\.toml")


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, f"request: the body is not UTF-8 text (byte {exc.start})") from None


def _parse_profile(text: str, filename: str):
    from phantom_report.engine.profiles import parse_profile
    from phantom_report.errors import ProfileError

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{filename}: malformed TOML: {exc}") from None
    except RecursionError:
        raise ProfileError(f"{filename}: TOML nested too deeply") from None
    return parse_profile(Path(filename), data)


def _gpu_dict(p) -> dict:
    return clean({"name": p.name, "vendor": p.vendor, "architecture": p.architecture, "memory_gb": p.memory_gb,
                  "memory_bandwidth_gbps": p.memory_bandwidth_gbps, "tdp_w": p.tdp_w,
                  "peak_tflops": dict(p.peak_tflops), "aliases": list(p.aliases), "source": p.source})


def _schedule_dict(r) -> dict:
    from .scheduler import schedule_to_dict  # one home for what a schedule listing shows

    return schedule_to_dict(r)
