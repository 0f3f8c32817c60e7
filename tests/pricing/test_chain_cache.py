"""The chain live -> cache -> snapshot: TTLs per kind, atomic and lock-protected cache files shared
by two processes, offline mode that opens no connection, and quiet fallback without credentials."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from phantom_report.pricing.cache import PriceCache
from phantom_report.pricing.catalog import get_quotes
from phantom_report.pricing.providers.aws import AwsProvider
from phantom_report.pricing.providers.azure_retail import AzureRetailProvider
from phantom_report.pricing.providers.gcp import GcpProvider

from .conftest import FAST, NOW
from .test_azure import retail_route


def azure(srv):
    return {"azure": AzureRetailProvider(endpoint=srv.url + "/api/retail/prices", settings=FAST)}


def test_ttl_per_kind(serve, tmp_path):
    srv = serve(retail_route)
    kw = dict(gpus="H100-SXM", providers=["azure"], cache_dir=tmp_path, live_providers=azure(srv))
    first = get_quotes(now=NOW, **kw)
    assert {q.source for q in first.quotes} == {"live"} and len(srv.requests) == 3
    # 30 min later: both kinds fresh -> no request at all
    again = get_quotes(now=NOW + timedelta(minutes=30), **kw)
    assert {q.source for q in again.quotes} == {"cache"} and len(srv.requests) == 3
    # 2 h later: spot (TTL 1 h) is refetched, on-demand (TTL 24 h) still from cache
    later = get_quotes(now=NOW + timedelta(hours=2), **kw)
    assert len(srv.requests) == 6
    nd = next(q for q in later.quotes if q.instance_type == "Standard_ND96isr_H100_v5")
    assert nd.source == "cache" and nd.spot_usd_per_hour == 39.33 and nd.fetched_at == NOW


def test_stale_cache_beats_snapshot_when_live_fails(serve, tmp_path):
    srv = serve(retail_route)
    get_quotes(gpus="H100-SXM", providers=["azure"], cache_dir=tmp_path, now=NOW, live_providers=azure(srv))
    down = serve(lambda req, s: (503, {"error": "down"}))
    qs = get_quotes(gpus="H100-SXM", providers=["azure"], cache_dir=tmp_path, now=NOW + timedelta(hours=30),
                    live_providers=azure(down))
    assert {q.source for q in qs.quotes} == {"cache"}
    assert any("30.0 h old" in w or "cached" in w for w in qs.warnings)
    nd = next(q for q in qs.quotes if q.instance_type == "Standard_ND96isr_H100_v5")
    assert nd.age_hours(NOW + timedelta(hours=30)) == pytest.approx(30)
    assert any("TTL 24 h" in w for w in nd.warnings)


def test_offline_opens_no_connection(tmp_path, monkeypatch):
    """Every endpoint points at a listening socket; offline must never connect to it."""
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(16)
    trap.setblocking(False)
    url = "http://127.0.0.1:%d" % trap.getsockname()[1]
    import boto3
    from google.auth.credentials import AnonymousCredentials
    live = {"aws": AwsProvider(session=boto3.Session(aws_access_key_id="x", aws_secret_access_key="y"),
                               pricing_endpoint_url=url, ec2_endpoint_url=url, settings=FAST),
            "gcp": GcpProvider(credentials=AnonymousCredentials(), api_endpoint=url, settings=FAST),
            "azure": AzureRetailProvider(endpoint=url, settings=FAST)}
    try:
        qs = get_quotes(gpus="h100", offline=True, cache_dir=tmp_path, now=NOW, live_providers=live)
        monkeypatch.setenv("PHANTOM_OFFLINE", "1")
        qs_env = get_quotes(gpus="h100", offline=False, cache_dir=tmp_path, now=NOW, live_providers=live)
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody knocked
    finally:
        trap.close()
    for result in (qs, qs_env):
        assert {"aws", "gcp", "azure"} <= {q.provider for q in result.quotes}
        assert {q.source for q in result.quotes} == {"snapshot"}
        assert any(w.startswith("offline") for w in result.warnings)


def test_missing_credentials_fall_back_quietly_with_one_warning(no_cloud_credentials, tmp_path):
    # default providers: real credential chains, which find nothing (and probe no metadata server)
    qs = get_quotes(gpus="H100-SXM", providers=["aws", "gcp"], cache_dir=tmp_path, now=NOW)
    assert {q.source for q in qs.quotes} == {"snapshot"}
    assert len([w for w in qs.warnings if w.startswith("aws:")]) == 1
    assert len([w for w in qs.warnings if w.startswith("gcp:")]) == 1
    assert all("credentials" in w for w in qs.warnings)


def test_cache_corrupt_file_is_a_miss(tmp_path):
    cache = PriceCache(tmp_path)
    path = cache.write("aws", "spot", "k", [], now=NOW)
    path.write_text("{half")
    assert cache.read("aws", "spot", "k") is None


WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    from pathlib import Path
    from phantom_report.pricing.cache import PriceCache
    from phantom_report.pricing.quote import PriceQuote
    cache, me = PriceCache(Path(sys.argv[1])), int(sys.argv[2])
    now = datetime(2026, 11, 25, tzinfo=timezone.utc)
    for i in range(150):
        n = 1 + (i * 7 + me) % 40  # entries of varying size, so torn writes would show
        qs = [PriceQuote(provider="aws", region=f"r{j}", zone=None, instance_type="p5.48xlarge", gpu="H100-SXM",
                         gpu_count=8, vcpus=192.0, memory_gib=2048.0, on_demand_usd_per_hour=50.0 + me,
                         spot_usd_per_hour=None, fetched_at=now, source="live", source_detail="w%d" % me)
              for j in range(n)]
        cache.write("aws", "on_demand", "shared-key", qs, now=now)
        got = cache.read("aws", "on_demand", "shared-key")
        assert got is not None, "unreadable cache entry"
        prices = {q.on_demand_usd_per_hour for q in got.quotes}
        assert len(prices) == 1, "entry mixes two writers"
    print("ok")
""")


