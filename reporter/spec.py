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
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator,
                      model_validator)

from phantom_report.engine import limits as lim
from phantom_report.engine.sources import SOURCE_KINDS
from phantom_report.errors import PhantomError, SpecError
from phantom_report.reporter import yamlpos
from phantom_report.vocab import PRICE_OPTIONS, PROVIDERS, REPORT_FORMATS, RESERVED_TERMS

# every number is finite (YAML `.inf`/`.nan` are refused) and every integer, list and text is bounded
# (engine/limits.py holds the bounds, shared with the CLI and the engine's own input checks)
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


def _bounded(most: float) -> Any:
    return Field(gt=0, le=most, allow_inf_nan=False)


def _path(v: str) -> str:
    """A path the OS can open: no NUL, bounded length, each component within NAME_MAX (255 bytes)."""
    if "\x00" in v:
        raise ValueError("must not contain a NUL character")
    if len(v) > lim.MAX_PATH_CHARS:
        raise ValueError(f"is {len(v):,} characters long; paths may have at most {lim.MAX_PATH_CHARS}")
    for part in re.split(r"[/\\]", v):
        if len(part.encode("utf-8", "surrogatepass")) > lim.MAX_PATH_COMPONENT_BYTES:
            raise ValueError(f"has a path component of {len(part.encode('utf-8', 'surrogatepass'))} bytes; "
                             f"file names may have at most {lim.MAX_PATH_COMPONENT_BYTES}")
    return v


def _runtime(v: str) -> str:
    key = v.strip().lower()
    if key not in lim.RUNTIMES:
        raise ValueError(f"unknown runtime {lim.show(v)}{lim.suggest(key, lim.RUNTIMES)}")
    return key


Name = Annotated[str, Field(min_length=1, max_length=lim.MAX_NAME_CHARS)]
PathStr = Annotated[str, Field(min_length=1), AfterValidator(_path)]
Runtime = Annotated[str, Field(max_length=lim.MAX_NAME_CHARS), AfterValidator(_runtime)]
BatchSize = Annotated[int, Field(gt=0, le=lim.MAX_BATCH_SIZE)]
SeqLen = Annotated[int, Field(gt=0, le=lim.MAX_SEQ_LEN)]
GpuCount = Annotated[int, Field(gt=0, le=lim.MAX_GPU_COUNT)]
Usd = Annotated[float, Field(ge=0, le=lim.MAX_USD, allow_inf_nan=False)]


def _webhook_url(v: str) -> str:
    from phantom_report.reporter.delivery.webhook import check_webhook_url

    return check_webhook_url(v)


def _precision(v: str) -> str:
    """Canonical format name (engine/precision.py: any spelling it lists, e.g. Q4_K_M, AWQ, bf16)."""
    from phantom_report.engine.precision import resolve_precision
    from phantom_report.errors import PhantomError

    try:
        return resolve_precision(v)
    except PhantomError as exc:
        raise ValueError(str(exc)) from None


Precision = Annotated[str, AfterValidator(_precision)]

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

    requests_per_month: Annotated[float, _bounded(lim.MAX_REQUESTS_PER_MONTH)] | None = None
    tokens_per_month: Annotated[float, _bounded(lim.MAX_TOKENS_PER_MONTH)] | None = None
    requests_per_s: Annotated[float, _bounded(lim.MAX_REQUESTS_PER_S)] | None = None
    peak_to_average: Annotated[float, Field(ge=1, le=1000, allow_inf_nan=False)] = 1.0
    target_utilization: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.7
    uncertainty_pct: Annotated[float, Field(ge=0, lt=100, allow_inf_nan=False)] = 0.0
    dataset_samples: Annotated[float, _bounded(lim.MAX_DATASET_SAMPLES)] | None = None
    dataset_tokens: Annotated[float, _bounded(lim.MAX_DATASET_TOKENS)] | None = None
    epochs: Annotated[float, _bounded(lim.MAX_EPOCHS)] = 1.0
    runs_per_month: Annotated[float, _bounded(lim.MAX_RUNS_PER_MONTH)] = 1.0
    deadline_hours: Annotated[float, _bounded(lim.MAX_HOURS)] | None = None

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
        """A training demand: the spec gives a dataset size (samples or tokens)."""
        return bool(self.dataset_samples or self.dataset_tokens)


