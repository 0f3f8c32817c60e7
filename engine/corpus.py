"""The measured-benchmark corpus: load, check and interpret CSV files of published measurements.

Schema: docs/MEASUREMENTS.md (the same for the shipped `benchmarks/measured/*.csv`
and for a user's `validate --data FILE.csv`). A file missing a required column is a user error
(`CorpusError`); a *row* that cannot be interpreted (unknown GPU or model, unknown metric, no batch
size, non-positive value, conflicting duplicate, ...) is never dropped silently: it goes to
`Corpus.rejected` with the reason, so reports and tests can list it.

`Corpus.rows` columns (one row per usable printed number):

| column | meaning |
| --- | --- |
| row_id | `file:line` of the row (stable id for reports) |
| file, line | CSV file name and 1-based line number |
| source, source_url | publication the number comes from |
| gpu_raw, gpu | GPU name as printed, canonical profile name |
| gpu_count | GPUs used (int, default 1) |
| model_raw, model | model name as printed, canonical zoo name |
| task | `inference` or `training` |
| runtime | lower-case runtime (`pytorch`, `tensorrt-llm`, ...) |
| precision | canonical format name of `engine.precision` (any listed spelling is accepted) |
| kv_precision | KV-cache format (optional column; "" = the activation precision) |
| batch_size | samples / sequences per step (int) |
| seq_in, seq_out | tokens (or image side in pixels for vision); NaN when not printed |
| metric | one of `METRICS` |
| value | the measured number in the metric's unit (float > 0) |
| notes | free text |
| batch_upper_bound | batch_size is an upper bound (interpretation rule), see `apply_rules` |
| tensor_parallel | GPUs one model instance spans (optional column, or interpretation rule); 0 = not given, the predictor chooses |
| interpretation | the `interpretation.csv` rules applied to the row (comma list) |
| strict_precision | the precision ran exactly as stated: an fp32 row of a source that also prints tf32 rows for that GPU (it ran with TF32 off); see `mark_strict_precision` |

`Corpus.rejected` has file, line, row_id, the raw schema columns, and `reason`.
"""

from __future__ import annotations

import csv
import fnmatch
import math
import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Mapping

import pandas as pd

from phantom_report.engine.limits import check_runtime
from phantom_report.engine.measurement_format import METRICS, REQUIRED_COLUMNS, TASKS
from phantom_report.engine.precision import resolve_kv_precision, resolve_precision
from phantom_report.engine.profiles import normalize_name
from phantom_report.errors import PhantomError

# metrics that only mean something for LLM inference (tokens_per_s also counts training tokens)
INFERENCE_ONLY_METRICS = frozenset({"prefill_tokens_per_s", "ttft_ms", "tpot_ms"})
# Two rows with this key and different values contradict each other (one printed number per key).
# GPU and model enter the key as printed (normalised spelling): two printed names that share one
# profile or zoo entry (GH200 and H200; Llama-3-8B and Llama-3.1-8B) are different measurements.
DUPLICATE_KEY = (
    "source", "_gpu_key", "gpu_count", "_model_key", "task", "runtime", "precision", "kv_precision", "batch_size",
    "seq_in", "seq_out", "metric",
)
# relative difference below which two "different" values are the same printed number (rounding)
_SAME_VALUE_RTOL = 1e-9

ROW_COLUMNS = (
    "row_id", "file", "line", "source", "source_url", "gpu_raw", "gpu", "gpu_count", "model_raw", "model",
    "task", "runtime", "precision", "kv_precision", "batch_size", "seq_in", "seq_out", "metric", "value", "notes",
    "batch_upper_bound", "tensor_parallel", "interpretation", "strict_precision",
)
REJECTED_COLUMNS = (
    "row_id", "file", "line", "source", "gpu", "gpu_count", "model", "task", "runtime", "precision", "batch_size",
    "seq_in", "seq_out", "metric", "value", "reason",
)


class CorpusError(PhantomError):
    """A measurements file cannot be read at all (missing file, missing required column)."""


