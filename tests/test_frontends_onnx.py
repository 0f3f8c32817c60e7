"""ONNX front end: shape inference, per-node costs, dynamic dims, unknown ops, malformed files."""

import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from phantom_report.engine.frontends.onnx_fe import load_onnx  # noqa: E402
from phantom_report.engine.sources import load_workload  # noqa: E402
from phantom_report.engine.zoo import get_builtin  # noqa: E402
from phantom_report.errors import ModelError  # noqa: E402

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def _save(tmp_path, graph, name="m.onnx", opset=17):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _init(name, *shape):
    return numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)


def test_light_resnet50_params_and_flops():
    w = load_workload(os.path.join(LIGHT, "light_resnet50.onnx"))
    assert w.frontend == "onnx"
    assert w.params_total == pytest.approx(25.6e6, rel=0.02)
    assert w.flops() == pytest.approx(8.2e9, rel=0.02)  # 4.1 GMACs
    zoo = get_builtin("resnet-50")
    assert w.params_total == pytest.approx(zoo.params_total, rel=0.01)
    assert w.flops() == pytest.approx(zoo.flops(), rel=0.02)
    assert not w.unknown_ops
    # identical layers merged into counted operators
    assert sum(op.count for op in w.operators if op.name == "Conv") == 53


def test_light_models_all_load():
    for f in sorted(os.listdir(LIGHT)):
        if f.endswith(".onnx"):
            w = load_onnx(os.path.join(LIGHT, f))
            assert w.params_total > 1e6 and w.flops() > 1e8, f


