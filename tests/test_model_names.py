"""Model names as people write them: the table of real spellings, and the reduction rules."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from phantom_report.engine.model_names import builtin_model_aliases, split_quantization
from phantom_report.engine.zoo import builtin_workloads, resolve_builtin, resolve_builtin_detail
from phantom_report.errors import ModelError
from phantom_report.gpu_naming import name_key

TABLE = Path(__file__).parent / "fixtures" / "model_name_spellings.csv"
ROWS = list(csv.DictReader(ln for ln in TABLE.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")))


@pytest.mark.parametrize("row", ROWS, ids=[r["spelling"] for r in ROWS])
def test_real_model_spelling_resolves_as_recorded(row):
    assert row["source"].startswith("https://")
    if not row["expected"]:
        with pytest.raises(ModelError, match="unknown model"):
            resolve_builtin(row["spelling"])
        return
    res = resolve_builtin_detail(row["spelling"])
    assert (res.canonical, res.precision_hint) == (row["expected"], row["precision_hint"]), res.explain()


@pytest.mark.parametrize("text, stripped, hint", [
    ("llama-2-7b.Q4_K_M.gguf", "llama-2-7b", "q4_k_m"), ("Llama-2-7B-GGUF", "Llama-2-7B", ""),
    ("model-IQ4_XS.gguf", "model", "iq4_xs"), ("phi-2.f16.gguf", "phi-2", "fp16"),
    ("qwen2-7b", "qwen2-7b", ""),  # 'q' + digit only as its own segment
])
def test_split_quantization(text, stripped, hint):
    assert split_quantization(text) == (stripped, hint)


def test_unknown_model_reads_the_reduced_name_and_suggests():
    with pytest.raises(ModelError, match=r"read as 'Llama-2-7'.*did you mean llama-2-7b"):
        resolve_builtin("meta-llama/Llama-2-7-chat-hf")


def test_model_alias_rows_point_into_the_zoo_and_say_why():
    zoo = {name_key(n) for n in builtin_workloads()}
    for entry in builtin_model_aliases().values():
        assert name_key(entry.canonical) in zoo, entry
        assert entry.source.startswith("https://") and len(entry.rationale) > 30, entry


def test_overlong_model_names_are_refused():
    with pytest.raises(ModelError, match="expected at most 300"):
        resolve_builtin("llama-" * 10_000)


def test_empty_or_punctuation_only_model_names_are_clear_errors():
    from phantom_report.engine.zoo import resolve_builtin
    from phantom_report.errors import ModelError
    for name in ("", "   ", "/", "..."):
        with pytest.raises(ModelError):
            resolve_builtin(name)
