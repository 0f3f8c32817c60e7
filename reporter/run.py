"""`run_report`: spec -> engine -> prices -> economics -> intervals -> recommendation -> files.

Each stage is a pure function of the previous stages' outputs; this module only wires them, times
them and reports progress. Nothing is written until every requested format rendered.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from phantom_report.errors import SpecError, TemplateError
from phantom_report.reporter import budget as budget_mod
from phantom_report.reporter import charts as charts_mod
from phantom_report.reporter import context as context_mod
from phantom_report.reporter import assets, captions, economics, grid, montecarlo, recommend, render, templating
from phantom_report.reporter import pdf as pdf_mod
from phantom_report.reporter import spend as spend_mod
from phantom_report.reporter import outputs as outputs_mod
from phantom_report.reporter.context_types import ChartView, template_dict
from phantom_report.reporter.spec import RunSpec, check_model_limits, check_names

STAGES = ("predict", "price", "economics", "uncertainty", "recommend", "charts", "render", "write")
CSV_COLUMNS = render.CSV_COLUMNS  # report.csv's columns (their home is reporter/render.py)


@dataclass(frozen=True)
class RunResult:
    """One finished run: the files written (format -> path), report.json's payload, the decision's
    summary and headline, the recommendations and quotes, stage timings in seconds, the report's
    warnings and the economics ``rows`` frame (columns ``CSV_COLUMNS``)."""

    outputs: dict[str, Path]
    payload: dict[str, Any]
    summary: str
    recommendations: tuple[recommend.Recommendation, ...]
    quotes: tuple[Any, ...]
    timings_s: dict[str, float]
    warnings: tuple[str, ...] = ()
    headline: str = ""
    economics: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)


class _Clock:
    def __init__(self, progress: Callable[[str], None] | None):
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._stage: str | None = None
        self._t = 0.0

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        if self._stage:
            self.timings[self._stage] = round(now - self._t, 4)
        self._stage, self._t = name, now
        if self.progress and name:
            self.progress(name)

    def done(self) -> dict[str, float]:
        self.stage("")
        self.timings["total"] = round(sum(self.timings.values()), 4)
        return self.timings


def run_report(spec: RunSpec, out_dir: str | Path | None = None, formats: Sequence[str] | None = None,
               offline: bool | None = None, template: str | None = None,
               progress: Callable[[str], None] | None = None, engine=None, *,
               allow_local_assets: bool = True, template_dir: str | Path | None = None,
               spend_client_options: dict[str, dict[str, Any]] | None = None,
               now: datetime | None = None) -> RunResult:
    """Run ``spec`` and write the requested formats into ``out_dir`` (see docs/INTERFACES.md).
    ``progress`` is called with each stage name of STAGES as it starts; ``engine`` reuses a loaded
    Engine (the service keeps one per process).

    ``template_dir`` is a template directory chosen by the operator (the service's
    PHANTOM_TEMPLATES), used when the spec names none. ``allow_local_assets=False`` is for specs
    that did not come from this machine's file system (posted to the service): they may then name
    no local file at all: no ``report.template_dir``, no template path, and ``report.logo`` only
    from ``template_dir``. ``spend_client_options`` (cloud -> provider keyword arguments: session
    or credential, endpoint, settings) configure the actual-spend clients; never from a spec.
    ``now`` fixes the report's clock (price staleness, generated_at, spend months); tests pass a
    fixed instant so a run is reproducible byte for byte."""
    clock = _Clock(progress)
    formats = tuple(formats or spec.report.formats)
    known = tuple(render.RENDERERS)  # vocab.REPORT_FORMATS, and any format registered since
    bad = [f for f in formats if f not in known]
    if bad:
        raise SpecError(f"unknown output format {bad[0]!r}; expected {', '.join(known[:-1])} or {known[-1]}")
    now = now or datetime.now(timezone.utc)

    # the PDF's static chart renderer (a matplotlib child process) and the PDF child process
    # (WeasyPrint's import) start while the numbers are computed
    static = charts_mod.StaticRenderer(background=True, process=True) if "pdf" in formats else None
    pdf_child = pdf_mod.start_child() if "pdf" in formats else None
    try:
        setup = _Setup(formats=formats, offline=offline, now=now, static=static,
                       assets=_Assets(allow_local_assets, Path(template_dir) if template_dir else None),
                       spend_client_options=spend_client_options, pdf_child=pdf_child)
        return _run(spec, out_dir, template, clock, engine, setup)
    finally:
        if static:
            static.close()
        if pdf_child:
            pdf_mod.stop_child(pdf_child)


@dataclass(frozen=True)
class _Assets:
    """Where a run may read templates and the logo from (see run_report)."""

    allow_local: bool
    operator_template_dir: Path | None


@dataclass(frozen=True)
class _Setup:
    """What a run needs besides the spec, fixed before the first stage (see run_report)."""

    formats: tuple[str, ...]
    offline: bool | None
    now: datetime
    static: charts_mod.StaticRenderer | None
    assets: _Assets
    spend_client_options: dict[str, dict[str, Any]] | None
    pdf_child: Any


@dataclass(frozen=True)
class Predicted:
    """The predict stage's result: the spec with canonical GPU names, the engine, those names, and
    one prediction row per workload x GPU x precision x batch x GPU count (engine columns,
    docs/INTERFACES.md, plus ``workload``)."""

    spec: RunSpec
    engine: Any
    gpu_names: tuple[str, ...]
    predictions: pd.DataFrame


@dataclass(frozen=True)
class Priced:
    """The price stage's result: the quotes of the spec's GPUs, warnings about them (sources, spot
    risk), the quotes frame (``economics.quotes_frame``) and the actual-spend figures fetched."""

    quotes: tuple[Any, ...]
    warnings: tuple[str, ...]
    quotes_frame: pd.DataFrame
    spend: tuple[Any, ...]


@dataclass(frozen=True)
class Economics:
    """The economics and uncertainty stages' result: ``points`` (every evaluated configuration,
    ``point_id`` and ``slo_probability`` added), ``rows`` (every priced option; columns
    ``CSV_COLUMNS``), the Monte Carlo ``draws``, the baseline row index per workload and the
    warnings that change what the numbers mean."""

    points: pd.DataFrame
    rows: pd.DataFrame
    draws: Any = None
    baseline: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Charts:
    """The charts stage's result: chart views by ``"<workload>:<chart>"`` (``svg_uri`` still
    empty) and ``svgs``, which waits for the static SVGs being drawn meanwhile (None without a
    PDF): ``"<workload>:<chart>"`` -> SVG text, and which engine drew them (with why, when it is
    not the one asked for)."""

    views: dict[str, ChartView]
    svgs: Callable[[], tuple[dict[str, str], str]] | None = None


def _run(spec: RunSpec, out_dir, template: str | None, clock: _Clock, engine, setup: _Setup) -> RunResult:
    """The stages in order, each timed by ``clock``; nothing is written before the last one."""
    out, tpl_name, env, entry, logo = _prepare(spec, out_dir, template, setup.assets)
    clock.stage("predict")
    pred = _predict(spec, engine)
    clock.stage("price")
    priced = _price(pred, setup)
    clock.stage("economics")
    econ = _economics(pred, priced)
    clock.stage("uncertainty")
    econ = _uncertainty(pred, priced, econ)
    clock.stage("recommend")
    recs = recommend.recommend(econ.rows, [w.label for w in pred.spec.workloads]) if len(econ.rows) else []
    clock.stage("charts")
    charts = _charts(pred.spec, econ, recs, setup)
    clock.stage("render")
    ctx = _context(pred, priced, econ, recs, charts, _kind(tpl_name), logo, setup.now)
    _attach_svgs(ctx, charts)  # drawn while the context was built
    payload: dict[str, Any] = {}  # report.json's, filled while the PDF child lays out the PDF

    def fill_payload() -> None:
        payload.update(render.payload_from_context(ctx))
        payload["spec"] = pred.spec.as_dict()
        payload["quotes"] = [q.to_dict() for q in priced.quotes]
        payload["timings_s"] = {}

    inp = render.RenderInput(context=ctx, payload=payload, rows=econ.rows, env=env, entry=entry,
                             pdf_child=setup.pdf_child)
    files = _render(inp, setup.formats, out, after_timings=False, meanwhile=fill_payload)
    clock.stage("write")
    timings = clock.done()
    payload["timings_s"] = timings
    files.update(_render(inp, setup.formats, out, after_timings=True))
    outputs_mod.write_outputs(out, {p.name: b for p, b in files.values()})
    return RunResult(outputs={k: p for k, (p, _) in files.items()}, payload=payload,
                     summary=ctx["decision"]["summary"], recommendations=tuple(recs), quotes=priced.quotes,
                     timings_s=timings, warnings=tuple(ctx["warnings"]), headline=ctx["decision"]["headline"],
                     economics=econ.rows)


def _predict(spec: RunSpec, engine) -> Predicted:
    """Predict every grid point of the spec (GPU counts ``auto``: the smallest that fits)."""
    from phantom_report.engine.api import Engine

    eng = engine or Engine.load()
    spec, gpu_names = check_names(spec, eng.catalog)
    workloads = {w.label: eng.workload(w.model, allow_python=spec.allow_python) for w in spec.workloads}
    check_model_limits(spec, workloads)
    points_in = grid.build_points(spec, gpu_names)
    pred = eng.predict_grid(points_in, workloads=workloads)
    pred["workload"] = points_in["workload"].to_numpy()
    auto = {w.label for w in spec.workloads if w.gpu_counts == "auto"}
    return Predicted(spec=spec, engine=eng, gpu_names=tuple(gpu_names), predictions=grid.keep_smallest_fit(pred, auto))


def _price(pred: Predicted, setup: _Setup) -> Priced:
    """Quotes for the spec's GPUs, their spot risk, and the actual spend (failures are warnings)."""
    from phantom_report.pricing.catalog import get_quotes, offline_requested

    spec, offline = pred.spec, setup.offline
    # all GPUs, then filter: the engine may know GPUs no cloud rents (they get "no price quote")
    qs = get_quotes(gpus=None, providers=spec.pricing.providers, regions=spec.pricing.regions,
                    offline=spec.pricing.offline if offline is None else offline, now=setup.now)
    wanted = set(pred.gpu_names)
    quotes = tuple(q for q in qs.quotes if q.gpu in wanted)
    risk = _spot_risk(spec, quotes, offline)
    qf = economics.quotes_frame(quotes, spec, setup.now, risk)
    # actual spend (spec `actual_spend`): failures become warnings, never an exception
    # offline = this run (--offline, PHANTOM_OFFLINE); `pricing.offline` is about list prices only
    spend = spend_mod.fetch(spec, offline=offline_requested(offline), now=setup.now,
                            client_options=setup.spend_client_options,
                            allowed=setup.assets.allow_local or setup.spend_client_options is not None)
    return Priced(quotes=quotes, warnings=(*qs.warnings, *risk.warnings), quotes_frame=qf, spend=tuple(spend))


