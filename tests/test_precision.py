"""The numeric-format vocabulary, what runtimes execute for a stated precision, and their physics."""

import pandas as pd
import pytest

from phantom_report.engine import precision as P
from phantom_report.engine.executed import CONV_GROUP, MATMUL_GROUP, executed_column, runtime_family
from phantom_report.errors import PredictionError

# bytes per block and weights per block, written out from ggml-common.h's block_* structs
# (ggml_half = 2 bytes, uint8_t = 1, uint16_t = 2, QK_K = 256, K_SCALE_SIZE = 12)
GGUF_LAYOUT_BPW = {
    "q4_0": (2 + 32 // 2, 32), "q4_1": (2 * 2 + 32 // 2, 32), "q5_0": (2 + 4 + 32 // 2, 32),
    "q5_1": (2 * 2 + 4 + 32 // 2, 32), "q8_0": (2 + 32, 32), "iq4_nl": (2 + 32 // 2, 32),
    "q2_k": (2 * 2 + 256 // 16 + 256 // 4, 256), "q3_k": (2 + 256 // 4 + 256 // 8 + 12, 256),
    "q4_k": (2 * 2 + 12 + 256 // 2, 256), "q5_k": (2 * 2 + 12 + 256 // 2 + 256 // 8, 256),
    "q6_k": (2 + 256 // 16 + 3 * 256 // 4, 256), "iq4_xs": (2 + 2 + 256 // 64 + 256 // 2, 256),
    "iq2_xxs": (2 + 256 // 8 * 2, 256), "iq2_xs": (2 + 256 // 8 * 2 + 256 // 32, 256), "iq3_xxs": (2 + 3 * 256 // 8, 256),
    "iq3_s": (2 + 13 * 256 // 32 + 256 // 64, 256),
}
# the "Effectively N bits per weight" comments of ggml-common.h and the brief's figures
QUOTED_BPW = {"q4_0": 4.5, "q8_0": 8.5, "q2_k": 2.625, "q3_k": 3.4375, "q4_k": 4.5, "q5_k": 5.5, "q6_k": 6.5625,
              "iq2_xxs": 2.0625, "iq2_xs": 2.3125, "iq3_xxs": 3.0625, "iq3_s": 3.4375, "iq4_xs": 4.25}


@pytest.mark.parametrize("gguf_type", sorted(GGUF_LAYOUT_BPW))
def test_every_gguf_block_type_bpw_is_its_struct_arithmetic(gguf_type):
    nbytes, n = GGUF_LAYOUT_BPW[gguf_type]
    assert P.block_bits_per_weight(gguf_type) == pytest.approx(nbytes * 8 / n)
    if gguf_type in QUOTED_BPW:
        assert P.block_bits_per_weight(gguf_type) == pytest.approx(QUOTED_BPW[gguf_type])
    if gguf_type in P.FORMATS and gguf_type not in P.KQUANT_MIXES:  # a format named after its block type
        assert P.FORMATS[gguf_type].weight_bits == pytest.approx(nbytes * 8 / n)


def test_kquant_file_types_are_mixes_between_their_base_and_upgraded_types():
    # Q4_K_M: Q4_K with attn_v/ffn_down in Q6_K on use_more_bits layers and a Q6_K output matrix; on
    # Llama-2-7B that is 4.85 bpw (the 7B Q4_K_M file is 4.08 GB for 6.74 B parameters = 4.84 bpw)
    assert P.FORMATS["q4_k_m"].weight_bits == pytest.approx(4.85, abs=0.01)
    assert sum(P.use_more_bits(i, 32) for i in range(32)) == 16  # 4 first + 4 last + every third between
    for name, (base, _rules, _out) in P.KQUANT_MIXES.items():
        bits = P.FORMATS[name].weight_bits
        assert P.block_bits_per_weight(base) <= bits <= P.block_bits_per_weight("q6_k") + 1e-9, name
    order = ["q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "q6_k"]
    assert [P.FORMATS[n].weight_bits for n in order] == sorted(P.FORMATS[n].weight_bits for n in order)


def test_every_format_has_source_compute_column_and_consistent_views():
    for f in P.FORMATS.values():
        assert f.source and f.compute in ("fp32", "tf32", "fp16", "bf16", "fp8", "int8")
        assert P.WEIGHT_BYTES[f.name] == f.weight_bits / 8 and f.dequant in P.DEQUANT_FAMILIES
        # weight-only formats multiply in fp16 with 16-bit activations; the rest need no unpacking
        assert (f.compute == "fp16" and f.activation_bytes == 2.0) if f.weight_only else P.DEQUANT_OPS_PER_WEIGHT[f.dequant] == 0
    # GPTQ/AWQ int4, group 128: 4 bits + (fp16 scale + 4-bit zero) / 128
    assert P.FORMATS["int4"].weight_bits == pytest.approx(4 + 20 / 128)
    assert P.COMPUTE_COLUMN["fp8"] == "fp8" and P.COMPUTE_COLUMN["int8"] == "int8" and P.COMPUTE_COLUMN["w8a16"] == "fp16"


def test_dequant_ops_come_from_the_kernels_per_gguf_type():
    # every weight-only format pays some unpacking, every other format none
    for f in P.FORMATS.values():
        assert (P.DEQUANT_OPS[f.name] > 0) == f.weight_only, f.name
    # GGUF block types: counted from llama.cpp's MMVQ dot products, not their family's flat count
    for t, ops in P.MMVQ_OPS_PER_WEIGHT.items():
        assert t in P.GGUF_BLOCKS and 0 < ops < P.DEQUANT_OPS_PER_WEIGHT["iquant"], t
        if t in P.FORMATS and t not in P.KQUANT_MIXES:  # q2_k, q6_k name a file-type mix too
            assert P.DEQUANT_OPS[t] == ops
    # the low-bit k-quants decode a scale per 16 weights or splice bits: dearer than Q4_0/Q8_0
    assert P.DEQUANT_OPS["q3_k_s"] > P.DEQUANT_OPS["q2_k"] > P.DEQUANT_OPS["q4_k_m"] > P.DEQUANT_OPS["q4_0"]
    assert P.DEQUANT_OPS["q8_0"] < P.DEQUANT_OPS["q6_k"]
    # a file-type mix is a weight-weighted mean of its block types' counts
    for name in P.KQUANT_MIXES:
        members = [P.MMVQ_OPS_PER_WEIGHT.get(t, 9.0) for t in P.MMVQ_OPS_PER_WEIGHT] + [9.0]
        assert min(members) <= P.DEQUANT_OPS[name] <= max(members), name
    assert P.mix_average("q6_k", P.block_bits_per_weight) == P.mix_bits_per_weight("q6_k") == P.block_bits_per_weight("q6_k")
    # the non-GGUF weight-only formats keep their family's count
    assert P.DEQUANT_OPS["int4"] == P.DEQUANT_OPS_PER_WEIGHT["int_group"]


@pytest.mark.parametrize("spelling, canonical", [
    ("Q4_K_M", "q4_k_m"), ("q4-k-m", "q4_k_m"), ("Q8_0", "q8_0"), ("IQ4_XS", "iq4_xs"), ("F16", "fp16"),
    ("BF16", "bf16"), ("F32", "fp32"), ("AWQ", "int4"), ("w4a16", "int4"), ("GPTQ", "int4"), ("W8A8", "int8"),
    ("mixed", "amp"), ("float16", "fp16"), ("Q6_K", "q6_k"), ("q5_k_s", "q5_k_s"), ("Q3_K_L", "q3_k_l"),
])
def test_users_spellings_resolve(spelling, canonical):
    assert P.resolve_precision(spelling) == canonical


@pytest.mark.parametrize("name, candidates", [("4bit", "int4, q4_0"), ("4-bit", "q4_k_m"), ("8bit", "fp8"),
                                              ("Q4_K", "q4_k_s, q4_k_m")])
def test_ambiguous_names_are_errors_listing_candidates(name, candidates):
    with pytest.raises(PredictionError, match=f"ambiguous: it could be .*{candidates}"):
        P.resolve_precision(name)


def test_unknown_names_suggest_and_list():
    with pytest.raises(PredictionError, match=r"unknown precision 'q4km' \(did you mean q4_k_m\?\)"):
        P.resolve_precision("q4km")
    with pytest.raises(PredictionError, match="kv_precision 'q4_k_m' is not a KV-cache format"):
        P.resolve_kv_precision("q4_k_m")
    assert P.resolve_kv_precision("Q8_0") == "q8_0" and P.kv_bytes("q4_0") == pytest.approx(18 / 32)


# --- what runtimes execute ---------------------------------------------------------------------

def test_tf32_default_path_per_runtime():
    has_tf32 = lambda c: True  # noqa: E731  (an Ampere+ NVIDIA GPU: every column)
    no_tf32 = lambda c: c != "tf32"  # noqa: E731  (Volta/Turing, or AMD)
    # PyTorch: cuDNN convolutions in TF32, matmuls in fp32 (allow_tf32 False since 1.12)
    assert executed_column("pytorch", "fp32", CONV_GROUP, has_tf32) == "tf32"
    assert executed_column("pytorch", "fp32", MATMUL_GROUP, has_tf32) == "fp32"
    assert executed_column("pytorch-compile", "fp32", CONV_GROUP, has_tf32) == "tf32"
    # TensorFlow >= 2.4 and TensorRT: both
    for rt in ("tensorflow", "tensorrt"):
        assert {executed_column(rt, "fp32", g, has_tf32) for g in (CONV_GROUP, MATMUL_GROUP)} == {"tf32"}
    # no TF32 units: the stated precision; other runtimes and precisions: as stated
    assert executed_column("pytorch", "fp32", CONV_GROUP, no_tf32) == "fp32"
    assert executed_column("mxnet", "fp32", CONV_GROUP, has_tf32) == "fp32"
    assert executed_column("pytorch", "fp16", CONV_GROUP, has_tf32) == "fp16"
    assert runtime_family("tensorrt-llm") == "" and runtime_family("TensorFlow") == "tensorflow"


def test_llamacpp_fp16_matmuls_accumulate_in_fp16():
    """llama.cpp runs F16 GEMMs through cuBLAS with CUBLAS_COMPUTE_16F: the fp16_acc16 column where a
    GPU has one (GeForce), else fp16; quantized GGUF types (MMQ kernels) and other runtimes as stated."""
    geforce = lambda c: True  # noqa: E731  (has fp16_acc16)
    datacenter = lambda c: c != "fp16_acc16"  # noqa: E731  (A100, H100, AMD, Volta: no such column)
    for rt in ("llamacpp", "llama.cpp", "llama-cpp", "LlamaCpp", "ollama"):
        assert runtime_family(rt) == "llamacpp", rt
        assert executed_column(rt, "fp16", MATMUL_GROUP, geforce) == "fp16_acc16", rt
        assert executed_column(rt, "fp16", MATMUL_GROUP, datacenter) == "fp16", rt
    assert executed_column("llamacpp", "fp16", CONV_GROUP, geforce) == "fp16"
    for fmt in ("q4_0", "q4_k_m", "q8_0", "bf16", "fp32"):
        assert executed_column("llamacpp", fmt, MATMUL_GROUP, geforce) == P.COMPUTE_COLUMN[fmt], fmt
    for rt in ("pytorch", "vllm", "tensorrt-llm", "exllamav2"):
        assert executed_column(rt, "fp16", MATMUL_GROUP, geforce) == "fp16", rt


def test_tinychat_int4_gemms_accumulate_in_fp16():
    """TinyChat's 4-bit weight-only GEMM accumulates half inputs in half (llm-awq's quantization_new
    kernel): fp16_acc16 where the GPU has it; other runtimes' int4 and TinyChat's fp16 as stated."""
    geforce = lambda c: True  # noqa: E731
    datacenter = lambda c: c != "fp16_acc16"  # noqa: E731
    assert executed_column("tinychat", "int4", MATMUL_GROUP, geforce) == "fp16_acc16"
    assert executed_column("tinychat", "int4", MATMUL_GROUP, datacenter) == P.COMPUTE_COLUMN["int4"]
    assert executed_column("tinychat", "fp16", MATMUL_GROUP, geforce) == "fp16"
    for rt in ("vllm", "exllamav2", "lmdeploy-turbomind"):
        assert executed_column(rt, "int4", MATMUL_GROUP, geforce) == P.COMPUTE_COLUMN["int4"], rt


def test_llamacpp_fp16_runs_at_the_fp16_accumulate_peak(engine):
    from phantom_report.engine.plausibility import executed_peak

    rtx4090, a100 = engine.catalog.get("RTX-4090"), engine.catalog.get("A100-80GB-SXM")
    assert executed_peak(rtx4090, "llamacpp", "fp16") == ("fp16_acc16", 330.3)
    assert executed_peak(rtx4090, "llamacpp", "fp16", strict=True) == ("fp16", 165.2)
    assert executed_peak(rtx4090, "pytorch", "fp16") == ("fp16", 165.2)
    assert executed_peak(a100, "llamacpp", "fp16") == ("fp16", a100.peak("fp16"))
    # compute-bound prefill (512-token prompt): faster than the same rows run strictly at fp16 (FP32
    # accumulate) on the RTX 4090, by at most the 2x peak ratio; no change on the A100
    rows = [dict(gpu=g, strict_precision=s, seq_out=0) for g in ("RTX-4090", "A100-80GB-SXM") for s in (False, True)]
    ttft = _predict(engine, rows=rows).ttft_ms.tolist()
    assert ttft[1] / 2 <= ttft[0] < ttft[1]
    assert ttft[2] == pytest.approx(ttft[3], rel=1e-12)


def _predict(engine, **kw):
    base = dict(model="llama-2-7b", gpu="RTX-4090", precision="fp16", batch_size=1, seq_in=512, seq_out=128,
                runtime="llamacpp")
    rows = [{**base, **r} for r in kw.pop("rows")]
    return engine.predict_grid(pd.DataFrame(rows), params=kw.pop("params", None))


def test_pytorch_fp32_convnet_on_ampere_runs_tf32_convolutions(engine):
    df = _predict(engine, rows=[dict(model="resnet-50", gpu="A100-80GB-SXM", precision="fp32", batch_size=128,
                                     runtime=rt, seq_in=None, seq_out=None) for rt in ("pytorch", "mxnet")]
                  + [dict(model="resnet-50", gpu="V100-SXM2-16GB", precision="fp32", batch_size=128, runtime=rt,
                          seq_in=None, seq_out=None) for rt in ("pytorch", "mxnet")])
    a100_torch, a100_mx, v100_torch, v100_mx = df.throughput_per_s
    assert a100_torch > 1.2 * a100_mx  # TF32 convolutions on A100's tensor cores
    assert v100_torch == pytest.approx(v100_mx, rel=0.3)  # Volta has no TF32: both run fp32


def test_dequantization_cost_slows_weight_only_decode(engine):
    from dataclasses import replace

    fast = replace(engine.params, dequant_eff=1.0)
    slow = replace(engine.params, dequant_eff=0.01)
    rows = [dict(precision="q4_k_m"), dict(precision="fp16")]
    f, s = _predict(engine, rows=rows, params=fast), _predict(engine, rows=rows, params=slow)
    assert s.tpot_ms[0] > 1.5 * f.tpot_ms[0]  # unpacking-bound when the ALU rate is low
    assert s.tpot_ms[1] == pytest.approx(f.tpot_ms[1])  # fp16 unpacks nothing
    # bandwidth-bound decode: fewer packed bytes per weight -> faster steps (with cheap unpacking)
    q = _predict(engine, rows=[dict(precision=p) for p in ("q4_0", "q4_k_m", "q6_k", "q8_0", "fp16")], params=fast)
    assert list(q.tpot_ms) == sorted(q.tpot_ms)
    # the step reads at least the packed weight bytes
    assert q.tpot_ms[1] / 1e3 >= 6.5e9 * P.WEIGHT_BYTES["q4_k_m"] / (1008e9 * 1.0) * 0.99


def test_kv_precision_changes_kv_memory_and_bandwidth(engine):
    rows = [dict(runtime="vllm", batch_size=16, seq_in=4000, seq_out=100, kv_precision=k)
            for k in ("", "fp16", "fp8", "q4_0")]
    df = _predict(engine, rows=rows)
    default, fp16, fp8, q4 = df.itertuples()
    assert default.memory_gb == pytest.approx(fp16.memory_gb) and default.tpot_ms == pytest.approx(fp16.tpot_ms)
    # llama-2-7b: 2 x 32 layers x 4096 = 262,144 KV elements per token; 16 x 4100 tokens
    kv_elems = 16 * 4100 * 262144
    assert fp16.memory_gb - fp8.memory_gb == pytest.approx(kv_elems * (2 - 1) / 1e9, rel=1e-6)
    assert fp8.memory_gb - q4.memory_gb == pytest.approx(kv_elems * (1 - 18 / 32) / 1e9, rel=1e-6)
    assert fp16.tpot_ms > fp8.tpot_ms > q4.tpot_ms  # decode reads the whole cache every step
    with pytest.raises(PredictionError, match="kv_precision 'q4_k_m' is not a KV-cache format"):
        _predict(engine, rows=[dict(kv_precision="q4_k_m")])


def test_unknown_and_ambiguous_precisions_in_a_grid_are_errors(engine):
    with pytest.raises(PredictionError, match="ambiguous"):
        _predict(engine, rows=[dict(precision="4bit")])
    assert _predict(engine, rows=[dict(precision="Q4_K_M")]).precision[0] == "q4_k_m"


def test_plausibility_checks_rows_against_what_the_runtime_executes(tmp_path, engine):
    import csv

    from phantom_report.engine.corpus import load_corpus
    from phantom_report.engine.plausibility import set_aside_beyond_peak
    from phantom_report.engine.zoo import resolve_builtin

    # ResNet-50 ~8.2 GFLOP/image: 3,000 images/s on an A100 is 126% of its fp32 peak (19.5 TFLOPS) but
    # 16% of TF32 (156): possible for PyTorch "fp32" (cuDNN TF32 convolutions), not for a runtime
    # without a TF32 default
    cols = ["source", "source_url", "gpu", "model", "task", "runtime", "precision", "batch_size", "metric", "value"]
    rows = [["s", "https://example.org", "A100-80GB-SXM", "resnet-50", "inference", rt, "fp32", "256",
             "throughput_per_s", "3000"] for rt in ("pytorch", "tensorflow", "mxnet")]
    path = tmp_path / "m.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([cols, *rows])
    c = set_aside_beyond_peak(load_corpus([path], engine.catalog.resolve, resolve_builtin), engine)
    assert sorted(c.rows.runtime) == ["pytorch", "tensorflow"]
    assert c.rejected.runtime.tolist() == ["mxnet"]
    assert "peak fp32 compute (what mxnet executes for fp32)" in c.rejected.reason.iloc[0]


def test_fp32_rows_of_sources_that_also_print_tf32_ran_strict_fp32(tmp_path, engine):
    import csv

    from phantom_report.engine.calibration import corpus_points
    from phantom_report.engine.corpus import load_corpus
    from phantom_report.engine.zoo import resolve_builtin

    # a publication with TF32 and FP32 columns for one GPU ran its FP32 with TF32 off; a source
    # that prints only "fp32" ran the framework's default (TF32 in TensorFlow on Ampere)
    cols = ["source", "source_url", "gpu", "model", "task", "runtime", "precision", "batch_size", "metric", "value"]
    rows = [["both", "https://example.org", "A100-80GB-SXM", "bert-base", "inference", "tensorflow", p, "8",
             "throughput_per_s", "500"] for p in ("tf32", "fp32")]
    rows += [["only", "https://example.org", "A100-80GB-SXM", "bert-base", "inference", "tensorflow", "fp32", "8",
              "throughput_per_s", "500"]]
    path = tmp_path / "m.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([cols, *rows])
    c = load_corpus([path], engine.catalog.resolve, resolve_builtin)
    assert c.rows.strict_precision.tolist() == [False, True, False]
    pred = engine.predict_grid(corpus_points(c.rows).reset_index(drop=True))
    tf32, strict_fp32, default_fp32 = pred.throughput_per_s
    assert default_fp32 == pytest.approx(tf32) and strict_fp32 < 0.5 * tf32


def test_quantized_formats_keep_the_vocabulary_matrices_at_16_bits():
    """Quantization tools leave the token embedding and the output head at 16 bits (ModelOpt, AutoAWQ,
    AutoGPTQ); llama.cpp's file types quantize the output matrix too (counted in their mix)."""
    from phantom_report.engine.zoo import get_builtin

    for fmt in ("fp8", "int8", "w8a16", "int4"):
        assert P.VOCAB_BYTES[fmt] == 2.0 and not P.FORMATS[fmt].vocab_quantized
    for fmt in ("fp32", "fp16", "bf16", "q4_k_m", "q8_0"):
        assert P.VOCAB_BYTES[fmt] == P.WEIGHT_BYTES[fmt] and P.FORMATS[fmt].vocab_quantized
    w = get_builtin("llama-2-7b")
    assert w.vocab_params == 2 * 32000 * 4096  # embed_tokens + lm_head (untied)
    # vllm-project/vllm examples/fp8/quantizer/README.md: the FP8 Llama-2-7B checkpoint (rank0.safetensors)
    # is 7,000,893,272 bytes; all-fp8 weights would be 6.74 GB
    assert w.weight_bytes(P.WEIGHT_BYTES["fp8"], P.VOCAB_EXTRA_BYTES["fp8"]) == pytest.approx(7_000_893_272, rel=2e-4)
    assert get_builtin("gpt2").vocab_params == 50257 * 768  # tied: counted once


def test_vocabulary_matrices_stream_and_occupy_memory_at_their_own_width(engine):
    """A decode step reads the output head at 16 bits in an int4 (AWQ/GPTQ) or fp8 model, not at the
    format's width; memory holds embedding and head at 16 bits. GGUF and fp16 are unchanged."""
    from dataclasses import replace

    w = engine.workload("llama-3.1-8b")
    plain = replace(w, operators=tuple(replace(op, vocabulary=False) for op in w.operators), name="no-vocab")
    both = type(engine)(engine.catalog, engine.params, {"no-vocab": plain})
    rows = [dict(model=m, gpu="RTX-4090", precision=p, runtime="vllm", batch_size=1, seq_in=1, seq_out=1,
                 kv_precision="fp16") for p in ("int4", "fp8", "fp16", "q4_k_m") for m in ("llama-3.1-8b", "no-vocab")]
    df = both.predict_grid(pd.DataFrame(rows))
    tpot, mem = df.tpot_ms.to_numpy(), df.memory_gb.to_numpy()
    vocab = 2 * 128256 * 4096
    for i, fmt in ((0, "int4"), (2, "fp8")):
        assert tpot[i] > tpot[i + 1] * 1.03, fmt  # the head's 0.5 G weights at 2 bytes
        assert mem[i] - mem[i + 1] == pytest.approx(vocab * (2.0 - P.WEIGHT_BYTES[fmt]) / 1e9, rel=1e-9)
    for i in (4, 6):  # fp16, q4_k_m: the vocabulary is stored like the rest
        assert tpot[i] == pytest.approx(tpot[i + 1], rel=1e-12) and mem[i] == pytest.approx(mem[i + 1], rel=1e-12)