class Slo(_Strict):
    """Service levels; a config that misses any of them is excluded (reason shown)."""

    p95_latency_ms: Annotated[float, _bounded(lim.MAX_LATENCY_MS)] | None = None
    max_ttft_ms: Annotated[float, _bounded(lim.MAX_LATENCY_MS)] | None = None
    min_tokens_per_s: Annotated[float, _bounded(lim.MAX_TOKENS_PER_S)] | None = None  # per stream (1000 / TPOT)
    max_gpus: GpuCount | None = None  # a fleet larger than this is not a real option
    # a config meets the SLOs only when it meets all of them in at least this share of the
    # simulated outcomes (prediction intervals)
    confidence: Annotated[float, Field(gt=0, le=1)] = 0.9


def _thresholds(v: list[float]) -> list[float]:
    """Alert thresholds as fractions of the budget, ascending and distinct."""
    if sorted(set(v)) != list(v):
        raise ValueError(f"must list distinct fractions of the budget in ascending order, got {v}")
    return list(v)


class Budget(_Strict):
    """A monthly budget for a workload (or, at the top level, for the whole spec). The report shows
    the forecast monthly cost of the recommended configuration against it; scheduled runs alert
    when the forecast reaches each fraction in `alert_at`."""

    monthly_usd: Annotated[float, _bounded(lim.MAX_USD)]
    alert_at: Annotated[list[Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]],
                        Field(min_length=1, max_length=lim.MAX_LIST_ITEMS),
                        AfterValidator(_thresholds)] = Field(default_factory=lambda: [0.8, 1.0])


