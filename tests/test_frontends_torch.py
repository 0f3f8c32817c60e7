"""PyTorch front end: factories on meta tensors, TorchScript and torch.export files."""

import importlib.util
from pathlib import Path

import pytest

# skip without torch, but import it only in the tests that use it: every xdist worker collects
# every module, and `import torch` costs ~2.5 s of CPU in each worker that never runs these tests
if importlib.util.find_spec("torch") is None:
    pytest.skip("torch is not installed", allow_module_level=True)

from phantom_report.engine.sources import load_workload  # noqa: E402
from phantom_report.errors import ModelError  # noqa: E402

MODEL_FILE = Path(__file__).parent / "fixtures" / "frontends" / "tiny_torch_model.py"
REF = f"{MODEL_FILE}:make_model"
SHAPE = [2, 3, 32, 32]


def _real_model():
    spec = importlib.util.spec_from_file_location("tiny_torch_model_real", MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_model().eval()


def _real_flops(model, shape):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.randn(*shape))
    return counter.get_total_flops()


def test_factory_flops_equal_flop_counter_on_real_tensors():
    w = load_workload({"torch": REF, "input_shape": SHAPE}, allow_python=True)
    model = _real_model()
    batch = SHAPE[0]
    assert w.frontend == "torch" and w.frontend_path == "torch:flop-counter-meta"
    assert w.flops(batch) == _real_flops(model, SHAPE)
    assert w.params_total == sum(p.numel() for p in model.parameters())
    # FLOPs done functionally in the root forward (x @ self.proj) are kept, on the root module
    root = [op for op in w.operators if op.name.startswith("TinyNet")]
    assert root and root[0].flops_per_sample == 2 * 16 * 32
    classes = {op.op_class for op in w.operators}
    assert {"conv", "grouped_conv", "gemm", "norm", "pool", "elementwise"} <= classes


def test_torchscript_and_export_files(tmp_path):
    import torch

    model = _real_model()
    expected = _real_flops(model, SHAPE)
    ts = tmp_path / "tiny.pt"
    torch.jit.trace(model, torch.randn(*SHAPE)).save(str(ts))
    w = load_workload(str(ts), input_shape=SHAPE)
    assert w.flops(SHAPE[0]) == expected and w.frontend_path == "torch:torchscript-flop-counter"
    ep = tmp_path / "tiny.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(*SHAPE),)), str(ep))
    w2 = load_workload(str(ep))  # shapes recorded in the export
    assert w2.flops(SHAPE[0]) == expected and w2.params_total == w.params_total


def test_missing_module_attribute_and_shape():
    with pytest.raises(ModelError, match="cannot import module 'no_such_pkg.models'"):
        load_workload({"torch": "no_such_pkg.models:build", "input_shape": [1, 3]}, allow_python=True)
    with pytest.raises(ModelError, match="has no attribute 'nope'"):
        load_workload({"torch": f"{MODEL_FILE}:nope", "input_shape": SHAPE}, allow_python=True)
    with pytest.raises(ModelError, match="needs input_shape"):
        load_workload({"torch": REF}, allow_python=True)
    with pytest.raises(ModelError, match="forward pass failed"):
        load_workload({"torch": REF, "input_shape": [1, 5, 32, 32]}, allow_python=True)


def test_factory_refused_without_allow_python(monkeypatch):
    """A `module:callable` source runs code: every entry point refuses it unless explicitly allowed,
    and the refusal happens before anything is imported."""
    from phantom_report.engine.api import Engine
    from phantom_report.engine.frontends import torch_fe

    import os
    import sys

    called: list[str] = []
    monkeypatch.setattr(os, "abort", lambda: called.append("abort"))
    before = {m for m in sys.modules if m.startswith("_phantom_user_model")}
    for source in ({"torch": "os:abort", "input_shape": [1]}, "os:abort", {"torch": REF, "input_shape": SHAPE}):
        with pytest.raises(ModelError, match="--allow-python"):
            load_workload(source)
    with pytest.raises(ModelError, match="--allow-python"):
        Engine.load().workload({"torch": "os:abort"})
    with pytest.raises(ModelError, match="--allow-python"):  # the front end itself, called directly
        torch_fe.load_torch_factory("os:abort", input_shape=[1])
    assert called == []
    assert {m for m in sys.modules if m.startswith("_phantom_user_model")} == before


def test_bad_torchscript_file(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00not a zip")
    with pytest.raises(ModelError, match="not a readable TorchScript"):
        load_workload(str(bad), input_shape=[1, 3])


def test_token_embedding_and_output_head_are_the_vocabulary_matrices():
    # the tallest nn.Embedding (at least 1,000 rows) and a Linear as wide as it are the vocabulary
    # matrices quantization keeps at 16 bits; the position table and the other Linear are not
    import torch
    from torch import nn

    from phantom_report.engine.frontends.torch_fe import module_workload

    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(1200, 32), nn.Embedding(64, 32)
            self.mlp, self.head = nn.Linear(32, 32), nn.Linear(32, 1200, bias=False)

        def forward(self, ids):
            h = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
            return self.head(self.mlp(h))

    w = module_workload(TinyLM(), [torch.zeros(2, 8, dtype=torch.long)], "test", "tiny-lm", "torch:flop-counter")
    marked = sorted(op.name.split(" ")[0] for op in w.operators if op.vocabulary)
    assert marked == ["head", "wte"], w.operators
    assert w.vocab_params == 1200 * 32 * 2
    # tied: one matrix, counted once, by the head, which streams it (the embedding gathers rows)
    tied = TinyLM()
    tied.head.weight = tied.wte.weight
    w = module_workload(tied, [torch.zeros(2, 8, dtype=torch.long)], "test", "tiny-lm", "torch:flop-counter")
    by_name = {op.name.split(" ")[0]: op for op in w.operators}
    assert by_name["head"].params == 1200 * 32 and by_name["head"].weights_streamed
    assert by_name["wte"].params == 0 and w.vocab_params == 1200 * 32
    assert sum(op.params * op.count for op in w.operators) == w.params_total
