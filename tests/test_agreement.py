"""Sources' agreement (engine/agreement.py): each held-out row is answered by what the other sources
measured for exactly its configuration, and scored next to the model's error on the same rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from phantom_report.engine.agreement import other_sources_value, source_agreement


def _rows(records):
    base = dict(gpu="A100-80GB-SXM", gpu_count=1, model="resnet-50", task="inference", precision="fp16",
                batch_size=8.0, seq_in=np.nan, seq_out=np.nan, metric="throughput_per_s", runtime="tensorrt")
    return pd.DataFrame([{**base, **r} for r in records])


def test_other_sources_value_is_the_median_of_the_other_sources_each_reduced_to_its_median():
    rows = _rows([
        dict(source="a", value=100.0), dict(source="a", value=400.0),  # source a: median 200 (in log)
        dict(source="b", value=110.0),
        dict(source="c", value=121.0),
        dict(source="d", value=50.0, batch_size=16.0),  # another configuration: no one else measured it
        dict(source="e", value=70.0, seq_in=128.0),  # NaN is a value of the configuration: 128 differs
    ])
    got = other_sources_value(rows)
    # a: median of b and c (two values: the geometric mean); b: median of a (200) and c; c: of a and b
    assert got[0] == got[1] == pytest.approx(math.sqrt(110 * 121))
    assert got[2] == pytest.approx(math.sqrt(200 * 121))
    assert got[3] == pytest.approx(math.sqrt(200 * 110))
    assert np.isnan(got[4]) and np.isnan(got[5])


def test_agreement_scores_only_rows_another_source_measured_and_the_model_on_the_same_rows():
    rows = _rows([
        dict(source="a", value=100.0, ape=0.05),
        dict(source="b", value=125.0, ape=0.20, runtime="pytorch"),
        dict(source="c", value=90.0, ape=0.50, batch_size=64.0),  # alone in its configuration: not counted
    ])
    got = source_agreement(rows)
    same, any_rt = got["same_runtime"], got["any_runtime"]
    assert same == {"n": 0, "configs": 0}  # a and b ran different runtimes
    assert any_rt["n"] == 2 and any_rt["configs"] == 1
    # a answered by b: |125 - 100| / 100; b answered by a: |100 - 125| / 125
    assert any_rt["agreement_median_ape"] == pytest.approx((0.25 + 0.2) / 2)
    assert any_rt["agreement_mape"] == pytest.approx((0.25 + 0.2) / 2)
    assert any_rt["model_median_ape"] == pytest.approx(0.125) and any_rt["model_mape"] == pytest.approx(0.125)
    # every row, the model never worse than the other source: a 0.05 (model) b 0.20 (tie) c 0.50 (alone)
    assert any_rt["best_of_median_ape"] == pytest.approx(0.20) and any_rt["best_of_mape"] == pytest.approx(0.25)
    assert any_rt["unshared_n"] == 1 and any_rt["unshared_mape"] == pytest.approx(0.50)


def test_leave_one_source_out_results_carry_it_into_the_validation_report(tmp_path):
    from phantom_report.engine.validation import CvResult, with_scores
    from phantom_report.engine.validation_report import build_context
    from phantom_report.reporter.validation_render import write_validation_report

    held = _rows([dict(source="a", value=100.0, predicted=105.0), dict(source="b", value=125.0, predicted=105.0)])
    held = held.assign(ape=(held["predicted"] - held["value"]).abs() / held["value"], inside=True, novelty="known",
                       log_residual=np.log(held["predicted"] / held["value"]), fold=held["source"])
    res = with_scores(CvResult(scheme="source", refit="newton", confidence=0.9, held_out=held,
                               unpredictable=held.iloc[0:0], n_folds=2, n_params_max=1, seconds=1.0))
    assert res.agreement["same_runtime"]["n"] == 2
    assert with_scores(CvResult(scheme="gpu", refit="newton", confidence=0.9, held_out=held, unpredictable=held.iloc[0:0],
                                n_folds=1, n_params_max=1, seconds=1.0)).agreement == {}  # other sources are not held out there
    corpus = {"rows": 2, "rejected": 0, "files": 1, "sources": 2, "gpus": 1, "models": 1}
    ctx = build_context(mode="cross-validation", confidence=0.9, calibration={}, corpus=corpus, results=[res],
                        chart_frame=res.held_out, rejected=held.iloc[0:0], unpredictable=held.iloc[0:0])
    assert [a["scope"] for a in ctx["agreement"]] == ["same runtime", "any runtime"]
    assert ctx["agreement"][0]["agreement_mape"] == "22.5%"  # (25% + 20%) / 2
    assert ctx["agreement"][0]["best_of_mape"] == "10.5%"  # a: 5% (model, the other source 25%), b: 16% (20%)
    html = write_validation_report(ctx, tmp_path / "v.html", "html").read_text()
    assert "Rows other publications measured too" in html and "22.5%" in html and "10.5%" in html