class WorkloadSpec(_Strict):
    """One workload of a run spec (``workloads[]``): the model, task, runtime, precisions, batch
    sizes, sequence lengths, demand and SLOs. The engine's model graph is a different thing:
    ``engine/ir.py::Workload``."""

    name: Name | None = None
    model: Annotated[str, Field(max_length=lim.MAX_PATH_CHARS), AfterValidator(_path)] | dict[str, Any]
    task: Literal["inference", "training"] | None = None
    runtime: Runtime | None = None
    precisions: list[Precision] = Field(default_factory=lambda: ["fp16"], min_length=1, max_length=lim.MAX_LIST_ITEMS)
    batch_sizes: list[BatchSize] | None = Field(default=None, min_length=1, max_length=lim.MAX_LIST_ITEMS)
    seq_in: SeqLen | None = None
    seq_out: SeqLen | None = None
    gpu_counts: Literal["auto"] | Annotated[list[GpuCount], Field(min_length=1, max_length=lim.MAX_LIST_ITEMS)] = "auto"
    demand: Demand
    slo: Slo = Field(default_factory=Slo)
    budget: Budget | None = None

    @field_validator("model")
    @classmethod
    def _model_source(cls, v: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(v, dict):
            keys = [k for k in v if k in SOURCE_KINDS]
            if len(keys) != 1:
                raise ValueError(f"must name exactly one source key of {', '.join(SOURCE_KINDS)}")
            from phantom_report.engine.sources import SOURCE_OPTIONS

            extra = sorted(str(k) for k in v if k != keys[0] and k not in SOURCE_OPTIONS[keys[0]])
            if extra:
                allowed = ", ".join(sorted(SOURCE_OPTIONS[keys[0]])) or "none"
                raise ValueError(f"unknown key {lim.show(extra[0])} for a {keys[0]} source (allowed: {allowed})")
            ref = v[keys[0]]
            if not isinstance(ref, str) or not ref.strip():
                raise ValueError(f"{keys[0]}: must be a model name or a file path")
            try:
                _path(ref)
            except ValueError as exc:
                raise ValueError(f"{keys[0]}: {exc}") from None
        elif not v.strip():
            raise ValueError("must be a model name")
        return v

    @model_validator(mode="after")
    def _task_matches_demand(self) -> "WorkloadSpec":
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
        """``task`` as given, else ``training`` when the demand names a dataset, else ``inference``."""
        return self.task or ("training" if self.demand.is_training else "inference")

    @property
    def label(self) -> str:
        """The workload's name in reports: ``name``, else the model name, else the model file's stem."""
        if self.name:
            return self.name
        if isinstance(self.model, str):
            return self.model
        key = next(k for k in self.model if k in SOURCE_KINDS)
        return Path(str(self.model[key])).stem or key

    @property
    def resolved_batch_sizes(self) -> list[int]:
        """``batch_sizes`` as given, else 32 for training and 1, 8, 32 for inference."""
        if self.batch_sizes:
            return list(self.batch_sizes)
        return [32] if self.resolved_task == "training" else [1, 8, 32]


class Baseline(_Strict):
    """The configuration savings are measured against (``roi.baseline``): GPU and pricing option,
    optionally provider and region."""

    gpu: Name
    provider: Literal[PROVIDERS] | None = None
    region: Name | None = None
    option: Literal[PRICE_OPTIONS] = "on-demand"


class SpotRiskSpec(_Strict):
    """Spot interruption overhead model (``pricing.spot_risk``); see ``pricing/spot_risk.py``:
    overhead = bucket upper bound / window_hours x (checkpoint_interval_hours / 2 + restart_hours)."""
    checkpoint_interval_hours: Annotated[float, Field(gt=0, le=168, allow_inf_nan=False)] = 1.0
    restart_hours: Annotated[float, Field(ge=0, le=168, allow_inf_nan=False)] = 0.25
    # the advisor's monthly share of interrupted instances is read as "per this many hours of running"
    window_hours: Annotated[float, Field(ge=1, le=730, allow_inf_nan=False)] = 24.0
    # instances with no published interruption rate (GCP, Azure, AWS types the snapshot lacks)
    unknown_overhead: Annotated[float, Field(ge=0, le=2, allow_inf_nan=False)] = 0.15


class Pricing(_Strict):
    """Which prices a run uses (``pricing``): providers, regions, spot and reserved terms, offline
    list prices, and the spot interruption model."""

    providers: list[Literal[PROVIDERS]] | None = None
    regions: list[Name] | None = Field(default=None, max_length=lim.MAX_REGIONS)
    spot: bool = True
    reserved: list[Literal[RESERVED_TERMS]] = Field(default_factory=lambda: ["1y"])
    offline: bool = False
    # a flat extra GPU-time share for every spot row, replacing the per-instance risk model
    # (``spot_risk``) when set; unset = overhead from each instance's interruption bucket
    spot_interruption_overhead: Annotated[float, Field(ge=0, le=2)] | None = None
    spot_risk: SpotRiskSpec = Field(default_factory=SpotRiskSpec)

    def spot_risk_model(self) -> "SpotRiskModel":
        """The pricing package's model with this spec's parameters (and the user's flat override)."""
        from phantom_report.pricing.spot_risk import SpotRiskModel

        r = self.spot_risk
        return SpotRiskModel(checkpoint_interval_hours=r.checkpoint_interval_hours, restart_hours=r.restart_hours,
                             window_hours=r.window_hours, unknown_overhead=r.unknown_overhead,
                             override=self.spot_interruption_overhead)


class Roi(_Strict):
    """Return-on-investment inputs (``roi``): baseline, horizon (months), one-off migration cost
    (USD) and the buy-vs-rent figures (purchase USD/GPU, power USD/kWh, hosting USD/GPU-month, PUE)."""

    baseline: Baseline | None = None
    horizon_months: Annotated[int, Field(gt=0, le=lim.MAX_HORIZON_MONTHS)] = 12
    migration_cost_usd: Usd = 0.0
    purchase_price_usd_per_gpu: Annotated[float, _bounded(lim.MAX_USD)] | None = None  # default: profile's launch price
    power_cost_usd_per_kwh: Annotated[float, Field(ge=0, le=lim.MAX_USD_PER_KWH, allow_inf_nan=False)] = 0.12
    hosting_usd_per_gpu_month: Usd = 150.0
    onprem_pue: Annotated[float, Field(ge=1, le=3, allow_inf_nan=False)] = 1.5


class MonteCarlo(_Strict):
    """The uncertainty simulation (``monte_carlo``): samples per point and the seed."""

    samples: Annotated[int, Field(ge=100, le=100_000)] = 1000
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 20240601  # numpy refuses negative seeds


class Report(_Strict):
    """What to render (``report``): template and template directory, formats, output directory,
    theme, accent colour, logo and page size."""

    template: PathStr = "executive"
    template_dir: PathStr | None = None
    formats: list[Literal[REPORT_FORMATS]] = Field(
        default_factory=lambda: list(REPORT_FORMATS), min_length=1, max_length=lim.MAX_LIST_ITEMS
    )
    out_dir: PathStr | None = None
    theme: Literal["light", "dark"] = "light"
    logo: PathStr | None = None
    accent_color: str = "#1f4e79"
    page_size: Literal["A4", "Letter"] = "A4"

    @field_validator("accent_color")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", v):
            raise ValueError(f"must be a #rrggbb colour, got {lim.show(v)}")
        return v


class Schedule(_Strict):
    """When a scheduled spec runs: a cron expression in ``timezone``."""

    cron: Name
    timezone: Name = "UTC"


class Email(_Strict):
    """Who receives a scheduled report and which formats are attached."""

    to: list[Annotated[str, Field(max_length=lim.MAX_NAME_CHARS)]] = Field(min_length=1, max_length=lim.MAX_LIST_ITEMS)
    subject: Annotated[str, Field(max_length=lim.MAX_TITLE_CHARS)] | None = None
    attach: list[Literal[REPORT_FORMATS]] = Field(
        default_factory=lambda: ["pdf"], max_length=lim.MAX_LIST_ITEMS)


ALERT_CHANNELS = ("email", "webhook", "slack")


class AlertChannel(_Strict):
    """Where a scheduled run's alerts go: `email` (the spec's `email` recipients, through the
    outbox), `webhook` (a JSON POST of the alert) or `slack` (a Slack-compatible incoming-webhook
    POST, `{"text": ...}`). Webhook URLs are checked here (reporter/delivery/webhook.py)."""

    type: Literal["email", "webhook", "slack"]
    url: Annotated[str, AfterValidator(_webhook_url)] | None = None

    @model_validator(mode="after")
    def _url_matches_type(self) -> "AlertChannel":
        if self.type == "email" and self.url is not None:
            raise ValueError("an email channel takes no `url` (it mails the spec's `email` recipients)")
        if self.type != "email" and self.url is None:
            raise ValueError(f"a {self.type} channel needs a `url` (http:// or https://)")
        return self


class Alerts(_Strict):
    """Alerts of scheduled runs (reporter/delivery/alerts.py): a budget threshold crossed, the
    recommended configuration changed, or its monthly price moved more than `price_change_pct`
    since the previous run of the same schedule."""

    channels: list[AlertChannel] = Field(min_length=1, max_length=16)
    price_change_pct: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] = 10.0