def _economics(pred: Predicted, priced: Priced) -> Economics:
    """Every evaluated configuration as a point, and every priced option of the ones that run and
    fit as a costed row (fleet size, monthly cost, energy, carbon, buy-vs-rent)."""
    spec, eng, gpu_names = pred.spec, pred.engine, pred.gpu_names
    points = economics.point_frame(pred.predictions, spec).reset_index(drop=True)
    points["point_id"] = np.arange(len(points))
    points = economics.add_idle_power(points, {n: eng.catalog.get(n).idle_power() for n in gpu_names})
    priceable = points[points["supported"].astype(bool) & points["fits"].fillna(False).astype(bool)]
    rows = economics.priced_rows(priceable, priced.quotes_frame)
    launch = {n: getattr(eng.catalog.get(n), "launch_price_usd", None) or np.nan for n in gpu_names}
    return Economics(points=points, rows=economics.cost_rows(rows, spec, launch))


def _uncertainty(pred: Predicted, priced: Priced, econ: Economics) -> Economics:
    """The seeded Monte Carlo: SLO probability per point, the slo.confidence gate, the baseline per
    workload, interval columns and ROI on the rows."""
    # copies: the economics stage's frames stay as it returned them
    spec, points, rows = pred.spec, econ.points.copy(), econ.rows.copy()
    draws = montecarlo.draw(points, priced.quotes_frame, spec)
    points["slo_probability"] = draws.slo_probability
    baseline: dict[str, int] = {}
    warnings = economics.pricing_warnings(priced.quotes_frame, pred.gpu_names, spec)
    if len(rows):
        rows["slo_probability"] = rows["point_id"].map(draws.slo_probability)
    points, rows = economics.apply_slo_confidence(points, rows, spec)  # slo.confidence gate
    if len(rows):
        # without roi.baseline, savings are measured against the cheapest on-demand config that
        # meets the SLOs: what spot, reservations and region choice save over plain renting
        baseline, base_warnings = economics.pick_baseline(rows, spec, economics.cheapest_on_demand(rows))
        warnings += base_warnings
        rows = pd.concat([rows, montecarlo.simulate(rows, draws, baseline)], axis=1)
        rows = economics.add_roi(rows, baseline, spec)
    return Economics(points=points, rows=rows, draws=draws, baseline=baseline, warnings=tuple(warnings))


