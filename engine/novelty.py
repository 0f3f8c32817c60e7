"""How far a prediction point lies from the measured corpus: novelty level and extrapolation flags.

Interval widths come from leave-one-source-out residuals (see `intervals.interval_block`), and a
source the fit never saw is not equally foreign everywhere: a vLLM row on Hopper for a decoder LLM
is surrounded by hundreds of similar rows, an MLC-LLM row on RDNA3 by none. The **novelty level**
scores a point by how many corpus rows share what the predictor's fitted parameters are keyed on:

- 0 "seen":  >= MIN_SUPPORT_ROWS rows share its runtime, GPU architecture and model family
- 1 "near":  >= MIN_SUPPORT_ROWS rows share runtime and architecture, fewer also the model family
- 2 "far":   >= MIN_SUPPORT_ROWS rows share the runtime, fewer on this architecture
- 3 "new":   fewer than MIN_SUPPORT_ROWS rows of this runtime at all (its efficiencies are not fitted:
             calibration gives a runtime its own parameters from MIN_ROWS_PER_SCOPE = 20 rows on)

(model family = the workload's `family`: cnn, encoder, decoder, vit, diffusion, ...). Intervals are
Mondrian-conformal per level (`intervals.interval_block`), so the width grows with novelty.

**Extrapolation** is stricter: the point lies outside the corpus' support altogether, and the
prediction says why (`extrapolation_reasons`): no rows for the runtime, for the runtime on this
architecture, for the model family in this task, or a batch / prompt length / GPU count beyond the
largest measured one.

`Support` also counts the distinct sources behind each fitted runtime (`runtime_sources`,
`runtime_source_counts`): intervals widen for a runtime measured by few sources and a runtime measured
by many takes its own width (intervals.py, "Thin runtimes").

`Support` is the summary of the corpus these need; it is stored in calibration.json
(`intervals.support`) so predictions do not read the corpus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

MIN_SUPPORT_ROWS = 20  # rows sharing a key before it counts as supported (= calibration.MIN_ROWS_PER_SCOPE)
LEVELS = (0, 1, 2, 3)
LEVEL_NAMES = {0: "seen", 1: "near", 2: "far", 3: "new"}
_SEP = "|"
# what a point's support is judged on (`novelty_levels`, `extrapolation_reasons`, `Support.of`)
POINT_COLUMNS = ("runtime", "arch", "family", "task", "batch_size", "seq_in", "gpu_count")
_RELEASE_SUFFIX = re.compile(r"[-_]?v?\d+(\.\d+)+$")  # "-v0.13", "-20.06", "0.10.1" at the end of a source id


@dataclass(frozen=True)
class Support:
    """Row counts of the corpus by (runtime, architecture, family) and the largest measured sizes."""

    rows: Mapping[str, int] = field(default_factory=dict)  # "runtime|arch|family" -> rows
    runtime_sources: Mapping[str, int] | None = None  # fitted runtime -> distinct sources; None = not recorded
    family_tasks: Mapping[str, int] = field(default_factory=dict)  # "family|task" -> rows
    max_batch: Mapping[str, float] = field(default_factory=dict)  # "family|task" -> largest batch
    max_seq_in: Mapping[str, float] = field(default_factory=dict)  # "family|task" -> largest seq_in
    max_gpu_count: float = 0.0

    @classmethod
    def of(cls, rows: pd.DataFrame) -> "Support":
        """From corpus rows with `runtime`, `arch`, `family`, `task`, `batch_size`, `seq_in`, `gpu_count`."""
        if rows.empty:
            return cls()
        key = _join(rows["runtime"], rows["arch"], rows["family"])
        ft = _join(rows["family"], rows["task"])
        by_ft = rows.assign(_ft=ft).groupby("_ft")
        sources = fitted_runtime_sources(rows) if "source" in rows else None
        return cls(rows={k: int(v) for k, v in key.value_counts().items()}, runtime_sources=sources,
                   family_tasks={k: int(v) for k, v in ft.value_counts().items()},
                   max_batch={k: float(v) for k, v in by_ft["batch_size"].max().items()},
                   max_seq_in={k: float(v) for k, v in by_ft["seq_in"].max().dropna().items()},
                   max_gpu_count=float(rows["gpu_count"].max()))

    def to_dict(self) -> dict[str, Any]:
        """The support table as calibration.json stores it (`intervals.support`)."""
        out = {"rows": dict(self.rows), "family_tasks": dict(self.family_tasks), "max_batch": dict(self.max_batch),
                "max_seq_in": dict(self.max_seq_in), "max_gpu_count": self.max_gpu_count}
        if self.runtime_sources is not None:
            out["runtime_sources"] = dict(self.runtime_sources)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Support | None":
        """The support table from calibration.json's `intervals.support`; None when absent or empty."""
        if not d:
            return None
        sources = d.get("runtime_sources")
        return cls(rows=dict(d.get("rows", {})), runtime_sources=None if sources is None else dict(sources),
                   family_tasks=dict(d.get("family_tasks", {})),
                   max_batch=dict(d.get("max_batch", {})), max_seq_in=dict(d.get("max_seq_in", {})),
                   max_gpu_count=float(d.get("max_gpu_count", 0.0)))

    @cached_property
    def counts(self):
        """Rows per runtime, per (runtime, arch) and per arch, summed from the finest key (once per
        table: every prediction asks for them)."""
        rt, rt_arch, arch = {}, {}, {}
        for k, n in self.rows.items():
            r, a, _ = k.split(_SEP)
            rt[r] = rt.get(r, 0) + n
            rt_arch[r + _SEP + a] = rt_arch.get(r + _SEP + a, 0) + n
            arch[a] = arch.get(a, 0) + n
        return rt, rt_arch, arch