_AWS_FAMILY = r"[a-z][a-z0-9-]{0,31}"
_AWS_REGION = r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}"
# Azure scopes Cost Management answers for: subscription, resource group, management group,
# billing account / profile / invoice section, department, enrollment account
_AZURE_SCOPE = (r"/subscriptions/[0-9a-fA-F-]{36}(/resourceGroups/[\w().-]{1,90})?"
                r"|/providers/Microsoft\.Management/managementGroups/[\w().-]{1,90}"
                r"|/providers/Microsoft\.Billing/billingAccounts/[\w:_-]{1,128}"
                r"(/(billingProfiles|invoiceSections|departments|enrollmentAccounts)/[\w-]{1,128}){0,2}")



def _azure_scope(v: str) -> str:
    if not re.fullmatch(_AZURE_SCOPE, v, flags=re.ASCII):
        raise ValueError(f"must be an Azure scope such as /subscriptions/<subscription id> or "
                         f"/subscriptions/<id>/resourceGroups/<name>, got {lim.show(v)}")
    return v


class AwsSpend(_Strict):
    """Actual GPU spend from AWS Cost Explorer (pricing/providers/aws_spend.py has the filter)."""

    instance_families: list[Annotated[str, Field(pattern=f"^{_AWS_FAMILY}$")]] | None = Field(
        default=None, min_length=1, max_length=lim.MAX_LIST_ITEMS)
    linked_accounts: list[Annotated[str, Field(pattern=r"^[0-9]{12}$")]] | None = Field(
        default=None, min_length=1, max_length=lim.MAX_LIST_ITEMS)
    regions: list[Annotated[str, Field(pattern=f"^{_AWS_REGION}$")]] | None = Field(
        default=None, min_length=1, max_length=lim.MAX_REGIONS)
    metric: Literal["UnblendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"] = "UnblendedCost"
    workloads: list[Name] | None = Field(default=None, min_length=1, max_length=lim.MAX_WORKLOADS)