def _charts(spec: RunSpec, econ: Economics, recs, setup: _Setup) -> Charts:
    """Every chart's view: interactive HTML when HTML is requested; the static SVGs for the PDF
    are drawn (by the chart child) while the caller builds the context (see `_attach_svgs`)."""
    static = setup.static
    data = _chart_data(spec, econ.points, econ.rows, recs)
    pending = static.begin(list(data.values())) if static else None
    views = {key: ChartView(id=c.id, title=c.title, caption=c.caption,
                            html=charts_mod.interactive_html(c) if "html" in setup.formats else "",
                            svg_uri="",  # _attach_svgs fills it once drawn
                            data={"labels": list(c.labels), "x": list(c.x), "y": list(c.y), "groups": list(c.groups)})
             for key, c in data.items()}
    if pending is None:
        return Charts(views=views)

    def svgs() -> tuple[dict[str, str], str]:
        drawn = dict(zip(data, pending()))
        static.close()
        return drawn, static.engine + (f" — {static.note}" if static.note else "")
    return Charts(views=views, svgs=svgs)


def _attach_svgs(ctx: dict[str, Any], charts: Charts) -> None:
    """Wait for the static SVGs and put them into the context: each chart's ``svg_uri``, and
    ``methodology.chart_engine`` (which engine drew them: known once they are drawn)."""
    if charts.svgs is None:
        ctx["methodology"]["chart_engine"] = "none (no PDF requested)"
        return
    drawn, engine = charts.svgs()
    for w in ctx["workloads"]:
        for short, view in w["charts"].items():
            view["svg_uri"] = render.svg_data_uri(drawn[f"{w['name']}:{short}"])
    ctx["methodology"]["chart_engine"] = engine


