"""Local servers for the pricing tests: every client is the real one (boto3, CloudCatalogClient,
requests, CostManagementClient) talking real wire formats to 127.0.0.1.  Servers run on daemon
threads, answer within the test's bounds and stop at fixture teardown."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from phantom_report.pricing.settings import FetchSettings

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)
# Tiny timeouts and backoff so fault tests take milliseconds, not minutes.
FAST = FetchSettings(timeout_s=0.5, retries=2, backoff_s=0.001, backoff_max_s=0.005, max_pages=20)
# For tests that count the requests of exchanges meant to succeed: FAST's 0.5 s timeout exists for the
# timeout fault tests, and on a loaded machine an ordinary answer can take longer, be retried and add a
# request the count is not about (CI saw GCP's 429-then-success test make 6 calls instead of 5).
PATIENT = dataclasses.replace(FAST, timeout_s=30.0)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


# A route returns (status, body) or (status, body, extra headers); it may sleep to simulate a timeout.
Route = Callable[[Request, "LocalServer"], tuple]


@dataclass
class LocalServer:
    route: Route
    requests: list[Request] = field(default_factory=list)
    httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                req = Request(self.command, parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length) if length else b"")
                server.requests.append(req)
                result = server.route(req, server)
                status, body = result[0], result[1]
                headers = result[2] if len(result) > 2 else {}
                data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Tests drive live providers against local servers, so an ambient PHANTOM_OFFLINE=1 (CI)
    must not turn them into snapshot lookups; and nothing may write to the real ~/.cache."""
    monkeypatch.delenv("PHANTOM_OFFLINE", raising=False)
    monkeypatch.setenv("PHANTOM_CACHE_DIR", str(tmp_path / "default-cache"))


@pytest.fixture
def serve():
    started: list[LocalServer] = []

    def _serve(route: Route) -> LocalServer:
        s = LocalServer(route).start()
        started.append(s)
        return s

    yield _serve
    for s in started:
        s.stop()


def slow(seconds: float, then: tuple) -> tuple:
    time.sleep(seconds)
    return then


@pytest.fixture
def no_cloud_credentials(monkeypatch, tmp_path):
    """No AWS/GCP credentials anywhere and no metadata-server probing (which would be network)."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-gcp-key.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    monkeypatch.delenv("PHANTOM_OFFLINE", raising=False)
