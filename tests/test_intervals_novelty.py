"""Novelty-aware (Mondrian) conformal intervals and extrapolation flags (engine/novelty.py,
engine/intervals.py): widths grow with novelty, points outside the corpus' support say why, in the
predictor output, the CLI and reports."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from phantom_report.engine import intervals
from phantom_report.engine import validation as V
from phantom_report.engine.novelty import Support, extrapolation_reasons, novelty_levels, runtime_source_counts


def _rows(runtime, arch, family, n, task="inference", batch=8, seq_in=128.0, gpu_count=1):
    return pd.DataFrame({"runtime": [runtime] * n, "arch": [arch] * n, "family": [family] * n, "task": [task] * n,
                         "batch_size": [batch] * n, "seq_in": [seq_in] * n, "gpu_count": [gpu_count] * n})


@pytest.fixture
def support():
    corpus = pd.concat([
        _rows("vllm", "hopper", "decoder", 30, batch=256, seq_in=2048.0, gpu_count=8),
        _rows("vllm", "hopper", "cnn", 5),
        _rows("vllm", "ampere", "decoder", 25),
        _rows("llamacpp", "ampere", "decoder", 10, batch=1),
    ])
    return Support.of(corpus)


def test_novelty_levels_count_shared_runtime_architecture_family(support):
    pts = pd.DataFrame({"runtime": ["vllm", "vllm", "vllm", "llamacpp", "mlc-llm"],
                        "arch": ["hopper", "hopper", "ada", "ampere", "ampere"],
                        "family": ["decoder", "cnn", "decoder", "decoder", "decoder"]})
    # seen (30 rows share all three) / near (55 vllm+hopper, 5 cnn) / far (vllm, not on ada) /
    # new (10 llamacpp rows < 20) / new (no mlc-llm rows)
    assert novelty_levels(support, pts).tolist() == [0, 1, 2, 3, 3]


def test_extrapolation_reasons_name_what_is_missing(support):
    pts = pd.DataFrame({"runtime": ["vllm", "mlc-llm", "llamacpp", "vllm", "vllm"],
                        "arch": ["hopper", "ampere", "hopper", "cdna3", "hopper"],
                        "family": ["decoder", "decoder", "decoder", "decoder", "vit"],
                        "task": ["inference"] * 5, "batch_size": [512, 1, 1, 1, 1],
                        "seq_in": [np.nan, 128.0, 128.0, 128.0, 128.0], "gpu_count": [1, 1, 1, 16, 1]})
    got = extrapolation_reasons(support, pts).tolist()
    assert got[0] == "batch 512 beyond the largest measured 256"
    assert got[1] == "no corpus rows for runtime mlc-llm"
    assert got[2] == "no corpus rows for runtime llamacpp on architecture hopper"
    assert got[3] == "no corpus rows on architecture cdna3; gpu_count 16 beyond the largest measured 8"
    assert got[4] == "no corpus rows for vit models in inference"


def test_support_round_trips_through_json(support):
    again = Support.from_dict(json.loads(json.dumps(support.to_dict())))
    assert again == support
    assert Support.from_dict(None) is None


def test_block_widths_grow_with_novelty_and_fall_back():
    rng = np.random.default_rng(0)
    # level 0 residuals small, level 2 large; level 1 too few rows for its own table
    r = np.concatenate([rng.normal(0, 0.05, 400), rng.normal(0, 0.01, 10), rng.normal(0, 0.4, 300)])
    lv = np.array([0] * 400 + [1] * 10 + [2] * 300)
    groups = np.array(["inference/tokens_per_s"] * len(r))
    block = intervals.interval_block(np.abs(r), groups, lv)
    assert "1" not in block["by_novelty"] and {"0", "2"} <= set(block["by_novelty"])
    w = [float(intervals.block_half_width(block, 0.9, "inference/tokens_per_s", k)) for k in (0, 1, 2, 3)]
    assert w[0] < w[2]
    assert w == sorted(w), "a more novel point never gets a narrower interval"
    # level 1 has no table of its own: it falls back to the group's pooled table, at least level 0's width
    assert w[1] >= w[0]
    # no novelty information: the task/metric (or pooled) table, as before
    assert float(intervals.block_half_width(block, 0.9, "inference/tokens_per_s")) > 0


def test_cv_intervals_take_novelty_against_the_other_folds():
    rng = np.random.default_rng(1)
    n = 400  # 80 rows per source; two sources of runtimes found nowhere else
    held = pd.DataFrame({
        "source": np.repeat(["a", "b", "c", "d", "e"], n // 5),
        "runtime": np.repeat(["vllm", "vllm", "vllm", "exotic", "rare"], n // 5),
        "arch": "hopper", "family": "decoder", "task": "inference", "metric": "tokens_per_s",
        "batch_size": 1, "seq_in": 128.0, "gpu_count": 1, "value": 100.0,
    })
    held["fold"] = held["source"]
    novel = held["runtime"] != "vllm"
    held["log_residual"] = np.where(novel, rng.normal(0, 0.5, n), rng.normal(0, 0.05, n))
    held["predicted"] = 100.0 * np.exp(held["log_residual"])
    out = V.add_intervals_cv(held, 0.9)
    # the exotic runtime's only source, held out, has no rows of its runtime elsewhere: level 3, extrapolated;
    # its width is learned from the other novel source's residuals (level 3 when *it* was held out)
    exotic = out[out["runtime"] == "exotic"]
    assert (exotic["novelty"] == 3).all() and exotic["extrapolation"].all()
    assert (exotic["extrapolation_reason"] == "no corpus rows for runtime exotic").all()
    assert (out.loc[out["runtime"] == "vllm", "novelty"] == 0).all()
    assert exotic["half_width_log"].min() >= out.loc[out["runtime"] == "vllm", "half_width_log"].max()


@pytest.fixture(scope="module")
def engine_with_support():
    from phantom_report.engine.api import Engine

    eng = Engine.load()
    sup = Support.of(pd.concat([_rows("vllm", "hopper", "decoder", 40, batch=64, seq_in=4096.0)]))
    block = {**dict(eng.params.intervals), "support": sup.to_dict()}
    return replace(eng, params=replace(eng.params, intervals=block))


def test_predictions_say_when_they_extrapolate(engine_with_support):
    pts = pd.DataFrame([
        {"model": "llama-3.1-8b", "gpu": "H100-SXM", "precision": "fp16", "batch_size": 8, "runtime": "vllm",
         "task": "inference", "seq_in": 512, "seq_out": 128},
        {"model": "llama-3.1-8b", "gpu": "MI300X", "precision": "fp16", "batch_size": 8, "runtime": "llamacpp",
         "task": "inference", "seq_in": 512, "seq_out": 128},
        {"model": "llama-3.1-8b", "gpu": "H100-SXM", "precision": "fp16", "batch_size": 512, "runtime": "vllm",
         "task": "inference", "seq_in": 512, "seq_out": 128},
        {"model": "llama-3.1-8b", "gpu": "MI300X", "precision": "fp16", "batch_size": 8, "runtime": "vllm",
         "task": "inference", "seq_in": 512, "seq_out": 128},
    ])
    out = engine_with_support.predict_grid(pts)
    assert out["extrapolation"].tolist() == [False, True, True, True]
    assert out["extrapolation_reason"].tolist() == [
        "", "no corpus rows for runtime llamacpp", "batch 512 beyond the largest measured 64",
        "no corpus rows on architecture cdna3"]
    assert out["novelty"].tolist() == [0, 3, 0, 2]
    # each point's interval is the calibrated width of its own novelty level and runtime (the widths
    # themselves never narrow as novelty grows: test_width_never_narrows_as_novelty_grows)
    ratio = np.log(out["tokens_per_s_high"] / out["tokens_per_s"])
    for i in range(len(pts)):
        want = engine_with_support.params.log_half_width(
            np.array([0.9]), "inference/tokens_per_s", int(out["novelty"][i]), pts["runtime"][i])[0]
        assert ratio[i] == pytest.approx(want, rel=1e-9)


def test_width_never_narrows_as_novelty_grows(engine):
    """For every runtime (and none), a more novel point's interval is at least as wide. Across
    runtimes it need not be: each has its own floor, its held-out spread, so a noisy runtime's seen
    configuration may be wider than a steady runtime's new one."""
    params = engine.params
    runtimes = [None, *sorted(params.intervals.get("by_runtime") or {})]
    assert len(runtimes) > 5
    for runtime in runtimes:
        for group in ("inference/tokens_per_s", "inference/latency_ms", "inference/throughput_per_s",
                      "training/throughput_per_s"):
            widths = [float(params.log_half_width(np.array([0.9]), group, level, runtime)[0]) for level in range(4)]
            assert widths == sorted(widths), (runtime, group, widths)