@dataclass(frozen=True)
class Corpus:
    """A loaded measurement corpus: the usable rows (typed, names canonical), the rows that could not
    be interpreted with their reason, and the files read."""

    rows: pd.DataFrame  # usable rows, columns ROW_COLUMNS
    rejected: pd.DataFrame  # uninterpretable rows with `reason`, columns REJECTED_COLUMNS
    files: tuple[str, ...]

    @property
    def n_sources(self) -> int:
        """Distinct sources (publications, tables, blogs) among the usable rows."""
        return int(self.rows["source"].nunique()) if len(self.rows) else 0

    def summary(self) -> dict[str, int]:
        """Counts for reports: usable and rejected rows, files, sources, GPUs and models."""
        r = self.rows
        return {
            "rows": len(r), "rejected": len(self.rejected), "files": len(self.files), "sources": self.n_sources,
            "gpus": int(r["gpu"].nunique()) if len(r) else 0, "models": int(r["model"].nunique()) if len(r) else 0,
        }


Resolver = Callable[[str], str]  # raw name -> canonical name; raises PhantomError when unknown
# (CSV path, model_config cell) -> workload name; raises ValueError(reason) when unusable
ConfigResolver = Callable[[Path, str], str]


INTERPRETATION_FILE = "interpretation.csv"  # corpus-wide reading rules, not measurements


def _measured_dir() -> Path:
    return Path(str(resources.files("phantom_report.benchmarks").joinpath("measured")))


def builtin_corpus_files() -> list[Path]:
    """The shipped corpus: every `benchmarks/measured/*.csv` (package data) but the rules file."""
    root = _measured_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.name.endswith(".csv") and p.name != INTERPRETATION_FILE)


def default_resolvers(catalog=None) -> tuple[Resolver, Resolver]:
    """GPU names through the profile catalog's aliases, model names through the zoo's aliases."""
    from phantom_report.engine.profiles import load_catalog
    from phantom_report.engine.zoo import resolve_builtin

    cat = catalog if catalog is not None else load_catalog()
    return cat.resolve, resolve_builtin


def _blank(text: str | None) -> bool:
    return text is None or text.strip() == ""


def _parse_number(text: str | None, what: str, integer: bool = False, zero_ok: bool = False) -> float:
    """Float (NaN when blank); ValueError with a readable reason otherwise. zero_ok: 0 is a valid value
    (a prompt length: llama-bench's tg128 generates from an empty context, n_prompt 0)."""
    if _blank(text):
        return math.nan
    t = text.strip().replace(",", "") if integer else text.strip()
    try:
        v = float(t)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero_ok):
        raise ValueError(f"{what} {text!r} must be a {'non-negative' if zero_ok else 'positive'} number")
    if integer and v != int(v):
        raise ValueError(f"{what} {text!r} must be a whole number")
    return v


def _read_file(path: Path) -> tuple[list[dict[str, str]], list[int]]:
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise CorpusError(f"{path}: cannot read measurements file: {exc.strerror}") from None
    with fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise CorpusError(
                f"{path}: missing required column(s) {', '.join(missing)}; "
                f"expected the columns listed by `phantom-report validate --help` ({', '.join(REQUIRED_COLUMNS)})"
            )
        reader.fieldnames = header
        records, lines = [], []
        for rec in reader:
            records.append({k: (v or "") for k, v in rec.items() if k is not None})
            lines.append(reader.line_num)  # line of the record's last physical line; exact for 1-line rows
    return records, lines


def _resolve_with_fallback(name: str, resolve: Resolver) -> str:
    """Resolve a printed GPU name; failing that, the name without its parenthesised system/power
    note ("V100 32GB (DGX-2H)" -> "V100 32GB"), which names the same chip. ValueError otherwise."""
    try:
        return resolve(name)
    except PhantomError as exc:
        bare = re.sub(r"\s*\([^)]*\)", "", name).strip()
        if bare and bare != name:
            try:
                return resolve(bare)
            except PhantomError:
                pass
        raise ValueError(str(exc)) from None


