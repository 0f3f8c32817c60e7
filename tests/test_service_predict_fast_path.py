"""The /v1/predict fast path: answers from the bounded per-engine memo are exactly what
`Engine.predict` gives (intervals included), the memo stays within its bound and forgets a
replaced engine, the non-blocking reads the async endpoint relies on (key table, profile source)
agree with their blocking versions, and report workers run their preload warm-ups."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest
from fastapi.testclient import TestClient

from phantom_report.engine.api import Engine
from phantom_report.jsonsafe import to_jsonable
from phantom_report.reporter.delivery.apikeys import STALE, KeyStore, create_key
from phantom_report.reporter.delivery.db import open_db
from phantom_report.reporter.delivery.hotreload import ProfileSource
from phantom_report.reporter.delivery.isolation import IsolatedExecutor
from phantom_report.reporter.delivery.predictmemo import PredictMemo, encode_prediction
from phantom_report.reporter.delivery.service import create_app
from phantom_report.reporter.delivery.settings import DeliverySettings

POINTS = [
    {"model": "llama-3.1-8b", "gpu": "H100-SXM", "precision": "fp16", "batch_size": 4, "seq_in": 512, "seq_out": 128},
    {"model": "resnet-50", "gpu": "L4", "precision": "int8", "batch_size": 32},
    {"model": "bert-base", "gpu": "MI300X", "precision": "fp16", "batch_size": 1, "task": "training"},
    {"model": "vit-b-16", "gpu": "T4", "precision": "fp16", "batch_size": 8, "gpu_count": 2},
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    work = tmp_path_factory.mktemp("fastpath")
    db = f"sqlite:///{work}/history.db"
    key = create_key(open_db(db), "fast", rate_limit_per_min=100_000)
    settings = DeliverySettings(db_url=db, reports_dir=work / "reports", offline=True, scheduler_interval_s=0)
    app = create_app(settings)  # used without `with`: no lifespan, /v1/predict needs no worker pool
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    return client, app.state.svc


def _direct(engine: Engine, point: dict) -> dict:
    """What the API must answer: the engine's own prediction, made JSON-safe, through a JSON round trip."""
    return json.loads(json.dumps(to_jsonable(engine.predict(**point))))


def test_repeated_predicts_equal_the_engine_intervals_included(api, engine):
    client, state = api
    for point in POINTS:
        first = client.post("/v1/predict", json=point)
        again = client.post("/v1/predict", json=point)
        assert first.status_code == again.status_code == 200, first.text
        assert first.headers["content-type"] == "application/json"
        expected = _direct(engine, point)
        assert first.json() == again.json() == expected
        assert first.content == again.content  # the same bytes: the second came from the memo
        for col in ("latency_ms_low", "latency_ms_high", "throughput_per_s"):
            assert col in expected and first.json()[col] == expected[col]
    assert state.predict_memo.hits >= len(POINTS)


def test_errors_are_not_memoised_and_stay_422(api):
    client, state = api
    before = len(state.predict_memo)
    for _ in range(2):
        bad = client.post("/v1/predict", json={"model": "resnet-50", "gpu": "H999", "batch_size": 1})
        assert bad.status_code == 422 and "H999" in bad.json()["detail"]
    assert len(state.predict_memo) == before


def test_memo_is_bounded_least_recently_used_first(engine):
    memo = PredictMemo(max_entries=2)
    calls: list[int] = []

    def compute(i: int):
        def run():
            calls.append(i)
            return engine.predict("resnet-50", "L4", "fp16", batch_size=i)
        return run

    for i in (1, 2, 1, 3):  # 1 is used again before 3 arrives, so 2 is the one dropped
        memo.answer(engine, ("b", i), compute(i))
    assert len(memo) == 2 and calls == [1, 2, 3]
    assert memo.answer(engine, ("b", 1), compute(1)) == encode_prediction(engine.predict("resnet-50", "L4", "fp16", 1))
    memo.answer(engine, ("b", 2), compute(2))
    assert calls == [1, 2, 3, 2] and len(memo) == 2


def test_memo_forgets_answers_of_a_replaced_engine(engine):
    memo = PredictMemo()
    memo.answer(engine, "k", lambda: engine.predict("resnet-50", "L4", "fp16", 1))
    reloaded = Engine.load()  # a hot reload builds a new engine object
    body = memo.answer(reloaded, "k", lambda: reloaded.predict("resnet-50", "A10G", "fp16", 1))
    assert json.loads(body)["gpu"] != "L4"  # computed afresh, not the old engine's answer
    assert len(memo) == 1


def test_cached_key_lookup_matches_the_database_lookup(tmp_path):
    sessions = open_db(f"sqlite:///{tmp_path}/keys.db")
    key = create_key(sessions, "dash", rate_limit_per_min=77)
    store = KeyStore(sessions)
    assert store.cached_lookup(key) is STALE  # never loaded: the endpoint must go to a thread
    assert store.lookup(key) == ("dash", 77)
    assert store.cached_lookup(key) == ("dash", 77)
    assert store.cached_lookup("phr_not-a-key") is None
    assert store.cached_lookup("") is None


def test_profile_source_current_never_checks_the_directory(tmp_path):
    source = ProfileSource(None, tmp_path, lambda d: Engine.load(d or None), check_every_s=3600)
    assert source.current() is None  # nothing loaded yet
    served = source.get()
    assert source.current() is served
    source.invalidate()  # after a profile save the next request must re-read the directory
    assert source.current() is None


def test_worker_preload_runs_warm_ups_and_survives_a_failing_one():
    # built-in functions as tasks: the worker processes need not import this test module
    probe = "'matplotlib.figure' in __import__('sys').modules"
    for preload, warmed in ((("phantom_report.reporter.mplchart",), False),
                            (("phantom_report.reporter.mplchart:warm_up",), True),
                            (("json:loads",), False)):  # json.loads() raises TypeError: ignored
        pool = IsolatedExecutor(1, preload=preload)
        try:
            assert pool.submit(eval, probe).result(timeout=120) is warmed
        finally:
            pool.shutdown(wait=True)


def test_report_workers_are_forked_by_the_fork_server_not_by_the_service():
    # the service has threads (uvicorn, the scheduler): its workers must never be forked from it
    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork server on this platform: workers are spawned")
    pool = IsolatedExecutor(1, preload=("json",))
    try:
        parent_pid = pool.submit(os.getppid).result(timeout=120)
    finally:
        pool.shutdown(wait=True)
    assert parent_pid != os.getpid()