class AzureSpend(_Strict):
    """Actual GPU spend from Azure Cost Management (pricing/providers/azure_spend.py)."""

    scope: Annotated[str, Field(min_length=1, max_length=400), AfterValidator(_azure_scope)]
    meter_subcategories: list[Name] | None = Field(default=None, min_length=1, max_length=lim.MAX_LIST_ITEMS)
    cost_type: Literal["ActualCost", "AmortizedCost"] = "ActualCost"
    workloads: list[Name] | None = Field(default=None, min_length=1, max_length=lim.MAX_WORKLOADS)


class ActualSpend(_Strict):
    """Month-to-date and last-month GPU spend per cloud, shown beside the forecast of the
    workloads it pays for (`workloads`, default all). Needs credentials; never offline."""

    aws: AwsSpend | None = None
    azure: AzureSpend | None = None

    @model_validator(mode="after")
    def _one_cloud(self) -> "ActualSpend":
        if self.aws is None and self.azure is None:
            raise ValueError("name at least one cloud: `aws: {}` (Cost Explorer) or `azure: {scope: /subscriptions/<id>}`")
        return self


class RunSpec(_Strict):
    """A validated run spec (the YAML file of ``phantom-report run``; docs/INTERFACES.md): workloads,
    GPUs, pricing, ROI, confidence, Monte Carlo, report, budgets and actual spend. Frozen."""

    title: Annotated[str, Field(max_length=lim.MAX_TITLE_CHARS)] = "GPU cost and performance report"
    owner: Name | None = None
    workloads: list[WorkloadSpec] = Field(min_length=1, max_length=lim.MAX_WORKLOADS)
    gpus: Literal["all"] | Annotated[list[Name], Field(min_length=1, max_length=lim.MAX_GPUS_LISTED)] = "all"
    pricing: Pricing = Field(default_factory=Pricing)
    roi: Roi = Field(default_factory=Roi)
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.9
    monte_carlo: MonteCarlo = Field(default_factory=MonteCarlo)
    report: Report = Field(default_factory=Report)
    schedule: Schedule | None = None
    email: Email | None = None
    budget: Budget | None = None  # for all workloads together
    alerts: Alerts | None = None
    actual_spend: ActualSpend | None = None
    # where the spec came from; relative paths in it resolve against base_dir
    source_path: str | None = Field(default=None, exclude=True)
    base_dir: str = Field(default=".", exclude=True)
    # set only by the caller of parse_spec/load_spec (the CLI's --allow-python), never by spec text
    allow_python: bool = Field(default=False, exclude=True)
    # key path -> line in the spec file, for errors found after parsing (unknown GPU names, ...)
    _root: Any = PrivateAttr(default=None)
    _shorthand: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _unique_names(self) -> "RunSpec":
        seen: set[str] = set()
        for w in self.workloads:
            if w.label in seen:
                raise ValueError(f"two workloads are called {lim.show(w.label)}; give them distinct `name`s")
            seen.add(w.label)
        return self

    @model_validator(mode="after")
    def _grid_size(self) -> "RunSpec":
        n_gpus = _ALL_GPUS_ESTIMATE if self.gpus == "all" else len(self.gpus)
        total = sum(n_gpus * len(w.precisions) * len(w.resolved_batch_sizes)
                    * (4 if w.gpu_counts == "auto" else len(w.gpu_counts)) for w in self.workloads)
        if total > lim.MAX_GRID_POINTS:
            raise ValueError(f"asks for {total:,} configurations (workloads x GPUs x precisions x batch sizes x "
                             f"GPU counts); at most {lim.MAX_GRID_POINTS:,} per run")
        return self

    def where(self, path: Sequence[str | int]) -> str:
        """``file:line: key.path`` for a key of this spec (shorthand specs: workload keys at the top)."""
        path = tuple(path)
        if self._shorthand and path[:2] == ("workloads", 0):
            path = path[2:]
        line = yamlpos.line_of(self._root, path)
        return f"{self.source_path or '<spec>'}{f':{line}' if line else ''}: {_render_path(path)}"

    def resolve_path(self, p: str) -> Path:
        """A path from the spec, relative to the spec's directory (``~`` expanded)."""
        path = Path(p).expanduser()
        return path if path.is_absolute() else Path(self.base_dir) / path

    def as_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-able data, stored with every report so it can be reproduced."""
        return json.loads(self.model_dump_json(exclude_none=True))


# ---------------------------------------------------------------------------- loading

# keys the caller sets, never the spec text
_INTERNAL_KEYS = ("source_path", "base_dir", "allow_python")
# what `gpus: all` counts as when sizing the grid (the built-in catalog holds about this many)
_ALL_GPUS_ESTIMATE = 100
_MAX_ERROR_CHARS = 500


def load_spec(path: str | Path, *, allow_python: bool = False) -> RunSpec:
    """Read and validate a spec file (at most yamlpos.MAX_DOCUMENT_BYTES, UTF-8). `allow_python`
    lets the spec name `module:callable` model factories (code runs on load): only the CLI's
    `--allow-python` sets it; the service never does."""
    p = Path(path)
    text = yamlpos.read_bounded(p)
    try:
        base_dir = str(p.resolve().parent)
    except (OSError, RuntimeError):
        base_dir = str(p.parent)
    return parse_spec(text, filename=str(p), base_dir=base_dir, allow_python=allow_python)


def parse_spec(text: str, filename: str = "<spec>", base_dir: str = ".", *, allow_python: bool = False) -> RunSpec:
    """Validate spec text; raises SpecError with ``file:line: key.path: expectation`` (one line,
    at most a few hundred characters). With the default `allow_python=False` a model given as a
    `module:callable` factory (or `file.py:callable`) is refused: naming it would run its code."""
    try:
        return _parse(text, filename, base_dir, allow_python)
    except SpecError as exc:
        msg = " ".join(str(exc).split())
        raise SpecError(lim.clip(msg, _MAX_ERROR_CHARS)) from None


def _parse(text: str, filename: str, base_dir: str, allow_python: bool) -> RunSpec:
    filename = lim.clip(filename, 300)
    data, root = yamlpos.load(text, filename)
    if data is None:
        raise SpecError(f"{filename}: spec is empty; it needs at least `model`, `gpus` and `demand`")
    if not isinstance(data, dict):
        raise SpecError(f"{filename}:1: the spec must be a mapping of keys, got {type(data).__name__}")
    internal = next((k for k in _INTERNAL_KEYS if k in data), None)
    if internal:
        line = yamlpos.line_of(root, (internal,))
        raise SpecError(f"{filename}:{line}: {internal}: is not a known key (see `phantom-report spec schema`)")
    shorthand = "workloads" not in data and any(k in data for k in _WORKLOAD_KEYS)
    if shorthand:
        data = dict(data)
        data["workloads"] = [{k: data.pop(k) for k in _WORKLOAD_KEYS if k in data}]
    try:
        spec = RunSpec.model_validate({**data, "source_path": filename, "base_dir": base_dir,
                                       "allow_python": allow_python})
    except ValidationError as exc:
        err = _most_specific(exc.errors(include_url=False))
        loc = tuple(err["loc"])
        if shorthand and loc[:2] == ("workloads", 0):
            loc = loc[2:]
        raise SpecError(_format_error(filename, root, data if not shorthand else _unshort(data), loc, err)) from None
    spec._root, spec._shorthand = root, shorthand
    _check_alert_email(spec)
    if not allow_python:
        _refuse_python(spec, filename, root, shorthand)
    return spec


def _check_alert_email(spec: RunSpec) -> None:
    """An email alert channel mails the spec's `email` recipients, so it needs that section."""
    for i, channel in enumerate(spec.alerts.channels if spec.alerts else ()):
        if channel.type == "email" and spec.email is None:
            raise SpecError(f"{spec.where(('alerts', 'channels', i, 'type'))}: an email channel needs the spec's "
                            "`email` section (to, smtp)")


