"""ARCHITECTURE.md's "where do I add a model family", followed once: a builder returning a
`Workload` (here the existing decoder builder with a new architecture's shape), its name and
aliases in `zoo._BUILDERS`, its published size in `zoo.PUBLISHED_PARAMS` — and the model is then
resolvable by its Hugging Face spellings, checked against its published size the way
tests/test_engine_zoo.py checks every zoo model, and predicted by the engine."""

from __future__ import annotations

import pytest

from phantom_report.engine import zoo
from phantom_report.engine import zoo_transformers as T

NAME = "smollm2-135m"
# HuggingFaceTB/SmolLM2-135M config.json: hidden_size 576, intermediate_size 1536, 30 layers,
# 9 attention heads, 3 KV heads, vocab 49152, tied embeddings, max_position_embeddings 8192
SOURCE = "https://huggingface.co/HuggingFaceTB/SmolLM2-135M/blob/main/config.json"
PUBLISHED_TOTAL = 135e6  # the model card's name and size: "SmolLM2-135M"


def _build():
    return T.decoder_llm(NAME, "SmolLM2-135M", vocab=49152, hidden=576, layers=30, heads=9, kv_heads=3,
                         ffn=1536, max_seq=8192, tied=True, source=SOURCE,
                         aliases=("HuggingFaceTB/SmolLM2-135M", "SmolLM2-135M-Instruct"))


def _clear_caches():
    zoo.builtin_workloads.cache_clear()
    zoo._alias_index.cache_clear()
    zoo._resolve_cached.cache_clear()


@pytest.fixture
def zoo_with_new_model(monkeypatch):
    monkeypatch.setitem(zoo._BUILDERS, NAME, _build)
    monkeypatch.setitem(zoo.PUBLISHED_PARAMS, NAME, (PUBLISHED_TOTAL, None, SOURCE))
    _clear_caches()
    yield
    monkeypatch.undo()
    _clear_caches()  # the rest of the session sees the zoo as shipped


def test_new_model_resolves_matches_its_size_and_predicts(zoo_with_new_model, engine):
    for spelling in ("SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M", "smollm2-135m-instruct"):
        assert zoo.resolve_builtin(spelling) == NAME
    w = zoo.builtin_workloads()[NAME]
    total, _active, _ = zoo.PUBLISHED_PARAMS[NAME]
    assert w.params_total == pytest.approx(total, rel=0.02)  # the zoo test's rule for every model
    row = engine.predict(engine.workload("HuggingFaceTB/SmolLM2-135M"), "L4", "fp16", 1, seq_in=128, seq_out=64,
                         runtime="vllm")
    assert row["supported"] and row["tokens_per_s"] > 0 and row["tokens_per_s_low"] < row["tokens_per_s"]


def test_without_the_entry_the_name_is_unknown():
    from phantom_report.errors import ModelError

    _clear_caches()
    with pytest.raises(ModelError, match="unknown model"):
        zoo.resolve_builtin("SmolLM2-135M")
