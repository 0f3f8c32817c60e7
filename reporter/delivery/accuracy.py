"""Accuracy figures for the dashboard (`/v1/accuracy`, the UI accuracy page).

Preferred source: a validation results file written by the engine's `validate` command
(`PHANTOM_ACCURACY_FILE`, JSON). Without one, the figures `phantom-report calibrate --write-baseline`
recorded for the shipped calibration (`engine/data/accuracy_baseline.json`): leave-one-source-out
cross-validation, the headline accuracy everywhere it is quoted — each publication predicted by a
fit that never saw it, which is what a user's own stack is. Scoring the shipped parameters on the
corpus they were fitted to would be an in-sample figure and is never served.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

BREAKDOWN_KEYS = {"by_gpu": "gpu", "by_model": "model", "by_runtime": "runtime", "by_task_metric": "task_metric"}


def _baseline_path() -> Path:
    from phantom_report.engine.calibration import data_dir

    return data_dir() / "accuracy_baseline.json"


def recorded_accuracy(path: Path | None = None) -> dict:
    """The recorded cross-validation of the shipped calibration in the dashboard's shape."""
    path = path or _baseline_path()
    if not path.is_file():
        return {"available": False, "reason": f"{path.name} missing: run `phantom-report calibrate --write-baseline`"}
    data = json.loads(path.read_text(encoding="utf-8"))
    scheme = data.get("headline_scheme") or "source"
    summary = (data.get("schemes") or {}).get(scheme)
    if not summary:
        return {"available": False, "reason": f"{path.name} records no {scheme} cross-validation"}
    from phantom_report.engine.validation import SCHEME_TITLES

    title = SCHEME_TITLES.get(scheme, scheme)
    out: dict[str, Any] = {
        "available": True,
        "method": f"{title} cross-validation of calibration {data.get('calibration_version', '?')} "
                  f"({summary.get('n_folds', '?')} folds; {data.get('refit', '')}): every measurement predicted by a fit "
                  "that never saw its publication",
        "scheme": scheme,
        "confidence": data.get("confidence"),
        "summary": summary,
        "other_schemes": {k: v for k, v in (data.get("schemes") or {}).items() if k != scheme},
    }
    breakdowns = data.get("breakdowns") or {}
    for key, col in BREAKDOWN_KEYS.items():
        out[key] = breakdowns.get(f"{scheme}/{col}", [])
    return out


def accuracy_summary(engine: Any, confidence: float = 0.9) -> dict:
    """Validation results file if configured, else the recorded leave-one-source-out figures."""
    path = os.environ.get("PHANTOM_ACCURACY_FILE")
    if path and Path(path).is_file():
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {"available": True, "method": f"validation results from {Path(path).name}", **data}
    try:
        return recorded_accuracy()
    except (OSError, ValueError) as exc:  # the dashboard shows why instead of failing the page
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}"}
