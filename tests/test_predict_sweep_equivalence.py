"""The vectorised sweep (`predict_grid`) and the single-point path (`Engine.predict`) give the same
predictions, intervals and flags on random points across GPUs, models, precisions, tasks and sizes."""

import math

import numpy as np
import pandas as pd

PRECISIONS = ("fp32", "tf32", "fp16", "bf16", "amp", "fp8", "int8", "int4", "awq")
RUNTIMES = ("pytorch", "vllm", "tensorrt-llm", "tensorrt", "llamacpp", "tinygrad", "onnxruntime")
TASKS = ("inference", "inference", "training")


def random_points(engine, n: int, seed: int = 0) -> pd.DataFrame:
    """n random prediction points: every zoo model, every GPU profile, mixed sizes and options."""
    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    seq_in = rng.choice([np.nan, 1, 64, 128, 512, 2048, 8192, 32768, 224, 384], n)
    gpu_count = rng.choice([1, 1, 2, 4, 8, 16], n)
    return pd.DataFrame({
        "model": pick([w.name for w in engine.models()]),
        "gpu": pick(list(engine.catalog.names)),
        "precision": pick(PRECISIONS),
        "batch_size": rng.choice([1, 2, 3, 8, 16, 64, 256, 1024, 4096], n),
        "seq_in": seq_in,
        "seq_out": rng.choice([np.nan, 0, 1, 16, 128, 1024], n),
        "task": pick(TASKS),
        "runtime": pick(RUNTIMES),
        "gpu_count": gpu_count,
        "tensor_parallel": np.minimum(rng.choice([0, 0, 0, 1, 2, 4], n), gpu_count),
        "strict_precision": rng.random(n) < 0.2,
        "confidence": rng.choice([0.5, 0.8, 0.9, 0.95], n),
        "max_batch": rng.random(n) < 0.15,
        "kv_precision": pick(["", "", "fp8", "int8", "fp16"]),
    })


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return a == b


def test_sweep_matches_single_point_predictions(engine):
    points = random_points(engine, 2000)
    sweep = engine.predict_grid(points)
    assert len(sweep) == len(points)
    # the random grid reaches every branch the comparison is meant to cover
    assert sweep.supported.sum() > 1000 and (~sweep.supported).any()
    assert sweep.extrapolation.any() and (~sweep.extrapolation[sweep.supported]).any()
    assert (~sweep.fits).any() and (sweep.task == "training").any() and sweep.ttft_ms.notna().any()
    assert sweep.novelty.nunique() > 1
    _assert_single_points_equal(engine, points, sweep)


def llm_points(engine, n: int, seed: int = 1) -> pd.DataFrame:
    """n random points of an LLM serving grid (benchmarks/speed/bench_predict.py's second grid):
    decoder models, prefill + decode (seq_in x seq_out), serving runtimes, KV-cache formats."""
    rng = np.random.default_rng(seed)
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    return pd.DataFrame({
        "model": pick([w.name for w in engine.models() if w.generative]),
        "gpu": pick(list(engine.catalog.names)),
        "precision": pick(("fp16", "bf16", "fp8", "int8", "int4", "awq")),
        "batch_size": rng.choice([1, 8, 32, 128, 512], n),
        "seq_in": rng.choice([128, 1024, 4096, 32768], n).astype(float),
        "seq_out": rng.choice([1, 32, 256, 1024], n).astype(float),
        "runtime": pick(("vllm", "tensorrt-llm", "pytorch", "sglang")),
        "gpu_count": rng.choice([1, 2, 8], n),
        "kv_precision": pick(["", "fp8", "int8"]),
        "max_batch": rng.random(n) < 0.2,
    })


