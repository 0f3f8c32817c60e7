"""Accuracy figures for the dashboard.

Preferred source: a validation results file written by the engine's `validate` command
(`PHANTOM_ACCURACY_FILE`, JSON). Without one, the shipped parameters are scored on the built-in
benchmark corpus with the engine's own scoring (`engine.validation.score_user_rows`); that is an
in-sample figure and the payload says so, since a dashboard must not pass it off as cross-validated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def accuracy_summary(engine: Any, confidence: float = 0.9) -> dict:
    path = os.environ.get("PHANTOM_ACCURACY_FILE")
    if path and Path(path).is_file():
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {"available": True, "method": f"validation results from {Path(path).name}", **data}
    try:
        from phantom_report.engine import validation
        from phantom_report.engine.corpus import load_corpus

        corpus = load_corpus()
        scored, unpredictable = validation.score_user_rows(
            corpus.rows, validation.EnginePredictor(engine), engine.params, confidence)
    except Exception as exc:  # noqa: BLE001 - the dashboard shows why instead of failing the page
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
    pairs = [{"gpu": g, "model": m, **validation.score(part)} for (g, m), part in scored.groupby(["gpu", "model"])]
    return {
        "available": True,
        "method": "in-sample: shipped calibration scored on the built-in benchmark corpus "
                  "(run `phantom-report validate` for cross-validated figures)",
        "confidence": confidence,
        "summary": validation.score(scored),
        "by_gpu": validation.breakdown(scored, "gpu").to_dict(orient="records"),
        "by_model": validation.breakdown(scored, "model").to_dict(orient="records"),
        "pairs": pairs,
        "unpredictable": int(len(unpredictable)),
    }
