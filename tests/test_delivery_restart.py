"""No lost runs: reports queued when the service stops are rendered after it starts again."""

from __future__ import annotations

import httpx
import pytest

from devserver import create_key, start_server, wait_for_runs

pytestmark = [pytest.mark.slow, pytest.mark.heavy, pytest.mark.timeout(600)]


def test_queued_runs_survive_a_restart(tmp_path):
    db = f"sqlite:///{tmp_path}/history.db"
    key = create_key(db, "restart")
    headers = {"Authorization": f"Bearer {key}"}
    args = ("--workers", "1", "--offline", "--scheduler-interval", "0")
    srv = start_server(tmp_path, db, *args)
    ids = []
    try:
        for rate in (10, 20, 30, 40):
            spec = {"model": "resnet-50", "gpus": ["L4", "T4"], "demand": {"requests_per_s": rate},
                    "pricing": {"offline": True}, "report": {"formats": ["json"]}}
            r = httpx.post(srv.base_url + "/v1/reports", json=spec, headers=headers, timeout=30)
            assert r.status_code == 202
            ids.append(r.json()["id"])
    finally:
        srv.stop()  # graceful stop with work still queued
    from sqlalchemy import select

    from phantom_report.reporter.delivery.db import Run, open_db

    with open_db(db)() as s:
        left = list(s.scalars(select(Run.status).where(Run.id.in_(ids))))
    assert "queued" in left and "failed" not in left, left  # stopped with work pending, none dropped
    srv = start_server(tmp_path, db, *args)
    try:
        statuses = wait_for_runs(srv.base_url, ids, headers, timeout_s=300)
        assert statuses == ["succeeded"] * 4, (statuses, srv.log()[-3000:])
    finally:
        srv.stop()
