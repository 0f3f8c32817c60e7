"""Hugging Face front end: configs -> IR, checked against the built-in zoo and published counts."""

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# skip without transformers, but do not import it (and torch) here: every xdist worker collects
# every module, and that import costs ~3 s of CPU in each worker that never runs these tests
if importlib.util.find_spec("transformers") is None:
    pytest.skip("transformers is not installed", allow_module_level=True)

from phantom_report.engine.frontends.hf import load_hf, resolve_source  # noqa: E402
from phantom_report.engine.sources import load_workload  # noqa: E402
from phantom_report.engine.zoo import get_builtin  # noqa: E402
from phantom_report.errors import ModelError  # noqa: E402

pytestmark = pytest.mark.heavy

FIX = Path(__file__).parent / "fixtures" / "frontends"

CONFIG_CASES = [  # fixture, zoo model, published parameter count
    (FIX / "llama-3.1-8b", "llama-3.1-8b", 8.03e9),
    (FIX / "bert-base-uncased.json", "bert-base", 110e6),
    (FIX / "vit-base-patch16-224.json", "vit-b-16", 86.6e6),
]


@pytest.mark.parametrize("path, zoo_name, published", CONFIG_CASES, ids=[c[1] for c in CONFIG_CASES])
def test_config_matches_zoo_and_published(path, zoo_name, published):
    w = load_workload(str(path))
    z = get_builtin(zoo_name)
    assert w.frontend == "hf" and w.frontend_path.startswith("hf:analytic-")
    assert w.params_total == pytest.approx(z.params_total, rel=0.01)
    assert w.params_total == pytest.approx(published, rel=0.01)
    assert w.flops_per_token() == pytest.approx(z.flops_per_token(), rel=0.05)
    assert w.kv_elems_per_token == pytest.approx(z.kv_elems_per_token)
    assert (w.generative, w.seq_scalable, w.default_seq_len) == (z.generative, z.seq_scalable, z.default_seq_len)
    # every parameter is owned by exactly one operator (tied weights counted once)
    assert sum(op.params * op.count for op in w.operators) == pytest.approx(w.params_total)


INLINE = {
    "t5-base": dict(model_type="t5", vocab_size=32128, d_model=768, num_layers=12, num_heads=12, d_kv=64, d_ff=3072,
                    architectures=["T5ForConditionalGeneration"]),
    "whisper-large": dict(model_type="whisper", d_model=1280, encoder_layers=32, decoder_layers=32,
                          encoder_attention_heads=20, decoder_attention_heads=20, encoder_ffn_dim=5120,
                          decoder_ffn_dim=5120, vocab_size=51865, num_mel_bins=80, max_source_positions=1500,
                          max_target_positions=448, pad_token_id=50257, bos_token_id=50257, eos_token_id=50257,
                          decoder_start_token_id=50258, architectures=["WhisperForConditionalGeneration"]),
    "gpt-2": dict(model_type="gpt2", vocab_size=50257, n_embd=768, n_layer=12, n_head=12, n_positions=1024,
                  architectures=["GPT2LMHeadModel"]),
    "mixtral-8x7b": dict(model_type="mixtral", vocab_size=32000, hidden_size=4096, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, intermediate_size=14336, num_local_experts=8,
                         num_experts_per_tok=2, max_position_embeddings=32768, architectures=["MixtralForCausalLM"]),
}


@pytest.mark.parametrize("zoo_name", sorted(INLINE))
def test_inline_configs_match_zoo(zoo_name):
    w = load_workload({"hf": zoo_name, "config": INLINE[zoo_name]})
    z = get_builtin(zoo_name)
    assert w.params_total == pytest.approx(z.params_total, rel=0.01)
    assert w.params_active == pytest.approx(z.params_active, rel=0.01)
    # prefill and one decode step at 64 tokens of context
    assert w.flops(1, 64, 64) == pytest.approx(z.flops(1, 64, 64), rel=0.05)
    assert w.flops(1, 1, 64) == pytest.approx(z.flops(1, 1, 64), rel=0.05)
    assert w.kv_elems_per_token == pytest.approx(z.kv_elems_per_token)


def test_mixtral_experts_are_moe_operators():
    w = load_workload({"hf": "mixtral", "config": INLINE["mixtral-8x7b"]})
    experts = [op for op in w.operators if op.moe_experts]
    assert len(experts) == 1 and experts[0].moe_experts == 8 and experts[0].moe_top_k == 2
    assert w.params_active == pytest.approx(12.9e9, rel=0.02)


