"""The run spec: a YAML file naming workloads, GPUs, pricing, ROI and the report wanted.

Validated with pydantic; every error is turned into one line that names the file, the line, the key
path and what was expected (``spec.yaml:12: workloads[0].batch_sizes[1]: must be a positive
integer, got -4``). A three-line spec (``model``, ``gpus: all``, ``demand``) is valid: the top-level
``model``/``task``/``demand``/``slo``... keys are shorthand for a single entry of ``workloads``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from phantom_report.errors import SpecError
from phantom_report.reporter import yamlpos

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]


def _precision(v: str) -> str:
    """Canonical format name (engine/precision.py: any spelling it lists, e.g. Q4_K_M, AWQ, bf16)."""
    from phantom_report.engine.precision import resolve_precision
    from phantom_report.errors import PhantomError

    try:
        return resolve_precision(v)
    except PhantomError as exc:
        raise ValueError(str(exc)) from None


Precision = Annotated[str, AfterValidator(_precision)]

MODEL_SOURCE_KEYS = ("builtin", "hf", "onnx", "torch", "tensorflow")
FORMATS = ("html", "pdf", "md", "json", "csv")
PROVIDERS = ("aws", "gcp", "azure", "lambda", "runpod")
RESERVED_TERMS = ("1y", "3y")
# keys of a workload that may also appear at the top level of a single-workload spec
_WORKLOAD_KEYS = (
    "model", "name", "task", "runtime", "precisions", "batch_sizes", "seq_in", "seq_out",
    "gpu_counts", "demand", "slo",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Demand(_Strict):
    """How much work a month. Inference: one of requests_per_month, tokens_per_month (generated
    tokens), requests_per_s (average). Training: dataset_samples or dataset_tokens, x epochs."""

    requests_per_month: PositiveFloat | None = None
    tokens_per_month: PositiveFloat | None = None
    requests_per_s: PositiveFloat | None = None
    peak_to_average: Annotated[float, Field(ge=1)] = 1.0
    target_utilization: Annotated[float, Field(gt=0, le=1)] = 0.7
    uncertainty_pct: Annotated[float, Field(ge=0, lt=100)] = 0.0
    dataset_samples: PositiveFloat | None = None
    dataset_tokens: PositiveFloat | None = None
    epochs: PositiveFloat = 1.0
    runs_per_month: PositiveFloat = 1.0
    deadline_hours: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> "Demand":
        rates = [k for k in ("requests_per_month", "tokens_per_month", "requests_per_s") if getattr(self, k)]
        data = [k for k in ("dataset_samples", "dataset_tokens") if getattr(self, k)]
        if len(rates) > 1:
            raise ValueError(f"give only one of requests_per_month, tokens_per_month, requests_per_s (got {', '.join(rates)})")
        if len(data) > 1:
            raise ValueError("give only one of dataset_samples, dataset_tokens")
        if not rates and not data:
            raise ValueError(
                "needs a rate (requests_per_month, tokens_per_month or requests_per_s) "
                "or, for training, dataset_samples or dataset_tokens"
            )
        if rates and data:
            raise ValueError("mixes an inference rate with a training dataset size; pick one")
        return self

    @property
    def is_training(self) -> bool:
        return bool(self.dataset_samples or self.dataset_tokens)


class Slo(_Strict):
    """Service levels; a config that misses any of them is excluded (reason shown)."""

    p95_latency_ms: PositiveFloat | None = None
    max_ttft_ms: PositiveFloat | None = None
    min_tokens_per_s: PositiveFloat | None = None  # per request stream (1000 / TPOT)
    max_gpus: PositiveInt | None = None  # a fleet larger than this is not a real option


class Workload(_Strict):
    name: str | None = None
    model: str | dict[str, Any]
    task: Literal["inference", "training"] | None = None
    runtime: str | None = None
    precisions: list[Precision] = Field(default_factory=lambda: ["fp16"], min_length=1)
    batch_sizes: list[PositiveInt] | None = Field(default=None, min_length=1)
    seq_in: PositiveInt | None = None
    seq_out: PositiveInt | None = None
    gpu_counts: Literal["auto"] | list[PositiveInt] = "auto"
    demand: Demand
    slo: Slo = Field(default_factory=Slo)

    @field_validator("model")
    @classmethod
    def _model_source(cls, v: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(v, dict):
            keys = [k for k in v if k in MODEL_SOURCE_KEYS]
            if len(keys) != 1:
                raise ValueError(f"must name exactly one source key of {', '.join(MODEL_SOURCE_KEYS)}")
        elif not v.strip():
            raise ValueError("must be a model name")
        return v

    @model_validator(mode="after")
    def _task_matches_demand(self) -> "Workload":
        task = self.task or ("training" if self.demand.is_training else "inference")
        if (task == "training") != self.demand.is_training:
            raise ValueError(
                f"task {task} needs "
                + ("dataset_samples or dataset_tokens" if task == "training" else "a request or token rate")
                + " in demand"
            )
        return self

    @property
    def resolved_task(self) -> str:
        return self.task or ("training" if self.demand.is_training else "inference")

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if isinstance(self.model, str):
            return self.model
        key = next(k for k in self.model if k in MODEL_SOURCE_KEYS)
        return Path(str(self.model[key])).stem or key

    @property
    def resolved_batch_sizes(self) -> list[int]:
        if self.batch_sizes:
            return list(self.batch_sizes)
        return [32] if self.resolved_task == "training" else [1, 8, 32]


class Baseline(_Strict):
    gpu: str
    provider: str | None = None
    region: str | None = None
    option: Literal["on-demand", "spot", "reserved-1y", "reserved-3y"] = "on-demand"


class Pricing(_Strict):
    providers: list[Literal["aws", "gcp", "azure", "lambda", "runpod"]] | None = None
    regions: list[str] | None = None
    spot: bool = True
    reserved: list[Literal["1y", "3y"]] = Field(default_factory=lambda: ["1y"])
    offline: bool = False
    # extra GPU-time a spot fleet needs for restarts and lost work after preemptions
    spot_interruption_overhead: Annotated[float, Field(ge=0, le=2)] = 0.15


class Roi(_Strict):
    baseline: Baseline | None = None
    horizon_months: PositiveInt = 12
    migration_cost_usd: NonNegFloat = 0.0
    purchase_price_usd_per_gpu: PositiveFloat | None = None  # default: the GPU profile's launch price
    power_cost_usd_per_kwh: NonNegFloat = 0.12
    hosting_usd_per_gpu_month: NonNegFloat = 150.0
    onprem_pue: Annotated[float, Field(ge=1, le=3)] = 1.5


class MonteCarlo(_Strict):
    samples: Annotated[int, Field(ge=100, le=100_000)] = 1000
    seed: int = 20240601


class Report(_Strict):
    template: str = "executive"
    template_dir: str | None = None
    formats: list[Literal["html", "pdf", "md", "json", "csv"]] = Field(
        default_factory=lambda: list(FORMATS), min_length=1
    )
    out_dir: str | None = None
    theme: Literal["light", "dark"] = "light"
    logo: str | None = None
    accent_color: str = "#1f4e79"
    page_size: Literal["A4", "Letter"] = "A4"

    @field_validator("accent_color")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", v):
            raise ValueError(f"must be a #rrggbb colour, got {v!r}")
        return v


class Schedule(_Strict):
    cron: str
    timezone: str = "UTC"


class Email(_Strict):
    to: list[str] = Field(min_length=1)
    subject: str | None = None
    attach: list[Literal["pdf", "html", "md", "json", "csv"]] = Field(default_factory=lambda: ["pdf"])


class RunSpec(_Strict):
    title: str = "GPU cost and performance report"
    owner: str | None = None
    workloads: list[Workload] = Field(min_length=1)
    gpus: Literal["all"] | list[str] = "all"
    pricing: Pricing = Field(default_factory=Pricing)
    roi: Roi = Field(default_factory=Roi)
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.9
    monte_carlo: MonteCarlo = Field(default_factory=MonteCarlo)
    report: Report = Field(default_factory=Report)
    schedule: Schedule | None = None
    email: Email | None = None
    # where the spec came from; relative paths in it resolve against base_dir
    source_path: str | None = Field(default=None, exclude=True)
    base_dir: str = Field(default=".", exclude=True)

    @model_validator(mode="after")
    def _unique_names(self) -> "RunSpec":
        seen: set[str] = set()
        for w in self.workloads:
            if w.label in seen:
                raise ValueError(f"two workloads are called {w.label!r}; give them distinct `name`s")
            seen.add(w.label)
        return self

    def resolve_path(self, p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else Path(self.base_dir) / path

    def as_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-able data, stored with every report so it can be reproduced."""
        return json.loads(self.model_dump_json(exclude_none=True))