def test_llm_prefill_decode_grid_matches_single_point_predictions(engine):
    points = llm_points(engine, 1500)
    sweep = engine.predict_grid(points)
    assert sweep.supported.sum() > 800 and sweep.ttft_ms.notna().sum() > 800 and sweep.tpot_ms.notna().any()
    assert (~sweep.fits).any() and (sweep.fit_hint != "").any() and (sweep.tensor_parallel > 1).any()
    assert sweep.model.str.startswith("mixtral").any()  # mixture-of-experts banks
    _assert_single_points_equal(engine, points, sweep)


def _assert_single_points_equal(engine, points: pd.DataFrame, sweep: pd.DataFrame) -> None:
    """Every row of `sweep` equals `Engine.predict` of the same point (floats to 1e-9 relative), on an
    engine of its own: the grid's memoised coefficients and support flags are not reused."""
    engine = type(engine)(engine.catalog, engine.params, engine.extra_workloads)
    compared = 0
    for i, row in enumerate(points.to_dict(orient="records")):
        args = {k: v for k, v in row.items() if k not in ("model", "gpu", "precision", "batch_size")}
        one = engine.predict(row["model"], row["gpu"], row["precision"], row["batch_size"], **args)
        expected = sweep.iloc[i]
        assert set(one) == set(sweep.columns)
        for col in sweep.columns:
            assert _same(one[col], expected[col]), (i, col, one[col], expected[col])
        compared += 1
    assert compared == len(points)


def test_grid_in_model_order_matches_single_point_predictions(engine):
    """A grid in product order (each model's points consecutive, as a sweep's chunks are) with a
    few unsupported points among them is predicted in consecutive blocks that compute those too and
    clear them after: every row still equals the single-point path, unsupported rows included."""
    points = random_points(engine, 3000, seed=5)
    supported = engine.predict_grid(points).supported.to_numpy()
    few_unsupported = points[~supported].groupby("model").head(2)  # a few percent of each model's points
    points = pd.concat([points[supported], few_unsupported]).sample(frac=1.0, random_state=0)
    points = points.sort_values("model", kind="stable", ignore_index=True)
    sweep = engine.predict_grid(points)
    share = sweep.groupby("model").supported.mean()
    assert ((share >= 0.95) & (share < 1.0)).sum() >= 5
    unsupported = sweep[~sweep.supported]
    assert unsupported.latency_ms.isna().all() and unsupported.fits.all() and (unsupported.bound == "").all()
    # every row equals the same points predicted in shuffled order (gathered, not sliced, blocks: the
    # path test_sweep_matches_single_point_predictions holds to the single-point one), and the
    # unsupported rows plus a sample of the others equal the single-point path directly
    perm = np.random.default_rng(1).permutation(len(points))
    gathered = engine.predict_grid(points.iloc[perm].reset_index(drop=True)).iloc[np.argsort(perm)]
    assert (perm[gathered.index.to_numpy()] == np.arange(len(points))).all()  # back in the original order
    for col in sweep.columns:
        assert all(_same(a, b) for a, b in zip(sweep[col].tolist(), gathered[col].tolist())), col
    chosen = np.union1d(np.flatnonzero(~sweep.supported.to_numpy()),
                        np.random.default_rng(2).choice(len(points), 300, replace=False))
    _assert_single_points_equal(engine, points.iloc[chosen], sweep.iloc[chosen])


