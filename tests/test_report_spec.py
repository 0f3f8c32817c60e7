"""Run spec validation: errors name file:line, key path and expectation; short specs work."""

from __future__ import annotations

import json

import pytest

from phantom_report.errors import SpecError
from phantom_report.reporter.spec import load_spec, parse_spec, spec_json_schema

GOOD = """\
title: t
workloads:
  - model: resnet-50
    batch_sizes: [1, 8]
    demand:
      requests_per_month: 1000000
"""


def _err(text: str, name: str = "spec.yaml") -> str:
    with pytest.raises(SpecError) as exc:
        parse_spec(text, filename=name)
    return str(exc.value)


def test_negative_batch_size_names_line_path_and_value():
    text = "title: t\nworkloads:\n  - model: resnet-50\n    batch_sizes:\n      - 4\n      - -4\n    demand:\n      requests_per_month: 5\n"
    assert _err(text) == "spec.yaml:6: workloads[0].batch_sizes[1]: must be a positive integer, got -4"


def test_three_line_spec_is_a_full_workload():
    s = parse_spec("model: llama-3.1-8b\ngpus: all\ndemand: {tokens_per_month: 2e9}\n")
    w = s.workloads[0]
    assert (w.label, w.resolved_task, s.gpus) == ("llama-3.1-8b", "inference", "all")
    assert s.report.formats == ["html", "pdf", "md", "json", "csv"]
    assert w.resolved_batch_sizes == [1, 8, 32]


def test_shorthand_errors_point_at_top_level_keys():
    msg = _err("model: x\ndemand: {tokens_per_month: 5}\nslo:\n  p95_latency_ms: abc\n")
    assert msg == "spec.yaml:4: slo.p95_latency_ms: must be a number, got 'abc'"


@pytest.mark.parametrize("text, expected", [
    ("model: x\ndemand: {requests_per_month: 5}\nfoo: 1\n", "spec.yaml:3: foo: is not a known key"),
    ("model: x\ndemand: {}\n", "spec.yaml:2: demand: needs a rate"),
    ("model: x\ndemand: {requests_per_month: 5}\nreport:\n  formats: [html, docx]\n",
     "spec.yaml:4: report.formats[1]: must be 'html', 'pdf', 'md', 'json' or 'csv', got 'docx'"),
    ("model: x\ndemand: {requests_per_month: 5}\nprecisions: [fp99]\n", "spec.yaml:3: precisions[0]: unknown precision 'fp99'"),
    ("model: x\ntask: training\ndemand: {requests_per_month: 5}\n", "task training needs dataset_samples"),
    ("workloads: []\n", "spec.yaml:1: workloads: must not be empty"),
    ("model: [unclosed\n", "spec.yaml:2: not valid YAML"),
])
def test_error_messages(text, expected):
    assert expected in _err(text)


def test_load_spec_uses_file_name_and_resolves_relative_paths(tmp_path):
    p = tmp_path / "my.yaml"
    p.write_text(GOOD.replace("[1, 8]", "[1, 0]"))
    with pytest.raises(SpecError, match=r"my\.yaml:4: workloads\[0\]\.batch_sizes\[1\]: must be a positive integer, got 0"):
        load_spec(p)
    p.write_text(GOOD + "report:\n  template_dir: tpl\n")
    s = load_spec(p)
    assert s.resolve_path("tpl") == tmp_path / "tpl"


def test_schema_is_json_and_hides_internal_fields():
    schema = spec_json_schema()
    json.dumps(schema)
    assert "workloads" in schema["properties"] and "base_dir" not in schema["properties"]


def test_cli_spec_check_exit_codes(tmp_path, cli, cli_in_process):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    ok = cli("spec", "check", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("1000000", "-3"))
    res = cli_in_process("spec", "check", str(bad))  # `main` in-process: the same message, no start-up
    assert res.returncode == 2
    assert "bad.yaml:6: workloads[0].demand.requests_per_month: must be a positive number, got -3" in res.stderr.replace("\n", "")
    schema = cli_in_process("spec", "schema")
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "RunSpec"


def test_slo_confidence_defaults_to_90pct_and_is_bounded():
    assert parse_spec(GOOD).workloads[0].slo.confidence == 0.9
    assert parse_spec("model: x\ndemand: {requests_per_month: 5}\nslo: {confidence: 0.99}\n").workloads[0].slo.confidence == 0.99
    assert _err("model: x\ndemand: {requests_per_month: 5}\nslo:\n  confidence: 1.5\n") == \
        "spec.yaml:4: slo.confidence: must be at most 1, got 1.5"