def test_two_processes_share_the_cache_safely(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "cache"), str(me)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for me in (1, 2)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0 and out.strip() == "ok", err
    files = list((tmp_path / "cache").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["version"] == 1
    assert not list((tmp_path / "cache").glob("*.tmp"))


def test_cache_dir_from_environment(monkeypatch, tmp_path, serve):
    monkeypatch.setenv("PHANTOM_CACHE_DIR", str(tmp_path / "envcache"))
    srv = serve(retail_route)
    get_quotes(gpus="H100-SXM", providers=["azure"], now=NOW, live_providers=azure(srv))
    assert list((tmp_path / "envcache").glob("azure-*.json"))


def test_failed_live_fetch_is_remembered_for_a_few_minutes(serve, tmp_path):
    """A down provider costs one wait, not one per run: the failure is cached (5 min by default)."""
    down = serve(lambda req, s: (503, {"error": "down"}))
    kw = dict(gpus="H100-SXM", providers=["azure"], cache_dir=tmp_path, live_providers=azure(down))
    first = get_quotes(now=NOW, **kw)
    asked = len(down.requests)
    assert asked > 0 and {q.source for q in first.quotes} == {"snapshot"}
    assert any("live prices unavailable" in w for w in first.warnings)
    again = get_quotes(now=NOW + timedelta(minutes=2), **kw)
    assert len(down.requests) == asked  # not asked again
    assert {q.source for q in again.quotes} == {"snapshot"}
    assert any(w.startswith("azure: live prices failed 120 s ago") and "not retried for another 180 s" in w
               for w in again.warnings)
    get_quotes(now=NOW + timedelta(minutes=6), **kw)
    assert len(down.requests) > asked  # the failure has expired: live is tried again
    up = serve(retail_route)
    back = get_quotes(now=NOW + timedelta(minutes=7), **{**kw, "live_providers": azure(up)})
    assert len(up.requests) == 0 and {q.source for q in back.quotes} == {"snapshot"}  # failed at +6 min
    later = get_quotes(now=NOW + timedelta(minutes=12), **{**kw, "live_providers": azure(up)})
    assert {q.source for q in later.quotes} == {"live"}


def test_missing_credentials_are_not_remembered_as_a_failure(no_cloud_credentials, tmp_path):
    get_quotes(gpus="H100-SXM", providers=["aws"], cache_dir=tmp_path, now=NOW)
    assert not list(tmp_path.glob("*-live-failure.json"))