def test_gemma_head_dim_and_tied_embeddings():
    cfg = dict(model_type="gemma", vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
               num_key_value_heads=1, head_dim=32, intermediate_size=128)
    w = load_workload({"hf": "tiny-gemma", "config": cfg})
    core = next(op for op in w.operators if op.op_class == "attention")
    assert core.flops_per_token_ctx == 4 * 4 * 32  # heads * head_dim, not hidden
    assert w.kv_elems_per_token == 2 * 2 * 1 * 32
    embed = next(op for op in w.operators if op.op_class == "embedding")
    assert embed.params == 0  # the LM head owns the tied matrix (it is the one streamed)


def test_unlisted_architecture_falls_back_to_flop_counter():
    cfg = dict(model_type="gpt_neox", vocab_size=1000, hidden_size=64, num_hidden_layers=2, intermediate_size=256,
               num_attention_heads=4, architectures=["GPTNeoXForCausalLM"])
    w = load_workload({"hf": "tiny-neox", "config": cfg})
    assert w.frontend_path == "hf:flop-counter-gpt_neox"
    assert w.generative and w.kv_elems_per_token == 2 * 2 * 64
    lm_and_layers = 2 * (64 * 3 * 64 + 64 * 64 + 2 * 64 * 256) + 64 * 1000
    gemm = sum(op.flops_per_token * op.count for op in w.operators if op.op_class == "gemm")
    assert gemm == pytest.approx(2 * lm_and_layers, rel=0.01)
    attn = next(op for op in w.operators if op.op_class == "attention")
    assert attn.flops_per_token_ctx == pytest.approx(2 * 4 * 64, rel=0.01)
    # the token embedding and the (untied) output head are the vocabulary matrices, each once
    vocab = {op.name: op.params for op in w.operators if op.vocabulary}
    assert vocab == {"output head": 64 * 1000, "token embedding": 1000 * 64}
    assert sum(op.params * op.count for op in w.operators) == w.params_total


def test_seq_len_sets_default_tokens():
    w = load_workload(str(FIX / "llama-3.1-8b"), seq_len=2048)
    assert w.default_seq_len == 2048


def test_bad_json_names_line(tmp_path):
    with pytest.raises(ModelError, match=r"bad-config\.json: line 5 column 3: invalid JSON"):
        load_workload(str(FIX / "bad-config.json"))


def test_config_without_model_type(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(ModelError, match="no 'model_type'"):
        load_workload(str(tmp_path))


def test_unknown_model_type():
    with pytest.raises(ModelError, match="not known to transformers"):
        load_workload({"hf": "x", "config": {"model_type": "no-such-arch"}})


def test_model_id_without_local_config_says_how_to_provide_one():
    with pytest.raises(ModelError) as err:
        load_workload("no-such-org/no-such-model-3f9a")
    msg = str(err.value)
    assert "config.json" in msg and "config:" in msg and "\n" not in msg


def test_model_id_from_local_hub_cache(tmp_path, monkeypatch):
    snapshot = tmp_path / "models--acme--tiny-bert" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text((FIX / "bert-base-uncased.json").read_text())
    (tmp_path / "models--acme--tiny-bert" / "refs").mkdir()
    (tmp_path / "models--acme--tiny-bert" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    w = load_workload("acme/tiny-bert")
    assert w.name == "tiny-bert" and w.params_total == pytest.approx(109.5e6, rel=0.01)


def test_8b_analysis_is_small():
    """Front-end analysis of an 8B config builds on the meta device: the right parameter count and
    < 1 GB peak RSS in a fresh process (no weights materialised). Its timing is measured by
    benchmarks/speed/bench_frontends.py, not here: CPU-time limits fail on a busy machine."""
    # peak RSS of this process's own address space: /proc's VmHWM. getrusage's ru_maxrss survives
    # exec on Linux, so a child started by a big pytest worker reported the worker's RSS (1.2 GB)
    code = textwrap.dedent(f"""
        import json, resource
        from phantom_report.engine.sources import load_workload
        w = load_workload({str(FIX / "llama-3.1-8b")!r})
        try:
            hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
            rss_mb = int(hwm.split()[1]) / 1024
        except OSError:
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({{"params": w.params_total, "rss_mb": rss_mb}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["params"] == pytest.approx(8.03e9, rel=0.01)
    assert figures["rss_mb"] < 1024
