"""Accuracy regression check: leave-one-source-out cross-validation — the headline accuracy quoted in
the README, reports and `/v1/accuracy` — must not get worse than the recorded figures.

Reads `engine/data/accuracy_baseline.json` (written by `phantom-report calibrate --write-baseline`).
To stay within a couple of minutes on 2 cores, the folds use the Newton approximate refit
(`refit="newton"`: three Gauss-Newton steps per fold from the full-corpus fit); the baseline records
the same method's figures next to the exact full-refit ones, so like is compared with like.

Tolerances (recorded in the baseline file): median APE may rise by at most `median_ape_abs`, mean APE
by at most `mape_abs`; the 90% interval's coverage may drift from 90% by at most
`coverage_abs_from_target` more than it did when recorded. A corpus change that legitimately moves
the figures is re-baselined with `calibrate --write-baseline` in the same commit, so the change is
visible in review.
"""

from __future__ import annotations

import json

import pytest

from phantom_report.engine.calibration import data_dir

SCHEME = "source"


@pytest.fixture(scope="module")
def baseline():
    path = data_dir() / "accuracy_baseline.json"
    assert path.is_file(), f"{path} missing: run `phantom-report calibrate --write-baseline`"
    data = json.loads(path.read_text())
    assert data.get("headline_scheme") == SCHEME, "the baseline's headline must be leave-one-source-out"
    return data


@pytest.fixture(scope="module")
def newton_cv(baseline):
    from phantom_report.engine.api import Engine
    from phantom_report.engine.calibration import corpus_rows
    from phantom_report.engine.validation import EnginePredictor, fit_and_validate

    eng = Engine.load()
    _, rows = corpus_rows(eng)  # the rows `calibrate` fits: corpus reading rules + plausibility
    _, (cv,) = fit_and_validate(rows, EnginePredictor(eng), [SCHEME], baseline["confidence"], refit="newton")
    return cv


def test_loso_median_ape_not_worse(baseline, newton_cv):
    recorded = baseline["newton"][SCHEME]["median_ape"]
    tol = baseline["tolerance"]["median_ape_abs"]
    got = newton_cv.summary["median_ape"]
    assert got <= recorded + tol, (
        f"leave-one-source-out median APE {got:.2%} is worse than the recorded {recorded:.2%} (+{tol:.0%} tolerance)"
    )


def test_loso_mean_ape_not_worse(baseline, newton_cv):
    recorded = baseline["newton"][SCHEME]["mape"]
    tol = baseline["tolerance"]["mape_abs"]
    got = newton_cv.summary["mape"]
    assert got <= recorded + tol, (
        f"leave-one-source-out mean APE {got:.2%} is worse than the recorded {recorded:.2%} (+{tol:.1%} tolerance)"
    )


def test_loso_interval_coverage_not_worse(baseline, newton_cv):
    target = baseline["confidence"]
    recorded = baseline["newton"][SCHEME]["coverage"]
    tol = baseline["tolerance"]["coverage_abs_from_target"]
    got = newton_cv.summary["coverage"]
    assert abs(got - target) <= abs(recorded - target) + tol, (
        f"{target:.0%} interval coverage {got:.1%} drifted from the target further than recorded ({recorded:.1%})"
    )


def test_loso_covers_the_corpus(baseline, newton_cv):
    # the check is only meaningful if it still scores (nearly) the rows it scored when recorded
    assert newton_cv.summary["n"] >= 0.9 * baseline["newton"][SCHEME]["n"]
