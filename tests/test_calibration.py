"""Calibration fit, conformal intervals, CV splitter and metrics on small synthetic data; the
`validate --data` command end to end on a tiny CSV with the real engine."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from phantom_report.engine import calibration as cal
from phantom_report.engine import intervals
from phantom_report.engine import validation as V
from phantom_report.engine.params import CalibrationParams

pytestmark = pytest.mark.heavy

# --- conformal math -----------------------------------------------------------------------------


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    r = np.arange(1.0, 20.0)  # n = 19: 90% -> ceil(20 * 0.9) = 18th smallest
    assert intervals.conformal_quantile(r, 0.9) == 18.0
    assert intervals.conformal_quantile(r, 0.5) == 10.0
    assert math.isinf(intervals.conformal_quantile(r[:5], 0.9))  # too few rows for 90%
    with pytest.raises(ValueError):
        intervals.conformal_quantile(r, 1.0)


def test_quantile_table_monotone_skips_unsupported_levels():
    rng = np.random.default_rng(0)
    t = intervals.quantile_table(np.abs(rng.normal(size=50)))
    assert list(t) == ["0.5", "0.8", "0.9", "0.95"]  # 0.99 needs >= 99 rows
    vals = list(t.values())
    assert vals == sorted(vals)
    assert intervals.half_width(t, 0.85) == pytest.approx((t["0.8"] + t["0.9"]) / 2)


def test_leave_group_out_coverage_is_near_nominal_on_exchangeable_data():
    rng = np.random.default_rng(1)
    r = np.abs(rng.standard_t(4, size=4000) * 0.2)
    groups = rng.integers(0, 80, size=r.size)
    cov = intervals.leave_group_out_coverage(r, groups, 0.9).mean()
    assert 0.88 <= cov <= 0.92


# --- metrics ------------------------------------------------------------------------------------


def test_score_metrics():
    frame = pd.DataFrame({"ape": [0.05, 0.2, 0.3, 1.0], "inside": [True, True, False, True],
                          "log_residual": [0.05, -0.2, 0.3, 0.7]})
    s = V.score(frame)
    assert s["n"] == 4 and s["median_ape"] == pytest.approx(0.25) and s["mape"] == pytest.approx(0.3875)
    assert s["within_10pct"] == 0.25 and s["within_25pct"] == 0.5 and s["coverage"] == 0.75


def test_predicted_metric_maps_prefill_tokens_through_ttft():
    rows = pd.DataFrame({"metric": ["throughput_per_s", "prefill_tokens_per_s", "tpot_ms"],
                         "batch_size": [4, 8, 1], "seq_in": [np.nan, 1000, 128]})
    pred = pd.DataFrame({"throughput_per_s": [10.0, 1.0, 1.0], "ttft_ms": [1.0, 200.0, 1.0],
                         "tpot_ms": [3.0, 3.0, 7.5], "latency_ms": 1.0, "tokens_per_s": 1.0})
    out = cal.predicted_metric(rows, pred)
    assert out.tolist() == [10.0, 8 * 1000 / 0.2, 7.5]


# --- fit on a synthetic predictor -----------------------------------------------------------------

ARCH = {"g1": "alpha", "g2": "alpha", "g3": "beta", "g4": "beta"}
WORK = {"m1": 1000.0, "m2": 300.0, "m3": 50.0}
TRUE = {("compute_eff", "alpha", "matmul"): 0.7, ("compute_eff", "beta", "matmul"): 0.4,
        ("runtime_compute_mult", "fast"): 1.3, ("overhead_ms", "pytorch"): 2.0, ("overhead_ms", "fast"): 0.5}


def fake_predict(points: pd.DataFrame, params: CalibrationParams) -> pd.DataFrame:
    """throughput = work x compute_eff x runtime mult; latency = batch / throughput + overhead."""
    arch = points["gpu"].map(ARCH).to_numpy()
    rt = points["runtime"].to_numpy()
    eff = np.array([min(1.0, params.compute_eff_for(a, "matmul") * params.runtime_compute(r)) for a, r in zip(arch, rt)])
    thr = points["model"].map(WORK).to_numpy() * eff
    lat = points["batch_size"].to_numpy() / thr * 1e3 + np.array([params.overhead_ms_for(r) for r in rt])
    n = len(points)
    return pd.DataFrame({"supported": np.ones(n, bool), "reason": [""] * n, "throughput_per_s": thr,
                         "latency_ms": lat, "tokens_per_s": np.nan, "ttft_ms": np.nan, "tpot_ms": np.nan})


def synthetic_rows(noise: float = 0.0, seed: int = 0) -> pd.DataFrame:
    truth = cal.apply_values(CalibrationParams(), [cal.ParamSpec(k, 0.01, 100, 1, 1, None) for k in TRUE],
                             list(TRUE.values()))
    recs = []
    for g in ARCH:
        for m in WORK:
            for rt in ("pytorch", "fast"):
                for b in (1, 8, 64):
                    for metric in ("throughput_per_s", "latency_ms"):
                        recs.append(dict(gpu=g, model=m, runtime=rt, batch_size=b, metric=metric, task="inference",
                                         precision="fp16", gpu_count=1, seq_in=np.nan, seq_out=np.nan,
                                         source=f"src-{g}"))
    rows = pd.DataFrame(recs)
    rows["arch"] = rows["gpu"].map(ARCH)
    rows["moe"] = rows["grouped_conv"] = rows["attention"] = False
    rows = cal.with_scopes(rows)
    rows["row_id"] = [f"f.csv:{i + 2}" for i in range(len(rows))]
    clean = cal.predicted_metric(rows, fake_predict(cal.corpus_points(rows), truth))
    rng = np.random.default_rng(seed)
    rows["value"] = clean * np.exp(rng.normal(0, noise, len(rows))) if noise else clean
    return rows


def test_fit_recovers_known_parameters():
    rows = synthetic_rows()
    res = cal.fit(rows, fake_predict)
    got = res.values()
    for path, want in TRUE.items():
        assert got[".".join(path)] == pytest.approx(want, rel=0.03), path
    assert res.n_rows == len(rows) and res.n_params == len(res.specs)
    assert np.abs(res.log_residuals).max() < 0.02
    assert 0 < res.params.compute_eff["alpha"]["matmul"] <= 1.0  # bounded to (0, 1]


def test_parameter_specs_bounds_and_baseline_runtime():
    specs = cal.parameter_specs(synthetic_rows())
    names = {s.name for s in specs}
    assert "runtime_compute_mult.pytorch" not in names  # PyTorch eager is the reference runtime
    for s in specs:
        if s.path[0] in ("compute_eff", "memory_eff"):
            assert 0 < s.lower < s.upper <= 1.0
    assert not any(s.path[-1] == "matmul_fp32" for s in specs)  # all rows fp16: one tensor-core path


def test_a_runtime_built_on_another_starts_from_its_parents_values():
    from phantom_report.engine.params import RUNTIME_PARENT

    child, parent = "fastertransformer-torch-op", "fastertransformer"
    assert RUNTIME_PARENT[child] == parent
    p = CalibrationParams(runtime_compute_mult={parent: 2.0}, runtime_memory_mult={parent: 0.5, child: 1.5},
                          runtime_launch_mult={parent: 0.3}, overhead_ms={parent: 0.1, "default": 0.4})
    # not fitted itself: exactly its parent (not PyTorch eager's 1 / the default overhead)
    assert p.runtime_compute(child) == 2.0 and p.launch_mult(child) == 0.3 and p.overhead_ms_for(child) == 0.1
    assert p.runtime_memory(child) == pytest.approx(0.75)  # fitted: a ratio to the parent
    assert p.runtime_compute("vllm") == 1.0 and p.overhead_ms_for("vllm") == 0.4  # no parent: unchanged


def test_a_runtime_without_its_own_launch_cost_takes_the_pooled_one_and_eager_pytorch_stays_1():
    p = CalibrationParams(runtime_launch_mult={"*": 0.2, "vllm": 0.05, "fastertransformer": 0.3})
    assert p.launch_mult("vllm") == 0.05 and p.launch_mult("sglang") == 0.2  # unfitted: pooled
    assert p.launch_mult("pytorch") == 1.0 and p.launch_mult("pytorch-lightning") == 1.0  # eager PyTorch
    assert p.launch_mult("fastertransformer-torch-op") == 0.3  # a child: its parent's
    assert CalibrationParams().launch_mult("sglang") == 1.0  # uncalibrated: no pooled value yet


def test_fitted_launch_costs_are_pulled_toward_the_pooled_one():
    rows = synthetic_rows()
    specs = {s.name: s for s in cal.parameter_specs(rows)}
    assert specs["runtime_launch_mult.fast"].prior_of == "runtime_launch_mult.*"
    pooled = specs["runtime_launch_mult.*"]
    assert pooled.scope is None and pooled.prior_of is None
    fun = cal.residual_function(rows, fake_predict, CalibrationParams(), list(specs.values()))
    names = list(specs)
    x = np.log([s.prior for s in specs.values()])
    r0 = fun(x)[len(rows):]
    x[names.index("runtime_launch_mult.*")] = np.log(0.5)  # moving the centre moves the fast runtime's prior term
    r1 = fun(x)[len(rows):]
    moved = {names[j] for j in np.flatnonzero(~np.isclose(r0, r1))}
    assert moved == {"runtime_launch_mult.fast", "runtime_launch_mult.*"}


def test_a_parents_parameters_also_fit_the_rows_of_runtimes_built_on_it():
    rows = synthetic_rows().assign(runtime=lambda r: r["runtime"].replace({"fast": "fastertransformer"}))
    child = rows[rows["runtime"] == "fastertransformer"].head(10).assign(runtime="fastertransformer-torch-op")
    rows = cal.with_scopes(pd.concat([rows, child], ignore_index=True).drop(columns="runtime_root"))
    specs = {s.name: s for s in cal.parameter_specs(rows)}
    assert specs["runtime_compute_mult.fastertransformer"].scope == ("runtime_root", "fastertransformer")
    assert (rows["runtime_root"] == "fastertransformer").sum() == 72 + 10
    assert "runtime_compute_mult.fastertransformer-torch-op" not in specs  # 10 rows: below MIN_ROWS_PER_SCOPE


def test_matmul_paths_get_parameters_where_rows_measure_them():
    rows = synthetic_rows()
    rows.loc[rows.arch == "alpha", "precision"] = "fp32"
    specs = {s.name: s for s in cal.parameter_specs(cal.with_scopes(rows))}
    fp32 = specs["compute_eff.alpha.matmul_fp32"]
    assert fp32.scope == ("arch_path", "alpha/matmul_fp32") and 0 < fp32.lower < fp32.upper <= 1.0
    assert "compute_eff.beta.matmul_fp32" not in specs and "compute_eff.alpha.matmul" in specs


def test_apply_values_leaves_base_untouched():
    base = CalibrationParams(compute_eff={"alpha": {"matmul": 0.5, "other": 0.2}})
    spec = cal.ParamSpec(("compute_eff", "alpha", "matmul"), 0.01, 1, 0.5, 1, None)
    new = cal.apply_values(base, [spec], [0.9])
    assert base.compute_eff["alpha"]["matmul"] == 0.5 and new.compute_eff["alpha"]["matmul"] == 0.9
    assert new.compute_eff["alpha"]["other"] == 0.2


# --- cross-validation ---------------------------------------------------------------------------


def test_grouped_cv_never_fits_on_the_held_out_group(monkeypatch):
    rows = synthetic_rows(noise=0.05)
    # the folds start from the full fit, as `fit_and_validate` (and `calibrate`) run them: the same
    # fold optima, found in a fraction of the cold-start evaluations
    full = cal.fit(rows, fake_predict)
    warm = {s.name: float(x) for s, x in zip(full.specs, full.x_log)}
    seen: list[set] = []
    real_fit = cal.fit

    def spy(train, *a, **kw):
        seen.append(set(zip(train["gpu"], train["model"])))
        return real_fit(train, *a, **kw)

    monkeypatch.setattr(cal, "fit", spy)
    res = V.cross_validate(rows, fake_predict, "gpu_model", warm_start=warm, n_jobs=1)
    folds = list(dict.fromkeys(zip(rows["gpu"], rows["model"])))
    assert len(seen) == len(folds) == res.n_folds
    for held, train in zip(folds, seen):
        assert held not in train
    assert len(res.held_out) == len(rows) and res.held_out["row_id"].is_unique
    assert res.summary["median_ape"] < 0.1  # 5% noise, right model
    assert 0.8 <= res.summary["coverage"] <= 1.0


def test_newton_refit_tracks_full_refit():
    rows = synthetic_rows(noise=0.08, seed=3)
    _, (full_cv,) = V.fit_and_validate(rows, fake_predict, ["gpu"], n_jobs=1, refit="full")
    _, (newton_cv,) = V.fit_and_validate(rows, fake_predict, ["gpu"], n_jobs=1, refit="newton")
    a, b = full_cv.held_out["log_residual"], newton_cv.held_out["log_residual"]
    # each fold drops a quarter of the rows here, far more than a (GPU, model) group of the corpus
    assert np.abs(a - b).max() < 0.05 and np.abs(a - b).median() < 0.01
    assert newton_cv.summary["median_ape"] == pytest.approx(full_cv.summary["median_ape"], abs=0.01)


def test_newton_fold_moves_by_what_its_rows_change_not_by_where_the_full_fit_stopped():
    """The full fit ends at a tolerance, short of its optimum along flat directions. A fold's
    approximate refit must move the parameters by the effect of dropping its rows: dropping one
    row of 144 moves them a little, wherever the full fit stopped. (Stepping from a fit that stopped
    short without subtracting its gradient moved the corpus' overheads 50x on folds of a few rows.)"""
    from dataclasses import replace

    rows = synthetic_rows(noise=0.05, seed=7)
    full = cal.fit(rows, fake_predict, CalibrationParams())
    # the same fit stopped short: every parameter 0.3 (log) off its optimum, inside the bounds
    stopped = replace(full, x_log=full.x_log + 0.3)
    state = V.NewtonState.of(stopped, fake_predict)
    assert np.abs(state.grad).max() > 1.0  # not at an optimum: the case the tilt is for
    fun = cal.residual_function(full.rows, fake_predict, CalibrationParams(), full.specs)
    held = np.zeros(len(full.rows), dtype=bool)
    held[0] = True
    moved = V.newton_fold_x(state, held, fun) - stopped.x_log
    assert np.abs(moved).max() < 0.03
    # and the same fold from the converged fit moves about as much as a full refit of it does
    state = V.NewtonState.of(full, fake_predict)
    refit = cal.fit(full.rows[~held], fake_predict, CalibrationParams(),
                    x0_log={s.name: float(x) for s, x in zip(full.specs, full.x_log)})
    np.testing.assert_allclose(V.newton_fold_x(state, held, fun), refit.x_log, atol=0.01)

def test_newton_fold_leaves_out_parameters_only_the_held_out_source_informs():
    """A source that is a runtime's only one: its full refit fits no parameter of that runtime (its
    defaults apply), so the approximate refit must not step them either (stepping them by the full
    fit's gradient and the prior alone moved MXNet's overheads 40x when its one source was held out)."""
    rows = synthetic_rows(noise=0.05, seed=11)
    fast = rows["runtime"] == "fast"
    rows = rows[~fast | rows["gpu"].isin(["g1", "g2"])].copy()  # 36 'fast' rows, all from one source
    rows.loc[rows["runtime"] == "fast", "source"] = "only-fast"
    _, (full_cv,) = V.fit_and_validate(rows, fake_predict, ["source"], n_jobs=1, refit="full")
    _, (newton_cv,) = V.fit_and_validate(rows, fake_predict, ["source"], n_jobs=1, refit="newton")
    held = full_cv.held_out["source"] == "only-fast"
    a = full_cv.held_out.loc[held, "log_residual"]
    b = newton_cv.held_out.set_index("row_id").loc[full_cv.held_out.loc[held, "row_id"], "log_residual"]
    assert np.abs(a.to_numpy() - b.to_numpy()).max() < 0.02
    full = cal.fit(rows, fake_predict, CalibrationParams())
    state = V.NewtonState.of(full, fake_predict)
    fun = cal.residual_function(full.rows, fake_predict, CalibrationParams(), full.specs)
    x = V.newton_fold_x(state, (full.rows["source"] == "only-fast").to_numpy(), fun)
    left_out = {s.name for s, v in zip(full.specs, x) if np.isnan(v)}
    assert {"runtime_compute_mult.fast", "overhead_ms.fast"} <= left_out  # and the runtime pool's
    assert not any(name.startswith("compute_eff") for name in left_out)  # the GPUs' stay fitted


def test_full_jacobian_steps_disjoint_parameters_together_with_the_same_entries():
    """The Newton refits' Jacobian steps parameters that move disjoint residuals in one evaluation;
    every entry must equal stepping that parameter alone (and the grouping must actually group)."""
    rows = synthetic_rows(noise=0.05, seed=5)
    full = cal.fit(rows, fake_predict, CalibrationParams())
    r0, jac = V.full_jacobian(full, fake_predict)
    fun = cal.residual_function(full.rows, fake_predict, CalibrationParams(), full.specs)
    hi = np.log([s.upper for s in full.specs])
    for j in range(len(full.x_log)):
        x = full.x_log.copy()
        h = 1e-4 if x[j] + 1e-4 <= hi[j] else -1e-4
        x[j] += h
        np.testing.assert_array_equal(jac[:, j], (fun(x) - r0) / h)
    pattern = cal.jacobian_pattern(full.rows, full.specs).tocsc()
    groups = V._disjoint_groups([np.unique(pattern[:, j].indices) for j in range(len(full.x_log))])
    assert len(groups) < len(full.x_log)


def test_breakdown_per_gpu():
    rows = synthetic_rows(noise=0.05)
    _, (res,) = V.fit_and_validate(rows, fake_predict, ["gpu_model"], n_jobs=1, refit="newton")
    b = res.breakdowns["gpu"]
    assert set(b["gpu"]) == set(ARCH) and b["n"].sum() == len(rows)


# --- the command, end to end on a tiny user file ------------------------------------------------


@pytest.fixture
def user_csv(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "source,source_url,gpu,model,task,runtime,precision,batch_size,seq_in,metric,value,notes\n"
        "me,https://example.org/a,A100 80GB,resnet-50,inference,pytorch,fp16,64,224,throughput_per_s,2500,\n"
        "me,https://example.org/a,A100 80GB,resnet-50,inference,pytorch,fp16,64,224,latency_ms,26,\n"
        "me,https://example.org/a,H100 SXM,llama-2-7b,inference,vllm,fp16,1,128,tpot_ms,9,\n"
        "me,https://example.org/a,Voodoo5,resnet-50,inference,pytorch,fp16,64,224,throughput_per_s,10,\n"
        "me,https://example.org/a,H100 SXM,resnet-50,inference,pytorch,fp16,64,224,images_per_minute,10,\n"
    )
    return path


def _run(argv):
    from phantom_report.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
        raise SystemExit(0)
    return exc.value.code


def test_validate_data_json(user_csv, capsys):
    assert _run(["validate", "--data", str(user_csv), "--format", "json", "--confidence", "0.8"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "user data" and out["confidence"] == 0.8
    assert set(out["summary"]) >= {"n", "median_ape", "mape", "within_10pct", "within_25pct", "coverage"}
    assert out["summary"]["n"] == 3
    scored = out["rows"]
    assert all(r["low"] < r["predicted"] < r["high"] for r in scored)
    reasons = " ".join(r["reason"] for r in out["not_interpreted"])
    assert "Voodoo5" in reasons and "images_per_minute" in reasons


def test_validate_data_csv_lists_rejected_rows(user_csv, capsys):
    assert _run(["validate", "--data", str(user_csv), "--format", "csv"]) == 0
    df = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert (df["status"] == "scored").sum() == 3 and (df["status"] == "not interpreted").sum() == 2


def test_validate_report_html_and_pdf(user_csv, tmp_path):
    html = tmp_path / "v.html"
    assert _run(["validate", "--data", str(user_csv), "--format", "html", "--out", str(html)]) == 0
    text = html.read_text()
    assert "Accuracy validation report" in text and "A100-80GB-SXM" in text
    # offline interactive charts: plotly.js inline, no <script src=...> fetched from a CDN
    assert "Plotly.newPlot" in text and "<script src=" not in text and 'src="http' not in text
    pdf = tmp_path / "v.pdf"
    assert _run(["validate", "--data", str(user_csv), "--format", "pdf", "--out", str(pdf)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_validate_report_uses_the_users_template_directory(user_csv, tmp_path, capsys):
    """validation.html.j2 is overridable like the run reports' templates: the user's directory
    first, `default:` for the built-in; the sandbox and the PDF's URL rule apply to it."""
    mine = tmp_path / "tpl"
    mine.mkdir()
    (mine / "validation.html.j2").write_text(
        '{% extends "default:validation.html.j2" %}{% block header %}<h1>Team accuracy page</h1>{{ super() }}'
        "{% endblock %}")
    html = tmp_path / "v.html"
    assert _run(["validate", "--data", str(user_csv), "--format", "html", "--out", str(html),
                 "--template-dir", str(mine)]) == 0
    text = html.read_text()
    assert "Team accuracy page" in text and "Accuracy validation report" in text and "Plotly.newPlot" in text
    (mine / "validation.html.j2").write_text("{{ ''.__class__.__mro__ }}")
    assert _run(["validate", "--data", str(user_csv), "--format", "html", "--out", str(tmp_path / "x.html"),
                 "--template-dir", str(mine)]) == 2
    assert "sandbox" in capsys.readouterr().err and not (tmp_path / "x.html").exists()
    (mine / "validation.html.j2").write_text('<img src="file:///etc/passwd">')
    assert _run(["validate", "--data", str(user_csv), "--format", "pdf", "--out", str(tmp_path / "x.pdf"),
                 "--template-dir", str(mine)]) == 2
    assert "file:///etc/passwd" in capsys.readouterr().err and not (tmp_path / "x.pdf").exists()
    assert _run(["validate", "--data", str(user_csv), "--format", "html", "--template-dir", str(tmp_path / "no")]) == 2


def test_validate_bad_inputs_are_user_errors(user_csv, tmp_path):
    assert _run(["validate", "--data", str(tmp_path / "nope.csv")]) == 2
    assert _run(["validate", "--data", str(user_csv), "--confidence", "1.5"]) == 2
    assert _run(["validate", "--data", str(user_csv), "--format", "xml"]) == 2


def test_rows_printed_as_batch_upper_bounds_are_predicted_at_the_batch_memory_holds():
    rows = pd.DataFrame([
        {"model": "llama-3.1-70b", "gpu": "A100-80GB-SXM", "gpu_count": 2, "task": "inference",
         "runtime": "tensorrt-llm", "precision": "fp16", "batch_size": 3000, "seq_in": 128.0, "seq_out": 2048.0,
         "batch_upper_bound": bound} for bound in (True, False)])
    pts = cal.corpus_points(rows)
    assert list(pts["max_batch"]) == [True, False]


def test_decode_steps_have_their_own_memory_multiplier_and_fitted_runtimes_without_one_take_the_pooled():
    p = CalibrationParams(runtime_memory_mult={"fastertransformer": 0.5, "tensorrt": 0.4},
                          runtime_decode_memory_mult={"*": 1.5, "vllm": 1.7, "fastertransformer": 1.2,
                                                      "lmdeploy-turbomind": 1.1},
                          overhead_ms={"fastertransformer": 0.1, "tensorrt": 0.1, "vllm": 1.0, "pytorch": 0.1})
    assert p.decode_memory("vllm") == 1.7
    assert p.decode_memory("lmdeploy-turbomind") == pytest.approx(1.32)  # a child's value: a ratio to its parent's
    assert p.decode_memory("fastertransformer-torch-op") == 1.2  # a child without one: its parent's
    # a fitted runtime without decode rows: the pooled decode value, not its forward-pass 0.4 (encoder rows)
    assert p.decode_memory("tensorrt") == 1.5 and p.runtime_memory("tensorrt") == 0.4
    assert p.decode_memory("sglang") == 1.0  # not fitted at all: eager PyTorch's multiplier, as elsewhere
    q = CalibrationParams(runtime_memory_mult={"fastertransformer": 0.5}, overhead_ms={"fastertransformer": 0.1})
    assert q.decode_memory("lmdeploy-turbomind") == 0.5  # a file without decode values: the forward one


def test_decode_rows_and_their_parameters():
    rows = synthetic_rows()
    assert not rows["decode"].any()  # no generative rows: no decode parameters
    assert not any(s.path[0] == "runtime_decode_memory_mult" for s in cal.parameter_specs(rows))
    gen = rows.assign(generative=rows["model"] == rows["model"].iloc[0],
                      metric=np.where(np.arange(len(rows)) % 3 == 0, "ttft_ms", "tokens_per_s"))
    gen = cal.with_scopes(gen.drop(columns=["decode", "decode_root", "decode_runtime"]))
    assert gen["decode"].equals(gen["generative"] & (gen["metric"] != "ttft_ms"))
    specs = {s.name: s for s in cal.parameter_specs(gen)}
    fast = specs["runtime_decode_memory_mult.fast"]
    assert fast.scope == ("decode_root", "fast") and fast.prior_of == "runtime_decode_memory_mult.*"
    assert specs["runtime_decode_memory_mult.*"].prior_of is None


def test_the_decode_multiplier_moves_decode_steps_only(engine):
    pts = pd.DataFrame([{"model": "llama-2-7b", "gpu": "A100-80GB-SXM", "gpu_count": 1, "task": "inference",
                         "runtime": "vllm", "precision": "fp16", "batch_size": 1, "seq_in": 128, "seq_out": 128}])
    base = CalibrationParams(runtime_decode_memory_mult={"vllm": 1.0})
    slow = CalibrationParams(runtime_decode_memory_mult={"vllm": 0.5})
    a, b = engine.predict_grid(pts, params=base).iloc[0], engine.predict_grid(pts, params=slow).iloc[0]
    assert b["ttft_ms"] == pytest.approx(a["ttft_ms"])  # prefill: the forward-pass multiplier
    assert b["tpot_ms"] > 1.5 * a["tpot_ms"]  # batch-1 decode streams the weights: ~bandwidth-bound


def test_full_refit_folds_report_progress_and_the_same_results():
    """A full refit of every fold takes minutes per scheme: the CLI shows progress from the callback,
    told once per finished fold; the folds' results do not depend on it."""
    rows = synthetic_rows(noise=0.05, seed=11)
    calls: list[tuple[str, int, int]] = []
    _, (with_progress,) = V.fit_and_validate(rows, fake_predict, ["gpu"], n_jobs=1, refit="full",
                                             progress=lambda *a: calls.append(a))
    _, (without,) = V.fit_and_validate(rows, fake_predict, ["gpu"], n_jobs=1, refit="full")
    assert calls == [("gpu", k, 4) for k in range(1, 5)]  # four GPUs, four folds
    pd.testing.assert_frame_equal(with_progress.held_out, without.held_out)
