"""Chunked sweeps: chunking and Dask change nothing in the numbers; outputs are whole and bounded."""

from __future__ import annotations

import itertools
import json

import pandas as pd
import pytest

from phantom_report.engine import sweep as S
from phantom_report.engine.api import Engine
from phantom_report.errors import PhantomError

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load()


@pytest.fixture(scope="module")
def spec(engine) -> S.GridSpec:
    # 4 x 10 x 5 x 10 x 5 x 2 = 20,000 points: CNNs, encoders and LLMs, some unsupported precisions
    return S.GridSpec(models=("resnet-50", "bert-base", "llama-3.1-8b", "vit-b-16"),
                      gpus=tuple(engine.catalog.names[:10]), precisions=("fp16", "bf16", "fp8", "int8", "fp32"),
                      batch_sizes=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), seq_ins=(128, 512, 1024, 2048, 4096),
                      seq_outs=(None, 128))


def test_points_follow_itertools_product_order():
    spec = S.GridSpec(models=("a", "b"), gpus=("g1", "g2", "g3"), precisions=("fp16",), batch_sizes=(1, 8),
                      seq_ins=(None, 64), extra=(("runtime", "vllm"),))
    expected = list(itertools.product(spec.models, spec.gpus, spec.precisions, spec.batch_sizes, spec.seq_ins,
                                      spec.seq_outs))
    assert spec.n_points == len(expected) == 24
    got = spec.points(5, 17)
    assert got["point"].tolist() == list(range(5, 17))
    for row, exp in zip(got.itertuples(index=False), expected[5:17]):
        assert (row.model, row.gpu, row.precision, row.batch_size) == exp[:4]
        assert (pd.isna(row.seq_in) if exp[4] is None else row.seq_in == exp[4])
        assert row.runtime == "vllm"


def test_chunking_does_not_change_numbers(engine, spec, tmp_path):
    whole = S.predict_points(engine, spec, 0, spec.n_points)
    assert len(whole) == 20_000 and whole["supported"].sum() > 5_000 and (~whole["supported"]).sum() > 0
    chunked = pd.concat(list(S.iter_chunks(engine, spec, 3_000)), ignore_index=True)
    pd.testing.assert_frame_equal(chunked, whole)  # exact: same dtypes, same bits

    result = S.sweep_chunks(engine, spec, 3_000, out_dir=tmp_path / "out")
    assert (result.n_points, result.n_chunks) == (20_000, 7)
    assert result.n_supported == int(whole["supported"].sum())
    pd.testing.assert_frame_equal(result.best, S.best_per_group(whole))
    # the best row of a group really is its maximum
    grp = whole[whole.supported & whole.fits].groupby(list(S.GROUP_COLUMNS))["throughput_per_s"].max()
    assert result.best.set_index(list(S.GROUP_COLUMNS))["throughput_per_s"].sort_index().equals(grp.sort_index())
    back = S.read_parts(tmp_path / "out")
    pd.testing.assert_frame_equal(back, whole, check_dtype=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f"part-{i:05d}.csv" for i in range(7)] + ["best.csv", "sweep.json"])


