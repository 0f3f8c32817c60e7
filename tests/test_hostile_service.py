"""The REST service under hostile input and faults (issue 17): a crashing worker fails one run and
the pool recovers; error messages and validation time are bounded; a profile the API accepts loads
after a restart, and a broken profile directory never takes the catalog down; a server started
offline stays offline; docs/metrics need a key off loopback; failed authentications are rate
limited per address; run ids match exactly; the login cookie is a session id, not the key; posted
specs cannot name server files.

In-process (FastAPI TestClient with the real app, database, worker processes and engine) except
where a real uvicorn is needed; every wait is bounded and nothing asserts on elapsed time.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from phantom_report.reporter.delivery import history
from phantom_report.reporter.delivery.apikeys import KeyStore, create_key, hash_key
from phantom_report.reporter.delivery.db import Run, UiSession, open_db
from phantom_report.reporter.delivery.isolation import IsolatedExecutor, WorkerCrashed, WorkerStopped, WorkerTimeout
from phantom_report.reporter.delivery.limits import MAX_ERROR_CHARS
from phantom_report.reporter.delivery.runner import execute_in_worker
from phantom_report.reporter.delivery.service import create_app
from phantom_report.reporter.delivery.settings import DeliverySettings
from phantom_report.reporter.delivery.uisessions import COOKIE
from devserver import poll_runs

pytestmark = pytest.mark.timeout(600)

CRASH_MARK = "crash-this-worker"
SPEC = {"model": "resnet-50", "gpus": ["L4"], "demand": {"requests_per_s": 5},
        "pricing": {"offline": True}, "report": {"formats": ["json"]}}
# a bounded answer: the message, the cut marker and a little JSON around it
BOUNDED_CHARS = MAX_ERROR_CHARS + 200


def abort_on_mark(settings, run_id, spec_text, filename, base_dir):
    """Runs inside the worker process: a real abort (SIGABRT, no cleanup) for a marked spec, the
    real report run otherwise."""
    if CRASH_MARK in spec_text:
        os.abort()
    return execute_in_worker(settings, run_id, spec_text, filename, base_dir)


def _profile(name: str, aliases: list[str]) -> str:
    """A user profile: the built-in L4 datasheet figures under another name."""
    from importlib import resources

    text = (resources.files("phantom_report.profiles") / "l4.toml").read_text(encoding="utf-8")
    text = text.replace('name = "L4"', f'name = "{name}"', 1)
    return re.sub(r"^aliases = .*$", "aliases = [" + ", ".join(f'"{a}"' for a in aliases) + "]", text,
                  count=1, flags=re.M)


def _settings(work: Path, **kw) -> DeliverySettings:
    base = DeliverySettings(db_url=f"sqlite:///{work}/history.db", reports_dir=work / "reports", offline=True,
                            workers=1, scheduler_interval_s=0, profiles_dir=work / "profiles",
                            rate_limit_per_min=100_000)
    return dataclasses.replace(base, **kw)


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    """One running service (lifespan started: worker pool up) shared by the tests that need runs."""
    work = tmp_path_factory.mktemp("hostile")
    (work / "profiles").mkdir()
    settings = _settings(work)
    key = create_key(open_db(settings.db_url), "tests")
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, {"Authorization": f"Bearer {key}"}, app.state.svc, work


# ---- 1. worker isolation ----------------------------------------------------------------------

def test_worker_crash_fails_one_run_and_the_pool_recovers(svc):
    c, h, state, _ = svc
    state.run_in_worker = abort_on_mark
    try:
        crashed = c.post("/v1/reports", json={**SPEC, "title": CRASH_MARK}, headers=h)
        assert crashed.status_code == 202, crashed.text
        body = poll_runs(c, [crashed.json()["id"]], h)[0]
        assert body["status"] == "failed"
        assert body["error"] == "worker failed: worker process killed by signal SIGABRT"
        after = c.post("/v1/reports", json={**SPEC, "title": "after the crash"}, headers=h)
        assert after.status_code == 202, after.text
        assert poll_runs(c, [after.json()["id"]], h)[0]["status"] == "succeeded"
    finally:
        state.run_in_worker = execute_in_worker
    health = c.get("/healthz").json()
    assert health["status"] == "ok" and health["pool"]["ok"]
    assert health["pool"]["crashes"] == 1 and "SIGABRT" in health["pool"]["last_crash"]


def test_a_crash_leaves_a_concurrent_task_alone():
    # built-in functions as tasks: the worker processes need not import this test module
    pool = IsolatedExecutor(2)
    try:
        slow = pool.submit(time.sleep, 0.5)
        crash = pool.submit(os.abort)
        with pytest.raises(WorkerCrashed, match="SIGABRT"):
            crash.result(timeout=120)
        assert slow.result(timeout=120) is None and slow.exception() is None
        assert pool.submit(pow, 3, 2).result(timeout=120) == 9
        assert pool.health()["crashes"] == 1 and pool.health()["ok"]
    finally:
        pool.shutdown(wait=True)


def test_shutdown_during_a_task_stops_it_for_requeueing():
    # the service's graceful stop: the running task must end as WorkerStopped (its run is queued
    # again), never as a crash or an OSError, and shutdown itself must not raise. The pipe to the
    # worker used to be closed by shutdown while the task's thread waited on it (flaky: 3 of 15)
    for delay_s in (0.2, 0.4, 0.6, 0.8):
        pool = IsolatedExecutor(1)
        task = pool.submit(time.sleep, 60)
        time.sleep(delay_s)
        pool.shutdown(wait=True)
        assert isinstance(task.exception(timeout=60), WorkerStopped)


def test_a_run_past_its_time_limit_is_stopped():
    pool = IsolatedExecutor(1, task_timeout_s=1.0)
    try:
        with pytest.raises(WorkerTimeout, match="longer than 1 s"):
            pool.submit(time.sleep, 120).result(timeout=120)
        assert pool.submit(pow, 4, 2).result(timeout=120) == 16
    finally:
        pool.shutdown(wait=True)


# ---- 2. bounded error messages and validation -----------------------------------------------------

def test_error_messages_are_bounded(svc):
    c, h, state, work = svc
    # returned: an alias clash names the alias, here 150 KB long
    r = c.put("/v1/profiles/long.toml", json={"toml": _profile("LONG-ALIAS", ["NVIDIA L4" + "-" * 150_000])},
              headers=h)
    assert r.status_code == 422 and r.json()["detail"].startswith(f"{work / 'profiles' / 'long.toml'}: alias 'NVIDIA L4--")
    assert len(r.text) < BOUNDED_CHARS and "more characters cut" in r.json()["detail"]
    # refused at the door: a 300 KB GPU name is a one-line 422 (the spec schema bounds names)
    r = c.post("/v1/reports", json={**SPEC, "gpus": ["X" * 300_000]}, headers=h)
    assert r.status_code == 422 and len(r.text) < BOUNDED_CHARS and "at most 200 characters" in r.text
    # stored: a run whose failure message is huge keeps a bounded one (history records every error)
    run_id = history.create_run(state.sessions, SPEC, "api")
    history.record_failure(state.sessions, run_id, "unknown GPU " + "X" * 300_000)
    with state.sessions() as s:
        stored = s.get(Run, run_id).error
    assert len(stored) < BOUNDED_CHARS and stored.endswith("more characters cut]")
    assert c.get(f"/v1/reports/{run_id}", headers=h).json()["status"] == "failed"


def test_slow_validation_answers_in_bounded_time_and_holds_its_slot(tmp_path):
    settings = _settings(tmp_path, spec_check_timeout_s=0.2, spec_check_slots=1)
    key = create_key(open_db(settings.db_url), "k")
    app = create_app(settings)
    release = threading.Event()
    real_check = app.state.svc.check_spec

    def stuck_check(text, filename="request"):  # a spec that takes long to validate
        release.wait(60)
        return real_check(text, filename)

    app.state.svc.check_spec = stuck_check
    c = TestClient(app)
    h = {"Authorization": f"Bearer {key}"}
    try:
        r = c.post("/v1/reports", json=SPEC, headers=h)
        assert r.status_code == 422 and "took longer than 0.2 s" in r.json()["detail"]
        busy = c.post("/v1/reports", json=SPEC, headers=h)  # the first check still runs
        assert busy.status_code == 503 and busy.headers["retry-after"]
        assert c.get("/v1/gpus", headers=h).status_code == 200  # nothing else is blocked
    finally:
        release.set()


def test_non_utf8_body_is_a_clear_422(svc):
    c, h, _, _ = svc
    r = c.post("/v1/reports", content=b"title: \xff\xfe\n", headers={**h, "Content-Type": "application/yaml"})
    assert r.status_code == 422 and "not UTF-8" in r.json()["detail"]


# ---- 3. profiles: validated as the loader loads them; a bad directory never breaks the catalog ------

def test_profile_put_is_checked_with_the_whole_catalog(svc):
    c, h, _, work = svc
    clash = c.put("/v1/profiles/clash.toml", json={"toml": _profile("L4-CLASH", ["NVIDIA L4"])}, headers=h)
    assert clash.status_code == 422
    assert "alias 'NVIDIA L4' is already used by GPU 'L4'" in clash.json()["detail"]
    assert str(work / "profiles") in clash.json()["detail"]  # the user's directory, not our copy
    assert not (work / "profiles" / "clash.toml").exists()
    for bad in ("x%0A.toml", "X.toml", ".hidden.toml", "x.toml.bak", "a%2Fb.toml", "x" * 120 + ".toml"):
        r = c.put(f"/v1/profiles/{bad}", json={"toml": _profile("L4-NAME", ["l4-name"])}, headers=h)
        assert r.status_code in (404, 422), (bad, r.status_code)
    assert sorted(p.name for p in (work / "profiles").iterdir()) == []
    ok = c.put("/v1/profiles/l4-lab.toml", json={"toml": _profile("L4-LAB", ["l4-lab-card"])}, headers=h)
    assert ok.status_code == 200, ok.text
    assert "L4-LAB" in {g["name"] for g in c.get("/v1/gpus", headers=h).json()}
    assert sorted(p.name for p in (work / "profiles").iterdir()) == ["l4-lab.toml"]  # no temp files left


def test_broken_profile_directory_serves_the_last_good_catalog_also_after_restart(tmp_path):
    settings = _settings(tmp_path)
    (tmp_path / "profiles").mkdir()
    key = create_key(open_db(settings.db_url), "k")
    h = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as c:
        assert c.put("/v1/profiles/lab.toml", json={"toml": _profile("L4-LAB", ["l4-lab-card"])},
                     headers=h).status_code == 200
        assert "L4-LAB" in {g["name"] for g in c.get("/v1/gpus", headers=h).json()}
    # a hand edit the API would have refused
    (tmp_path / "profiles" / "clash.toml").write_text(_profile("L4-CLASH", ["NVIDIA L4"]), encoding="utf-8")
    with TestClient(create_app(settings)) as c:  # a restart
        health = c.get("/healthz").json()
        assert health["status"] == "degraded"
        assert "already used by GPU 'L4'" in health["profiles"]["error"]
        assert "serving the last good profiles" in health["profiles"]["error"]
        assert any(r.startswith("profiles:") for r in health["reasons"])
        assert "L4-LAB" in {g["name"] for g in c.get("/v1/gpus", headers=h).json()}
        one = c.post("/v1/predict", json={"model": "resnet-50", "gpu": "l4-lab-card", "batch_size": 8}, headers=h)
        assert one.status_code == 200 and one.json()["gpu"] == "L4-LAB"
        c.post("/ui/login", data={"key": key}, follow_redirects=False)
        assert c.get("/ui/compare").status_code == 200
        # report workers load the same catalog
        run = c.post("/v1/reports", json={**SPEC, "gpus": ["L4-LAB"]}, headers=h)
        assert poll_runs(c, [run.json()["id"]], h)[0]["status"] == "succeeded"
        # fixing the file is picked up by the hot reload
        (tmp_path / "profiles" / "clash.toml").unlink()
        deadline = time.monotonic() + 30
        while c.get("/healthz").json()["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.3)
        assert c.get("/healthz").json()["status"] == "ok"


def test_template_directory_problems_show_in_healthz(tmp_path):
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "mine.html.j2").write_text("{% if %}", encoding="utf-8")
    health = TestClient(create_app(_settings(tmp_path, templates_dir=tdir))).get("/healthz").json()
    assert health["status"] == "degraded"
    assert health["templates"]["error"].startswith(f"{tdir / 'mine.html.j2'}:1: template syntax error")


# ---- 4. offline is the server's decision ----------------------------------------------------------

def test_client_cannot_turn_an_offline_server_online(svc, monkeypatch):
    """Every live endpoint points at a listening socket: nothing may connect to it."""
    import boto3
    from google.auth.credentials import AnonymousCredentials

    from phantom_report.pricing import catalog
    from phantom_report.pricing.providers.aws import AwsProvider
    from phantom_report.pricing.providers.azure_retail import AzureRetailProvider
    from phantom_report.pricing.providers.gcp import GcpProvider
    from phantom_report.pricing.settings import FetchSettings

    c, h, _, _ = svc
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(16)
    trap.setblocking(False)
    url = "http://127.0.0.1:%d" % trap.getsockname()[1]
    fast = FetchSettings(timeout_s=0.5, retries=0)
    live = {"aws": AwsProvider(session=boto3.Session(aws_access_key_id="x", aws_secret_access_key="y"),
                               pricing_endpoint_url=url, ec2_endpoint_url=url, settings=fast),
            "gcp": GcpProvider(credentials=AnonymousCredentials(), api_endpoint=url, settings=fast),
            "azure": AzureRetailProvider(endpoint=url, settings=fast)}
    monkeypatch.delenv("PHANTOM_OFFLINE", raising=False)  # only the server's --offline is left
    monkeypatch.setattr(catalog, "default_live_providers", lambda settings, clouds=None: live)
    try:
        r = c.get("/v1/prices", params={"gpu": "H100-SXM", "offline": "false"}, headers=h)
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody knocked
    finally:
        trap.close()
    assert r.status_code == 200, r.text
    assert {q["source"] for q in r.json()["quotes"]} == {"snapshot"}
    assert any(w.startswith("offline") for w in r.json()["warnings"])


# ---- 5. service details ---------------------------------------------------------------------------

def test_docs_and_metrics_need_a_key_unless_public(tmp_path):
    settings = _settings(tmp_path)
    key = create_key(open_db(settings.db_url), "k")
    closed = TestClient(create_app(settings))
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        assert closed.get(path).status_code == 401, path
        assert closed.get(path, headers={"X-API-Key": key}).status_code == 200, path
    assert "/v1/reports" in closed.get("/openapi.json", headers={"X-API-Key": key}).json()["paths"]
    opened = TestClient(create_app(dataclasses.replace(settings, public_docs=True, public_metrics=True)))
    for path in ("/metrics", "/docs", "/openapi.json"):
        assert opened.get(path).status_code == 200, path
    assert closed.get("/healthz").status_code == 200  # liveness stays open


def test_serve_opens_docs_only_on_loopback():
    from phantom_report.commands.serve import _is_loopback

    assert all(_is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(_is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "192.168.1.2", "example.org"))


def test_failed_authentications_are_rate_limited_per_address(tmp_path):
    settings = _settings(tmp_path, invalid_key_rate_per_min=2)
    key = create_key(open_db(settings.db_url), "k")
    c = TestClient(create_app(settings))
    codes = [c.get("/v1/models", headers={"X-API-Key": f"phr_wrong{i}"}).status_code for i in range(6)]
    assert codes[:2] == [401] * 2 and codes[2:] == [429] * 4
    limited = c.get("/v1/models")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1  # no key counts too
    page = c.post("/ui/login", data={"key": "phr_wrong"})
    assert page.status_code == 429 and "Too many failed attempts" in page.text
    assert c.get("/v1/models", headers={"X-API-Key": key}).status_code == 200  # valid keys unaffected


def test_key_table_is_cached_not_queried_per_invalid_key(tmp_path):
    sessions = open_db(f"sqlite:///{tmp_path}/h.db")
    key = create_key(sessions, "a")
    store = KeyStore(sessions, refresh_s=3600, miss_reload_s=3600)
    assert store.lookup(key) == ("a", None) and store.reloads == 1
    for i in range(200):
        assert store.lookup(f"phr_guess{i}") is None
    assert store.reloads == 1
    fresh = KeyStore(sessions, refresh_s=3600, miss_reload_s=0)  # a key made by another process
    fresh.lookup(key)
    later = create_key(sessions, "b")
    assert fresh.lookup(later) == ("b", None)


def test_run_ids_match_exactly(svc):
    c, h, state, _ = svc
    run_id = history.create_run(state.sessions, {"title": "x"}, "cli")
    history.record_failure(state.sessions, run_id, "stopped")
    assert c.get(f"/v1/reports/{run_id}", headers=h).status_code == 200
    for probe in (run_id[:4] + "%25", "%25", "_" * len(run_id), run_id[:6]):
        assert c.get(f"/v1/reports/{probe}", headers=h).status_code == 404, probe
        assert c.get(f"/v1/reports/{probe}/diff/{run_id}", headers=h).status_code == 404, probe
    # the CLI keeps unique prefixes, as literal text
    assert history.get_run(state.sessions, run_id[:10], prefix=True).id == run_id
    with pytest.raises(history.HistoryError):
        history.get_run(state.sessions, "%", prefix=True)


def test_login_cookie_is_a_server_side_session_not_the_key(tmp_path):
    settings = _settings(tmp_path, session_ttl_s=3600)
    sessions = open_db(settings.db_url)
    key = create_key(sessions, "k")
    c = TestClient(create_app(settings))
    r = c.post("/ui/login", data={"key": key, "next": "/ui/history"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/ui/history"
    token = c.cookies[COOKIE]
    assert token != key and key not in r.headers["set-cookie"]
    assert "httponly" in r.headers["set-cookie"].lower() and "max-age=3600" in r.headers["set-cookie"].lower()
    with sessions() as s:
        rows = list(s.scalars(select(UiSession)))
    assert [row.token_sha256 for row in rows] == [hash_key(token)]  # only the hash is stored
    assert c.get("/v1/gpus").status_code == 200
    page = c.get("/ui/history")
    assert page.status_code == 200 and 'action="/ui/logout"' in page.text
    with sessions.begin() as s:  # expired
        s.execute(update(UiSession).values(expires_at=rows[0].created_at))
    assert c.get("/v1/gpus").status_code == 401
    # a raw key in a cookie is no credential
    other = TestClient(create_app(settings), cookies={COOKIE: key, "phantom_key": key})
    assert other.get("/v1/gpus").status_code == 401
    c.post("/ui/login", data={"key": key}, follow_redirects=False)
    token2 = c.cookies[COOKIE]
    assert token2 != token and c.get("/v1/gpus").status_code == 200
    c.post("/ui/logout", follow_redirects=False)
    c.cookies.set(COOKIE, token2)  # a copy of the cookie kept by someone else
    assert c.get("/v1/gpus").status_code == 401


@pytest.mark.parametrize("extra, key", [
    ({"report": {"logo": "/etc/hostname"}}, "report.logo"),
    ({"report": {"logo": "logo.svg"}}, "report.logo"),
    ({"report": {"template_dir": "/etc"}}, "report.template_dir"),
    ({"report": {"template": "../../etc/"}}, "report.template"),
    ({"report": {"template": "/tmp/x.html.j2"}}, "report.template"),
    ({"model": "/etc/passwd"}, "workloads[0].model"),
    ({"model": "./model.onnx"}, "workloads[0].model"),
    ({"model": {"onnx": "model.onnx"}}, "workloads[0].model"),
    ({"model": {"hf": "/srv/models/llama"}}, "workloads[0].model"),
])
def test_posted_specs_cannot_name_server_files(svc, extra, key):
    c, h, _, _ = svc
    r = c.post("/v1/reports", json={**SPEC, **extra}, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"request: {key}: not allowed in a spec sent to the service")


def test_posted_specs_may_use_zoo_models_and_template_names(svc):
    c, h, _, _ = svc
    r = c.post("/v1/reports", json={**SPEC, "report": {"formats": ["json"], "template": "detailed"}}, headers=h)
    assert r.status_code == 202, r.text
    assert poll_runs(c, [r.json()["id"]], h)[0]["status"] == "succeeded"


def test_posted_schedules_cannot_name_server_files(svc):
    c, h, _, _ = svc
    spec = ("model: resnet-50\ngpus: [L4]\ndemand: {requests_per_s: 5}\nreport: {logo: /etc/hostname}\n"
            "schedule: {cron: '0 8 * * MON', timezone: UTC}\nemail:\n  to: [team@example.test]\n"
            "  smtp: {host: 127.0.0.1, port: 2525}\n")
    r = c.post("/v1/schedules", params={"name": "leak"}, content=spec, headers={**h, "Content-Type": "application/yaml"})
    assert r.status_code == 422 and r.json()["detail"].startswith("request: report.logo: not allowed")
    assert "leak" not in [x["name"] for x in c.get("/v1/schedules", headers=h).json()]