def source_series(source: str) -> str:
    """The publication series a corpus source belongs to: its id without a trailing release number
    ("tensorrt-llm-perf-overview-v0.13" -> "tensorrt-llm-perf-overview", "amd-rocm-perf-results-vllm0.9.1"
    -> "amd-rocm-perf-results-vllm", "nvidia-dle-resnet50-tf-20.06" -> "nvidia-dle-resnet50-tf").

    Successive releases of one vendor table share its method, harness and often its software, so for
    interval widths they are one draw of a source, not several: counting six releases of AMD's vLLM
    table as six sources made vLLM "measured by 9+ sources", its own Mondrian cell, whose narrow width
    then covered an independent blog's rows 11% of the time (leave-one-source-out coverage of vLLM rows
    75.7% -> 90.5%, TensorRT-LLM 88.9% -> 90.2%, overall 89.9% -> 90.6%, median width unchanged)."""
    return _RELEASE_SUFFIX.sub("", str(source))


def source_series_of(sources: pd.Series) -> pd.Series:
    """`source_series` of each row's source, the pattern matched once per distinct source (a corpus
    has ~100 sources over ~5,000 rows, and cross-validation asks once per fold)."""
    return sources.map({s: source_series(s) for s in sources.unique()})


def fitted_runtime_sources(rows: pd.DataFrame) -> dict[str, int]:
    """Distinct source series (`source_series`) per runtime of corpus `rows` (`runtime`, `source`), for
    runtimes with enough rows to be fitted (MIN_SUPPORT_ROWS); the others rest on no source and are left out."""
    by_rt = rows.assign(source=source_series_of(rows["source"])).groupby("runtime")["source"]
    return {str(k): int(v) for (k, v), n in zip(by_rt.nunique().items(), by_rt.size()) if n >= MIN_SUPPORT_ROWS}


class _Point(NamedTuple):
    runtime: Any
    arch: Any
    family: Any
    task: Any
    batch_size: Any
    seq_in: Any
    gpu_count: Any


def _join(*cols: pd.Series) -> pd.Series:
    out = cols[0].astype(str)
    for c in cols[1:]:
        out = out + _SEP + c.astype(str)
    return out