def test_llamacpp_fp16_on_geforce_matches_single_point_predictions(engine):
    """llama.cpp fp16 rows run their matmuls at the fp16_acc16 peak on GeForce cards (engine/executed.py):
    the sweep's per-block executed columns agree with the single-point path, beside rows of the same
    GPUs on other runtimes / precisions and GPUs without the column."""
    rng = np.random.default_rng(7)
    gpus = ["RTX-3090", "RTX-4090", "RTX-5090", "RTX-3080-Ti", "A100-80GB-SXM", "V100-SXM2-16GB", "MI300X"]
    n = 240
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    points = pd.DataFrame({
        "model": pick(["llama-2-7b", "llama-3.1-8b", "mistral-7b"]),
        "gpu": pick(gpus),
        "precision": pick(["fp16", "fp16", "q4_k_m", "bf16"]),
        "batch_size": rng.choice([1, 4, 32], n),
        "seq_in": rng.choice([1, 128, 512, 2048], n).astype(float),
        "seq_out": rng.choice([0, 1, 128], n).astype(float),
        "runtime": pick(["llamacpp", "llamacpp", "ollama", "pytorch", "vllm"]),
        "strict_precision": rng.random(n) < 0.2,
    })
    sweep = engine.predict_grid(points)
    acc16 = (points.runtime.isin(["llamacpp", "ollama"]) & (points.precision == "fp16")
             & points.gpu.str.startswith("RTX-") & ~points.strict_precision)
    assert acc16.sum() > 20 and sweep.supported[acc16].all()
    _assert_single_points_equal(engine, points, sweep)


def test_single_point_result_has_sweep_types(engine):
    one = engine.predict("llama-3.1-8b", "H100-SXM", "fp16", 8, seq_in=512, seq_out=128)
    row = engine.predict_grid(pd.DataFrame([{"model": "llama-3.1-8b", "gpu": "H100-SXM", "precision": "fp16",
                                             "batch_size": 8, "seq_in": 512, "seq_out": 128}])).iloc[0]
    assert list(one) == list(row.index)
    for col in ("supported", "fits", "extrapolation"):
        assert bool(one[col]) == bool(row[col])
    assert type(one["latency_ms"]) is float and type(one["batch_size"]) is int and type(one["fits"]) is bool
    assert one["latency_ms"] == row["latency_ms"] and one["tensor_parallel"] == row["tensor_parallel"]


def test_refused_values_read_as_written_on_both_paths(engine):
    import pytest

    from phantom_report.errors import PredictionError

    for call in (lambda: engine.predict("llama-3.1-8b", "H100", "fp16", 0),
                 lambda: engine.predict_grid(pd.DataFrame([{"model": "llama-3.1-8b", "gpu": "H100",
                                                            "precision": "fp16", "batch_size": 0}]))):
        with pytest.raises(PredictionError, match=r"batch_size must be a positive integer up to 65,536, got 0$"):
            call()


def test_missing_cells_read_alike_with_and_without_pandas():
    """The single-point path tells missing cells apart without loading pandas (`_is_missing`); on
    every kind of cell that can exist while pandas is not loaded it agrees with `pandas.isna`."""
    from decimal import Decimal

    from phantom_report.engine.points import _is_missing

    cells = [None, float("nan"), np.float32("nan"), np.float64(1.5), complex("nan"), 0.0, 0, 7, True, False, "",
             "x", "nan", np.datetime64("NaT"), np.timedelta64("NaT"), np.datetime64("2026-01-01"),
             Decimal("NaN"), Decimal("1.5"), (), [1]]
    want = pd.isna(np.array(cells + [0], dtype=object)[:-1]).tolist()
    assert [_is_missing(c) for c in cells] == want


