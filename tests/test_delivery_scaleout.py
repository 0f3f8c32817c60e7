"""The service's executors (local process pool, an existing Dask cluster by address) run engine
work with the in-process numbers; report runs go to the cluster. Sweeps have one implementation,
engine/sweep.py (tests/test_engine_sweep.py); these tests hand it the service's executors."""

from __future__ import annotations

import pandas as pd
import pytest

from phantom_report.engine import sweep as S
from phantom_report.engine.api import Engine
from phantom_report.reporter.delivery.scaleout import grid, make_executor

pytestmark = [pytest.mark.heavy, pytest.mark.timeout(300)]


def test_service_executors_give_the_in_process_sweep_numbers():
    distributed = pytest.importorskip("distributed")
    engine = Engine.load()
    spec = S.GridSpec(models=("resnet-50", "bert-base", "llama-3.1-8b"),
                      gpus=("H100-SXM", "A100-80GB-SXM", "L4", "MI300X"), precisions=("fp16", "bf16"),
                      batch_sizes=(1, 8, 32), seq_ins=(512,), seq_outs=(128,))
    here = S.sweep_chunks(engine, spec, 10)
    assert here.n_points == 72 and here.n_supported > 40
    local = make_executor("local", workers=2)
    try:  # the shared process pool: one chunk with the whole grid, run in another process
        outcome = local.executor.submit(S.run_chunk, engine, spec, 0, 0, spec.n_points, None).result(timeout=240)
    finally:
        local.close()
    assert (outcome.n_points, outcome.n_supported, outcome.n_fits) == (here.n_points, here.n_supported, here.n_fits)
    pd.testing.assert_frame_equal(outcome.best.reset_index(drop=True), here.best)
    # a real scheduler + worker processes on 127.0.0.1; we connect to it by address, exactly as
    # `--executor dask --dask-address` does against an existing cluster
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        remote = make_executor("dask", dask_address=cluster.scheduler_address)
        try:
            assert remote.health()["ok"]
            by_dask = S.sweep_dask(remote.client, engine, spec, 10)
        finally:
            remote.close()
    assert (by_dask.n_points, by_dask.n_supported, by_dask.n_fits) == (here.n_points, here.n_supported, here.n_fits)
    pd.testing.assert_frame_equal(by_dask.best, here.best)


def test_grid_is_the_cartesian_product_for_the_compare_endpoint():
    points = grid(["resnet-50", "bert-base"], ["L4", "A10G", "H100-SXM"], ["fp16"], [1, 8], seq_in=512)
    assert len(points) == 12 and set(points.columns) == {"model", "gpu", "precision", "batch_size", "seq_in"}
    assert points.iloc[0].to_dict() == {"model": "resnet-50", "gpu": "L4", "precision": "fp16", "batch_size": 1,
                                        "seq_in": 512}


def test_service_renders_reports_on_dask(tmp_path):
    """`serve --executor dask --dask-address ...`: report runs go to the existing cluster."""
    import httpx

    from devserver import create_key, start_server, wait_for_runs

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
            assert wait_for_runs(srv.base_url, [run_id], h, timeout_s=180) == ["succeeded"], srv.log()[-3000:]
            assert httpx.get(srv.base_url + "/healthz", timeout=30).json()["executor"] == "dask"
        finally:
            srv.stop()
