"""Corpus loader: schema, units, allowed values, duplicates, and the shipped corpus itself."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from phantom_report.engine.corpus import (
    METRICS, REQUIRED_COLUMNS, TASKS, CorpusError, builtin_corpus_files, load_corpus,
)
from phantom_report.errors import PhantomError

HEADER = ["source", "source_url", "gpu", "gpu_count", "model", "task", "runtime", "precision", "batch_size",
          "seq_in", "seq_out", "metric", "value", "notes"]
GPUS = {"a100": "A100-80GB-SXM", "h100": "H100-SXM"}
MODELS = {"resnet-50": "resnet-50", "llama-2-7b": "llama-2-7b", "llama2-7b": "llama-2-7b"}


def _resolver(table, what):
    def resolve(name: str) -> str:
        try:
            return table[name.lower()]
        except KeyError:
            raise PhantomError(f"unknown {what} {name!r}") from None
    return resolve


def _write(path: Path, rows: list[dict], header=HEADER) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in header})
    return path


def _row(**kw) -> dict:
    base = dict(source="s1", source_url="https://example.org/t", gpu="A100", gpu_count="1", model="resnet-50",
                task="inference", runtime="PyTorch", precision="FP16", batch_size="8", seq_in="", seq_out="",
                metric="throughput_per_s", value="1000", notes="")
    base.update(kw)
    return base


def _load(tmp_path, rows, **kw):
    return load_corpus([_write(tmp_path / "m.csv", rows, **kw)], _resolver(GPUS, "GPU"), _resolver(MODELS, "model"))


def test_good_rows_are_typed_and_canonicalised(tmp_path):
    c = _load(tmp_path, [_row(), _row(gpu="H100", model="llama2-7b", metric="tokens_per_s", seq_in="128",
                                      seq_out="256", value="2500.5")])
    assert len(c.rows) == 2 and c.rejected.empty
    r = c.rows.iloc[1]
    assert (r.gpu, r.gpu_raw, r.model, r.model_raw) == ("H100-SXM", "H100", "llama-2-7b", "llama2-7b")
    assert r.runtime == "pytorch" and c.rows.iloc[0].precision == "fp16"
    assert r.batch_size == 8 and r.seq_in == 128 and r.value == 2500.5 and r.gpu_count == 1
    assert c.rows.iloc[0].row_id == "m.csv:2" and r.line == 3


@pytest.mark.parametrize("override, reason", [
    ({"metric": "images_per_minute"}, "unknown metric"),
    ({"task": "finetune"}, "unknown task"),
    ({"precision": "fp12"}, "unknown precision"),
    ({"gpu": "Voodoo5"}, "unknown GPU"),
    ({"model": "alexnet"}, "unknown model"),
    ({"batch_size": ""}, "batch_size not printed"),
    ({"batch_size": "0"}, "batch_size not printed"),
    ({"batch_size": "2.5"}, "whole number"),
    ({"value": "-3"}, "positive"),
    ({"value": "fast"}, "not a number"),
    ({"source_url": ""}, "'source_url' is empty"),
    ({"metric": "tpot_ms", "task": "training"}, "only applies to inference"),
    ({"metric": "prefill_tokens_per_s", "model": "llama-2-7b"}, "needs seq_in"),
])
def test_uninterpretable_rows_are_listed_with_a_reason(tmp_path, override, reason):
    c = _load(tmp_path, [_row(), _row(**override)])
    assert len(c.rows) == 1
    assert len(c.rejected) == 1, "a bad row must be listed, never dropped silently"
    assert reason in c.rejected.iloc[0].reason
    assert c.rejected.iloc[0].row_id == "m.csv:3"


def test_gpu_name_with_system_note_resolves_to_the_chip(tmp_path):
    c = _load(tmp_path, [_row(gpu="H100 (DGX H100, 700W)")])
    assert c.rows.iloc[0].gpu == "H100-SXM" and c.rows.iloc[0].gpu_raw == "H100 (DGX H100, 700W)"


def test_precision_synonym_mixed_is_amp(tmp_path):
    assert _load(tmp_path, [_row(precision="mixed")]).rows.iloc[0].precision == "amp"


def test_conflicting_duplicates_rejected_exact_repeats_counted_once(tmp_path):
    rows = [_row(), _row(value="1100"), _row(batch_size="16"), _row(batch_size="16")]
    c = _load(tmp_path, rows)
    assert sorted(c.rejected.line.tolist()) == [2, 3]
    assert all("conflicting duplicate" in r for r in c.rejected.reason)
    assert len(c.rows) == 1 and c.rows.iloc[0].batch_size == 16


def test_same_profile_different_printed_gpu_is_not_a_conflict(tmp_path):
    gpus = {**GPUS, "gh200": "H100-SXM", "h100 sxm": "H100-SXM"}
    path = _write(tmp_path / "m.csv", [_row(gpu="GH200"), _row(gpu="H100 SXM", value="900")])
    c = load_corpus([path], _resolver(gpus, "GPU"), _resolver(MODELS, "model"))
    assert len(c.rows) == 2 and c.rejected.empty


def test_missing_required_column_is_a_user_error(tmp_path):
    header = [h for h in HEADER if h != "metric"]
    with pytest.raises(CorpusError, match="missing required column.*metric"):
        _load(tmp_path, [_row()], header=header)


def test_optional_columns_may_be_absent_and_extra_columns_kept_out(tmp_path):
    header = [h for h in HEADER if h not in ("gpu_count", "seq_in", "seq_out", "notes")] + ["extra"]
    c = _load(tmp_path, [_row(extra="x")], header=header)
    assert len(c.rows) == 1 and c.rows.iloc[0].gpu_count == 1


def test_optional_tensor_parallel_column(tmp_path):
    header = HEADER + ["tensor_parallel"]
    c = _load(tmp_path, [_row(gpu_count="8", tensor_parallel="4"), _row(batch_size="4"),
                         _row(batch_size="2", tensor_parallel="2")], header=header)
    assert c.rows.tensor_parallel.tolist() == [4, 0]
    assert c.rejected.reason.tolist() == ["tensor_parallel 2 must be between 1 and gpu_count (1)"]


# --- the shipped corpus -------------------------------------------------------------------------

# plausible ranges per unit: a number transcribed in the wrong unit (s for ms, per-minute for
# per-second) lands outside them
UNIT_RANGES = {
    "latency_ms": (0.01, 3.6e6), "ttft_ms": (0.5, 6e5), "tpot_ms": (0.1, 5e3),
    "throughput_per_s": (1e-3, 1e7), "tokens_per_s": (0.1, 1e7), "prefill_tokens_per_s": (1.0, 1e8),
}


@pytest.fixture(scope="module")
def shipped():
    files = builtin_corpus_files()
    if not files:
        pytest.skip("no measured corpus shipped yet")
    from phantom_report.engine.api import Engine
    from phantom_report.engine.zoo import resolve_builtin

    return load_corpus(files, Engine.load().catalog.resolve, resolve_builtin), files


def test_shipped_files_have_the_schema_and_every_row_is_accounted_for(shipped):
    corpus, files = shipped
    total = 0
    for f in files:
        with f.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert set(REQUIRED_COLUMNS) <= set(reader.fieldnames), f.name
            for rec in reader:
                total += 1
                assert rec["metric"] in METRICS, f"{f.name}:{reader.line_num}: metric {rec['metric']!r}"
                assert rec["task"] in TASKS, f"{f.name}:{reader.line_num}: task {rec['task']!r}"
                assert rec["source_url"].startswith("http"), f"{f.name}:{reader.line_num}: untraceable row"
                assert float(rec["value"]) > 0, f"{f.name}:{reader.line_num}"
    # exact repeats of one printed number are the only rows neither used nor listed
    assert len(corpus.rows) + len(corpus.rejected) <= total
    assert len(corpus.rows) > 0


def test_shipped_corpus_has_no_conflicting_duplicates(shipped):
    corpus, _ = shipped
    bad = corpus.rejected[corpus.rejected.reason.str.startswith("conflicting duplicate")]
    assert bad.empty, f"conflicting duplicates: {bad.row_id.tolist()[:10]}"


def test_shipped_values_are_in_their_units_range(shipped):
    corpus, _ = shipped
    for metric, (lo, hi) in UNIT_RANGES.items():
        part = corpus.rows[corpus.rows.metric == metric]
        out = part[(part.value < lo) | (part.value > hi)]
        assert out.empty, f"{metric} outside [{lo}, {hi}]: {out.row_id.tolist()[:5]}"


# --- interpretation rules ------------------------------------------------------------------------


def test_interpretation_rules(tmp_path):
    from phantom_report.engine.corpus import load_rules

    rules_path = tmp_path / "interpretation.csv"
    rules_path.write_text(
        "source_pattern,model,rule,value,reason,source_words,metric,gpu,gpu_count\n"
        "perg-*,,value_per_gpu,,printed per GPU,tok/s/GPU,throughput_per_s,,\n"
        "gone-1,,exclude,,global batch with model parallelism,,throughput_per_s,,\n"
        "diff-1,resnet-50,iterations_per_s,2,one iteration = two passes,it/s,throughput_per_s,,\n"
        "squad-?,,seq_in_default,384,README default,,throughput_per_s,,\n"
        "trt*,,batch_upper_bound,,queued requests,,throughput_per_s,,\n"
        "warm-1,,exclude,,average includes the warm-up iteration,,latency_ms,,\n"
    )
    rows = [_row(source="perg-1", gpu_count="4", value="100"), _row(source="gone-1"),
            _row(source="diff-1", batch_size="4", value="3"), _row(source="squad-1", model="llama-2-7b"),
            _row(source="trt-1", batch_size="30000"),
            _row(source="warm-1", metric="latency_ms"), _row(source="warm-1", metric="throughput_per_s")]
    path = _write(tmp_path / "m.csv", rows)
    c = load_corpus([path], _resolver(GPUS, "GPU"), _resolver(MODELS, "model"), load_rules(rules_path))
    by_src = c.rows.set_index("source")
    assert by_src.loc["perg-1", "value"] == 400 and by_src.loc["perg-1", "interpretation"] == "value_per_gpu"
    assert (by_src.loc["diff-1", "batch_size"], by_src.loc["diff-1", "value"]) == (8, 24)
    assert by_src.loc["squad-1", "seq_in"] == 384
    assert bool(by_src.loc["trt-1", "batch_upper_bound"]) and by_src.loc["trt-1", "batch_size"] == 30000
    assert c.rejected.iloc[0].reason.startswith("excluded by interpretation.csv: global batch")
    # a metric-restricted rule only takes the rows of that metric
    assert by_src.loc[["warm-1"], "metric"].tolist() == ["throughput_per_s"]
    assert c.rejected.iloc[1].reason.endswith("average includes the warm-up iteration")


def test_rules_can_target_one_gpu_and_gpu_count_and_set_tensor_parallel(tmp_path):
    from phantom_report.engine.corpus import load_rules

    rules_path = tmp_path / "interpretation.csv"
    rules_path.write_text(
        "source_pattern,model,rule,value,reason,source_words,metric,gpu,gpu_count\n"
        "tab,,exclude,,slower on 2 GPUs than on 1,,throughput_per_s,h100,2\n"
        "tab,,tensor_parallel_all,,TP = GPU count printed,,throughput_per_s,,\n"
    )
    rows = [_row(source="tab", gpu="H100", gpu_count="2", model="llama-2-7b"),
            _row(source="tab", gpu="H100", gpu_count="4", model="llama-2-7b"),
            _row(source="tab", gpu="A100", gpu_count="2", model="llama-2-7b")]
    c = load_corpus([_write(tmp_path / "m.csv", rows)], _resolver(GPUS, "GPU"), _resolver(MODELS, "model"),
                    load_rules(rules_path))
    # the GPU filter is written as an alias ("h100") and still matches the canonical name the rows carry
    assert sorted(zip(c.rows.gpu, c.rows.gpu_count)) == [("A100-80GB-SXM", 2), ("H100-SXM", 4)]
    assert c.rows.tensor_parallel.tolist() == c.rows.gpu_count.tolist()
    assert c.rejected.reason.tolist() == ["excluded by interpretation.csv: slower on 2 GPUs than on 1"]
    # without the rule the predictor chooses the tensor-parallel group (0)
    assert _load(tmp_path, [_row()]).rows.tensor_parallel.tolist() == [0]


def test_unknown_rule_is_a_user_error(tmp_path):
    from phantom_report.engine.corpus import load_rules

    p = tmp_path / "interpretation.csv"
    H = "source_pattern,model,rule,value,reason,source_words,metric,gpu,gpu_count\n"
    p.write_text("source_prefix,model,rule,value,reason\nx,,guess,,no\n")
    with pytest.raises(CorpusError, match="missing column.*source_pattern"):
        load_rules(p)
    p.write_text(H + "x,,guess,,no,,latency_ms,,\n")
    with pytest.raises(CorpusError, match="unknown rule 'guess'"):
        load_rules(p)
    p.write_text(H + "x,,exclude,,no,,latency,,\n")
    with pytest.raises(CorpusError, match=r"interpretation.csv:2: unknown metric 'latency'"):
        load_rules(p)
    p.write_text(H + "x,,exclude,,no,,,,\n")
    with pytest.raises(CorpusError, match=r"interpretation.csv:2: metric is empty; every rule names the metrics"):
        load_rules(p)
    p.write_text(H + "x,,value_per_gpu,,per GPU,,tokens_per_s,,\n")
    with pytest.raises(CorpusError, match=r"interpretation.csv:2: rule value_per_gpu rescales printed values: "
                                          r"source_words must quote"):
        load_rules(p)
    p.write_text(H + "x,,exclude,,no,,latency_ms,,two\n")
    with pytest.raises(CorpusError, match=r"interpretation.csv:2: gpu_count 'two' is not a whole number"):
        load_rules(p)
    p.write_text(H + "x,,exclude,,no,,throughput_per_s,B200X,\n")
    with pytest.raises(CorpusError, match=r"interpretation.csv: rule for 'x': unknown GPU 'B200X'"):
        load_corpus([_write(tmp_path / "m.csv", [_row()])], _resolver(GPUS, "GPU"), _resolver(MODELS, "model"),
                    load_rules(p))


def test_rows_faster_than_the_datasheet_peak_are_set_aside(tmp_path, engine):
    from phantom_report.engine.plausibility import set_aside_beyond_peak
    from phantom_report.engine.zoo import resolve_builtin

    # T4 fp32 peak 8.1 TFLOPS; ResNet-50 is ~8.2 GFLOP per image: 1,142 images/s would be 115% of it
    rows = [_row(gpu="T4", precision="fp32", batch_size="128", value="1142"),
            _row(gpu="T4", precision="fp32", batch_size="64", value="400"),
            _row(gpu="T4", precision="fp32", batch_size="1", metric="latency_ms", value="0.5"),
            _row(gpu="T4", precision="fp16", batch_size="128", value="1142"),
            _row(gpu="T4", model="llama-2-7b", precision="fp16", metric="tokens_per_s", value="1e5")]
    path = _write(tmp_path / "m.csv", rows)
    c = set_aside_beyond_peak(load_corpus([path], engine.catalog.resolve, resolve_builtin), engine)
    assert sorted(c.rows.value.tolist()) == [400.0, 1142.0, 1e5]  # fp16 peak is 65 TFLOPS; LLM rows unchecked
    assert c.rows[c.rows.value == 1142].precision.tolist() == ["fp16"]
    assert len(c.rejected) == 2 and c.rejected.reason.str.startswith("faster than the datasheet allows").all()
    assert "implies 115% of the GPUs' peak fp32 compute" in c.rejected.reason.iloc[0]