def _interpret(rec: dict[str, str], resolve_gpu: Resolver, resolve_model: Resolver,
               resolve_config: Callable[[str], str] | None = None) -> dict:
    """One raw record -> a typed row; ValueError(reason) when it cannot be interpreted.
    resolve_config: model_config cell -> workload name (None: the column is not read here)."""
    for col in ("source", "source_url", "gpu", "model", "task", "runtime", "precision", "metric", "value"):
        if _blank(rec.get(col)):
            raise ValueError(f"required column '{col}' is empty")
    metric = rec["metric"].strip().lower()
    if metric not in METRICS:
        raise ValueError(f"unknown metric {rec['metric']!r}; expected one of {', '.join(METRICS)}")
    task = rec["task"].strip().lower()
    if task not in TASKS:
        raise ValueError(f"unknown task {rec['task']!r}; expected one of {', '.join(TASKS)}")
    try:  # the engine's one vocabulary of formats (engine/precision.py), any spelling it lists
        precision = resolve_precision(rec["precision"])
        kv_precision = resolve_kv_precision(rec["kv_precision"]) if not _blank(rec.get("kv_precision")) else ""
    except PhantomError as exc:
        raise ValueError(str(exc)) from None
    try:  # one runtime vocabulary (engine/limits.py): an unknown name is this row's problem, not the file's
        runtime = check_runtime(rec["runtime"])
    except PhantomError as exc:
        raise ValueError(str(exc)) from None
    value = _parse_number(rec["value"], "value")
    # publications that do not print the batch size are transcribed with 0 or an empty cell
    if (rec.get("batch_size") or "").strip() in ("", "0"):
        raise ValueError("batch_size not printed (empty or 0); the prediction depends on it")
    batch = _parse_number(rec.get("batch_size"), "batch_size", integer=True)
    gpu_count = _parse_number(rec.get("gpu_count"), "gpu_count", integer=True)
    seq_in = _parse_number(rec.get("seq_in"), "seq_in", integer=True, zero_ok=True)
    seq_out = _parse_number(rec.get("seq_out"), "seq_out", integer=True)
    tp = _parse_number(rec.get("tensor_parallel"), "tensor_parallel", integer=True)
    gpus = 1 if math.isnan(gpu_count) else int(gpu_count)
    if not math.isnan(tp) and not 1 <= tp <= gpus:
        raise ValueError(f"tensor_parallel {int(tp)} must be between 1 and gpu_count ({gpus})")
    if metric in ("prefill_tokens_per_s", "ttft_ms") and not seq_in > 0:
        # prefill work grows with the prompt; without its length the number cannot be predicted
        raise ValueError(f"{metric} needs seq_in > 0 (the prompt length is not printed, or the row has no prompt)")
    if metric in INFERENCE_ONLY_METRICS and task != "inference":
        raise ValueError(f"metric {metric} only applies to inference")
    gpu = _resolve_with_fallback(rec["gpu"].strip(), resolve_gpu)
    if not _blank(rec.get("model_config")):
        if resolve_config is None:
            raise ValueError("model_config is read by `validate --data` only (the shipped corpus uses zoo models)")
        model = resolve_config(rec["model_config"])
    else:
        try:
            model = resolve_model(rec["model"].strip())
        except PhantomError as exc:
            raise ValueError(str(exc)) from None
    return {
        "source": rec["source"].strip(), "source_url": rec["source_url"].strip(),
        "gpu_raw": rec["gpu"].strip(), "gpu": gpu, "gpu_count": gpus,
        "model_raw": rec["model"].strip(), "model": model, "task": task,
        "runtime": runtime, "precision": precision, "kv_precision": kv_precision,
        "batch_size": int(batch),
        "seq_in": seq_in, "seq_out": seq_out, "metric": metric, "value": value,
        "notes": rec.get("notes", "").strip(), "batch_upper_bound": False,
        "tensor_parallel": 0 if math.isnan(tp) else int(tp), "interpretation": "",
    }


def _rejected_record(rec: dict[str, str], where: dict, reason: str) -> dict:
    out = {**where, "reason": reason}
    for col in REJECTED_COLUMNS:
        if col not in out:
            out[col] = rec.get(col, "")
    return out