def _cells(points: Mapping[str, Any] | "pd.DataFrame", column: str) -> list:
    """A column of `points` (a DataFrame or a mapping of equal-length arrays) as Python values: one
    prediction passes numpy columns and so never loads pandas."""
    return np.asarray(points[column]).tolist()


def novelty_levels(support: Support, points: Mapping[str, Any] | "pd.DataFrame") -> np.ndarray:
    """Novelty level (0-3, see module docstring) of each point (`runtime`, `arch`, `family`);
    points: a DataFrame or a mapping of equal-length columns."""
    rt, rt_arch, _ = support.counts
    level = [3 if n_rt < MIN_SUPPORT_ROWS else 2 if n_ra < MIN_SUPPORT_ROWS else 1 if n_raf < MIN_SUPPORT_ROWS else 0
             for n_rt, n_ra, n_raf in _support_counts(support, rt, rt_arch, points)]
    return np.array(level, dtype=int)


def runtime_source_counts(support: Support, points: Mapping[str, Any] | "pd.DataFrame") -> np.ndarray:
    """Per point: how many distinct corpus sources measured its runtime (0 for a runtime without rows);
    -1 everywhere when the support does not record sources (a calibration file from before)."""
    runtimes = _cells(points, "runtime")
    if support.runtime_sources is None:
        return np.full(len(runtimes), -1, dtype=int)
    return np.array([support.runtime_sources.get(str(r), 0) for r in runtimes], dtype=int)


def _support_counts(support: Support, rt: Mapping, rt_arch: Mapping, points) -> list[tuple[int, int, int]]:
    """(rows of the runtime, of runtime + architecture, of runtime + architecture + family) per point."""
    out = []
    for r, a, f in zip(*(map(str, _cells(points, c)) for c in ("runtime", "arch", "family"))):
        ra = r + _SEP + a
        out.append((rt.get(r, 0), rt_arch.get(ra, 0), support.rows.get(ra + _SEP + f, 0)))
    return out


def extrapolation_reasons(support: Support, points: Mapping[str, Any] | "pd.DataFrame") -> np.ndarray:
    """Per point: "" inside the corpus' support, else why not ("; "-joined). Points (a DataFrame or
    a mapping of equal-length columns) need `runtime`, `arch`, `family`, `task`, `batch_size`,
    `seq_in` (NaN = not given) and `gpu_count`."""
    rt, rt_arch, arch_n = support.counts
    out = []
    for p in map(_Point._make, zip(*(_cells(points, c) for c in POINT_COLUMNS))):
        reasons = []
        ft = f"{p.family}{_SEP}{p.task}"
        if rt.get(p.runtime, 0) == 0:
            reasons.append(f"no corpus rows for runtime {p.runtime}")
        elif arch_n.get(p.arch, 0) == 0:
            reasons.append(f"no corpus rows on architecture {p.arch}")
        elif rt_arch.get(f"{p.runtime}{_SEP}{p.arch}", 0) == 0:
            reasons.append(f"no corpus rows for runtime {p.runtime} on architecture {p.arch}")
        if support.family_tasks.get(ft, 0) == 0:
            reasons.append(f"no corpus rows for {p.family} models in {p.task}")
        else:
            top_b = support.max_batch.get(ft)
            if top_b is not None and p.batch_size > top_b:
                reasons.append(f"batch {int(p.batch_size)} beyond the largest measured {int(top_b)}")
            top_s = support.max_seq_in.get(ft)
            if top_s is not None and p.seq_in == p.seq_in and p.seq_in > top_s:  # NaN-safe
                reasons.append(f"seq_in {int(p.seq_in)} beyond the largest measured {int(top_s)}")
        if support.max_gpu_count and p.gpu_count > support.max_gpu_count:
            reasons.append(f"gpu_count {int(p.gpu_count)} beyond the largest measured {int(support.max_gpu_count)}")
        out.append("; ".join(reasons))
    return np.array(out, dtype=object)
