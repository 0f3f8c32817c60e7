"""The engine's one entry point: GPU profiles + model zoo + calibration -> predictions.

An `Engine` is immutable; build one per process (or per request with a different profile
directory) with `Engine.load()`. Nothing here touches prices or rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from phantom_report.engine import zoo
from phantom_report.engine.ir import Workload
from phantom_report.engine.params import CalibrationParams, load_params
from phantom_report.engine.lookup import factorize
from phantom_report.engine.points import frame_columns, normalize_columns
from phantom_report.engine.predict import PredictCache, predict_columns, predict_grid
from phantom_report.engine.profiles import ProfileCatalog, load_catalog

if TYPE_CHECKING:
    import pandas as pd  # grids only: `predict` (one point) runs without loading pandas


@dataclass(frozen=True)
class Engine:
    """Predictions from one GPU catalog and one calibration: `predict` for one point, `predict_grid`
    for a frame of points. Immutable; holds a cache of operator tables, support flags and hardware
    coefficients that are pure functions of their keys, so repeated predictions are cheap."""

    catalog: ProfileCatalog
    params: CalibrationParams
    # workloads known by name besides the zoo (e.g. built from a CSV's model_config column)
    extra_workloads: Mapping[str, Workload] = field(default_factory=dict)
    # operator tables and support flags reused across calls (pure functions of their keys)
    _cache: PredictCache = field(default_factory=PredictCache, init=False, repr=False, compare=False)

    def with_workloads(self, workloads: Mapping[str, Workload]) -> "Engine":
        """This engine also knowing `workloads` by name."""
        return Engine(self.catalog, self.params, {**self.extra_workloads, **workloads})

    @classmethod
    def load(cls, profiles_dir: str | None = None, params_path: str | None = None) -> "Engine":
        """An engine from the built-in GPU profiles with a user profile directory on top (argument, else
        $PHANTOM_PROFILES) and a calibration file (default: the shipped engine/data/calibration.json)."""
        return cls(catalog=load_catalog(profiles_dir), params=load_params(params_path))

    def models(self) -> list[Workload]:
        """Every built-in zoo workload, in zoo order."""
        return list(zoo.builtin_workloads().values())

    def workload(self, source: Any, *, allow_python: bool = False) -> Workload:
        """A zoo name/alias, a path, or a source dict ({builtin|hf|onnx|torch|tensorflow: ...}).
        `module:callable` factories run code and need `allow_python=True` (CLI `--allow-python` only)."""
        # load_workload resolves zoo names itself; front ends import heavy libraries only when used
        from phantom_report.engine.sources import load_workload

        if isinstance(source, str) and source in self.extra_workloads:
            return self.extra_workloads[source]
        return load_workload(source, allow_python=allow_python)

    def predict_grid(self, points: pd.DataFrame, workloads: Mapping[str, Workload] | None = None,
                     params: CalibrationParams | None = None, intervals: bool = True) -> pd.DataFrame:
        """Vectorised predictions; `model` values are zoo names/aliases or keys of `workloads`.
        intervals=False: point predictions only, the <metric>_low/_high columns NaN."""
        codes: dict = {}
        columns = frame_columns(points)  # the caller's frame is read, never changed
        if "model" in columns:
            # each distinct spelling resolved once; its codes go on, so the grid's models are not hashed again
            model_codes, spellings = factorize(columns["model"])
            spelled = spellings.tolist()
            table, names = self._workload_table(spelled, workloads)
            canonical = np.empty(len(spelled), dtype=object)
            canonical[:] = [names[m] for m in spelled]
            columns["model"] = canonical[model_codes]
            codes["model"] = (model_codes, canonical)
        else:
            table = {**self.extra_workloads, **(workloads or {})}
        return predict_grid(points, self.catalog, table, params or self.params, self._cache_for(params), codes, columns,
                            intervals)

    def predict(self, model: str | Workload, gpu: str, precision: str, batch_size: int, **kw) -> dict:
        """One prediction as a dict (the columns of `predict_grid`). Takes the same path as
        `predict_grid` on numpy columns, without building DataFrames (microseconds, not milliseconds)."""
        workloads = None
        if isinstance(model, Workload):
            workloads, model = {model.name: model}, model.name
        row = {"model": model, "gpu": gpu, "precision": precision, "batch_size": batch_size, **kw}
        table, names = self._workload_table([model], workloads)
        row["model"] = names[model]
        cols = normalize_columns({k: _one(v) for k, v in row.items()}, self.catalog)
        out = predict_columns(cols, self.catalog, table, self.params, self._cache)
        # Python scalars, as a one-row frame's `.iloc[0].to_dict()` gave before
        return {k: v.tolist()[0] for k, v in {**cols, **out}.items()}

    def _workload_table(self, models, workloads: Mapping[str, Workload] | None) -> tuple[dict, dict]:
        """(name -> Workload for every model named, model as written -> its key in that table)."""
        table = {**self.extra_workloads, **(workloads or {})}
        names = {}
        for m in models:
            if m in table:
                names[m] = m
            else:
                canonical = zoo.resolve_builtin(str(m))
                table.setdefault(canonical, zoo.get_builtin(canonical))
                names[m] = canonical
        return table, names

    def _cache_for(self, params: CalibrationParams | None) -> PredictCache:
        """The engine's cache; for foreign params a fresh one (its support flags and coefficients are the
        engine's) sharing the engine's operator tables."""
        return self._cache if params is None or params is self.params else self._cache.for_params()


def _one(value: Any) -> np.ndarray:
    """One cell as a one-element column (object dtype: `normalize_columns` reads every spelling)."""
    col = np.empty(1, dtype=object)
    col[0] = value
    return col
