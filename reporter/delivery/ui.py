"""Server-rendered browser pages (Jinja2) plus one small script; no build step, no CDN.

Pages authenticate with the same API key as the REST API, kept in an HttpOnly cookie set by the
login form, so the pages' own fetch() calls and report links work without exposing the key to JS.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from . import history
from .auth import COOKIE, key_from_request
from .state import ServiceState

PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")


def build_ui(app: FastAPI, state: ServiceState) -> None:
    env = Environment(loader=PackageLoader("phantom_report.reporter.delivery", "ui"),
                      autoescape=select_autoescape(["html"]))
    static_dir = resources.files("phantom_report.reporter.delivery") / "ui" / "static"
    app.mount("/ui/static", StaticFiles(directory=str(static_dir)), name="ui-static")

    def page(name: str, **ctx) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**ctx))

    def logged_in(request: Request) -> bool:
        return not state.settings.require_auth or state.keys.lookup(key_from_request(request)) is not None

    def login_redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(f"/ui/login?next={request.url.path}", status_code=303)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/ui/compare", status_code=303)

    @app.get("/ui/login", include_in_schema=False)
    def login_form(next: str = "/ui/compare", error: str | None = None):
        return page("login.html", next=next if next.startswith("/ui/") else "/ui/compare", error=error)

    @app.post("/ui/login", include_in_schema=False)
    def login(key: str = Form(...), next: str = Form("/ui/compare")):
        if state.settings.require_auth and state.keys.lookup(key) is None:
            return page("login.html", next=next, error="That API key is not valid.")
        target = next if next.startswith("/ui/") else "/ui/compare"
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(COOKIE, key, httponly=True, samesite="strict")
        return resp

    @app.get("/ui/compare", include_in_schema=False)
    def compare_page(request: Request):
        if not logged_in(request):
            return login_redirect(request)
        eng = state.engine.get()
        return page("compare.html", active="compare", gpus=eng.catalog.names,
                    models=[w.name for w in eng.models()], precisions=PRECISIONS)

    @app.get("/ui/profiles", include_in_schema=False)
    def profiles_page(request: Request):
        if not logged_in(request):
            return login_redirect(request)
        return page("profiles.html", active="profiles", gpus=state.engine.get().catalog.names,
                    can_save=state.settings.profiles_dir is not None,
                    profiles_dir=str(state.settings.profiles_dir or ""), reload_error=state.engine.error)

    @app.get("/ui/accuracy", include_in_schema=False)
    def accuracy_page(request: Request):
        if not logged_in(request):
            return login_redirect(request)
        return page("accuracy.html", active="accuracy")

    @app.get("/ui/history", include_in_schema=False)
    def history_page(request: Request, limit: int = 100):
        if not logged_in(request):
            return login_redirect(request)
        runs = [history.run_to_dict(r) for r in history.list_runs(state.sessions, min(max(limit, 1), 500))]
        return page("history.html", active="history", runs=runs)
