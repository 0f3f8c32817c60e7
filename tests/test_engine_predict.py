"""Predictor behaviour: roofline bounds, ordering, memory fit, LLM phases, intervals, errors."""

import numpy as np
import pandas as pd
import pytest

from phantom_report.engine.executed import CONV_GROUP, MATMUL_GROUP, executed_column
from phantom_report.errors import PredictionError


def grid(engine, **kw):
    rows = [dict(zip(kw, vals)) for vals in zip(*kw.values())]
    return engine.predict_grid(pd.DataFrame(rows))


def test_no_prediction_beats_the_physical_roofline(engine):
    rows = [{"model": m, "gpu": g, "precision": p, "batch_size": b}
            for m in ("resnet-50", "bert-large", "llama-2-7b", "sd-1.5-unet")
            for g in ("T4", "A100-80GB-SXM", "H100-SXM", "RTX-4090")
            for p in ("fp16", "fp32") for b in (1, 64)]
    df = engine.predict_grid(pd.DataFrame(rows))
    df = df[df.supported]
    for r in df.itertuples():
        prof = engine.catalog.get(r.gpu)
        w = engine.workload(r.model)
        # the roofline of what the runtime executes: "fp32" convolutions run in TF32 on Ampere+ (PyTorch default)
        has = lambda c: prof.peak(c) is not None  # noqa: E731
        peak = max(prof.peak(executed_column(r.runtime, r.precision, grp, has)) for grp in (MATMUL_GROUP, CONV_GROUP)) * 1e12
        min_compute_s = r.flops_per_sample * r.batch_size / peak
        min_memory_s = w.params_total * (4 if r.precision == "fp32" else 2) / (prof.memory_bandwidth_gbps * 1e9)
        if w.generative:  # prefill alone must respect compute; each decode step must read the weights
            assert r.ttft_ms / 1e3 >= min_compute_s * 0.999
            assert r.tpot_ms / 1e3 >= min_memory_s * 0.999
        else:
            assert r.latency_ms / 1e3 >= max(min_compute_s, min_memory_s * 0.0) * 0.999


def test_newer_gpus_are_faster(engine):
    for model in ("resnet-50", "bert-base", "llama-3.1-8b"):
        for b in (1, 32):
            df = grid(engine, model=[model] * 3, gpu=["T4", "A100-80GB-SXM", "H100-SXM"], precision=["fp16"] * 3,
                      batch_size=[b] * 3)
            t4, a100, h100 = df.throughput_per_s
            if b == 1 and model != "llama-3.1-8b":
                # a small model at batch 1 can be bound by the host launching kernels, as fast on any
                # GPU (the corpus: DLE PyTorch ResNet-50 21.03, 12.96 ms on T4 and 12.78 ms on V100)
                assert h100 >= a100 >= t4, (model, b)
            else:
                assert h100 > a100 > t4, (model, b)


def test_throughput_grows_with_batch_and_latency_too(engine):
    df = grid(engine, model=["resnet-50"] * 4, gpu=["A100-80GB-SXM"] * 4, precision=["fp16"] * 4,
              batch_size=[1, 8, 64, 256])
    assert np.all(np.diff(df.throughput_per_s) > 0)
    # flat while kernel launches, not the GPU, set the pace (DLE PyTorch: 12.96 / 13.18 / 12.99 /
    # 12.82 ms at batch 1 / 2 / 4 / 8 on T4), then growing with the work
    assert np.all(np.diff(df.latency_ms) >= 0) and df.latency_ms.iloc[3] > 2 * df.latency_ms.iloc[1]


def test_llama_8b_fp16_does_not_fit_t4_and_says_what_would(engine):
    r = engine.predict("llama-3.1-8b", "T4", "fp16", 1)
    assert not r["fits"]
    assert "tensor parallel over 2" in r["fit_hint"] and "int8" in r["fit_hint"]
    assert "fp8" not in r["fit_hint"]  # T4 has no fp8
    assert engine.predict("llama-3.1-8b", "H100-SXM", "fp16", 1)["fits"]


