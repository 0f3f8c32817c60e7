"""A sweep on a local Dask cluster gives the same numbers as the local process pool."""

from __future__ import annotations

import pandas as pd
import pytest

from phantom_report.reporter.delivery.scaleout import grid, make_executor, sweep

pytestmark = pytest.mark.timeout(300)


def test_dask_cluster_matches_local_pool():
    distributed = pytest.importorskip("distributed")
    points = grid(["resnet-50", "bert-base", "llama-3.1-8b"], ["H100-SXM", "A100-80GB-SXM", "L4", "MI300X"],
                  ["fp16", "bf16"], [1, 8, 32], seq_in=512, seq_out=128)
    local = make_executor("local", workers=2)
    try:
        by_pool = sweep(points, local.executor, chunk_rows=10)
    finally:
        local.close()
    # a real scheduler + worker processes on 127.0.0.1; we connect to it by address, exactly as
    # `--executor dask --dask-address` does against an existing cluster
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = make_executor("dask", dask_address=cluster.scheduler_address)
        try:
            by_dask = sweep(points, remote.executor, chunk_rows=10)
        finally:
            remote.close()
    assert len(by_pool) == len(points) == 72
    pd.testing.assert_frame_equal(by_pool, by_dask)
    assert by_pool["latency_ms"].notna().sum() > 40


def test_service_renders_reports_on_dask(tmp_path):
    """`serve --executor dask --dask-address ...`: report runs go to the existing cluster."""
    import httpx

    from devserver import create_key, start_server

    distributed = pytest.importorskip("distributed")
    db = f"sqlite:///{tmp_path}/history.db"
    key = create_key(db, "dask")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        srv = start_server(tmp_path, db, "--executor", "dask", "--dask-address", cluster.scheduler_address,
                           "--offline", "--scheduler-interval", "0")
        try:
            h = {"X-API-Key": key}
            spec = {"model": "bert-base", "gpus": ["L4", "A10G"], "demand": {"requests_per_s": 5},
                    "pricing": {"offline": True}, "report": {"formats": ["json"]}}
            run_id = httpx.post(srv.base_url + "/v1/reports", json=spec, headers=h, timeout=30).json()["id"]
            import time

            deadline = time.monotonic() + 180
            status = "queued"
            while time.monotonic() < deadline and status in ("queued", "running"):
                time.sleep(0.1)
                status = httpx.get(f"{srv.base_url}/v1/reports/{run_id}", headers=h, timeout=30).json()["status"]
            assert status == "succeeded", srv.log()[-3000:]
            assert httpx.get(srv.base_url + "/healthz", timeout=30).json()["executor"] == "dask"
        finally:
            srv.stop()
