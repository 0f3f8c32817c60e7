"""Accuracy regression check: grouped cross-validation must not get worse than the recorded figures.

Reads `engine/data/accuracy_baseline.json` (written by `phantom-report calibrate --write-baseline`).
To stay well under 2 minutes on 2 cores (~25 s), the folds use the Newton approximate refit
(`refit="newton"`: three Gauss-Newton steps per fold from the full-corpus fit); the baseline records
the same method's figures next to the exact full-refit ones, so like is compared with like.

Tolerances (recorded in the baseline file): median APE may rise by at most 1 percentage point;
the 90% interval's coverage may drift from 90% by at most 2 points more than it did when recorded.
A corpus change that legitimately moves the figures is re-baselined with `calibrate --write-baseline`
in the same commit, so the change is visible in review.
"""

from __future__ import annotations

import json

import pytest

from phantom_report.engine.calibration_cli import data_dir


@pytest.fixture(scope="module")
def baseline():
    path = data_dir() / "accuracy_baseline.json"
    assert path.is_file(), f"{path} missing: run `phantom-report calibrate --write-baseline`"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def newton_cv(baseline):
    from phantom_report.engine.api import Engine
    from phantom_report.engine.calibration_cli import _corpus_rows
    from phantom_report.engine.validation import EnginePredictor, fit_and_validate

    eng = Engine.load()
    _, rows = _corpus_rows(eng, None)  # the rows `calibrate` fits: corpus reading rules + plausibility
    _, (cv,) = fit_and_validate(rows, EnginePredictor(eng), ["gpu_model"], baseline["confidence"], refit="newton")
    return cv


def test_grouped_cv_median_ape_not_worse(baseline, newton_cv):
    recorded = baseline["newton"]["gpu_model"]["median_ape"]
    tol = baseline["tolerance"]["median_ape_abs"]
    got = newton_cv.summary["median_ape"]
    assert got <= recorded + tol, (
        f"grouped-CV median APE {got:.2%} is worse than the recorded {recorded:.2%} (+{tol:.0%} tolerance)"
    )


def test_grouped_cv_interval_coverage_not_worse(baseline, newton_cv):
    target = baseline["confidence"]
    recorded = baseline["newton"]["gpu_model"]["coverage"]
    tol = baseline["tolerance"]["coverage_abs_from_target"]
    got = newton_cv.summary["coverage"]
    assert abs(got - target) <= abs(recorded - target) + tol, (
        f"{target:.0%} interval coverage {got:.1%} drifted from the target further than recorded ({recorded:.1%})"
    )


def test_grouped_cv_covers_the_corpus(baseline, newton_cv):
    # the check is only meaningful if it still scores (nearly) the rows it scored when recorded
    assert newton_cv.summary["n"] >= 0.9 * baseline["newton"]["gpu_model"]["n"]