def _attention_graph():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "sequence", 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "sequence", 16])
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"]),
        helper.make_node("MatMul", ["x", "wk"], ["k"]),
        helper.make_node("MatMul", ["x", "wv"], ["v"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Softmax", ["s"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["a"]),
        helper.make_node("Add", ["a", "x"], ["r"]),
        helper.make_node("LayerNormalization", ["r", "g", "b"], ["n"], axis=-1),
        helper.make_node("Bernoulli", ["n"], ["y"]),  # not in the cost tables: must be listed
    ]
    inits = [_init("wq", 16, 16), _init("wk", 16, 16), _init("wv", 16, 16), _init("g", 16), _init("b", 16)]
    return helper.make_graph(nodes, "attn", [x], [y], initializer=inits)


def test_attention_graph_costs_and_dynamic_dims(tmp_path):
    path = _save(tmp_path, _attention_graph())
    w = load_workload({"onnx": str(path), "batch_size": 2, "dims": {"sequence": 8}})
    s, d = 8, 16
    by_class = {}
    for op in w.operators:
        by_class[op.op_class] = by_class.get(op.op_class, 0.0) + op.flops_per_sample * op.count
    assert by_class["gemm"] == 3 * 2 * s * d * d
    assert by_class["attention"] == 2 * (2 * s * s * d)
    assert by_class["reduction"] == 5 * s * s
    assert by_class["norm"] == 5 * s * d
    assert w.params_total == 3 * d * d + 2 * d
    assert w.unknown_ops == {"Bernoulli": 1}
    # the sequence length binds a dim whose name says so
    w2 = load_onnx(path, batch_size=1, seq_len=8)
    assert w2.flops() == pytest.approx(w.flops())


def test_unresolvable_dynamic_dim_names_input_and_dim(tmp_path):
    path = _save(tmp_path, _attention_graph())
    with pytest.raises(ModelError, match=r"input 'x' dim 1 \('sequence'\) is dynamic"):
        load_onnx(path, batch_size=1)


def test_conv_transpose_gemm_pool(tmp_path):
    x = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["N", 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    nodes = [
        helper.make_node("Conv", ["img", "cw", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("ConvTranspose", ["c", "tw"], ["t"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["t"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"]),
    ]
    inits = [_init("cw", 4, 3, 3, 3), _init("cb", 4), _init("tw", 4, 2, 2, 2), _init("fw", 2, 5), _init("fb", 5)]
    path = _save(tmp_path, helper.make_graph(nodes, "cnn", [x], [y], initializer=inits))
    with pytest.raises(ModelError, match=r"input 'img' dim 2 \('H'\)"):
        load_onnx(path)
    w = load_onnx(path, dims={"H": 8, "W": 8})
    flops = {op.name: op.flops_per_sample for op in w.operators}
    assert flops["Conv"] == 2 * (4 * 8 * 8) * (3 * 3 * 3)
    assert flops["ConvTranspose"] == 2 * (4 * 8 * 8) * (2 * 2 * 2)
    assert flops["Gemm"] == 2 * 2 * 5
    assert flops["GlobalAveragePool"] == 2 * 16 * 16
    assert w.params_total == 108 + 4 + 32 + 10 + 5
    assert w.family == "cnn"


def test_grouped_conv_is_its_own_op_class(tmp_path):
    # depthwise 3x3 (group = channels): small per-group GEMMs the predictor prices with their own efficiency
    x = helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])
    nodes = [helper.make_node("Conv", ["img", "dw"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4)]
    path = _save(tmp_path, helper.make_graph(nodes, "dw", [x], [y], initializer=[_init("dw", 4, 1, 3, 3)]))
    (op,) = load_onnx(path).operators
    assert op.op_class == "grouped_conv" and op.flops_per_sample == 2 * (4 * 8 * 8) * (1 * 3 * 3)


def test_truncated_onnx_is_a_model_error(tmp_path):
    data = open(os.path.join(LIGHT, "light_resnet50.onnx"), "rb").read()
    bad = tmp_path / "truncated.onnx"
    bad.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="truncated.onnx"):
        load_workload(str(bad))


def test_not_onnx_and_missing_file(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_text("this is not a protobuf\n" * 10)
    with pytest.raises(ModelError, match="junk.onnx"):
        load_workload(str(junk))
    with pytest.raises(ModelError, match="file not found"):
        load_workload(str(tmp_path / "missing.onnx"))


def test_exported_transformer_matches_hf_front_end(tmp_path):
    """A BERT exported by torch.onnx (symbolic batch and sequence) costs the same as its config."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    cfg = transformers.AutoConfig.for_model("bert", hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                            intermediate_size=128, vocab_size=100)

    class Encoder(torch.nn.Module):  # the pooler is left out: it would not run per token
        def __init__(self):
            super().__init__()
            self.bert = transformers.BertModel(cfg).eval()

        def forward(self, ids):
            return self.bert(input_ids=ids).last_hidden_state

    path = tmp_path / "bert.onnx"
    try:
        torch.onnx.export(Encoder(), (torch.zeros(1, 16, dtype=torch.long),), str(path), input_names=["input_ids"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}}, dynamo=False, opset_version=17)
    except Exception as exc:  # the exporter is optional machinery of torch
        pytest.skip(f"torch.onnx.export unavailable: {exc}")
    hf = load_workload({"hf": "tiny-bert", "config": cfg.to_dict()})
    pooler = 2 * 64 * 64
    for batch in (1, 4):
        w = load_workload({"onnx": str(path), "batch_size": batch, "seq_len": 16})
        assert not w.unknown_ops
        tensor_core = sum(op.flops_per_sample * op.count for op in w.operators if op.op_class in ("gemm", "attention"))
        assert tensor_core == pytest.approx(hf.flops(1, 16, 16) - pooler, rel=0.001)


def test_token_embedding_and_output_head_are_the_vocabulary_matrices(tmp_path):
    # quantization leaves the vocabulary matrices at 16 bits (Operator.vocabulary): the ONNX front end
    # must find them -- the tallest looked-up table and the product as wide as it -- and nothing else
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "sequence"])
    pos = helper.make_tensor_value_info("pos", TensorProto.INT64, ["batch", "sequence"])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", 1200])
    nodes = [
        helper.make_node("Gather", ["wte", "ids"], ["tok"]),
        helper.make_node("Gather", ["wpe", "pos"], ["p"]),
        helper.make_node("Add", ["tok", "p"], ["h0"]),
        helper.make_node("MatMul", ["h0", "w1"], ["h1"]),
        helper.make_node("MatMul", ["h1", "head"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "lm", [ids, pos], [logits],
                              initializer=[_init("wte", 1200, 64), _init("wpe", 128, 64), _init("w1", 64, 64),
                                           _init("head", 64, 1200)])
    w = load_onnx(_save(tmp_path, graph), batch_size=1, seq_len=16)
    marked = {(op.name, op.params) for op in w.operators if op.vocabulary}
    assert marked == {("Gather", 1200 * 64), ("MatMul", 64 * 1200)}, w.operators
    assert w.vocab_params == 2 * 1200 * 64
    # an int4 checkpoint holds them at 2 bytes per weight, the rest at half a byte
    other = w.params_total - w.vocab_params
    assert w.weight_bytes(0.5, 2.0 - 0.5) == pytest.approx(other * 0.5 + w.vocab_params * 2.0)
    # no table tall enough to be a vocabulary: nothing marked (a position table alone is not one)
    out = helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", "sequence", 64])
    small = helper.make_graph(nodes[1:2], "pos", [pos], [out], initializer=[_init("wpe", 128, 64)])
    assert not any(op.vocabulary for op in load_onnx(_save(tmp_path, small, "pos.onnx"), batch_size=1, seq_len=16).operators)
