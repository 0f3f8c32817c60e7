"""Load test of `phantom-report serve`, bounded: predict latency under concurrency, report wall time.

Starts the service as a real process on a free 127.0.0.1 port (its own temporary database) and prints:
- `/v1/predict` p50/p95 with `--clients` (16) concurrent clients over loopback, each sending its
  requests one after another on a kept-alive connection (target: p50 <= 5 ms, p95 <= 20 ms);
- the wall time of `POST /v1/reports` of examples/quickstart.yaml until the report is finished
  (`--quickstart-repeat` runs, one at a time; target <= 5 s), with where each run's time went (queued
  until a worker took it, running in the worker, the run's stage timings) and the service's CPU per run;
- optionally (`--reports M`) M varied report runs submitted at once (queueing and end-to-end times);
- the machine's load average before and after (figures on a busy machine are not the service's).
Exits non-zero if any request fails other than the intended 429s of a deliberately rate-limited
key, or if any report run is lost or fails.

    python benchmarks/speed/bench_service.py --predicts 800 --clients 16 --quickstart-repeat 3 --workers 2 --settle-s 15
    python benchmarks/speed/bench_service.py --interval-ms 100 --quickstart-repeat 0   # 160 req/s offered
    python benchmarks/speed/bench_service.py --distinct --quickstart-repeat 0           # no memo hits
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # the dev server lives with the tests
from devserver import create_key, start_server  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


_GPUS = ["H100-SXM", "A100-80GB-SXM", "L4", "L40S", "MI300X", "T4", "A10G", "H200"]
_MODELS = ["resnet-50", "bert-base", "llama-3.1-8b", "vit-b-16"]


def predict_body(i: int, distinct: bool) -> dict:
    """Request i: 16 configurations cycled (a dashboard asking the same points again), or with
    `distinct` a different sequence length each time (nothing can be answered from the memo)."""
    return {"model": _MODELS[i % len(_MODELS)], "gpu": _GPUS[i % len(_GPUS)], "precision": "fp16",
            "batch_size": 1 + i % 16, "seq_in": 512 + (i if distinct else 0), "seq_out": 128}


class RawHttp:
    """One kept-alive HTTP/1.1 connection written by hand on asyncio streams: a load generator
    that costs ~0.1 ms of CPU per request (httpx's async client costs several ms on this machine,
    more than the service's answer, and shares the same 2 cores), like wrk/hey but in Python."""

    def __init__(self, base: str, key: str) -> None:
        host_port = base.split("//", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.head = (f"POST /v1/predict HTTP/1.1\r\nHost: {host_port}\r\nAuthorization: Bearer {key}\r\n"
                     "Content-Type: application/json\r\n").encode()
        self.reader = self.writer = None

    async def post(self, body: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = json.dumps(body).encode()
        self.writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()


async def predicts(base: str, key: str, n: int, clients: int, interval_ms: float = 0.0,
                   http: str = "raw", distinct: bool = False) -> tuple[list[float], dict[int, int]]:
    """`n` predicts from `clients` concurrent clients, each sequential on its own kept-alive connection.
    `interval_ms` 0: each client sends its next request as soon as the last one answered (closed loop:
    latency then includes queueing behind the other 15, i.e. clients / throughput). > 0: each client
    starts a request every `interval_ms` (or at once when late), so latency shows service time at
    that offered rate. `http`: "raw" (RawHttp, a lean load generator) or "httpx" (AsyncClient)."""
    codes: dict[int, int] = {}
    lat_ms: list[float] = []
    todo = iter(range(n))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120,
                                 limits=limits) as c:
        async def via_httpx(body: dict) -> tuple[int, bytes]:
            r = await c.post("/v1/predict", json=body)
            return r.status_code, r.content

        async def client(k: int) -> None:
            conn = RawHttp(base, key) if http == "raw" else None
            post = conn.post if conn is not None else via_httpx
            # paced clients start staggered, so 16 of them do not arrive as one burst every interval
            next_at = time.perf_counter() + k * interval_ms / 1000 / clients
            try:
                for i in todo:  # the iterator is shared: together the clients send each request once
                    if interval_ms > 0:
                        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                        next_at = max(next_at, time.perf_counter()) + interval_ms / 1000  # late: no catch-up burst
                    t0 = time.perf_counter()
                    status, content = await post(predict_body(i, distinct))
                    lat_ms.append((time.perf_counter() - t0) * 1000)
                    if status == 200 and "latency_ms" not in json.loads(content):
                        status = -1  # an answer that is not a prediction counts as a failure
                    codes[status] = codes.get(status, 0) + 1
            finally:
                if conn is not None:
                    await conn.close()

        await asyncio.gather(*(client(k) for k in range(clients)))
    return lat_ms, codes


def _iso_s(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else float("nan")


def run_breakdown(body: dict) -> dict:
    """Where a finished run's time went, from its history row (`GET /v1/reports/{id}?full=true`): queued
    (POST until a worker started it: pickup), running (in the worker: its stages and the history
    writes) and the run's own stage timings."""
    return {"queued_s": round(_iso_s(body.get("started_at")) - _iso_s(body.get("created_at")), 2),
            "running_s": round(_iso_s(body.get("finished_at")) - _iso_s(body.get("started_at")), 2),
            "stages_s": {k: round(v, 2) for k, v in (body.get("timings_s") or {}).items()}}


async def quickstart(base: str, key: str, spec_text: str, repeat: int,
                     timeout_s: float) -> tuple[list[float], list[str], list[dict]]:
    """Wall seconds from `POST /v1/reports` of the quickstart spec (YAML) to a finished run, one run at a
    time (the status is polled every 50 ms), with each run's breakdown (`run_breakdown`)."""
    walls: list[float] = []
    statuses: list[str] = []
    breakdowns: list[dict] = []
    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/yaml"}) as c:
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = await c.post("/v1/reports", content=spec_text.encode("utf-8"))
            r.raise_for_status()
            run_id, status = r.json()["id"], "queued"
            while status in ("queued", "running") and time.perf_counter() - t0 < timeout_s:
                await asyncio.sleep(0.05)
                status = (await c.get(f"/v1/reports/{run_id}")).json()["status"]
            walls.append(time.perf_counter() - t0)
            statuses.append(status)
            breakdowns.append(run_breakdown((await c.get(f"/v1/reports/{run_id}", params={"full": "true"})).json()))
    return walls, statuses, breakdowns


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far, from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reaped_cpu_s(pid: int) -> float | None:
    """CPU seconds used by process `pid` and the exited processes reaped by it or by its live children
    (the fork server that starts report workers reaps them): every report worker that ran and exited,
    whole (its start-up, its run and its PDF child, which the worker reaped), but no spare worker
    still waiting. From /proc (None where there is none)."""
    def stat(p: int | str) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    try:
        ticks = sum(int(x) for x in stat(pid)[11:15])  # utime stime cutime cstime
    except OSError:
        return None
    for entry in Path("/proc").iterdir():
        try:
            fields = stat(entry.name) if entry.name.isdigit() else None
        except OSError:
            continue
        if fields is not None and int(fields[1]) == pid:
            ticks += int(fields[13]) + int(fields[14])  # what that child reaped: cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} CPUs)"


async def limited_burst(base: str, key: str, n: int) -> dict[int, int]:
    codes: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}, timeout=60) as c:
        rs = await asyncio.gather(*(c.get("/v1/gpus") for _ in range(n)))
    for r in rs:
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
    return codes


async def reports(base: str, key: str, n: int, timeout_s: float) -> tuple[list[float], list[float], dict[str, int]]:
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        async def submit(i: int):
            spec = {"title": f"load {i}", "model": ["resnet-50", "bert-base"][i % 2], "gpus": ["H100-SXM", "L4", "A10G"],
                    "demand": {"requests_per_s": 10 + i}, "pricing": {"offline": True},
                    "report": {"formats": ["json", "md", "csv"]}}
            t0 = time.perf_counter()
            r = await c.post("/v1/reports", json=spec)
            r.raise_for_status()
            return r.json()["id"], t0, (time.perf_counter() - t0) * 1000

        submitted = await asyncio.gather(*(submit(i) for i in range(n)))
        accept_ms = [s[2] for s in submitted]
        done: dict[str, float] = {}
        status: dict[str, str] = {}
        deadline = time.perf_counter() + timeout_s
        while len(done) < n and time.perf_counter() < deadline:
            for run_id, t0, _ in submitted:
                if run_id in done:
                    continue
                body = (await c.get(f"/v1/reports/{run_id}")).json()
                if body["status"] in ("succeeded", "failed"):
                    done[run_id] = (time.perf_counter() - t0)
                    status[run_id] = body["status"]
            await asyncio.sleep(0.25)
    counts: dict[str, int] = {}
    for run_id, _, _ in submitted:
        s = status.get(run_id, "lost/unfinished")
        counts[s] = counts.get(s, 0) + 1
    return accept_ms, list(done.values()), counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predicts", type=int, default=800)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--interval-ms", type=float, default=0.0,
                    help="each client paces its requests this far apart (0: as fast as answers come)")
    ap.add_argument("--http", choices=("raw", "httpx"), default="raw",
                    help="predict load generator: raw HTTP/1.1 on asyncio streams (lean) or httpx's AsyncClient")
    ap.add_argument("--distinct", action="store_true",
                    help="every predict a different configuration (measures the engine path, not the memo)")
    ap.add_argument("--settle-s", type=float, default=0.0,
                    help="wait this long after start-up (report workers importing) before measuring")
    ap.add_argument("--quickstart", default=str(Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"))
    ap.add_argument("--quickstart-repeat", type=int, default=3)
    ap.add_argument("--reports", type=int, default=0, help="also submit M varied report runs at once")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--report-timeout", type=float, default=420)
    args = ap.parse_args()
    load_before = load_average()
    work = Path(tempfile.mkdtemp(prefix="phantom-bench-"))
    db = f"sqlite:///{work}/history.db"
    key = create_key(db, "bench")
    limited = create_key(db, "limited")
    from sqlalchemy import update

    from phantom_report.reporter.delivery.db import ApiKey, open_db

    with open_db(db).begin() as s:
        s.execute(update(ApiKey).where(ApiKey.name == "limited").values(rate_limit_per_min=10))
        s.execute(update(ApiKey).where(ApiKey.name == "bench").values(rate_limit_per_min=1_000_000))
    srv = start_server(work, db, "--workers", str(args.workers), "--offline", "--scheduler-interval", "0")
    try:
        httpx.post(srv.base_url + "/v1/predict", headers={"X-API-Key": key}, timeout=60,
                   json={"model": "resnet-50", "gpu": "L4", "batch_size": 1})  # warm the engine once
        time.sleep(args.settle_s)
        load_measured = load_average()
        cpu0 = process_cpu_s(srv.proc.pid)
        t0 = time.perf_counter()
        lat, codes = asyncio.run(predicts(srv.base_url, key, args.predicts, args.clients, args.interval_ms,
                                          args.http, args.distinct))
        predict_wall_s = time.perf_counter() - t0
        cpu1 = process_cpu_s(srv.proc.pid)
        server_cpu_ms = None if cpu0 is None or cpu1 is None else round((cpu1 - cpu0) / args.predicts * 1000, 2)
        burst = asyncio.run(limited_burst(srv.base_url, limited, 30))
        load_quickstart = load_average()
        cpu_qs0 = reaped_cpu_s(srv.proc.pid)
        qs_walls, qs_status, qs_breakdown = asyncio.run(quickstart(
            srv.base_url, key, Path(args.quickstart).read_text(encoding="utf-8"), args.quickstart_repeat,
            args.report_timeout))
        cpu_qs1 = reaped_cpu_s(srv.proc.pid)
        t0 = time.perf_counter()
        accept_ms, run_s, run_counts = (asyncio.run(reports(srv.base_url, key, args.reports, args.report_timeout))
                                        if args.reports else ([], [], {}))
        reports_wall_s = time.perf_counter() - t0
    finally:
        srv.stop()
    result = {
        "load_average_before": load_before,
        "load_average_at_predicts": load_measured,
        "predict": {"n": args.predicts, "clients": args.clients, "interval_ms": args.interval_ms, "http": args.http,
                    "distinct": args.distinct, "status_codes": codes,
                    "wall_s": round(predict_wall_s, 2), "requests_per_s": round(args.predicts / predict_wall_s, 1),
                    "p50_ms": round(pct(lat, 50), 1), "p95_ms": round(pct(lat, 95), 1),
                    "mean_ms": round(statistics.fmean(lat), 1), "target": "p50 <= 5 ms, p95 <= 20 ms",
                    # the service process's CPU per request (all its threads; clock ticks of 10 ms, so
                    # meaningful over hundreds of requests): what the service costs, without the client
                    "server_cpu_ms_per_request": server_cpu_ms},
        "rate_limited_key_burst": {"n": 30, "status_codes": burst},
        "quickstart_report": {"spec": args.quickstart, "runs": len(qs_walls), "status": qs_status,
                              "wall_s": [round(w, 2) for w in qs_walls],
                              "median_wall_s": round(statistics.median(qs_walls), 2) if qs_walls else None,
                              "load_average_at_start": load_quickstart, "breakdown": qs_breakdown,
                              # the service's CPU per run: the API process and each finished worker
                              # whole (start-up, run, PDF child); the machine's other load excluded
                              "service_cpu_s_per_run": (round((cpu_qs1 - cpu_qs0) / len(qs_walls), 2)
                                                        if qs_walls and None not in (cpu_qs0, cpu_qs1) else None),
                              "target": "<= 5 s"},
    }
    if args.reports:
        result["reports"] = {"n": args.reports, "workers": args.workers, "outcome": run_counts,
                             "accept_p50_ms": round(pct(accept_ms, 50), 1), "accept_p95_ms": round(pct(accept_ms, 95), 1),
                             "end_to_end_p50_s": round(pct(run_s, 50), 2), "end_to_end_p95_s": round(pct(run_s, 95), 2),
                             "wall_s": round(reports_wall_s, 2)}
    result["load_average_after"] = load_average()
    print(json.dumps(result, indent=2))
    ok = (codes == {200: args.predicts} and set(burst) <= {200, 429} and burst.get(429, 0) > 0
          and set(qs_status) <= {"succeeded"} and (not args.reports or run_counts == {"succeeded": args.reports}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