def _context(pred: Predicted, priced: Priced, econ: Economics, recs, charts: Charts, kind: str, logo: str | None,
             now: datetime) -> dict[str, Any]:
    """The template context (reporter/context_types.py) with the logo, budgets and actual spend,
    as the plain dict templates get."""
    spec = pred.spec
    ctx = context_mod.build(spec=spec, kind=kind, points=econ.points, rows=econ.rows, recs=recs,
                            baseline=econ.baseline, quotes=priced.quotes, quote_warnings=list(priced.warnings),
                            decision_warnings=list(econ.warnings), engine_info=_engine_info(pred.engine),
                            charts=charts.views, chart_engine="", generated_at=now)  # set by _attach_svgs
    budgets = budget_mod.budget_statuses(spec, econ.rows, recs, econ.draws)
    actual_spend, spend_warnings = spend_mod.view(spec, priced.spend, ctx.workloads, now, ctx.report.confidence_pct)
    ctx = replace(ctx, report=replace(ctx.report, logo=logo),
                  budget=budget_mod.budget_view(budgets, spec.confidence),
                  risks=list(dict.fromkeys([*budget_mod.budget_risks(budgets), *ctx.risks])),
                  actual_spend=actual_spend, warnings=list(dict.fromkeys([*ctx.warnings, *spend_warnings])))
    return template_dict(ctx)