def _split_conflicts(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows sharing DUPLICATE_KEY with different values contradict each other: reject all of them.

    Exact repeats (the same number printed twice) keep their first occurrence only, so one printed
    number is not counted twice by the fit or the metrics.
    """
    if rows.empty:
        return rows, rows.iloc[0:0]
    key = pd.Series(
        ["|".join("" if (isinstance(v, float) and math.isnan(v)) else str(v) for v in rec)
         for rec in rows[list(DUPLICATE_KEY)].itertuples(index=False)],
        index=rows.index,
    )
    spread = rows.groupby(key)["value"].agg(lambda v: v.max() / v.min() - 1.0)
    bad_keys = set(spread.index[spread > _SAME_VALUE_RTOL])
    conflicting = key.isin(bad_keys)
    repeat = key.duplicated(keep="first") & ~conflicting
    return rows[~conflicting & ~repeat], rows[conflicting]


RULES = ("batch_upper_bound", "value_per_gpu", "exclude", "iterations_per_s", "seq_in_default", "tensor_parallel_all")
# rules that change a printed number: each must quote the source's own words for it (`source_words`)
RESCALING_RULES = frozenset({"value_per_gpu", "iterations_per_s"})
RULE_COLUMNS = ("source_pattern", "model", "rule", "value", "reason", "source_words", "metric", "gpu", "gpu_count")


@dataclass(frozen=True)
class Rule:
    """One line of `interpretation.csv`: how to read some rows of some sources.

    `source_pattern` is matched deliberately: a name without `*` matches that one source exactly; a
    `*` matches any run of characters (`tensorrt-llm-perf-overview-v*` names every version, v0.11 to
    v1.0). `metrics` is never empty: a rule says which printed quantities it is about.
    tests/fixtures/interpretation_rule_files.json lists the files every rule touches."""

    source_pattern: str
    model: str  # canonical zoo name, or "" for every model
    rule: str  # one of RULES
    value: float  # the rule's number (iterations_per_s: UNet evaluations per iteration; seq_in_default)
    reason: str
    metrics: frozenset[str]  # METRICS it applies to (required)
    source_words: str = ""  # the source's own words that justify a rescaling rule
    gpu: str = ""  # canonical GPU name, blank = every GPU
    gpu_counts: frozenset[int] = frozenset()  # blank = every GPU count

    @property
    def key(self) -> str:
        """Stable identity of the rule (for listings and the rule -> files fixture)."""
        parts = [self.source_pattern, self.rule, f"model={self.model}", f"metric={';'.join(sorted(self.metrics))}",
                 f"gpu={self.gpu}", f"gpu_count={';'.join(str(n) for n in sorted(self.gpu_counts))}"]
        return " ".join(parts)

    def matches_source(self, source: str) -> bool:
        """Whether `source` matches this rule's pattern (exact name, or `*` wildcards; see the class)."""
        return fnmatch.fnmatchcase(source, self.source_pattern)

    def matches(self, row: Mapping) -> bool:
        """Whether the rule applies to a typed corpus row (source, model, metric, gpu, gpu_count)."""
        return (self.matches_source(row["source"]) and (not self.model or self.model == row["model"])
                and row["metric"] in self.metrics and (not self.gpu or self.gpu == row["gpu"])
                and (not self.gpu_counts or row["gpu_count"] in self.gpu_counts))


def _rule_list(text: str, where: str, what: str, allowed=None, integer: bool = False) -> frozenset:
    items = [t.strip() for t in text.split(";") if t.strip()]
    for t in items:
        if integer and not t.isdigit():
            raise CorpusError(f"{where}: {what} {t!r} is not a whole number of GPUs")
        if allowed is not None and t not in allowed:
            raise CorpusError(f"{where}: unknown {what} {t!r}; expected one of {', '.join(allowed)} (';' between several)")
    return frozenset(int(t) for t in items) if integer else frozenset(items)


def _parse_rule(rec: Mapping[str, str], where: str) -> Rule:
    get = lambda k: (rec.get(k) or "").strip()  # noqa: E731
    rule = get("rule")
    if rule not in RULES:
        raise CorpusError(f"{where}: unknown rule {rule!r}; expected one of {', '.join(RULES)}")
    if not get("source_pattern"):
        raise CorpusError(f"{where}: source_pattern is empty; name the source (a '*' for versions)")
    metrics = _rule_list(get("metric"), where, "metric", METRICS)
    if not metrics:
        raise CorpusError(f"{where}: metric is empty; every rule names the metrics it applies to "
                          f"({', '.join(METRICS)}, ';' between several)")
    if rule in RESCALING_RULES and not get("source_words"):
        raise CorpusError(f"{where}: rule {rule} rescales printed values: source_words must quote the source's "
                          "own words for it")
    value = get("value")
    return Rule(get("source_pattern"), get("model"), rule, float(value) if value else math.nan, get("reason"),
                metrics, get("source_words"), get("gpu"), _rule_list(get("gpu_count"), where, "gpu_count", integer=True))


def load_rules(path: Path | None = None) -> tuple[Rule, ...]:
    """Reading rules of the shipped corpus (`benchmarks/measured/interpretation.csv`)."""
    path = path or _measured_dir() / INTERPRETATION_FILE
    if not path.is_file():
        return ()
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in RULE_COLUMNS if c not in header]
        if missing:
            raise CorpusError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(RULE_COLUMNS)}")
        reader.fieldnames = header
        return tuple(_parse_rule(rec, f"{path}:{reader.line_num}") for rec in reader)


