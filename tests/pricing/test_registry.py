"""The cloud registry (pricing/clouds): one module per cloud, GPU tables as CSV with a source per row,
and a cloud added through the registry alone flowing through the price chain, the snapshot and the
sanity rules (docs/ARCHITECTURE.md, "Where do I add ... a cloud", followed once here)."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from phantom_report import vocab
from phantom_report.errors import PricingError
from phantom_report.pricing import catalog
from phantom_report.pricing.clouds import Cloud, Clouds, default_clouds
from phantom_report.pricing.clouds.base import file_gpu_table, parse_gpu_table
from phantom_report.pricing.quote import PriceQuote
from phantom_report.pricing.sanity import apply_sanity, expected_gpu_count
from phantom_report.pricing.snapshot import SnapshotFile, snapshot_as_of, snapshot_quotes

CLOUDS_DIR = Path(__file__).resolve().parents[2] / "pricing" / "clouds"
DATA_DIR = Path(__file__).resolve().parents[2] / "pricing" / "data"
NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
AS_OF = datetime(2026, 2, 1, tzinfo=timezone.utc)


# -- the package's clouds ---------------------------------------------------------------------

def test_one_module_per_shared_cloud_name():
    modules = {p.stem for p in CLOUDS_DIR.glob("*.py")} - {"__init__", "base"}
    assert modules == set(vocab.PROVIDERS)
    assert default_clouds().names == vocab.PROVIDERS
    assert all(c.name == name for c, name in zip(default_clouds(), vocab.PROVIDERS))


@pytest.mark.parametrize("name", vocab.PROVIDERS)
def test_every_cloud_has_a_csv_table_whose_every_row_has_a_source(name):
    cloud = default_clouds().get(name)
    assert cloud.gpu_table, f"{name}: empty GPU table"
    # the table is the CSV in pricing/data/, row for row (nothing added in code)
    tables = [p for p in DATA_DIR.glob(f"{name}_*.csv")
              if next(csv.reader(p.open(encoding="utf-8")))[0] == cloud.table_key]
    assert len(tables) == 1, tables
    with tables[0].open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r[cloud.table_key] for r in rows] == list(cloud.gpu_table)
    for r in rows:
        assert r["source"].strip() and ("http" in r["source"] or "@" in r["source"]), r
    # and data/README.md names the file
    assert tables[0].name in (DATA_DIR / "README.md").read_text(encoding="utf-8")


def test_instance_keyed_tables_give_the_counts_sanity_enforces():
    aws, lam = default_clouds().get("aws"), default_clouds().get("lambda")
    assert aws.expected_gpu_count("p5.48xlarge") == 8 and aws.expected_gpu_count("g6.xlarge") == 1
    assert aws.expected_gpu_count("m5.large") is None
    assert lam.table_key == "accelerator" and lam.expected_gpu_count("gpu_8x_h100_sxm5") is None
    assert default_clouds().live_names == ("aws", "gcp", "azure")


@pytest.mark.parametrize("text, message", [
    ("instance_type,gpu,gpu_count\nx.1,L4,1\n", "missing column 'source'"),
    ("instance_type,gpu,gpu_count,source\nx.1,L4,1,\n", "line 2: source is empty"),
    ("instance_type,gpu,gpu_count,source\nx.1,L5,1,https://example.com\n", "line 2: gpu 'L5' is not a canonical"),
    ("instance_type,gpu,gpu_count,source\nx.1,L4,0,https://example.com\n", "line 2: gpu_count '0'"),
    ("instance_type,gpu,gpu_count,source\nx.1,L4,1,https://a\nx.1,L4,2,https://b\n", "line 3: instance_type 'x.1' is repeated"),
])
def test_a_bad_gpu_table_is_one_clear_error(text, message):
    with pytest.raises(PricingError, match=message) as err:
        parse_gpu_table(text, "acme.csv", "instance_type")
    assert str(err.value).startswith("acme.csv")


def test_registry_rejects_a_cloud_twice_and_names_the_known_ones():
    aws = default_clouds().get("aws")
    with pytest.raises(PricingError, match="registered twice"):
        default_clouds().with_cloud(aws)
    with pytest.raises(PricingError, match="unknown provider 'acme'; expected one of aws, gcp, azure, lambda, runpod"):
        default_clouds().get("acme")


# -- a cloud added through the registry: one module object + one CSV --------------------------

def _acme(tmp_path: Path, live_quotes: list[PriceQuote] | None = None) -> Cloud:
    """What a new cloud module holds: its GPU table CSV, a snapshot reader and (optionally) a live
    fetcher; written here against tmp_path instead of pricing/data/."""
    table = tmp_path / "acme_instances.csv"
    table.write_text("instance_type,gpu,gpu_count,source\n"
                     "acme.h100x8,H100-SXM,8,https://acme.example/instances#h100\n"
                     "acme.l4x1,L4,1,https://acme.example/instances#l4\n", encoding="utf-8")
    snap = tmp_path / "acme_snapshot.csv"
    snap.write_text("InstanceType,Region,AcceleratorCount,Price,SpotPrice\n"
                    "acme.h100x8,north-1,4,24.0,12.0\n"       # the catalog miscounts the GPUs
                    "acme.h100x8,south-1,8,26.0,\n"
                    "acme.l4x1,north-1,1,0.9,0.9\n"           # spot == on-demand: no spot market
                    "acme.x99,north-1,1,1.0,\n", encoding="utf-8")  # not in the table: skipped
    gpu_table = file_gpu_table(table, "instance_type")
    snapshot = SnapshotFile(snap.name, "acme price sheet (test)", AS_OF, "stated by the test")

    def read_snapshot() -> list[PriceQuote]:
        with snap.open(encoding="utf-8") as f:
            return [PriceQuote(provider="acme", region=r["Region"], zone=None, instance_type=r["InstanceType"],
                               gpu=gpu_table[r["InstanceType"]].gpu, gpu_count=int(r["AcceleratorCount"]),
                               vcpus=None, memory_gib=None, on_demand_usd_per_hour=float(r["Price"]),
                               spot_usd_per_hour=float(r["SpotPrice"]) if r["SpotPrice"] else None,
                               fetched_at=AS_OF, source="snapshot", source_detail=f"snapshot {snap.name}")
                    for r in csv.DictReader(f) if r["InstanceType"] in gpu_table]

    class AcmeLive:
        name = "acme"

        def fetch(self, kinds, gpus, regions, now):
            return [q for q in live_quotes or [] if gpus is None or q.gpu in gpus]

    return Cloud(name="acme", title="Acme", gpu_table=gpu_table, table_key="instance_type",
                 read_snapshot=read_snapshot, snapshot_as_of=lambda: snapshot,
                 live=(lambda settings: AcmeLive()) if live_quotes is not None else None,
                 commitment_kind="Acme commitment", pue=1.2, pue_source="acme sustainability report")


def test_a_new_cloud_flows_through_snapshot_sanity_and_get_quotes(tmp_path):
    clouds = default_clouds().with_cloud(_acme(tmp_path))
    assert isinstance(clouds, Clouds) and "acme" not in default_clouds()  # the package's list is untouched

    raw = snapshot_quotes(("acme",), clouds)
    assert [(q.region, q.instance_type, q.gpu_count) for q in raw] == [
        ("north-1", "acme.h100x8", 4), ("south-1", "acme.h100x8", 8), ("north-1", "acme.l4x1", 1)]
    assert snapshot_as_of("acme", clouds).as_of == AS_OF
    assert expected_gpu_count("acme", "acme.h100x8", clouds) == 8
    assert expected_gpu_count("acme", "acme.h100x8") is None  # the default registry does not know it

    checked, dropped = apply_sanity(raw, clouds=clouds)
    assert not dropped
    fixed = next(q for q in checked if q.region == "north-1" and q.gpu == "H100-SXM")
    assert fixed.gpu_count == 8 and any("source says 4 GPUs but acme.h100x8 has 8" in w for w in fixed.warnings)
    l4 = next(q for q in checked if q.gpu == "L4")
    assert l4.spot_usd_per_hour is None and any("spot == on-demand" in w for w in l4.warnings)

    qs = catalog.get_quotes(gpus="h100", providers=["acme"], offline=True, use_cache=False, now=NOW, clouds=clouds)
    assert {(q.provider, q.region, q.gpu, q.gpu_count, q.source) for q in qs.quotes} == {
        ("acme", "north-1", "H100-SXM", 8, "snapshot"), ("acme", "south-1", "H100-SXM", 8, "snapshot")}
    assert qs.quotes[0].on_demand_usd_per_gpu_hour == pytest.approx(24.0 / 8)  # cheapest per GPU first
    assert any("snapshot price as of 2026-02-01 (28 days old; stated by the test)" in w for w in qs.quotes[0].warnings)
    assert any("embedded snapshot prices (as of 2026-02-01" in w for w in qs.warnings)

    with pytest.raises(PricingError, match="unknown provider 'acme'"):
        catalog.get_quotes(providers=["acme"], offline=True, use_cache=False, now=NOW)


def test_a_new_cloud_with_a_live_fetcher_is_asked_live_and_falls_back_to_its_snapshot(tmp_path, monkeypatch):
    monkeypatch.delenv("PHANTOM_OFFLINE", raising=False)
    live_q = PriceQuote(provider="acme", region="north-1", zone=None, instance_type="acme.l4x1", gpu="L4", gpu_count=1,
                        vcpus=None, memory_gib=None, on_demand_usd_per_hour=0.8, spot_usd_per_hour=0.3,
                        fetched_at=NOW, source="live", source_detail="acme price API")
    clouds = default_clouds().with_cloud(_acme(tmp_path, live_quotes=[live_q]))
    assert clouds.live_names[-1] == "acme"

    qs = catalog.get_quotes(gpus="l4", providers=["acme"], now=NOW, clouds=clouds, cache_dir=tmp_path / "cache")
    assert [(q.source, q.on_demand_usd_per_hour, q.spot_usd_per_hour) for q in qs.quotes] == [("live", 0.8, 0.3)]
    # a second run within the TTL is served from the cache the first one wrote
    again = catalog.get_quotes(gpus="l4", providers=["acme"], now=NOW + timedelta(minutes=5), clouds=clouds,
                               cache_dir=tmp_path / "cache")
    assert [q.source for q in again.quotes] == ["cache"]
    # a live fetch with no L4 row fills the GPU from the cloud's snapshot, saying so
    empty = default_clouds().with_cloud(_acme(tmp_path, live_quotes=[]))
    filled = catalog.get_quotes(gpus="l4", providers=["acme"], now=NOW, clouds=empty, use_cache=False)
    assert [q.source for q in filled.quotes] == ["snapshot"]
    assert any("acme: live on-demand prices had no rows for L4" in w for w in filled.warnings)


def test_the_report_accepts_exactly_the_registered_clouds():
    from pydantic import ValidationError

    from phantom_report.reporter import carbon, commitments, spec

    for name in default_clouds().names:
        assert spec.Pricing(providers=[name]).providers == [name]
    with pytest.raises(ValidationError):
        spec.Pricing(providers=["acme"])
    # per-cloud report facts come from the cloud modules
    assert carbon.PUE_BY_PROVIDER == {c.name: c.pue for c in default_clouds() if c.pue is not None}
    assert commitments.COMMITMENT_KIND == {c.name: c.commitment_kind for c in default_clouds() if c.commitment_kind}
    assert carbon.pue("runpod") == carbon.PUE_DEFAULT


@pytest.mark.parametrize("name", ["", "Acme", "1cloud", "acme cloud", "acme/../x"])
def test_a_cloud_name_is_the_form_quotes_accept(name, tmp_path):
    with pytest.raises(PricingError, match="cloud name"):
        Cloud(name=name, title="x", gpu_table={}, table_key="instance_type",
              read_snapshot=lambda: [], snapshot_as_of=lambda: None)


def test_a_cache_entry_holding_another_clouds_rows_is_a_miss(tmp_path):
    # PriceQuote accepts any well-formed cloud name now, so the cache checks whose rows it holds
    from phantom_report.pricing.cache import PriceCache
    cache = PriceCache(tmp_path)
    q = PriceQuote(provider="gcp", region="r", zone=None, instance_type="a2-highgpu-1g", gpu="A100-40GB-SXM",
                   gpu_count=1, vcpus=None, memory_gib=None, on_demand_usd_per_hour=3.0, spot_usd_per_hour=None,
                   fetched_at=NOW, source="live")
    cache.write("aws", "on_demand", "k", [q], now=NOW)
    assert cache.read("aws", "on_demand", "k") is None
    cache.write("gcp", "on_demand", "k", [q], now=NOW)
    assert [x.instance_type for x in cache.read("gcp", "on_demand", "k").quotes] == ["a2-highgpu-1g"]