def check_names(spec: RunSpec, catalog) -> tuple[RunSpec, list[str]]:
    """(spec with a canonical `roi.baseline.gpu`, canonical GPU names the spec asks for), after
    checking every name that needs the engine or the price catalog: `gpus`, `roi.baseline.gpu`,
    `pricing.regions`, `roi.baseline.region`. Unknown names are errors (``file:line: key: unknown
    ...; did you mean ...``), never silently ignored."""
    if spec.gpus == "all":
        gpu_names = list(catalog.names)
    else:
        gpu_names = [_resolve_gpu(spec, catalog, g, ("gpus", i)) for i, g in enumerate(spec.gpus)]
        gpu_names = list(dict.fromkeys(gpu_names))
    baseline = spec.roi.baseline
    if baseline is not None:
        gpu = _resolve_gpu(spec, catalog, baseline.gpu, ("roi", "baseline", "gpu"))
        if gpu not in gpu_names:
            raise SpecError(f"{spec.where(('roi', 'baseline', 'gpu'))}: {gpu} is not among the spec's `gpus`; "
                            "add it there so the baseline can be priced")
        roi = spec.roi.model_copy(update={"baseline": baseline.model_copy(update={"gpu": gpu})})
        spec = spec.model_copy(update={"roi": roi})
    regions = known_regions()
    for i, region in enumerate(spec.pricing.regions or ()):
        _check_region(spec, region, regions, ("pricing", "regions", i))
    if baseline is not None and baseline.region:
        _check_region(spec, baseline.region, regions, ("roi", "baseline", "region"))
    _check_spend_workloads(spec)
    return spec, gpu_names