def _render(inp: render.RenderInput, formats: Sequence[str], out: Path, *, after_timings: bool,
            meanwhile: Callable[[], None] | None = None) -> dict[str, tuple[Path, bytes]]:
    """Render the requested formats whose ``after_timings`` matches, in registry order:
    format -> (path, bytes). Formats with a ``begin`` (the PDF) start first, so their background
    work (WeasyPrint's layout, in the PDF child: the longest step of a run) overlaps ``meanwhile``
    and the other formats' renders, which run in this process."""
    chosen = {name: fmt for name, fmt in render.RENDERERS.items()
              if name in formats and fmt.after_timings == after_timings}
    pending: dict[str, Any] = {}
    try:
        for name, fmt in chosen.items():
            if fmt.begin is not None:
                pending[name] = fmt.begin(inp)
        if meanwhile is not None:
            meanwhile()
        done = {name: fmt.render(inp) for name, fmt in chosen.items() if fmt.begin is None}
        done.update({name: p.result() for name, p in pending.items()})
    except BaseException:
        for p in pending.values():
            p.cancel()
        raise
    return {name: (out / fmt.file_name, done[name]) for name, fmt in chosen.items()}


def _spot_risk(spec: RunSpec, quotes, offline: bool | None):
    """Interruption risk of the quoted spot instances: the embedded snapshot, plus live EC2 spot
    placement scores when live pricing is on (never under PHANTOM_OFFLINE or pricing.offline)."""
    from phantom_report.pricing import spot_risk
    from phantom_report.pricing.catalog import offline_requested

    is_offline = offline_requested(spec.pricing.offline if offline is None else offline)
    pairs = [(q.region, q.instance_type) for q in quotes if q.provider == "aws" and q.spot_usd_per_hour]
    return spot_risk.load(spec.pricing.spot_risk_model(), offline=is_offline or not spec.pricing.spot, aws_pairs=pairs)


def _kind(template: str) -> str:
    name = Path(template).name.split(".")[0]
    return name if name in templating.BUILTIN_KINDS else f"custom {context_mod.slugify(name)}"


def _engine_info(eng) -> dict[str, Any]:
    p = eng.params
    extra = dict(getattr(p, "extra", {}) or {})
    # the headline figures: leave-one-source-out cross-validation (each publication predicted by a fit
    # that never saw it), preferring the exact full-refit figures when calibrate recorded them
    runs = extra.get("cross_validation") or {}
    cv = runs.get("source/full") or runs.get("source/newton") or {}
    flat = {}
    if cv:
        flat = {
            "held-out measurements (leave-one-source-out)": f"{cv['n']:,}",
            "median absolute error": f"{cv['median_ape']:.1%}",
            "mean absolute error": f"{cv['mape']:.1%}",
            "within 25% of measured": f"{cv['within_25pct']:.0%}",
            "90% interval coverage": f"{cv['coverage']:.1%}",
        }
    return {"calibrated": bool(getattr(p, "calibrated", False)), "version": getattr(p, "version", ""),
            "fitted_at": getattr(p, "fitted_at", ""), "n_rows": getattr(p, "n_rows", 0), "accuracy": flat,
            "gpus": len(eng.catalog.names)}