def test_best_rows_break_ties_by_lowest_point(engine, spec):
    """The best row per group, found with and without the sweep's numeric pre-reduction (`within`),
    is the pandas ranking's: highest throughput, ties to the lowest point (throughputs rounded so
    that many rows tie)."""
    df = S.predict_points(engine, spec, 0, spec.n_points)
    df["throughput_per_s"] = df["throughput_per_s"].round(-2)
    ok = df[df["supported"] & df["fits"] & df["throughput_per_s"].notna()]
    ranked = ok.sort_values(["throughput_per_s", "point"], ascending=[False, True], kind="mergesort")
    want = ranked.drop_duplicates(list(S.GROUP_COLUMNS)).sort_values(list(S.GROUP_COLUMNS) + ["point"], kind="mergesort")
    want = want.reset_index(drop=True)
    assert ranked.duplicated(["model", "gpu", "precision", "throughput_per_s"]).sum() > 1000  # ties are there
    pd.testing.assert_frame_equal(S.best_per_group(df), want)
    pd.testing.assert_frame_equal(S.best_per_group(df, df["point"].to_numpy() // spec.group_stride), want)
    shuffled = df.sample(frac=1.0, random_state=0)  # rows out of point order: the general path
    pd.testing.assert_frame_equal(S.best_per_group(shuffled, shuffled["point"].to_numpy() // spec.group_stride), want)


def test_dask_cluster_gives_the_in_process_numbers(engine, spec, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = S.sweep_chunks(engine, spec, 3_000, out_dir=tmp_path / "local")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = S.sweep_dask(client, engine, spec, 3_000, out_dir=tmp_path / "dask", max_in_flight=3)
        assert len(client.nthreads()) == 2  # two worker processes, not this one
    assert (remote.n_points, remote.n_supported, remote.n_fits, remote.n_chunks) == (
        local.n_points, local.n_supported, local.n_fits, local.n_chunks)
    pd.testing.assert_frame_equal(remote.best, local.best)
    for i in range(local.n_chunks):  # every predicted row, byte for byte
        name = f"part-{i:05d}.csv"
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_bad_sweeps_are_refused_before_any_work(engine, tmp_path):
    with pytest.raises(PhantomError, match="axis gpu is empty"):
        S.GridSpec(models=("resnet-50",), gpus=())
    spec = S.GridSpec(models=("resnet-50",), gpus=("L4",))
    with pytest.raises(PhantomError, match="chunk_points"):
        S.sweep_chunks(engine, spec, 0)
    with pytest.raises(PhantomError, match="exceeds the limit"):
        S.GridSpec(models=("m",) * 1000, gpus=("g",) * 1000, batch_sizes=tuple(range(1, 1001)), seq_ins=(1, 2))
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(PhantomError, match="not empty"):
        S.sweep_chunks(engine, spec, 10, out_dir=tmp_path / "used")
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"


def test_cli_sweep_prints_the_best_rows_and_writes_every_row(cli_in_process, engine, tmp_path):
    r = cli_in_process("sweep", "--models", "resnet-50,llama-3.1-8b", "--gpus", "h100-sxm,l4", "--precisions", "fp16,fp8",
            "--batch-sizes", "1,8,64", "--seq-in", "512,2048", "--seq-out", "128", "--chunk-points", "7",
            "--out", str(tmp_path / "out"), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "48 points" in r.stderr and "7 chunks" in r.stderr
    best = pd.DataFrame(json.loads(r.stdout))
    assert len(best) == 8  # 2 models x 2 GPUs x 2 precisions
    rows = S.read_parts(tmp_path / "out")
    assert len(rows) == 48
    spec = S.GridSpec(models=("resnet-50", "llama-3.1-8b"), gpus=("H100-SXM", "L4"), precisions=("fp16", "fp8"),
                      batch_sizes=(1, 8, 64), seq_ins=(512, 2048), seq_outs=(128,),
                      extra=(("task", "inference"), ("runtime", "pytorch")))
    expected = S.best_per_group(S.predict_points(engine, spec, 0, spec.n_points))
    assert best["point"].tolist() == expected["point"].tolist()
    assert best["throughput_per_s"].tolist() == pytest.approx(expected["throughput_per_s"].tolist(), rel=1e-12)


@pytest.mark.parametrize("args, text", [
    (("--precisions", "fp99"), "unknown precision"),
    (("--batch-sizes", "1,x"), "--batch-sizes"),
    (("--seq-in", "0"), "--seq-in"),
    (("--chunk-points", "0"), "--chunk-points"),
    (("--dask", "tcp://127.0.0.1:9", "--dask-local", "2"), "one or the other"),
])
def test_cli_sweep_bad_input_is_one_line_exit_2(cli_in_process, args, text):
    r = cli_in_process("sweep", "--models", "resnet-50", "--gpus", "l4", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and text in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2