def _canonical_gpu(rule: Rule, resolve_gpu: Resolver) -> Rule:
    """The rule with its GPU filter under the canonical name the rows carry (any alias may be written)."""
    if not rule.gpu:
        return rule
    try:
        return replace(rule, gpu=resolve_gpu(rule.gpu))
    except PhantomError as exc:
        raise CorpusError(f"{INTERPRETATION_FILE}: rule for {rule.source_pattern!r}: {exc}") from None


def apply_rules(row: dict, rules: Iterable[Rule]) -> dict:
    """A typed row read through the rules; ValueError(reason) for an excluded row.

    - exclude: the row is listed as not interpretable, with the rule's reason;
    - value_per_gpu: the printed per-GPU value x gpu_count (the schema counts all GPUs);
    - iterations_per_s (value k): a diffusion pipeline's denoising iterations/s at prompt batch b is
      one UNet evaluation at batch k*b per iteration, so it becomes UNet samples/s = value x k x b at
      batch k x b;
    - seq_in_default: the source's stated sequence length where the row leaves seq_in empty;
    - batch_upper_bound: batch_size is an upper bound (queued requests, max batch); calibration
      and validation predict such rows at the largest batch memory holds (`max_batch`), the way
      serving engines size their KV cache (see engine/predict.py);
    - tensor_parallel_all: the row's gpu_count GPUs run one model instance, tensor-parallel across
      all of them (serving tables that print TP = GPU count); without it the predictor picks the
      smallest tensor-parallel group that holds the model and replicates it over the rest.
    """
    notes = []
    for r in rules:
        if not r.matches(row):
            continue
        if r.rule == "exclude":
            raise ValueError(f"excluded by interpretation.csv: {r.reason}")
        if r.rule == "value_per_gpu":
            row["value"] *= row["gpu_count"]
        elif r.rule == "iterations_per_s" and row["metric"] == "throughput_per_s":
            k = r.value if math.isfinite(r.value) else 1.0
            row["batch_size"] = int(round(row["batch_size"] * k))
            row["value"] *= row["batch_size"]
        elif r.rule == "seq_in_default" and math.isnan(row["seq_in"]):
            row["seq_in"] = r.value
        elif r.rule == "batch_upper_bound":
            row["batch_upper_bound"] = True
        elif r.rule == "tensor_parallel_all":
            row["tensor_parallel"] = row["gpu_count"]
        else:
            continue
        notes.append(r.rule)
    row["interpretation"] = ",".join(notes)
    return row


def rule_coverage(paths: Iterable[str | Path] | None = None, rules: Iterable[Rule] | None = None,
                  resolve_gpu: Resolver | None = None, resolve_model: Resolver | None = None) -> dict[str, dict[str, int]]:
    """For every rule (by `Rule.key`), the files whose rows it matches and how many rows in each.

    Rows are matched as printed (source, metric, gpu_count, and the GPU and model where they
    resolve), whether or not the rest of the row can be interpreted, so a rule is accounted for
    even on rows another check rejects. A rule matching no file maps to {}."""
    rules = tuple(rules) if rules is not None else load_rules()
    files = [Path(p) for p in paths] if paths is not None else builtin_corpus_files()
    if resolve_gpu is None or resolve_model is None:
        dg, dm = default_resolvers()
        resolve_gpu, resolve_model = resolve_gpu or dg, resolve_model or dm
    rules = tuple(_canonical_gpu(r, resolve_gpu) for r in rules)

    def quiet(fn, name):
        try:
            return _resolve_with_fallback(name, fn)
        except ValueError:
            return ""

    out: dict[str, dict[str, int]] = {r.key: {} for r in rules}
    for path in files:
        records, _ = _read_file(path)
        for rec in records:
            count = (rec.get("gpu_count") or "").strip()
            row = {"source": rec.get("source", "").strip(), "metric": rec.get("metric", "").strip().lower(),
                   "gpu_count": int(count) if count.isdigit() else 1,
                   "gpu": quiet(resolve_gpu, rec.get("gpu", "").strip()),
                   "model": quiet(resolve_model, rec.get("model", "").strip())}
            for r in rules:
                if r.matches(row):
                    out[r.key][path.name] = out[r.key].get(path.name, 0) + 1
    return out


