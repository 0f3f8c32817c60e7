"""Counting FLOPs with `torch.utils.flop_counter.FlopCounterMode`, grouped by IR op class.

Shared by the PyTorch front end and the Hugging Face fallback. FlopCounterMode only counts the
tensor-core ops (matmuls, convolutions, attention kernels), which is the convention the IR uses
for its FLOPs: a multiply-add is 2 FLOPs.
"""

from __future__ import annotations

from typing import Any, Callable

# aten op name (without overload) -> IR op class
_OP_CLASS = {
    "mm": "gemm", "addmm": "gemm", "bmm": "gemm", "baddbmm": "gemm", "matmul": "gemm",
    "_int_mm": "gemm", "_scaled_mm": "gemm",
    "convolution": "conv", "_convolution": "conv", "cudnn_convolution": "conv",
    "convolution_backward": "conv",
    "_scaled_dot_product_efficient_attention": "attention",
    "_scaled_dot_product_flash_attention": "attention",
    "_scaled_dot_product_cudnn_attention": "attention",
    "_scaled_dot_product_fused_attention_overrideable": "attention",
    "_flash_attention_forward": "attention", "_efficient_attention_forward": "attention",
}


def op_class_of(aten_op: Any) -> str:
    """IR op class of an aten overload packet (e.g. `aten.addmm`)."""
    name = str(aten_op).split(".")[-1] if "." in str(aten_op) else str(aten_op)
    return _OP_CLASS.get(name, "other")


def count_flops(run: Callable[[], Any]) -> tuple[float, dict[str, dict[str, float]]]:
    """Run `run()` under FlopCounterMode; return (total FLOPs, {module path: {op class: FLOPs}}).

    Module paths are FlopCounterMode's ("Global", "Root.child.grandchild"); each entry is
    inclusive of its children."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        run()
    per_module: dict[str, dict[str, float]] = {}
    for module, ops in counter.get_flop_counts().items():
        classes: dict[str, float] = {}
        for op, flops in ops.items():
            cls = op_class_of(op)
            classes[cls] = classes.get(cls, 0.0) + float(flops)
        per_module[module] = classes
    return float(counter.get_total_flops()), per_module