def test_llm_phases(engine):
    r = engine.predict("llama-3.1-8b", "H100-SXM", "fp16", 4, seq_in=1024, seq_out=256)
    assert r["ttft_ms"] > r["tpot_ms"]
    assert r["latency_ms"] == pytest.approx(r["ttft_ms"] + 255 * r["tpot_ms"], rel=1e-6)
    assert r["tokens_per_s"] == pytest.approx(4 * 256 / (r["latency_ms"] / 1e3), rel=1e-6)
    # decode is bandwidth-bound: a step can't be shorter than reading the weights once
    prof = engine.catalog.get("H100-SXM")
    assert r["tpot_ms"] / 1e3 > 8.03e9 * 2 / (prof.memory_bandwidth_gbps * 1e9)


def test_tensor_parallel_for_models_that_do_not_fit_one_gpu(engine):
    r = engine.predict("llama-2-70b", "H100-SXM", "fp16", 8, gpu_count=4)
    assert r["tensor_parallel"] >= 2 and r["fits"]
    single = engine.predict("llama-2-70b", "H100-SXM", "fp16", 8)
    assert not single["fits"]


def test_training_costs_about_three_forwards(engine):
    inf = engine.predict("bert-large", "A100-80GB-SXM", "amp", 32, seq_in=128)
    tr = engine.predict("bert-large", "A100-80GB-SXM", "amp", 32, seq_in=128, task="training")
    assert 2.5 * inf["latency_ms"] < tr["latency_ms"] < 6 * inf["latency_ms"]
    assert tr["memory_gb"] > inf["memory_gb"]


def test_intervals_bracket_prediction_and_widen_with_confidence(engine):
    lo = engine.predict("resnet-50", "T4", "fp16", 8, confidence=0.5)
    hi = engine.predict("resnet-50", "T4", "fp16", 8, confidence=0.95)
    for r in (lo, hi):
        assert r["latency_ms_low"] < r["latency_ms"] < r["latency_ms_high"]
    assert (hi["latency_ms_high"] - hi["latency_ms_low"]) > (lo["latency_ms_high"] - lo["latency_ms_low"])


def test_each_metric_gets_its_own_interval_width(engine):
    """Mondrian conformal: a task/metric with its own held-out quantiles uses them, others the pool."""
    from dataclasses import replace

    pooled = {"0.5": 0.2, "0.9": 0.6, "0.99": 1.2}
    tokens = {"0.5": 0.05, "0.9": 0.1, "0.99": 0.3}
    params = replace(engine.params, intervals={"log_abs_residual_quantiles": pooled,
                                               "by_task_metric": {"inference/tokens_per_s": tokens}})
    pts = pd.DataFrame([{"model": "llama-3.1-8b", "gpu": "H100-SXM", "precision": "fp16", "batch_size": 8,
                         "seq_in": 512, "seq_out": 128, "confidence": 0.9}])
    r = engine.predict_grid(pts, params=params).iloc[0]
    assert r["tokens_per_s_high"] / r["tokens_per_s"] == pytest.approx(np.exp(0.1))
    assert r["ttft_ms_high"] / r["ttft_ms"] == pytest.approx(np.exp(0.6))
    assert r["latency_ms"] / r["latency_ms_low"] == pytest.approx(np.exp(0.6))


def test_power_between_idle_and_tdp(engine):
    r = engine.predict("resnet-50", "H100-SXM", "fp16", 256)
    tdp = engine.catalog.get("H100-SXM").tdp_w
    assert 0.3 * tdp <= r["power_w"] <= tdp
    assert r["energy_j_per_sample"] > 0


def test_unsupported_precision_is_marked_not_raised_in_grids(engine):
    df = grid(engine, model=["resnet-50"], gpu=["T4"], precision=["bf16"], batch_size=[1])
    assert not df.supported[0] and "no bf16" in df.reason[0]


@pytest.mark.parametrize("bad", [{"batch_size": 0}, {"precision": "fp64"}, {"task": "finetune"}, {"gpu": "h10"}])
def test_bad_points_raise_clear_errors(engine, bad):
    row = {"model": "resnet-50", "gpu": "T4", "precision": "fp16", "batch_size": 1, **bad}
    with pytest.raises(Exception) as exc:
        engine.predict_grid(pd.DataFrame([row]))
    from phantom_report.errors import PredictionError, ProfileError
    assert issubclass(exc.type, (PredictionError, ProfileError))  # UnknownGpuError is a ProfileError