def load_corpus(
    paths: Iterable[str | Path] | None = None,
    resolve_gpu: Resolver | None = None,
    resolve_model: Resolver | None = None,
    rules: Iterable[Rule] | None = None,
    resolve_config: ConfigResolver | None = None,
) -> Corpus:
    """Load and check measurement files (default: the shipped corpus) into a `Corpus`.

    `rules` default to the shipped corpus's `interpretation.csv` when `paths` is None (the shipped
    corpus) and to none for other files (a user's file follows the schema as written).
    `resolve_config` reads the optional `model_config` column (engine/model_config.py).
    """
    if rules is None:
        rules = load_rules() if paths is None else ()
    rules = tuple(rules)
    files = [Path(p) for p in paths] if paths is not None else builtin_corpus_files()
    if resolve_gpu is None or resolve_model is None:
        dg, dm = default_resolvers()
        resolve_gpu, resolve_model = resolve_gpu or dg, resolve_model or dm
    rules = tuple(_canonical_gpu(r, resolve_gpu) for r in rules)
    good: list[dict] = []
    bad: list[dict] = []
    for path in files:
        records, lines = _read_file(path)
        for rec, line in zip(records, lines):
            where = {"file": path.name, "line": line, "row_id": f"{path.name}:{line}"}
            per_file = (lambda cell, _p=path: resolve_config(_p, cell)) if resolve_config else None
            try:
                good.append(apply_rules({**where, **_interpret(rec, resolve_gpu, resolve_model, per_file)}, rules))
            except ValueError as exc:
                bad.append(_rejected_record(rec, where, str(exc)))
    rows = pd.DataFrame(good, columns=list(ROW_COLUMNS))
    keyed = rows.assign(_gpu_key=rows["gpu_raw"].map(normalize_name), _model_key=rows["model_raw"].map(normalize_name))
    rows, conflicts = _split_conflicts(keyed)
    rows, conflicts = rows.drop(columns=["_gpu_key", "_model_key"]), conflicts.drop(columns=["_gpu_key", "_model_key"])
    for rec in conflicts.to_dict("records"):
        bad.append(_rejected_record(
            {k: str(v) for k, v in rec.items()}, {k: rec[k] for k in ("file", "line", "row_id")},
            "conflicting duplicate: another row has the same (source, gpu, gpu_count, model, task, runtime, "
            "precision, batch_size, seq_in, seq_out, metric) with a different value",
        ))
    rejected = pd.DataFrame(bad, columns=list(REJECTED_COLUMNS))
    return Corpus(rows=mark_strict_precision(rows.reset_index(drop=True)), rejected=rejected,
                  files=tuple(p.name for p in files))


def mark_strict_precision(rows: pd.DataFrame) -> pd.DataFrame:
    """`strict_precision` = the row's fp32 ran as fp32: its source also prints tf32 rows for the same
    GPU, so the publication distinguished the two and ran its "FP32" with TF32 turned off (NVIDIA's
    DeepLearningExamples print TF32 and FP32 columns side by side; NVIDIA_TF32_OVERRIDE=0). Other
    fp32 rows follow their runtime's defaults (engine/executed.py)."""
    if rows.empty:
        return rows.assign(strict_precision=pd.Series(dtype=bool))
    with_tf32 = set(map(tuple, rows.loc[rows["precision"] == "tf32", ["source", "gpu"]].drop_duplicates().to_numpy()))
    strict = [p == "fp32" and (s, g) in with_tf32 for s, g, p in zip(rows["source"], rows["gpu"], rows["precision"])]
    return rows.assign(strict_precision=strict)
