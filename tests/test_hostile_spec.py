"""Hostile specs and CLI inputs (issue 17): every case is refused with one short line and exit 2 —
no code execution, no alias expansion, no traceback, no overflowed number, no silently ignored name.

The fuzz tests use hypothesis with bounded example counts and no deadline (behaviour, not timing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phantom_report.engine import limits
from phantom_report.errors import ModelError, PredictionError, SpecError
from phantom_report.reporter import yamlpos
from phantom_report.reporter.spec import RunSpec, check_model_limits, check_names, load_spec, parse_spec

VALID = """\
title: Serving Llama
model: llama-3.1-8b
gpus: [H100, A100]
batch_sizes: [1, 8]
demand:
  tokens_per_month: 3000000000
slo:
  p95_latency_ms: 6000
pricing:
  offline: true
"""

# 616 bytes, 9 levels of anchors, 9 references each: 9**9 values if anything expands it
ALIAS_BOMB = "model:\n" + "".join(
    f"  {name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
    for name, prev in zip("abcdefghi", [None, *"abcdefgh"])
) + "  builtin: *i\ngpus: all\ndemand: {tokens_per_month: 1}\n"


def _error(text: str, **kw) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(text, filename="s.yaml", **kw)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) <= 500, msg
    return msg


# ---------------------------------------------------------------------------- code execution


def test_python_factory_in_spec_refused_by_default(monkeypatch):
    called: list[str] = []
    monkeypatch.setattr(os, "abort", lambda: called.append("abort"))
    for text in ('model: {torch: "os:abort", input_shape: [1]}\ngpus: all\ndemand: {tokens_per_month: 1}\n',
                 'model: "os:abort"\ngpus: all\ndemand: {tokens_per_month: 1}\n',
                 'workloads:\n  - model: {torch: "evil.py:build"}\n    demand: {tokens_per_month: 1}\n'):
        msg = _error(text)
        assert "--allow-python" in msg and ("s.yaml:1: model" in msg or "s.yaml:2: workloads[0].model" in msg)
    assert called == []


def test_allow_python_is_set_by_the_caller_never_by_the_spec():
    text = 'model: {torch: "os:abort", input_shape: [1]}\ngpus: all\ndemand: {tokens_per_month: 1}\n'
    assert parse_spec(text, allow_python=True).allow_python is True  # parsed, not loaded
    assert "allow_python" not in parse_spec(text, allow_python=True).as_dict()
    msg = _error(text.replace("gpus: all", "gpus: all\nallow_python: true"))
    assert msg.startswith("s.yaml:3: allow_python: is not a known key")


def test_engine_refuses_factory_whatever_the_spec_said():
    """Defense in depth: a RunSpec built with allow_python=False cannot make the engine import."""
    from phantom_report.engine.api import Engine

    spec = parse_spec('model: {torch: "os:abort", input_shape: [1]}\ngpus: all\ndemand: {tokens_per_month: 1}\n',
                      allow_python=True)
    with pytest.raises(ModelError, match="--allow-python"):
        Engine.load().workload(spec.workloads[0].model)  # the default, as the service calls it


# ---------------------------------------------------------------------------- YAML loader limits


def test_alias_bomb_fails_fast_without_expanding():
    assert len(ALIAS_BOMB.encode()) < 700
    msg = _error(ALIAS_BOMB)
    assert "aliases are expanded" in msg or "alias references" in msg


def test_alias_reference_budget():
    refs = "\n".join(f"k{i}: *a" for i in range(limits.MAX_LIST_ITEMS + yamlpos.MAX_ALIASES))
    with pytest.raises(SpecError, match="alias references"):
        yamlpos.load("a: &a 1\n" + refs, "s.yaml")


@pytest.mark.parametrize("text", ["a: " + "[" * 2500 + "]" * 2500, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 60)),
                                  "a: " + "{b: " * 60 + "1" + "}" * 60])
def test_deep_nesting_is_an_error_not_a_recursion_error(text):
    msg = _error(text)
    assert "nest" in msg and msg.startswith("s.yaml:")


def test_aliases_cannot_stack_depth():
    text = "a: &a " + "[" * 30 + "1" + "]" * 30 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    with pytest.raises(SpecError, match="nested more than"):
        yamlpos.load(text, "s.yaml")


def test_size_utf8_and_unbuildable_values(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("title: " + "x" * (yamlpos.MAX_DOCUMENT_BYTES + 10))
    with pytest.raises(SpecError, match="larger than 1,000,000 bytes"):
        load_spec(big)
    with pytest.raises(SpecError, match="larger than"):
        load_spec("/dev/zero")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"title: ok\nowner: \xe9quipe\n")
    with pytest.raises(SpecError, match=r"latin1.yaml:2: not UTF-8 text \(byte 0xe9"):
        load_spec(bad)
    assert "not valid YAML" in _error("title: 1" + "0" * 5000 + "\n")  # beyond int()'s digit limit
    assert "not valid YAML" in _error("a: !!python/object/apply:os.system ['true']\n")
    assert "not valid YAML" in _error("a: 1\n---\nb: 2\n")


def test_too_many_values_stops_early():
    text = VALID.replace("gpus: [H100, A100]", "gpus: [" + ", ".join(["H100"] * 30_000) + "]")
    assert "more than 20,000 values" in _error(text)


def test_error_messages_are_bounded_and_one_line():
    msg = _error(VALID.replace("title: Serving Llama", "title: '" + "\\n" * 1000 + "x" * 200_000 + "'"))
    assert msg.startswith("s.yaml:1: title: string should have at most 300 characters")
    msg = _error(VALID.replace("slo:", "slo:\n  " + "k" * 1000 + ": 1"))
    assert msg.startswith("s.yaml:8: slo.kkkk") and "is not a known key" in msg[-60:]
    _error(VALID.replace("slo:", "slo:\n  " + "k" * 300_000 + ": 1"))  # libyaml refuses the key; still one line


# ---------------------------------------------------------------------------- numeric ranges


@pytest.mark.parametrize("edit, expected", [
    (("batch_sizes: [1, 8]", "batch_sizes: [1.0e+21]"), "s.yaml:4: batch_sizes[0]: is too large"),
    (("batch_sizes: [1, 8]", "batch_sizes: [100000]"), "batch_sizes[0]: must be at most 65,536, got 100000"),
    (("batch_sizes: [1, 8]", "gpu_counts: [1000000000]"), "s.yaml:4: gpu_counts[0]: must be at most 100,000"),
    (("batch_sizes: [1, 8]", "seq_in: 1000000000000"), "seq_in: must be at most 1,048,576"),
    (("tokens_per_month: 3000000000", "tokens_per_month: .inf"), "s.yaml:6: demand.tokens_per_month: input should be a finite number"),
    (("tokens_per_month: 3000000000", "tokens_per_month: .nan"), "demand.tokens_per_month: input should be a finite number"),
    (("tokens_per_month: 3000000000", "requests_per_month: 1.0e+300"), "demand.requests_per_month: must be at most 1e+16"),
    (("p95_latency_ms: 6000", "p95_latency_ms: 1.0e+300"), "slo.p95_latency_ms: must be at most"),
    (("gpus: [H100, A100]", "gpus: []"), "s.yaml:3: gpus: must not be empty"),
    (("title: Serving Llama", "title: " + "x" * 400), "title: string should have at most 300 characters"),
    (("model: llama-3.1-8b", "model: " + "m" * 300 + ".onnx"), "s.yaml:2: model: has a path component of 305 bytes"),
    (("pricing:", "report: {template: " + "t" * 300 + "}\npricing:"), "report.template: has a path component"),
    (("pricing:", "roi: {migration_cost_usd: 1.0e+200}\npricing:"), "roi.migration_cost_usd: must be at most 1e+12"),
    (("gpus: [H100, A100]", "gpus: [" + ", ".join(["H100"] * 600) + "]"), "gpus: list should have at most 512 items"),
    (("pricing:", "monte_carlo: {seed: -1}\npricing:"), "monte_carlo.seed: must be at least 0"),
    (("model: llama-3.1-8b", "model: {builtin: llama-3.1-8b, input_shape: [1]}"),
     "s.yaml:2: model: unknown key 'input_shape' for a builtin source (allowed: none)"),
])
def test_numeric_string_and_list_bounds(edit, expected):
    assert expected in _error(VALID.replace(*edit))


def test_grid_size_is_bounded():
    text = VALID.replace("batch_sizes: [1, 8]", f"batch_sizes: {list(range(1, 65))}\ngpu_counts: {list(range(1, 65))}")
    text = text.replace("gpus: [H100, A100]", "gpus: all")
    assert "configurations" in _error(text)


def test_sequence_longer_than_the_model_context(engine):
    spec = parse_spec(VALID.replace("batch_sizes: [1, 8]", "seq_in: 1000000"), filename="s.yaml")
    workloads = {w.label: engine.workload(w.model) for w in spec.workloads}
    with pytest.raises(SpecError, match=r"s.yaml:4: seq_in: seq_in = 1,000,000 tokens is more than "
                                        r"llama-3.1-8b's context window of 131,072"):
        check_model_limits(spec, workloads)


def test_vision_image_side_is_not_a_context_length(engine):
    spec = parse_spec(VALID.replace("model: llama-3.1-8b", "model: vit-b-16").replace("batch_sizes: [1, 8]", "seq_in: 384")
                      .replace("tokens_per_month", "requests_per_month"))
    check_model_limits(spec, {w.label: engine.workload(w.model) for w in spec.workloads})  # no error


def test_delivery_reader_uses_the_same_bounded_loader():
    from phantom_report.reporter.delivery.specio import parse_delivery_spec

    with pytest.raises(SpecError, match="alias"):
        parse_delivery_spec(ALIAS_BOMB, filename="request")
    with pytest.raises(SpecError, match="request:1: not UTF-8 text"):
        parse_delivery_spec(b"title: \xff\n", filename="request")
    with pytest.raises(SpecError, match="--allow-python"):
        parse_delivery_spec('model: {torch: "os:abort"}\ngpus: all\ndemand: {tokens_per_month: 1}\n')


# ---------------------------------------------------------------------------- unknown names


@pytest.mark.parametrize("edit, expected", [
    (("pricing:", "roi:\n  baseline: {gpu: NOPE-9000}\npricing:"), "s.yaml:10: roi.baseline.gpu: unknown GPU 'NOPE-9000'"),
    (("pricing:", "roi:\n  baseline: {gpu: L4}\npricing:"), "roi.baseline.gpu: L4 is not among the spec's `gpus`"),
    (("offline: true", "offline: true\n  regions: [us-east-1, mars-north-1]"),
     "s.yaml:11: pricing.regions[1]: unknown region 'mars-north-1'; did you mean"),
    (("pricing:", "roi:\n  baseline: {gpu: H100, region: moon-1}\npricing:"), "roi.baseline.region: unknown region 'moon-1'"),
    (("gpus: [H100, A100]", "gpus: [H100, H9000]"), "s.yaml:3: gpus[1]: unknown GPU 'H9000'; did you mean"),
])
def test_unknown_names_are_errors_with_choices(engine, edit, expected):
    spec = parse_spec(VALID.replace(*edit), filename="s.yaml")
    with pytest.raises(SpecError) as info:
        check_names(spec, engine.catalog)
    assert expected in str(info.value)


def test_known_names_pass_and_baseline_is_canonical(engine):
    spec, gpus = check_names(parse_spec(VALID.replace("pricing:", "roi:\n  baseline: {gpu: h100}\npricing:")),
                             engine.catalog)
    assert spec.roi.baseline.gpu == engine.catalog.resolve("H100") and spec.roi.baseline.gpu in gpus


def test_unknown_runtime_in_spec_and_engine(engine):
    assert "runtime: unknown runtime 'vllmm'; did you mean vllm?" in _error(VALID.replace("title:", "runtime: vllmm\ntitle:"))
    assert parse_spec(VALID.replace("title:", "runtime: vLLM\ntitle:")).workloads[0].runtime == "vllm"
    with pytest.raises(PredictionError, match="unknown runtime 'nosuch'"):
        engine.predict("llama-3.1-8b", "H100", "fp16", 1, runtime="nosuch")


def test_every_corpus_runtime_is_known():
    """Every runtime written in any measured CSV, used or not yet (a new profile or format can make
    a refused row usable, and an unknown runtime would then stop calibration)."""
    import csv
    from importlib import resources

    measured = resources.files("phantom_report.benchmarks").joinpath("measured")
    runtimes = {row["runtime"].strip().lower() for f in measured.iterdir() if f.name.endswith(".csv")
                for row in csv.DictReader(f.read_text(encoding="utf-8").splitlines()) if row.get("runtime", "").strip()}
    assert runtimes, "no corpus runtimes found"
    assert runtimes <= set(limits.RUNTIMES), sorted(runtimes - set(limits.RUNTIMES))


# ---------------------------------------------------------------------------- engine bounds (API too)


@pytest.mark.parametrize("kw, expected", [
    ({"batch_size": 10**23}, "batch_size must be a positive integer up to 65,536"),
    ({"batch_size": 1e23}, "batch_size must be a positive integer up to 65,536"),
    ({"batch_size": 1, "gpu_count": 10**9}, "gpu_count must be a positive integer up to 100,000"),
    ({"batch_size": 1, "seq_in": 10**12}, "seq_in must be from 0 to 1,048,576"),
    ({"batch_size": 1, "seq_out": float("inf")}, "seq_out must be from 0"),
])
def test_engine_predict_bounds(engine, kw, expected):
    with pytest.raises(PredictionError, match=expected):
        engine.predict("llama-3.1-8b", "H100", "fp16", **kw)


# ---------------------------------------------------------------------------- CLI: one line, exit 2


def _main(capsys, *argv: str) -> tuple[int, str]:
    from phantom_report.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(argv))
    err = capsys.readouterr().err
    return info.value.code, err


def _assert_one_line(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err and expected in " ".join(err.split()), err
    assert err.strip().startswith("error:")


@pytest.mark.parametrize("name, content, expected", [
    ("latin1.yaml", b"title: \xff\xfe\n", "not UTF-8 text"),
    ("deep.yaml", ("a: " + "[" * 2500 + "]" * 2500).encode(), "nest"),
    ("empty_gpus.yaml", b"model: llama-3.1-8b\ngpus: []\ndemand: {tokens_per_month: 1}\n", "gpus: must not be empty"),
    ("inf.yaml", b"model: llama-3.1-8b\ngpus: [H100]\ndemand: {tokens_per_month: .inf}\n", "finite number"),
    ("bomb.yaml", ALIAS_BOMB.encode(), "alias"),
    ("abort.yaml", b'model: {torch: "os:abort", input_shape: [1]}\ngpus: all\ndemand: {tokens_per_month: 1}\n',
     "--allow-python"),
    ("mars.yaml", b"model: llama-3.1-8b\ngpus: [H100]\ndemand: {tokens_per_month: 1}\npricing: {regions: [mars-north-1]}\n",
     "unknown region 'mars-north-1'"),
])
def test_cli_spec_check_refuses_with_one_line(tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    _assert_one_line(*_main(capsys, "spec", "check", str(path)), expected)


def test_cli_run_refuses_before_doing_work(tmp_path, capsys):
    _assert_one_line(*_main(capsys, "run", "/dev/zero"), "larger than 1,000,000 bytes")
    _assert_one_line(*_main(capsys, "run", str(tmp_path / ("x" * 300 + ".yaml"))), "cannot read")
    _assert_one_line(*_main(capsys, "run", str(tmp_path)), "cannot read")


def test_cli_paths_the_os_refuses(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    _assert_one_line(*_main(capsys, "templates", "init", str(afile)), "exists and is not a directory")
    _assert_one_line(*_main(capsys, "templates", "init", str(afile / "sub")), "is a file, not a directory")
    spec = Path(__file__).parents[1] / "examples" / "quickstart.yaml"
    _assert_one_line(*_main(capsys, "run", str(spec), "--out", str(afile / "report")), f"{afile} is a file, not a directory")
    _assert_one_line(*_main(capsys, "run", str(spec), "--out", str(tmp_path / ("o" * 300))), "--out: a path component is 300 bytes")
    monkeypatch.setenv("PHANTOM_DB_URL", f"sqlite:///{tmp_path}/missing/dir/history.db")
    _assert_one_line(*_main(capsys, "history", "list"), "cannot open the history database")


def test_cli_numeric_inputs(capsys):
    _assert_one_line(*_main(capsys, "predict", "-m", "llama-3.1-8b", "-g", "H100", "--batch", str(10**23)),
                     "--batch must be an integer from 1 to 65,536")
    _assert_one_line(*_main(capsys, "compare", "--models", "llama-3.1-8b", "--gpus", "H100", "--batch-sizes", "1,1e23"),
                     "--batch-sizes must be comma-separated positive integers")
    _assert_one_line(*_main(capsys, "compare", "--models", "llama-3.1-8b", "--gpus", "H100", "--batch-sizes", str(10**23)),
                     "--batch-sizes must be an integer from 1 to 65,536")
    _assert_one_line(*_main(capsys, "predict", "-m", "llama-3.1-8b", "-g", "H100", "--runtime", "nosuch"),
                     "unknown runtime 'nosuch'")
    _assert_one_line(*_main(capsys, "predict", "-m", "os:abort", "-g", "H100"), "--allow-python")
    _assert_one_line(*_main(capsys, "predict", "-m", "llama-3.1-8b", "-g", "H100", "--seq-in", "1000000"),
                     "seq_in = 1,000,000 tokens is more than llama-3.1-8b's context window of 131,072 tokens")


def test_real_entry_point_in_a_fresh_process(tmp_path, cli):
    proc = cli("run", "/dev/zero")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: /dev/zero: larger than") and proc.stderr.count("\n") == 1, proc.stderr


# ---------------------------------------------------------------------------- fuzzing the loader


def _outcome(text: str) -> None:
    """parse_spec either returns a RunSpec or raises SpecError with one bounded line."""
    try:
        assert isinstance(parse_spec(text, filename="f.yaml"), RunSpec)
    except SpecError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and len(msg) <= 500, msg


yamlish = st.text(alphabet=st.sampled_from(list("abk:-[]{}&*!|>'\"#,.?%@` \n\t0123456789eE+") + ["\x00", "é", "\ufeff"]),
                  max_size=300)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_fuzz_arbitrary_yamlish_text(text):
    _outcome(text)


nasty = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["x" * 5000, "os:abort", "../../etc/passwd", "all", "", "H100", "mars-north-1", "vllm"]),
    st.lists(st.integers(min_value=-5, max_value=10**25), max_size=5), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


BASE = yaml.safe_load(VALID)
BASE_PATHS = [p for p in _paths(BASE) if p]


def _mutate(doc, path, value, op):
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if op == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif op == "wrap":
        parent[path[-1]] = [parent[path[-1]]]
    else:
        parent[path[-1]] = value
    return doc


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(BASE_PATHS), nasty, st.sampled_from(["set", "delete", "wrap"])),
                min_size=1, max_size=4))
def test_fuzz_structurally_mutated_valid_spec(mutations):
    doc = yaml.safe_load(VALID)
    for path, value, op in mutations:
        try:
            doc = _mutate(doc, path, value, op)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced this path
    _outcome(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(VALID)), st.text(max_size=20), st.integers(min_value=0, max_value=10))
def test_fuzz_text_edits_of_a_valid_spec(at, insert, cut):
    _outcome(VALID[:at] + insert + VALID[at + cut:])


def test_the_valid_spec_is_valid():
    assert parse_spec(VALID).workloads[0].label == "llama-3.1-8b"