# ---------------------------------------------------------------------------- loading


def load_spec(path: str | Path) -> RunSpec:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{p}: cannot read spec: {exc.strerror or exc}") from None
    return parse_spec(text, filename=str(p), base_dir=str(p.resolve().parent))


def parse_spec(text: str, filename: str = "<spec>", base_dir: str = ".") -> RunSpec:
    """Validate spec text; raises SpecError with ``file:line: key.path: expectation``."""
    try:
        data = yaml.safe_load(text)
        root = yamlpos.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{filename}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        raise SpecError(f"{filename}: spec is empty; it needs at least `model`, `gpus` and `demand`")
    if not isinstance(data, dict):
        raise SpecError(f"{filename}:1: the spec must be a mapping of keys, got {type(data).__name__}")
    shorthand = "workloads" not in data and any(k in data for k in _WORKLOAD_KEYS)
    if shorthand:
        data = dict(data)
        data["workloads"] = [{k: data.pop(k) for k in _WORKLOAD_KEYS if k in data}]
    try:
        return RunSpec.model_validate({**data, "source_path": filename, "base_dir": base_dir})
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = tuple(err["loc"])
        if shorthand and loc[:2] == ("workloads", 0):
            loc = loc[2:]
        raise SpecError(_format_error(filename, root, data if not shorthand else _unshort(data), loc, err)) from None


