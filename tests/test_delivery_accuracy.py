"""`/v1/accuracy` and the UI accuracy page serve leave-one-source-out figures, never in-sample ones."""

from __future__ import annotations

import json

from phantom_report.reporter.delivery.accuracy import accuracy_summary, recorded_accuracy


def _baseline(tmp_path, **over):
    data = {
        "calibration_version": "1.test", "confidence": 0.9, "headline_scheme": "source",
        "refit": "newton: approximate refit per fold",
        "schemes": {"source": {"n": 100, "median_ape": 0.12, "mape": 0.2, "coverage": 0.89, "n_folds": 7},
                    "gpu_model": {"n": 100, "median_ape": 0.08, "mape": 0.15, "coverage": 0.9, "n_folds": 20}},
        "breakdowns": {"source/runtime": [{"runtime": "vllm", "n": 30, "median_ape": 0.2}],
                       "source/gpu": [{"gpu": "H100-SXM", "n": 100, "median_ape": 0.12}],
                       "gpu_model/gpu": [{"gpu": "H100-SXM", "n": 100, "median_ape": 0.05}]},
        **over,
    }
    path = tmp_path / "accuracy_baseline.json"
    path.write_text(json.dumps(data))
    return path


def test_recorded_figures_are_the_leave_one_source_out_ones(tmp_path):
    out = recorded_accuracy(_baseline(tmp_path))
    assert out["available"] and out["scheme"] == "source"
    assert out["summary"]["median_ape"] == 0.12  # not the optimistic grouped figure (0.08)
    assert "leave-one-source-out" in out["method"] and "in-sample" not in out["method"]
    assert out["by_gpu"] == [{"gpu": "H100-SXM", "n": 100, "median_ape": 0.12}]
    assert out["by_runtime"][0]["runtime"] == "vllm" and out["by_task_metric"] == []
    assert out["other_schemes"]["gpu_model"]["median_ape"] == 0.08


def test_missing_or_incomplete_baseline_says_why(tmp_path):
    assert recorded_accuracy(tmp_path / "nope.json")["available"] is False
    out = recorded_accuracy(_baseline(tmp_path, schemes={}))
    assert out["available"] is False and "source" in out["reason"]


def test_shipped_dashboard_figures_are_cross_validated(monkeypatch):
    monkeypatch.delenv("PHANTOM_ACCURACY_FILE", raising=False)
    out = accuracy_summary(engine=None)
    assert out["available"] and out["scheme"] == "source"
    assert 0 < out["summary"]["median_ape"] < 1 and out["by_gpu"] and out["by_runtime"]