def test_grid_is_vectorised_and_consistent_with_single_predictions(engine):
    rows = [{"model": m, "gpu": g, "precision": "fp16", "batch_size": b}
            for m in ("resnet-50", "gpt-2") for g in ("T4", "L4") for b in (1, 16)]
    df = engine.predict_grid(pd.DataFrame(rows))
    for row, r in zip(rows, df.itertuples()):
        single = engine.predict(row["model"], row["gpu"], "fp16", row["batch_size"])
        assert single["latency_ms"] == pytest.approx(r.latency_ms)


def test_max_batch_sizes_kv_cache_from_free_memory_like_serving_engines(engine):
    # 70B fp16 over 2x80 GB leaves ~15 GB per GPU after weights: room for dozens of 2k-token
    # sequences in TensorRT-LLM (90% of *free* memory), far fewer in vLLM (90% of *total* memory)
    df = grid(engine, model=["llama-3.1-70b"] * 2, gpu=["A100-80GB-SXM"] * 2, precision=["fp16"] * 2,
              batch_size=[3000, 3000], gpu_count=[2, 2], seq_in=[128, 128], seq_out=[2048, 2048],
              runtime=["tensorrt-llm", "vllm"], max_batch=[True, True])
    trt, vllm = df.batch_used
    assert 15 <= trt <= 60 and 1 <= vllm < trt
    assert (df.tensor_parallel == 2).all() and df.fits.all()
    # a bound below what memory holds is kept as given
    small = grid(engine, model=["llama-3.1-8b"], gpu=["H100-SXM"], precision=["fp16"], batch_size=[4],
                 max_batch=[True])
    assert small.batch_used.iloc[0] == 4


def test_usable_memory_excludes_inband_ecc_on_gddr_datacenter_parts(engine):
    t4, l40s, a100 = (engine.catalog.get(g) for g in ("T4", "L40S", "A100-80GB-SXM"))
    assert t4.usable_memory_fraction == l40s.usable_memory_fraction == 0.9375  # 1/16 for ECC parity
    assert a100.usable_memory_fraction == 1.0  # HBM: side-band ECC, full capacity


def test_tensor_parallel_beyond_an_nvlink_bridge_pays_pcie(engine):
    # A100 PCIe cards are NVLink-bridged in pairs: TP=8 crosses PCIe, the SXM board stays on NVLink
    kw = dict(model=["llama-3.1-70b"] * 4, precision=["fp16"] * 4, batch_size=[1500] * 4,
              seq_in=[512] * 4, seq_out=[128] * 4, gpu_count=[2, 8, 2, 8])
    df = grid(engine, gpu=["A100-80GB-PCIe"] * 2 + ["A100-80GB-SXM"] * 2, **kw)
    pcie2, pcie8, sxm2, sxm8 = df.tokens_per_s
    assert list(df.tensor_parallel) == [2, 8, 2, 8]
    assert pcie8 / pcie2 < sxm8 / sxm2


def test_explicit_tensor_parallel_shards_a_model_that_would_fit_one_gpu(engine):
    # 70B at fp8 fits one H100: by default 2 GPUs are two replicas; served TP2 (as NIM and
    # trtllm-bench tables state), each token reads half the weights per GPU
    df = grid(engine, model=["llama-3.1-70b"] * 2, gpu=["H100-SXM"] * 2, precision=["fp8"] * 2,
              batch_size=[1, 1], gpu_count=[2, 2], tensor_parallel=[0, 2], runtime=["tensorrt-llm"] * 2)
    auto, tp2 = df.iloc[0], df.iloc[1]
    assert (auto.tensor_parallel, tp2.tensor_parallel) == (1, 2)
    assert tp2.tpot_ms < auto.tpot_ms
    assert tp2.tokens_per_s < auto.tokens_per_s  # one instance at batch 1 instead of two
    with pytest.raises(PredictionError, match="tensor_parallel 4 is more than gpu_count 2"):
        grid(engine, model=["llama-3.1-70b"], gpu=["H100-SXM"], precision=["fp8"], batch_size=[1],
             gpu_count=[2], tensor_parallel=[4])
    with pytest.raises(PredictionError, match="tensor_parallel must be a GPU count"):
        grid(engine, model=["llama-3.1-70b"], gpu=["H100-SXM"], precision=["fp8"], batch_size=[1],
             tensor_parallel=[-1])