def _check_spend_workloads(spec: RunSpec) -> None:
    """`actual_spend.<cloud>.workloads` name workloads of this spec."""
    names = [w.label for w in spec.workloads]
    for cloud in ActualSpend.model_fields:  # the clouds with an actual-spend section
        block = getattr(spec.actual_spend, cloud, None) if spec.actual_spend else None
        for i, name in enumerate((block.workloads or ()) if block else ()):
            if name not in names:
                raise SpecError(f"{spec.where(('actual_spend', cloud, 'workloads', i))}: unknown workload "
                                f"{lim.show(name)}; the spec's workloads are {', '.join(lim.show(n) for n in names)}")


def _resolve_gpu(spec: RunSpec, catalog, name: str, path: tuple) -> str:
    try:
        return catalog.resolve(name)
    except PhantomError as exc:
        raise SpecError(f"{spec.where(path)}: {exc}") from None


def _check_region(spec: RunSpec, region: str, regions: Sequence[str], path: tuple) -> None:
    if region not in regions:
        raise SpecError(f"{spec.where(path)}: unknown region {lim.show(region)}{lim.suggest(region, regions)}")


def known_regions() -> list[str]:
    """Cloud regions phantom-report knows: every region of the embedded price snapshot and of the
    grid-carbon table (a live price fetch can only add GPUs and prices in these regions)."""
    from phantom_report.pricing.snapshot import snapshot_quotes
    from phantom_report.reporter.carbon import intensity_table

    table = intensity_table()
    return sorted({q.region for q in snapshot_quotes()} | set(table["region"].astype(str)))


def check_model_limits(spec: RunSpec, workloads: dict[str, Any]) -> None:
    """Sequence lengths within each model's context window where the model declares one
    (`workloads` maps workload label -> engine/ir.py::Workload)."""
    for i, w in enumerate(spec.workloads):
        model = workloads.get(w.label)
        problem = lim.context_error(model, w.seq_in, w.seq_out) if model is not None else None
        if problem:
            key = "seq_out" if w.seq_out and not (w.seq_in and w.seq_in > model.max_seq_len) else "seq_in"
            raise SpecError(f"{spec.where(('workloads', i, key))}: {problem}")


