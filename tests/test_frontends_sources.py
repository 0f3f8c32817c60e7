"""`load_workload` dispatch over every source kind, and the model report card."""

import json
import os
from pathlib import Path

import pytest

from phantom_report.engine.frontends.card import model_card, render_card
from phantom_report.engine.precision import WEIGHT_BYTES
from phantom_report.engine.sources import load_workload
from phantom_report.engine.zoo import get_builtin
from phantom_report.errors import ModelError

FIX = Path(__file__).parent / "fixtures" / "frontends"


def test_builtin_by_name_alias_and_mapping():
    assert load_workload("llama-3.1-8b") is get_builtin("llama-3.1-8b")
    assert load_workload({"builtin": "Llama3.1-8B"}).name == "llama-3.1-8b"
    with pytest.raises(ModelError, match="unknown model"):
        load_workload("resnet-5o0")


def test_mapping_validation():
    with pytest.raises(ModelError, match="exactly one of"):
        load_workload({"hf": "a", "onnx": "b"})
    with pytest.raises(ModelError, match=r"unknown key\(s\) input_shape"):
        load_workload({"onnx": "m.onnx", "input_shape": [1]})
    with pytest.raises(ModelError, match="must be a name, a path or a mapping"):
        load_workload(42)


def test_paths_dispatch_to_front_ends():
    assert load_workload(str(FIX / "bert-base-uncased.json")).frontend == "hf"
    assert load_workload(str(FIX / "llama-3.1-8b")).frontend_path == "hf:analytic-llama"
    named = load_workload({"hf": str(FIX / "llama-3.1-8b"), "name": "my-llama"})
    assert named.name == "my-llama"
    with pytest.raises(ModelError, match="file not found"):
        load_workload("does/not/exist.json")


def test_card_is_json_and_renders():
    w = load_workload(str(FIX / "llama-3.1-8b"))
    card = model_card(w, batch_size=4, seq_len=1024)
    json.dumps(card)
    assert card["params_total"] == w.params_total and card["seq_len"] == 1024
    assert card["weight_bytes"]["fp16"] == pytest.approx(w.params_total * WEIGHT_BYTES["fp16"])
    # the HF walk marks the token embedding and the (untied) output head as vocabulary matrices,
    # which quantized formats keep at 16 bits
    assert w.vocab_params == 2 * 128256 * 4096
    assert card["weight_bytes"]["fp8"] == pytest.approx(w.params_total + w.vocab_params)
    assert card["flops_per_sample"] == pytest.approx(w.flops(1, 1024, 1024))
    assert card["flops_per_token"] == pytest.approx(card["flops_per_sample"] / 1024)
    assert sum(r["flops_share"] for r in card["op_classes"]) == pytest.approx(1.0)
    assert sum(r["params_share"] for r in card["op_classes"]) == pytest.approx(1.0)
    assert card["arithmetic_intensity_flops_per_byte"] > 100  # prefill of 4 x 1024 tokens is compute-bound
    assert card["kv_cache_bytes_per_token"]["fp16"] == 2 * 2 * 32 * 8 * 128
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(render_card(card))
    text = console.export_text()
    assert "hf:analytic-llama" in text and "gemm" in text


def test_card_lists_unknown_ops_and_fixed_inputs():
    onnx = pytest.importorskip("onnx")
    path = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", "light_resnet50.onnx")
    card = model_card(load_workload(path), batch_size=8, seq_len=4096)
    assert card["seq_len"] == 1  # fixed-resolution model: sequence length does not apply
    assert card["flops_per_sample"] == pytest.approx(8.2e9, rel=0.02)
    card_zoo = model_card(get_builtin("mixtral-8x7b"))
    assert card_zoo["params_active"] < card_zoo["params_total"]


def test_tied_output_head_is_one_vocabulary_matrix(tmp_path):
    """A config with tie_word_embeddings: the head and the token embedding share one matrix, owned
    by the head (whose reads cost bandwidth) and counted once as vocabulary parameters."""
    config = json.loads((FIX / "llama-3.1-8b" / "config.json").read_text())
    config.update(tie_word_embeddings=True, num_hidden_layers=2)
    (tmp_path / "config.json").write_text(json.dumps(config))
    w = load_workload(str(tmp_path))
    vocab = {op.name: op.params for op in w.operators if op.vocabulary}
    assert vocab == {"lm_head": 128256 * 4096, "embed_tokens": 0.0}
    assert w.vocab_params == 128256 * 4096