def test_each_matmul_path_has_its_own_efficiency(engine):
    """fp32 matmuls (FMA pipeline) and 8-bit ones take their own achieved fraction of peak; an
    architecture without an 8-bit value falls back to its 16-bit tensor-core value (same units), one
    without an fp32 value to the textbook FMA value (a different unit)."""
    from dataclasses import replace

    from phantom_report.engine.params import EIGHT_BIT_MATMUL, FP32_MATMUL, CalibrationParams

    tensor_only = replace(engine.params, compute_eff={"ampere": {"matmul": 0.5}})
    assert tensor_only.compute_eff_for("ampere", EIGHT_BIT_MATMUL) == 0.5
    assert tensor_only.compute_eff_for("ampere", FP32_MATMUL) == CalibrationParams().compute_eff_for("x", FP32_MATMUL) != 0.5
    # unhidden_fraction 0: the fitted overlap term (the shorter of compute and memory time added back)
    # would dilute the compute-bound speed-up this checks by an amount that moves with every refit
    # and no width bonus: A100's fp32 units are half the fp32 reference width, so the fitted exponent
    # would lift 0.9 past the 100% cap and flatten the very difference this checks
    base = replace(engine.params, compute_eff={"ampere": {"matmul": 0.5, FP32_MATMUL: 0.5}}, runtime_compute_mult={},
                   unhidden_fraction=0.0, matmul_width_exponent=0.0)
    split = replace(base, compute_eff={"ampere": {"matmul": 0.5, FP32_MATMUL: 0.9, EIGHT_BIT_MATMUL: 0.25}})
    pts = pd.DataFrame({"model": ["bert-large"] * 3, "gpu": ["A100-80GB-SXM"] * 3,
                        "precision": ["fp32", "fp16", "int8"], "batch_size": [256] * 3})
    a = engine.predict_grid(pts, params=base).set_index("precision").throughput_per_s
    b = engine.predict_grid(pts, params=split).set_index("precision").throughput_per_s
    assert b["fp16"] == pytest.approx(a["fp16"])
    assert b["fp32"] > 1.3 * a["fp32"]  # compute-bound at batch 256: faster with the higher efficiency
    assert b["int8"] < 0.8 * a["int8"]


def test_attention_core_has_its_own_efficiency(engine):
    """The attention core runs at its own fraction of the matmul efficiency: a slower one costs a
    long-sequence encoder more than a short one (attention FLOPs grow with seq^2, projections with
    seq) and leaves a CNN, which has no attention, untouched."""
    from dataclasses import replace

    from phantom_report.engine.params import ATTENTION

    fused = replace(engine.params, compute_eff={"ampere": {"matmul": 0.5, ATTENTION: 1.0}}, runtime_compute_mult={})
    unfused = replace(fused, compute_eff={"ampere": {"matmul": 0.5, ATTENTION: 0.25}})
    pts = pd.DataFrame({"model": ["bert-large", "bert-large", "resnet-50"], "gpu": ["A100-80GB-SXM"] * 3,
                        "precision": ["fp16"] * 3, "batch_size": [64] * 3, "seq_in": [128, 512, np.nan]})
    slowdown = (engine.predict_grid(pts, params=unfused).latency_ms
                / engine.predict_grid(pts, params=fused).latency_ms).to_numpy()
    assert slowdown[1] > slowdown[0] > 1.0
    assert slowdown[2] == pytest.approx(1.0)