def python_factory_ref(model: str | dict[str, Any]) -> str | None:
    """The `module:callable` (or `file.py:callable`) a model source names, else None. Such a source
    imports and calls Python code, so specs may use it only with an explicit `--allow-python`."""
    from phantom_report.engine.sources import python_factory_ref as engine_ref

    return engine_ref(model)


def _refuse_python(spec: RunSpec, filename: str, root: yaml.Node | None, shorthand: bool) -> None:
    for i, w in enumerate(spec.workloads):
        ref = python_factory_ref(w.model)
        if ref is None:
            continue
        path: tuple[Any, ...] = ("model",) if shorthand else ("workloads", i, "model")
        line = yamlpos.line_of(root, path)
        raise SpecError(
            f"{filename}:{line}: {_render_path(path)}: {lim.show(ref)} is a Python factory (module:callable); "
            "loading it would run code, so it is allowed only with `phantom-report run --allow-python` on your own "
            "machine; otherwise name a zoo model or a model file (ONNX, TorchScript, Hugging Face config dir)")


def _most_specific(errors: list[dict]) -> dict:
    """The error to show: pydantic lists one per union member (`gpus: []` fails both 'all' and
    'a non-empty list'); the member that got furthest into the value says what is wrong."""
    first = errors[0]
    prefix = tuple(p for p in first["loc"] if isinstance(p, int) or p in _KNOWN_KEYS)
    same = [e for e in errors if tuple(p for p in e["loc"] if isinstance(p, int) or p in _KNOWN_KEYS)[:len(prefix)] == prefix]
    return max(same, key=lambda e: (len(e["loc"]), e["type"] != "literal_error"))


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
        name = lim.clip(str(part), 60)  # a key may be user text of any length
        out += f"[{part}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out


# fields declared as integers (so "positive integer" rather than "positive number" in messages)
_INT_FIELDS = {"batch_sizes", "gpu_counts", "seq_in", "seq_out", "max_gpus", "horizon_months", "samples"}


def _num(v: Any) -> str:
    """A bound as people write it: 65,536 and 1e+16 rather than 65536 and 1e16 vs 10000000000000000.0."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e7:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _expectation(err: dict, data: Any, loc: Sequence[Any], path: Sequence[Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    got = f", got {lim.show(value)}" if not isinstance(value, (dict, list)) else ""
    if kind == "greater_than" and ctx.get("gt") == 0:
        field = next((p for p in reversed(loc) if isinstance(p, str)), "")
        return f"must be a positive {'integer' if field in _INT_FIELDS else 'number'}{got}"
    if kind == "greater_than":
        return f"must be greater than {_num(ctx.get('gt'))}{got}"
    if kind == "greater_than_equal":
        return f"must be at least {_num(ctx.get('ge'))}{got}"
    if kind in ("less_than", "less_than_equal"):
        return f"must be {'below' if kind == 'less_than' else 'at most'} {_num(ctx.get('lt', ctx.get('le')))}{got}"
    if kind == "int_parsing_size":
        return f"is too large{got}"
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
    msg = lim.clip(err["msg"], 200)
    return f"{msg[:1].lower()}{msg[1:]}{got}"


def _field_names(*models: type[BaseModel]) -> frozenset[str]:
    return frozenset(k for m in models for k in m.model_fields)


_KNOWN_KEYS = _field_names(RunSpec, WorkloadSpec, Demand, Slo, Baseline, Pricing, Roi, MonteCarlo, Report, Schedule, Email,
                           Budget, Alerts, AlertChannel,
                           ActualSpend, AwsSpend, AzureSpend)


def spec_json_schema() -> dict[str, Any]:
    """The run spec's JSON Schema (``phantom-report spec schema``), without the keys only the
    program sets."""
    schema = RunSpec.model_json_schema()
    for key in _INTERNAL_KEYS:
        schema.get("properties", {}).pop(key, None)
    return schema