def _prepare(spec: RunSpec, out_dir, template: str | None, rule: _Assets):
    """Everything about templates, logo and output directory that can fail on user input, checked
    before any work: (out dir, template name, Jinja env, entry template, logo data URI)."""
    out = Path(out_dir) if out_dir else (spec.resolve_path(spec.report.out_dir) if spec.report.out_dir
                                         else Path("reports") / context_mod.slugify(spec.title))
    outputs_mod.check_dir(out)
    tpl_name, user_dir = _template_choice(spec, template, rule)
    user_dir, entry = templating.resolve_template(tpl_name, user_dir)
    if user_dir is not None and not os.path.isdir(user_dir):  # isdir: False for ENAMETOOLONG too
        raise TemplateError(f"template_dir {str(user_dir)[:200]} does not exist")
    env = templating.make_env(user_dir)
    logo = _logo(spec, templating.template_dirs(env), user_dir, rule.allow_local)
    return out, tpl_name, env, entry, logo


def _template_choice(spec: RunSpec, template: str | None, rule: _Assets) -> tuple[str, Path | None]:
    """(template name, user template directory) of a run, refusing local paths when the spec may
    not name local files."""
    name = template or spec.report.template
    if not rule.allow_local:
        where = spec.source_path or "spec"
        if spec.report.template_dir:
            raise SpecError(f"{where}: report.template_dir: not allowed in a spec sent to the service (it may "
                            "not read server files); the service's own template directory applies")
        if template is None and (set(name) & {"/", "\\", "~"} or name.startswith(".")):
            raise SpecError(f"{where}: report.template: {name!r} is a path; a spec sent to the service may only "
                            "name a template (executive, detailed, or one in the service's template directory)")
        return name, rule.operator_template_dir
    if spec.report.template_dir:
        return name, spec.resolve_path(spec.report.template_dir)
    return name, rule.operator_template_dir


def _logo(spec: RunSpec, template_dirs: list[Path], user_dir: Path | None, allow_local: bool) -> str | None:
    """The spec's logo as a data: URI: from the spec's directory or a template directory, or, for
    a spec that may not name local files, from the template directories only (relative names
    resolve against the operator's template directory)."""
    logo = spec.report.logo
    if not logo:
        return None
    where = spec.source_path or "spec"
    if allow_local:
        return assets.logo_data_uri(logo, spec.resolve_path(logo), [Path(spec.base_dir), *template_dirs],
                                    "the spec's directory or a template directory", where)
    path = Path(logo)
    resolved = path if path.is_absolute() or user_dir is None else user_dir / path
    return assets.logo_data_uri(logo, resolved, template_dirs, "the service's template directory (a spec sent "
                                "to the service may not read other server files)", where)


