"""The REST service as a real process (uvicorn on a free 127.0.0.1 port), driven with httpx."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from phantom_report.errors import SpecError
from devserver import create_key, poll_runs, start_server
from phantom_report.reporter.spec import parse_spec

pytestmark = pytest.mark.timeout(300)

RATE_PER_MIN = 600


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("svc")
    db = f"sqlite:///{work}/history.db"
    key = create_key(db, "tests", via_cli=True)  # the operator's way, once; other tests add keys in-process
    limited = create_key(db, "limited")
    # one report worker: the module renders one report, and each spare worker preloads ~3 s of CPU
    # (a pool of several worker processes: tests/test_hostile_service.py)
    srv = start_server(work, db, "--rate-limit", str(RATE_PER_MIN), "--workers", "1", "--offline",
                       "--scheduler-interval", "0", "--max-request-bytes", "200000")
    # a second key with a tiny per-key limit, set directly on its row (keys carry their own limit)
    from sqlalchemy import update

    from phantom_report.reporter.delivery.db import ApiKey, open_db

    sessions = open_db(db)
    with sessions.begin() as s:
        s.execute(update(ApiKey).where(ApiKey.name == "limited").values(rate_limit_per_min=3))
    yield srv, key, limited
    srv.stop()


def _client(server, key=None) -> httpx.Client:
    srv = server[0]
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=srv.base_url, headers=headers, timeout=60)


def test_auth_refusal(server):
    with _client(server) as c:
        r = c.get("/v1/gpus")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    with _client(server, "phr_not-a-key") as c:
        assert c.get("/v1/gpus").status_code == 401
    with _client(server, server[1]) as c:
        assert c.get("/v1/gpus").status_code == 200
        assert c.get("/v1/gpus", headers={"Authorization": "", "X-API-Key": server[1]}).status_code == 200


def test_rate_limit_429_with_retry_after(server):
    codes = []
    with _client(server, server[2]) as c:
        time.sleep(0.1)
        for _ in range(8):
            r = c.get("/v1/models")
            codes.append(r.status_code)
            if r.status_code == 429:
                assert int(r.headers["retry-after"]) >= 1
    # the limited key's own limit (3/min) applies, and the refusals are 429, never errors
    assert codes.count(200) == 3 and codes.count(429) == 5
    # another key is not affected
    with _client(server, server[1]) as c:
        assert c.get("/v1/models").status_code == 200


def test_bad_spec_422_same_message_as_cli(server):
    bad = "title: x\nmodel: resnet-50\ngpus: [H100-SXM]\ndemand:\n  requests_per_s: 5\nconfidence: 2\n"
    with pytest.raises(SpecError) as cli_err:
        parse_spec(bad, filename="request")
    with _client(server, server[1]) as c:
        r = c.post("/v1/reports", content=bad, headers={"Content-Type": "application/yaml"})
    assert r.status_code == 422
    assert r.json()["detail"] == str(cli_err.value)
    assert r.json()["detail"].startswith("request:6: confidence:")


def test_request_size_limit(server):
    with _client(server, server[1]) as c:
        r = c.post("/v1/reports", content="#" * 300_000, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 413

        def chunks():  # no Content-Length: the limit must still hold while streaming
            for _ in range(30):
                yield b"#" * 10_000

        r = c.post("/v1/reports", content=chunks(), headers={"Content-Type": "application/yaml"})
        assert r.status_code == 413


def test_predict_compare_gpus_models(server):
    with _client(server, server[1]) as c:
        gpus = c.get("/v1/gpus").json()
        assert {"H100-SXM", "A100-80GB-SXM"} <= {g["name"] for g in gpus}
        assert any(m["name"] == "resnet-50" for m in c.get("/v1/models").json())
        one = c.post("/v1/predict", json={"model": "resnet-50", "gpu": "h100 sxm", "precision": "fp16", "batch_size": 8})
        assert one.status_code == 200 and one.json()["gpu"] == "H100-SXM" and one.json()["latency_ms"] > 0
        cmp_ = c.post("/v1/compare", json={"models": ["resnet-50"], "gpus": ["H100-SXM", "A100-80GB-SXM"],
                                           "precisions": ["fp16"], "batch_sizes": [8]}).json()
        by_gpu = {r["gpu"]: r for r in cmp_["rows"]}
        # the same numbers as the single-point endpoint
        assert by_gpu["H100-SXM"]["latency_ms"] == pytest.approx(one.json()["latency_ms"])
        bad = c.post("/v1/predict", json={"model": "resnet-50", "gpu": "H999", "batch_size": 8})
        assert bad.status_code == 422 and "unknown GPU 'H999'" in bad.json()["detail"]


def test_healthz_metrics_openapi(server):
    with _client(server) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        text = c.get("/metrics").text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        for name in ("phantom_report_runs", "phantom_report_run_failures", "phantom_price_fetch_fallbacks",
                     "phantom_email_outbox_depth", "phantom_report_run_duration_seconds", "phantom_http_requests"):
            assert name in families, name
        schema = c.get("/openapi.json").json()
        for path in ("/v1/reports", "/v1/reports/{run_id}", "/v1/reports/{run_id}/report.{fmt}", "/v1/gpus",
                     "/v1/models", "/v1/predict", "/v1/compare", "/v1/prices", "/v1/schedules",
                     "/v1/schedules/{ident}", "/healthz", "/metrics"):
            assert path in schema["paths"], path


def test_prices_offline(server):
    with _client(server, server[1]) as c:
        r = c.get("/v1/prices", params={"gpu": "H100-SXM", "offline": "true"})
    assert r.status_code == 200, r.text
    quotes = r.json()["quotes"]
    assert quotes and all(q["gpu"] == "H100-SXM" for q in quotes)


def test_report_round_trip(server):
    spec = {"title": "API round trip", "model": "resnet-50", "gpus": ["H100-SXM", "L4"],
            "demand": {"requests_per_s": 20}, "pricing": {"offline": True}}
    with _client(server, server[1]) as c:
        r = c.post("/v1/reports", json=spec)
        # queued, not rendered in the request: the reply carries no finished formats yet
        assert r.status_code == 202 and r.json()["status"] == "queued" and not r.json()["links"].get("pdf")
        run_id = r.json()["id"]
        body = poll_runs(c, [run_id], timeout_s=240)[0]
        assert body["status"] == "succeeded", body
        assert set(body["formats"]) == {"html", "pdf", "json", "csv", "md"}
        assert body["links"]["pdf"] == f"/v1/reports/{run_id}/report.pdf"
        pdf = c.get(body["links"]["pdf"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"  # the media type registered in reporter/render.py
        assert c.get(body["links"]["md"]).headers["content-type"].startswith("text/markdown")
        payload = c.get(body["links"]["json"]).json()
        full = c.get(f"/v1/reports/{run_id}", params={"full": "true"}).json()
        assert full["payload"] == payload  # history holds the same results JSON
        assert full["quotes"] and full["spec"]["workloads"][0]["model"] == "resnet-50"
        assert "<html" in c.get(body["links"]["html"]).text.lower()
        assert c.get(f"/v1/reports/{run_id}/report.exe").status_code in (404, 422)
        assert c.get("/v1/reports/does-not-exist").status_code == 404
        listed = c.get("/v1/reports").json()
        assert run_id in [x["id"] for x in listed]
        families = {f.name: f for f in text_string_to_metric_families(c.get("/metrics").text)}
        runs = {s.labels["status"]: s.value for s in families["phantom_report_runs"].samples}
        assert runs["succeeded"] >= 1
        hist = [s for s in families["phantom_report_run_duration_seconds"].samples if s.name.endswith("_count")]
        assert hist[0].value >= 1


def test_schedules_crud(server):
    spec = ("model: resnet-50\ngpus: [L4]\ndemand: {requests_per_s: 5}\nschedule: {cron: '0 8 * * MON', timezone: UTC}\n"
            "email:\n  to: [team@example.test]\n  smtp: {host: 127.0.0.1, port: 2525, username: u, password_env: PHANTOM_SMTP_PW}\n")
    with _client(server, server[1]) as c:
        r = c.post("/v1/schedules", params={"name": "weekly"}, content=spec, headers={"Content-Type": "application/yaml"})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert r.json()["next_due"].endswith("+00:00")
        assert c.get(f"/v1/schedules/{sid}").json()["name"] == "weekly"
        assert "weekly" in [s["name"] for s in c.get("/v1/schedules").json()]
        dup = c.post("/v1/schedules", params={"name": "weekly"}, content=spec, headers={"Content-Type": "application/yaml"})
        assert dup.status_code == 422
        assert c.delete(f"/v1/schedules/{sid}").status_code == 204
        assert c.get(f"/v1/schedules/{sid}").status_code == 404