def test_predictions_without_support_are_not_flagged(engine):
    params = replace(engine.params, intervals={k: v for k, v in engine.params.intervals.items() if k != "support"})
    out = replace(engine, params=params).predict("llama-3.1-8b", "H100-SXM", "fp16", 8, runtime="tinygrad")
    assert out["extrapolation"] is False or not out["extrapolation"]
    assert out["novelty"] == -1 and out["extrapolation_reason"] == ""


def test_report_config_carries_the_flag():
    from phantom_report.reporter import context

    assert context._flag(np.True_) and context._flag(True)
    assert not context._flag(np.False_) and not context._flag(float("nan")) and not context._flag(None)


def test_macro_prints_the_marker_with_its_reason():
    from phantom_report.reporter.templating import make_env

    env = make_env()
    src = '{% import "_macros.html.j2" as m %}[{{ m.extrapolated(c) }}]'
    flagged = env.from_string(src).render(c={"extrapolation": True, "extrapolation_reason": "batch 512 beyond the largest measured 256"})
    assert "extrapolated" in flagged and 'title="batch 512 beyond the largest measured 256"' in flagged
    assert env.from_string(src).render(c={"extrapolation": False, "extrapolation_reason": ""}) == "[]"


def test_a_runtime_with_its_own_residuals_never_gets_a_narrower_interval():
    rng = np.random.default_rng(2)
    r = np.abs(np.concatenate([rng.normal(0, 0.05, 300), rng.normal(0, 0.5, 40)]))
    groups = np.array(["inference/tokens_per_s"] * 340)
    novelty = np.zeros(340, dtype=int)
    runtimes = np.array(["tensorrt-llm"] * 300 + ["vllm"] * 40)
    block = intervals.interval_block(r, groups, novelty, runtimes)
    assert set(block["by_runtime"]) == {"tensorrt-llm", "vllm"}
    base = float(intervals.block_half_width(block, 0.9, "inference/tokens_per_s", 0))
    vllm = float(intervals.block_half_width(block, 0.9, "inference/tokens_per_s", 0, "vllm"))
    unknown = float(intervals.block_half_width(block, 0.9, "inference/tokens_per_s", 0, "mlc-llm"))
    assert vllm > base and unknown == base


