"""Server-rendered browser pages (Jinja2) plus one small script; no build step, no CDN.

Pages authenticate with the same API keys as the REST API: the login form checks the key and sets
an HttpOnly cookie holding a random session id (never the key), so the pages' own fetch() calls
and report links work without exposing the key to JS or keeping it in the browser.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from phantom_report.engine.precision import NATIVE_PRECISIONS

from . import history
from .auth import check_failed_attempt, identify
from .state import ServiceState
from .uisessions import COOKIE, close_session, open_session



def build_ui(app: FastAPI, state: ServiceState) -> None:
    """Mount the browser UI on ``app``: login with an API key (session cookie), logout, and the
    compare, GPU profile editor, accuracy and run history pages, with their static files."""
    env = Environment(loader=PackageLoader("phantom_report.reporter.delivery", "ui"),
                      autoescape=select_autoescape(["html"]))
    static_dir = resources.files("phantom_report.reporter.delivery") / "ui" / "static"
    app.mount("/ui/static", StaticFiles(directory=str(static_dir)), name="ui-static")

    def page(name: str, status_code: int = 200, headers: dict | None = None, **ctx) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status_code, headers=headers)

    def logged_in(request: Request) -> bool:
        return not state.settings.require_auth or identify(state, request) is not None

    def login_redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(f"/ui/login?next={request.url.path}", status_code=303)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse("/ui/compare", status_code=303)

    @app.get("/ui/login", include_in_schema=False)
    def login_form(next: str = "/ui/compare", error: str | None = None):
        return page("login.html", next=next if next.startswith("/ui/") else "/ui/compare", error=error)

    @app.post("/ui/login", include_in_schema=False)
    def login(request: Request, key: str = Form(..., max_length=200), next: str = Form("/ui/compare", max_length=500)):
        target = next if next.startswith("/ui/") else "/ui/compare"
        resp = RedirectResponse(target, status_code=303)
        if not state.settings.require_auth:
            return resp
        key_id = state.keys.key_id(key)
        if key_id is None:
            try:
                check_failed_attempt(state, request)
            except HTTPException as exc:
                return page("login.html", next=target, error="Too many failed attempts; wait a minute.",
                            status_code=exc.status_code, headers=exc.headers)
            return page("login.html", next=target, error="That API key is not valid.")
        token = open_session(state.sessions, key_id, state.settings.session_ttl_s)
        resp.set_cookie(COOKIE, token, max_age=int(state.settings.session_ttl_s), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
        return resp

    @app.post("/ui/logout", include_in_schema=False)
    def logout(request: Request):
        close_session(state.sessions, request.cookies.get(COOKIE))
        resp = RedirectResponse("/ui/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/ui/compare", include_in_schema=False)
    def compare_page(request: Request):
        if not logged_in(request):
            return login_redirect(request)
        eng = state.engine.get()
        return page("compare.html", active="compare", gpus=eng.catalog.names,
                    models=[w.name for w in eng.models()], precisions=NATIVE_PRECISIONS)

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