def test_unhidden_fraction_adds_part_of_the_shorter_of_compute_and_memory(engine):
    """0 is the pure roofline max(compute, memory); 1 adds them, so an op costs at most twice as long."""
    from dataclasses import replace

    pts = pd.DataFrame({"model": ["bert-large", "resnet-50"], "gpu": ["A100-80GB-SXM"] * 2,
                        "precision": ["fp16"] * 2, "batch_size": [128, 128]})  # not launch-bound
    lat = {u: engine.predict_grid(pts, params=replace(engine.params, unhidden_fraction=u)).latency_ms.to_numpy()
           for u in (0.0, 0.5, 1.0)}
    assert np.all(lat[0.0] < lat[0.5]) and np.all(lat[0.5] < lat[1.0]) and np.all(lat[1.0] < 2 * lat[0.0])


def test_narrower_matmul_units_reach_more_of_their_peak(engine):
    """Same architecture, same calibrated efficiency: the RTX 3090's 16-bit tensor units (512 FLOPs per
    SM per clock with FP32 accumulate) gain from matmul_width_exponent, the A100's (2048, the
    reference) do not; and units wider than the reference are not penalised (H100)."""
    from dataclasses import replace

    flat = replace(engine.params, compute_eff={"ampere": {"matmul": 0.3}, "hopper": {"matmul": 0.3}},
                   runtime_compute_mult={}, matmul_width_exponent=0.0, base_clock_exponent=0.0)
    wide = replace(flat, matmul_width_exponent=0.5)
    pts = pd.DataFrame({"model": ["resnet-50"] * 3, "gpu": ["A100-80GB-SXM", "RTX-3090", "H100-SXM"],
                        "precision": ["fp16"] * 3, "batch_size": [256] * 3})
    gain = (engine.predict_grid(pts, params=wide).throughput_per_s
            / engine.predict_grid(pts, params=flat).throughput_per_s).to_numpy()
    assert gain[0] == pytest.approx(1.0) and gain[2] == pytest.approx(1.0)
    assert gain[1] > 1.3  # (2048 / 512) ** 0.5 = 2 on the matmuls, less on the whole pass


def test_power_limited_gpus_run_below_their_boost_clock(engine):
    """base_clock_exponent slows compute by (base / boost) ** exponent: a lot on the 70 W T4 (base
    585 MHz, boost 1590), not at all on a profile without a published base clock (MI300X)."""
    from dataclasses import replace

    held = replace(engine.params, base_clock_exponent=0.0)
    throttled = replace(engine.params, base_clock_exponent=0.5)
    pts = pd.DataFrame({"model": ["resnet-50"] * 2, "gpu": ["T4", "MI300X"], "precision": ["fp16"] * 2,
                        "batch_size": [256] * 2})
    ratio = (engine.predict_grid(pts, params=throttled).latency_ms
             / engine.predict_grid(pts, params=held).latency_ms).to_numpy()
    assert ratio[1] == pytest.approx(1.0)
    assert 1.2 < ratio[0] <= (1590 / 585) ** 0.5 + 1e-9


def test_other_params_predict_what_an_engine_of_those_params_predicts(engine):
    """Predicting under other calibration parameters (every calibration and cross-validation step)
    computes the hardware coefficients per call without the memo an engine keeps for its own: the
    numbers must be exactly those of an engine built with those parameters (memo path), on a grid
    with many GPU x precision x runtime combinations."""
    from dataclasses import replace

    from phantom_report.engine.api import Engine

    other = replace(engine.params, unhidden_fraction=engine.params.unhidden_fraction * 0.7,
                    per_op_overhead_us=engine.params.per_op_overhead_us * 1.3)
    rows = [{"model": m, "gpu": g, "precision": p, "batch_size": b, "runtime": rt, "seq_in": 512, "seq_out": 64}
            for m in ("resnet-50", "llama-3.1-8b") for g in ("T4", "A100-80GB-SXM", "H100-SXM", "RTX-4090", "MI300X")
            for p in ("fp16", "fp8", "int8", "q4_k_m") for b in (1, 16) for rt in ("pytorch", "vllm", "llamacpp")]
    pts = pd.DataFrame(rows)
    via_other = engine.predict_grid(pts, params=other)
    own = Engine(engine.catalog, other)
    pd.testing.assert_frame_equal(via_other, own.predict_grid(pts))
    pd.testing.assert_frame_equal(via_other, own.predict_grid(pts))  # second call: from the engine's memo
    assert via_other["supported"].sum() > 100
