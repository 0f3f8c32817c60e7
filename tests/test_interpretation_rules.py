"""The shipped corpus's interpretation rules cannot silently corrupt what calibration sees.

Every rule names its metrics and (when it rescales values) the source's words; the files each
rule touches are listed in tests/fixtures/interpretation_rule_files.json, so a new file that a
pattern starts matching, or a rule that stops matching anything, fails here until the listing is
updated on purpose. The three defects found by the corpus audit stay fixed.
"""

import json
from pathlib import Path

import pytest

from phantom_report.engine.corpus import METRICS, RESCALING_RULES, load_corpus, load_rules, rule_coverage

FIXTURE = Path(__file__).parent / "fixtures" / "interpretation_rule_files.json"


@pytest.fixture(scope="module")
def rules():
    return load_rules()


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_every_rule_names_metrics_and_rescaling_rules_quote_the_source(rules):
    assert rules
    for r in rules:
        assert r.metrics and r.metrics <= set(METRICS), r.key
        assert r.reason, r.key
        if r.rule in RESCALING_RULES:
            assert len(r.source_words) > 3, r.key
    assert len({r.key for r in rules}) == len(rules)  # keys identify rules


def test_rules_touch_exactly_the_listed_files(rules):
    listed = json.loads(FIXTURE.read_text())["rules"]
    got = {key: sorted(files) for key, files in rule_coverage(rules=rules).items()}
    assert set(got) == set(listed), "rules added or removed: update the fixture listing deliberately"
    for key, files in got.items():
        assert files, f"rule matches no file: {key}"
        assert files == listed[key], f"rule {key!r} now touches {files}, listed {listed[key]}"


def _rows(corpus, file, **eq):
    df = corpus.rows[corpus.rows.file == file]
    for k, v in eq.items():
        df = df[df[k] == v]
    return df


def test_v06_per_gpu_rule_rescales_only_the_h100_throughput_table(corpus):
    import csv

    from phantom_report.engine.corpus import builtin_corpus_files

    f = "tensorrt-llm-performance-v0.6.csv"
    path = next(p for p in builtin_corpus_files() if p.name == f)
    with path.open(newline="") as fh:
        printed = {i + 2: float(r["value"]) for i, r in enumerate(csv.DictReader(fh))}
    used = _rows(corpus, f)
    # time to first token is printed per request: multi-GPU rows stay as printed (LLaMA 70B on 4 GPUs:
    # 109 ms, was x4 = 436 ms; Falcon 180B on 8: 205 ms, was 1,640 ms, once its model is in the zoo)
    ttft = used[used.metric == "ttft_ms"]
    assert len(ttft) >= 16 and (ttft.gpu_count > 1).any()
    assert [printed[n] for n in ttft.line] == ttft.value.tolist()
    assert "value_per_gpu" not in ",".join(ttft.interpretation)
    # H100 header 'Throughput (out tok/s/GPU)': LLaMA 70B TP2 2,657 per GPU -> 5,314 for the group
    h100 = used[(used.metric == "tokens_per_s") & (used.gpu == "H100-SXM")]
    assert (h100.value.to_numpy() == [printed[n] * c for n, c in zip(h100.line, h100.gpu_count)]).all()
    assert 2 * 2657.0 in h100.value.tolist()
    # A100 / L40S headers read 'Throughput (out tok/s)': single-GPU rows as printed, multi-GPU rows set aside
    other = used[(used.metric == "tokens_per_s") & (used.gpu != "H100-SXM")]
    assert set(other.gpu_count) == {1} and [printed[n] for n in other.line] == other.value.tolist()
    rej = corpus.rejected[(corpus.rejected.file == f) & corpus.rejected.reason.str.contains("unit ambiguous")]
    assert len(rej) >= 6 and set(rej.gpu) == {"A100"} and (rej.gpu_count.astype(int) > 1).all()


def test_v10_rows_with_tensor_parallelism_over_all_gpus_are_predicted_so(corpus):
    import csv
    import re

    from phantom_report.engine.corpus import builtin_corpus_files

    f = "tensorrt-llm-perf-overview-v1.0.csv"
    path = next(p for p in builtin_corpus_files() if p.name == f)
    with path.open(newline="") as fh:
        raw = list(csv.DictReader(fh))
    # the file carries the printed TP where it spans all the GPUs (TPn, PP1, on n GPUs): 149 rows;
    # pipeline-parallel rows leave it blank (the predictor chooses), single-GPU rows need none
    for r in raw:
        tp, pp, n = re.search(r"parallelism TP(\d+)(?: PP(\d+))? on (\d+) GPU", r["notes"]).groups()
        spans_all = int(tp) == int(n) > 1 and int(pp or 1) == 1
        assert r["tensor_parallel"] == (tp if spans_all else ""), r["notes"]
    assert sum(1 for r in raw if r["tensor_parallel"]) == 149
    used = _rows(corpus, f)
    tp_by_line = {i + 2: int(r["tensor_parallel"] or 0) for i, r in enumerate(raw)}
    assert used.tensor_parallel.tolist() == [tp_by_line[n] for n in used.line]
    assert (used.tensor_parallel == used.gpu_count).sum() >= 1