def _chart_data(spec: RunSpec, points: pd.DataFrame, rows: pd.DataFrame, recs) -> dict[str, charts_mod.ChartData]:
    """The charts of every workload by ``"<workload>:<chart>"``: cost by GPU (hbar with intervals,
    the recommendation outlined), demand sensitivity (line) and cost vs latency (scatter)."""
    out: dict[str, charts_mod.ChartData] = {}
    if rows.empty:
        return out
    cheapest = {r.workload: r.row for r in recs if r.kind == "cheapest"}
    for w in spec.workloads:
        name, slug = w.label, context_mod.slugify(w.label)
        sub = rows[(rows["workload"] == name)]
        elig = sub[sub["meets_slo"] & sub["fleet_ok"]]
        if len(elig):
            best = elig.loc[economics.cost_order(elig)].drop_duplicates("gpu").head(10)
            best = _with_recommended(best, elig, cheapest.get(name))
            hi = [i for i, idx in enumerate(best.index) if idx == cheapest.get(name)]
            out[f"{name}:cost_by_gpu"] = charts_mod.ChartData(
                id=f"{slug}-cost-by-gpu", title=f"{name}: monthly cost of the cheapest SLO-meeting option per GPU",
                kind="hbar", x_title=f"USD per month ({round(spec.confidence * 100)}% interval)", y_title="",
                labels=tuple(f"{r.gpu} · {r.provider}" for r in best.itertuples()),
                x=tuple(float(v) for v in best["monthly_cost_usd"]),
                err_low=tuple(float(v) for v in best["monthly_cost_usd_low"]),
                err_high=tuple(float(v) for v in best["monthly_cost_usd_high"]),
                groups=tuple(best["option"]), hover=tuple(context_mod.describe(r) for _, r in best.iterrows()),
                highlight=hi[0] if hi else None,
                caption=_cost_by_gpu_caption(spec, best, hi[0] if hi else None),
            )
            c = rows.loc[cheapest[name]] if name in cheapest else None
            if c is not None:
                arr = economics.as_arrays(c.to_frame().T)
                ys = [float(economics.evaluate(arr, demand_scale=m)["monthly_cost_usd"][0]) for m in context_mod.DEMAND_STEPS]
                out[f"{name}:sensitivity"] = charts_mod.ChartData(
                    id=f"{slug}-sensitivity", title=f"{name}: monthly cost of the recommendation as demand changes",
                    kind="line", x_title="demand (x forecast)", y_title="USD per month",
                    x=tuple(float(m) for m in context_mod.DEMAND_STEPS), y=tuple(ys),
                    groups=tuple("" for _ in ys), hover=tuple(f"{m:g}x: ${y:,.0f}" for m, y in zip(context_mod.DEMAND_STEPS, ys)),
                    caption=captions.sensitivity(context_mod.DEMAND_STEPS, ys),
                    width_px=charts_mod.HALF_WIDTH_PX,
                )
        per_point = sub.loc[economics.cost_order(sub)].drop_duplicates("point_id")
        if len(per_point):
            out[f"{name}:cost_vs_latency"] = charts_mod.ChartData(
                id=f"{slug}-cost-vs-latency", title=f"{name}: latency vs cheapest monthly cost, every configuration",
                kind="scatter", x_title="predicted latency per batch (ms, log scale)", y_title="USD per month",
                x=tuple(float(v) for v in per_point["latency_ms"]), y=tuple(float(v) for v in per_point["monthly_cost_usd"]),
                groups=tuple("meets SLO" if m and f else "misses SLO" for m, f in zip(per_point["meets_slo"], per_point["fleet_ok"])),
                hover=tuple(context_mod.describe(r) for _, r in per_point.iterrows()), log_x=True,
                caption=captions.cost_vs_latency(int((per_point["meets_slo"] & per_point["fleet_ok"]).sum()), len(per_point)),
                width_px=charts_mod.HALF_WIDTH_PX,
            )
    return out


def _with_recommended(best: pd.DataFrame, elig: pd.DataFrame, rec_index) -> pd.DataFrame:
    """The per-GPU bars with the recommended row as its GPU's bar: the recommendation may not be the
    cheapest row of its GPU (another row of equal or lower cost may miss the SLO confidence), and the
    chart outlines the recommendation, so that bar must be it."""
    if rec_index is None or rec_index in best.index or rec_index not in elig.index:
        return best
    rec = elig.loc[[rec_index]]
    both = pd.concat([best[best["gpu"] != rec["gpu"].iloc[0]], rec])
    return both.loc[economics.cost_order(both)]


def _cost_by_gpu_caption(spec: RunSpec, best: pd.DataFrame, highlight: int | None) -> str:
    """The bar chart's caption: which bar is the recommendation and how many others could be as cheap."""
    pct = round(spec.confidence * 100)
    if highlight is None:
        return captions.cost_by_gpu(pct, None, None, 0)
    rec = best.iloc[highlight]
    others = best.drop(best.index[highlight])
    overlapping = int((others["monthly_cost_usd_low"] < rec["monthly_cost_usd"]).sum())
    return captions.cost_by_gpu(pct, f"{rec['gpu']} · {rec['provider']}", float(rec["monthly_cost_usd"]), overlapping)