def test_source_weighted_quantile_is_the_plain_one_for_equal_sources():
    rng = np.random.default_rng(5)
    r = np.abs(rng.normal(0, 0.3, 120))
    sources = np.repeat([f"s{i}" for i in range(12)], 10)  # equal-sized sources: uniform weights
    for level in (0.5, 0.9):
        assert intervals.source_weighted_quantile(r, sources, level) == intervals.conformal_quantile(r, level)
    assert intervals.source_weighted_quantile(r[:5], sources[:5], 0.9) == float("inf")  # too few rows


def test_a_small_source_with_large_errors_widens_its_runtime_table():
    # one 200-row source predicted within ~5%, four 5-row sources off by ~50%: row-exchangeable
    # quantiles let the big source decide the 90% width; source weights give the small ones their say
    rng = np.random.default_rng(6)
    r = np.abs(np.concatenate([rng.normal(0, 0.05, 200), rng.normal(0.5, 0.1, 20)]))
    sources = np.array(["big"] * 200 + [f"small{i}" for i in range(4) for _ in range(5)])
    plain = intervals.conformal_quantile(r, 0.9)
    weighted = intervals.source_weighted_quantile(r, sources, 0.9)
    assert weighted > 2 * plain
    groups = np.array(["inference/tokens_per_s"] * len(r))
    block = intervals.interval_block(r, groups, np.zeros(len(r), dtype=int), np.array(["vllm"] * len(r)), sources)
    assert block["by_runtime"]["vllm"]["0.9"] == round(weighted, 6)
    assert block["log_abs_residual_quantiles"]["0.9"] == round(plain, 6)  # only runtime tables are weighted


def test_source_scale_is_the_prediction_interval_factor_for_one_more_source():
    assert intervals.source_scale(1) == pytest.approx(2 ** 0.5)
    assert intervals.source_scale(0) == intervals.source_scale(1)  # nothing fitted: as thin as one source
    assert intervals.source_scale(4) == pytest.approx(1.25 ** 0.5)
    assert intervals.source_scale(None) == intervals.source_scale(-1) == 1.0  # unknown: no change
    assert 1.0 < intervals.source_scale(20) < intervals.source_scale(2)