def test_vectorised_fit_hints_equal_fit_hint():
    """The grid's fit hints (`_fit_hints`, on arrays) are `fit_hint`'s texts, point by point, including
    memory figures on the rounding half-way points (x.x5 GB) where numpy's and Python's round differ."""
    from phantom_report.engine.precision import VOCAB_EXTRA_BYTES, WEIGHT_BYTES
    from phantom_report.engine.predict import _fit_hints, _NotFitting, fit_hint

    rng = np.random.default_rng(3)
    n = 6000
    precisions = np.array(["fp32", "fp16", "bf16", "fp8", "int8", "int4"], dtype=object)[rng.integers(0, 6, n)]
    mem = rng.uniform(1.0, 400.0, n)
    mem[::3] = np.round(mem[::3] * 20) / 20  # x.x5: half-way for round(., 1)
    weights = mem * rng.uniform(0.05, 0.95, n)
    weights[1::3] = np.round(weights[1::3] * 200) / 200  # half-way for round(., 2)
    have = rng.choice([14.6, 22.5, 39.4, 79.2, 139.8], n)
    batch = rng.choice([1, 2, 3, 8, 64, 1024], n).astype(float)
    tp = rng.choice([1, 2, 4, 8], n).astype(float)
    task = np.array(["inference", "training"], dtype=object)[(rng.random(n) < 0.2).astype(int)]
    fp8 = rng.random(n) < 0.5
    weight_bytes = np.array([WEIGHT_BYTES[p] for p in precisions])
    vocab_extra = np.array([VOCAB_EXTRA_BYTES[p] for p in precisions])
    share = rng.choice([0.0, 0.015, 0.03, 0.2], n)  # vocabulary matrices' share of the parameters
    got = _fit_hints(_NotFitting(need_gb=mem, weights_gb=weights, have_gb=have, tp=tp, batch=batch,
                                 weight_bytes=weight_bytes, vocab_extra_bytes=vocab_extra, vocab_share=share,
                                 has_fp8=fp8, inference=task == "inference")).tolist()
    want = [fit_hint(round(m, 1), h, round(w, 2), p, int(b), int(t), k, bool(f), s)
            for m, h, w, p, b, t, k, f, s in zip(mem.tolist(), have.tolist(), weights.tolist(), precisions.tolist(),
                                                  batch.tolist(), tp.tolist(), task.tolist(), fp8.tolist(),
                                                  share.tolist())]
    assert got == want
    text = " ".join(want)  # every kind of idea was tried
    for idea in ("tensor parallel over", "fp8 weights", "int8 weights", "int4 weights", "batch ", "multi-node"):
        assert idea in text, idea


def test_points_not_predicted_carry_no_numbers(engine):
    """Unsupported points (here: fp8 on a T4, which has no fp8 path) have NaN for every number, fit,
    and no bound or hint, whether the grid has no supported point at all, some, or one point."""
    numbers = ["latency_ms", "latency_ms_low", "latency_ms_high", "throughput_per_s", "tokens_per_s_high", "ttft_ms",
               "tpot_ms_low", "memory_gb", "power_w", "energy_j_per_sample", "tensor_parallel", "batch_used",
               "flops_per_sample", "params_total", "params_active"]
    fp8_on_t4 = {"model": "llama-3.1-8b", "gpu": "T4", "precision": "fp8", "batch_size": 8, "seq_in": 512,
                 "seq_out": 64}
    supported = {**fp8_on_t4, "precision": "fp16"}
    for rows in ([fp8_on_t4] * 3, [supported, fp8_on_t4, supported]):
        grid = engine.predict_grid(pd.DataFrame(rows))
        off = grid[~grid.supported]
        assert len(off) and off[numbers].isna().all().all()
        assert off.fits.all() and (off.bound == "").all() and (off.fit_hint == "").all()
        assert grid[grid.supported][["latency_ms", "latency_ms_low", "memory_gb"]].notna().all().all()
    one = engine.predict(**fp8_on_t4)
    assert not one["supported"] and all(math.isnan(one[c]) for c in numbers) and one["fits"] and one["bound"] == ""


def test_point_predictions_without_intervals_are_the_same_numbers(engine):
    # calibration asks for point predictions only (intervals=False): everything but the bounds must
    # be the same, and the bounds NaN rather than whatever the unwritten arrays held
    points = random_points(engine, 1500, seed=3)
    full, bare = engine.predict_grid(points), engine.predict_grid(points, intervals=False)
    bounds = [c for c in full.columns if c.endswith(("_low", "_high"))]
    assert len(bounds) == 10 and full[bounds].notna().any().all()
    pd.testing.assert_frame_equal(bare.drop(columns=bounds), full.drop(columns=bounds), check_exact=True)
    assert bare[bounds].isna().all().all()
