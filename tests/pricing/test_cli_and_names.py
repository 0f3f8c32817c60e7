"""`phantom-report prices` end to end (offline), the GPU alias rule, and the PriceQuote contract."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from phantom_report.errors import PricingError
from phantom_report.pricing.gpu_names import CANONICAL_GPUS, resolve_gpu
from phantom_report.pricing.quote import PriceQuote

from .conftest import NOW

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_cli(cli_in_process, tmp_path):
    """`phantom-report prices ARGS` through `main` in this process (exit code, stdout, stderr as a
    process gives them; conftest's `cli` runs the real entry point where that matters)."""
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {"PHANTOM_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "240", "PHANTOM_OFFLINE": None}
        return cli_in_process("prices", *args, env=env)

    return run


def test_acceptance_h100_offline_table(run_cli):
    r = run_cli("--gpu", "h100", "--offline")
    assert r.returncode == 0, r.stderr
    for provider in ("aws", "gcp", "azure"):
        assert re.search(rf"│ {provider}\s", r.stdout), provider
    assert "$/GPU-h" in r.stdout and "snapshot" in r.stdout and re.search(r"\d+ d ", r.stdout)
    assert "offline: using embedded snapshot prices" in r.stderr


def test_json_is_cheapest_first_with_age_and_source(run_cli):
    r = run_cli("--gpu", "H100", "--offline", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rows = doc["quotes"]
    prices = [q["on_demand_usd_per_gpu_hour"] for q in rows if q["on_demand_usd_per_gpu_hour"] is not None]
    assert prices == sorted(prices) and all(p > 0 for p in prices)
    assert {"aws", "gcp", "azure"} <= {q["provider"] for q in rows}
    assert all(q["source"] == "snapshot" and q["age_hours"] > 24 * 200 for q in rows)
    assert {q["gpu"] for q in rows} <= {"H100-SXM", "H100-PCIe", "H100-NVL"}


def test_csv_spot_provider_region_filters(run_cli):
    r = run_cli("-g", "l40s", "-p", "aws", "-r", "us-east-1", "--spot", "--offline", "-f", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and {x["provider"] for x in rows} == {"aws"} and {x["region"] for x in rows} == {"us-east-1"}
    spot = [float(x["spot_usd_per_gpu_hour"]) for x in rows]
    assert spot == sorted(spot)


@pytest.mark.parametrize("args", [["--gpu", "nope"], ["--provider", "oracle"], ["--format", "xml"]])
def test_user_errors_exit_2_with_one_line(run_cli, args):
    r = run_cli(*args, "--offline")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0


def test_alias_rule():
    assert resolve_gpu("h100") == ("H100-SXM", "H100-PCIe", "H100-NVL")
    assert resolve_gpu("H100 sxm") == ("H100-SXM",)
    assert resolve_gpu("a10") == ("A10",)               # exact name beats the A100 family
    assert set(resolve_gpu("A100")) == {"A100-40GB-SXM", "A100-80GB-SXM", "A100-80GB-PCIe"}
    assert resolve_gpu("rtx_4090") == ("RTX-4090",)
    assert resolve_gpu("a6000") == ("RTX-A6000",)
    with pytest.raises(PricingError):
        resolve_gpu("h900")


def test_canonical_names_match_interfaces_doc():
    doc = (REPO / "docs" / "INTERFACES.md").read_text()
    section = doc.split("## Canonical GPU names", 1)[1].split("##", 1)[0]
    names = [n.strip().rstrip(".") for n in section.split("\n", 2)[2].replace("\n", " ").split(",") if n.strip()]
    assert tuple(names) == CANONICAL_GPUS


def test_price_quote_contract():
    q = PriceQuote(provider="aws", region="us-east-1", zone="use1-az4", instance_type="p5.48xlarge", gpu="H100-SXM",
                   gpu_count=8, vcpus=192.0, memory_gib=2048.0, on_demand_usd_per_hour=55.04, spot_usd_per_hour=16.0,
                   reserved_usd_per_hour={"1y": 38.5}, fetched_at=NOW, source="live", source_detail="x")
    assert q.on_demand_usd_per_gpu_hour == pytest.approx(6.88) and q.spot_usd_per_gpu_hour == 2.0
    assert q.reserved_usd_per_gpu_hour("1y") == pytest.approx(38.5 / 8) and q.reserved_usd_per_gpu_hour("3y") is None
    assert q.age_hours(NOW) == 0 and q.currency == "USD" and q.warnings == ()
    assert PriceQuote.from_dict(json.loads(json.dumps(q.to_dict()))) == q
    with pytest.raises(Exception):
        q.gpu_count = 4  # frozen
    import pickle
    assert pickle.loads(pickle.dumps(q)) == q


def test_frame_columns(tmp_path):
    from phantom_report.pricing.catalog import FRAME_COLUMNS, get_quotes, quotes_to_frame
    qs = get_quotes(gpus="H100-SXM", providers=["aws"], offline=True, cache_dir=tmp_path, now=NOW)
    df = quotes_to_frame(qs, now=NOW)
    assert tuple(df.columns) == FRAME_COLUMNS and len(df) == len(qs.quotes)
    assert (df["on_demand_usd_per_gpu_hour"].dropna() > 0).all() and (df["age_hours"] > 0).all()


def test_pricing_never_imports_engine_or_reporter():
    code = ("import sys, phantom_report.pricing.catalog, phantom_report.pricing.providers.aws, "
            "phantom_report.pricing.providers.gcp, phantom_report.pricing.providers.azure_retail, "
            "phantom_report.pricing.providers.azure_spend, phantom_report.pricing.providers.aws_spend, "
            "phantom_report.pricing.providers.spend; "
            "bad = [m for m in sys.modules if m.startswith(('phantom_report.engine', 'phantom_report.reporter'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