def _unshort(data: dict[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in data.items() if k != "workloads"}
    merged.update(data["workloads"][0])
    return merged


def _format_error(filename: str, root: yaml.Node | None, data: Any, loc: Sequence[Any], err: dict) -> str:
    path = _data_path(data, loc)
    line = yamlpos.line_of(root, path)
    where = f"{filename}:{line}" if line else filename
    key = _render_path(path) or "spec"
    return f"{where}: {key}: {_expectation(err, data, loc, path)}"


def _data_path(data: Any, loc: Sequence[Any]) -> list[str | int]:
    """The part of pydantic's location that exists in the user's data (drops union tags such as
    'str' or 'function-after[...]'); a missing key is kept as the last part so it can be named."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str):
            if part in node:
                path.append(part)
                node = node[part]
            elif i == len(loc) - 1:  # a missing (or unknown) key: name it
                path.append(part)
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
    return path


def _render_path(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# fields declared as integers (so "positive integer" rather than "positive number" in messages)
_INT_FIELDS = {"batch_sizes", "gpu_counts", "seq_in", "seq_out", "max_gpus", "horizon_months", "samples"}


def _expectation(err: dict, data: Any, loc: Sequence[Any], path: Sequence[Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = f", got {value!r}" if not isinstance(value, (dict, list)) else ""
    if kind == "greater_than" and ctx.get("gt") == 0:
        field = next((p for p in reversed(loc) if isinstance(p, str)), "")
        return f"must be a positive {'integer' if field in _INT_FIELDS else 'number'}{got}"
    if kind == "greater_than":
        return f"must be greater than {ctx.get('gt')}{got}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}{got}"
    if kind in ("less_than", "less_than_equal"):
        return f"must be {'below' if kind == 'less_than' else 'at most'} {ctx.get('lt', ctx.get('le'))}{got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"must be an integer{got}"
    if kind in ("float_parsing", "float_type"):
        return f"must be a number{got}"
    if kind in ("bool_parsing", "bool_type"):
        return f"must be true or false{got}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key (see `phantom-report spec schema`)"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx.get('expected')}{got}"
    if kind == "too_short":
        return "must not be empty"
    if kind in ("list_type", "dict_type", "model_type", "model_attributes_type"):
        want = {"list_type": "a list", "dict_type": "a mapping"}.get(kind, "a mapping of keys")
        return f"must be {want}{got}"
    if kind == "value_error":
        return str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
    return f"{err['msg'][0].lower()}{err['msg'][1:]}{got}"


def spec_json_schema() -> dict[str, Any]:
    schema = RunSpec.model_json_schema()
    for key in ("source_path", "base_dir"):
        schema.get("properties", {}).pop(key, None)
    return schema