def test_support_counts_the_sources_behind_each_fitted_runtime():
    corpus = pd.concat([
        _rows("vllm", "hopper", "decoder", 30).assign(source=["a"] * 10 + ["b"] * 10 + ["c"] * 10),
        _rows("lmdeploy", "ampere", "decoder", 25).assign(source="d"),
        _rows("llamacpp", "ampere", "decoder", 10).assign(source=["e"] * 5 + ["f"] * 5),  # < 20 rows: not fitted
    ])
    sup = Support.of(corpus)
    assert sup.runtime_sources == {"vllm": 3, "lmdeploy": 1}
    assert Support.from_dict(json.loads(json.dumps(sup.to_dict()))) == sup
    pts = pd.DataFrame({"runtime": ["vllm", "lmdeploy", "llamacpp", "mlc-llm"]})
    assert runtime_source_counts(sup, pts).tolist() == [3, 1, 0, 0]
    assert runtime_source_counts(Support.of(corpus.drop(columns="source")), pts).tolist() == [-1] * 4


def _scaled_block(n_sources_of: dict[str, int]):
    """A block of normalised tables: 300 residuals of a many-source runtime, 15 of a thin one (too few
    for its own table: the level tables decide its width)."""
    rng = np.random.default_rng(11)
    r = np.abs(np.concatenate([rng.normal(0, 0.1, 300), rng.normal(0, 0.1, 15)]))
    runtimes = np.array(["tensorflow"] * 300 + ["ft-op"] * 15)
    sources = np.array([f"tf{i % 12}" for i in range(300)] + ["ft"] * 15)
    scales = np.array([intervals.source_scale(n_sources_of[rt]) for rt in runtimes])
    groups = np.array(["inference/latency_ms"] * len(r))
    return intervals.interval_block(r, groups, np.zeros(len(r), dtype=int), runtimes, sources, scales, n_sources_of)


def test_a_runtime_backed_by_fewer_sources_gets_a_wider_interval():
    block = _scaled_block({"tensorflow": 12, "ft-op": 2})
    thin = float(intervals.block_half_width(block, 0.9, "inference/latency_ms", 1, "ft-op"))
    single = float(intervals.block_half_width(replace_sources(block, {"ft-op": 1}), 0.9, "inference/latency_ms", 1, "ft-op"))
    assert single > thin
    assert single / thin == pytest.approx(intervals.source_scale(1) / intervals.source_scale(2))


def replace_sources(block: dict, counts: dict) -> dict:
    return {**block, "runtime_sources": {**block["runtime_sources"], **counts}}


def test_a_runtime_with_enough_sources_is_its_own_cell_at_level_zero():
    # tensorflow's 12 sources support a source-level 90% quantile: its own table alone, even when narrower
    # than the pooled one; one level more novel, the level tables apply again (never narrower with novelty)
    block = _scaled_block({"tensorflow": 12, "ft-op": 2})
    block["by_runtime"]["tensorflow"] = {"0.5": 0.01, "0.9": 0.02}
    own = float(intervals.block_half_width(block, 0.9, "inference/latency_ms", 0, "tensorflow"))
    assert own == pytest.approx(0.02)
    assert float(intervals.block_half_width(block, 0.9, "inference/latency_ms", 1, "tensorflow")) > own
    few = replace_sources(block, {"tensorflow": intervals.MIN_SOURCES_OWN_CELL - 1})
    assert float(intervals.block_half_width(few, 0.9, "inference/latency_ms", 0, "tensorflow")) > own


def test_releases_of_one_publication_count_as_one_source_series():
    from phantom_report.engine.novelty import fitted_runtime_sources, source_series

    assert source_series("tensorrt-llm-perf-overview-v0.13") == "tensorrt-llm-perf-overview"
    assert source_series("amd-rocm-perf-results-vllm0.9.0.1") == "amd-rocm-perf-results-vllm"
    assert source_series("nvidia-dle-resnet50-tf-20.06") == "nvidia-dle-resnet50-tf"
    for kept in ("llamacpp-pr-4766", "nvidia-dle-bert-tf-20.06-infer", "gpt-fast-readme"):
        assert source_series(kept) == kept
    rows = pd.DataFrame({"runtime": ["vllm"] * 30, "source": [f"amd-vllm0.{i % 6}.1" for i in range(29)] + ["blog"]})
    assert fitted_runtime_sources(rows) == {"vllm": 2}  # six releases of one table + one blog
