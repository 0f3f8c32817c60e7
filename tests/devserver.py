"""Start `phantom-report serve` as a real child process on a free 127.0.0.1 port and stop it again.

Used by the tests and the load benchmark (benchmarks/speed/bench_service.py), so both exercise
exactly what a user runs (uvicorn, worker processes, the database on disk) rather than an
in-process test client. It lives in tests/ because it needs httpx, a test-only dependency.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_key(db_url: str, name: str, env: dict | None = None, *, via_cli: bool = False) -> str:
    """A new API key in the database; `via_cli` creates it the way an operator does (`serve --add-key`
    in a fresh process, a second of imports), otherwise with the same function in this process."""
    if via_cli:
        out = subprocess.run([sys.executable, "-m", "phantom_report", "serve", "--db", db_url, "--add-key", name],
                             capture_output=True, text=True, timeout=60, env=env, check=True)
        return out.stdout.strip().splitlines()[-1]
    from phantom_report.reporter.delivery.apikeys import create_key as add_key
    from phantom_report.reporter.delivery.db import open_db

    sessions = open_db(db_url)
    try:
        return add_key(sessions, name)
    finally:
        sessions.kw["bind"].dispose()  # no pooled connection left open on the server's database file


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    base_url: str
    log_path: Path
    args: list[str] = field(default_factory=list)

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown runs the lifespan exit
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(workdir: Path, db_url: str, *extra_args: str, env: dict | None = None,
                 startup_timeout_s: float = 60.0) -> ServerProcess:
    port = free_port()
    log_path = workdir / f"serve-{port}.log"
    args = [sys.executable, "-m", "phantom_report", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--db", db_url, "--reports-dir", str(workdir / "reports"), *extra_args]
    logf = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, cwd=workdir,
                            env={**os.environ, **(env or {})})
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", log_path, args)
    deadline = time.monotonic() + startup_timeout_s
    with httpx.Client(timeout=2) as client:  # one client: each new one costs ~50 ms of CPU (TLS setup)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
            try:
                if client.get(server.base_url + "/healthz").status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {startup_timeout_s}s:\n{server.log()}")


def poll_runs(client, run_ids: list[str], headers: dict | None = None, timeout_s: float = 300.0,
              poll_s: float = 0.5) -> list[dict]:
    """Poll `GET /v1/reports/{id}` through ``client`` (an `httpx.Client` with a base_url, or an
    in-process `TestClient`) until every run has finished (succeeded or failed) or `timeout_s`
    passes; returns each run's last answer, in the order of `run_ids`.

    A polling client is a client like any other: when the key's rate limit answers 429, wait as
    long as Retry-After says instead of reading the error body as a run (CI's slow machines made a
    0.1 s loop over four runs exceed the default 120 requests a minute). Any other non-200 answer
    is a failure with the server's own words."""
    bodies: list[dict] = [{"status": "unknown"} for _ in run_ids]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for n, run_id in enumerate(run_ids):
            if bodies[n]["status"] in ("succeeded", "failed"):
                continue
            r = client.get(f"/v1/reports/{run_id}", headers=headers)
            if r.status_code == 429:
                time.sleep(min(float(r.headers.get("Retry-After", "1")), 10.0))
                break
            assert r.status_code == 200, (run_id, r.status_code, r.text[:500])
            bodies[n] = r.json()
        if all(b["status"] in ("succeeded", "failed") for b in bodies):
            break
        time.sleep(poll_s)
    return bodies


def wait_for_runs(base_url: str, run_ids: list[str], headers: dict, timeout_s: float = 300.0,
                  poll_s: float = 0.5) -> list[str]:
    """`poll_runs` against a served process at ``base_url``; returns the last statuses.

    One client for the whole wait: a new httpx client per request costs ~50 ms of CPU (it loads the
    CA bundle), which a minute of polling turned into seconds of the suite's CPU."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        return [b["status"] for b in poll_runs(client, run_ids, timeout_s=timeout_s, poll_s=poll_s)]
