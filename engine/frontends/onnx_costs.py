"""Cost of one ONNX node from its (inferred) tensor shapes: FLOPs, activation elements, op class.

FLOPs count a multiply-add as 2 (Conv, Gemm, MatMul, attention); pointwise math counts 1 FLOP per
output element, softmax and normalizations a few per element. Activation elements are the
non-constant inputs read plus the outputs written; weights are reported separately as parameters.
An op type missing from these tables is "unknown": the caller lists it, never drops it silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

Shape = tuple[int, ...]

ELEMENTWISE = frozenset({
    "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh", "Erf", "Pow", "Sqrt", "Exp", "Log", "Neg",
    "Abs", "Reciprocal", "Clip", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish",
    "Softplus", "Softsign", "Gelu", "Mish", "Sum", "Max", "Min", "Mean", "Where", "Equal", "Less",
    "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "Floor", "Ceil", "Round",
    "Sign", "Cos", "Sin", "Mod", "IsNaN", "IsInf", "ThresholdedRelu", "Shrink", "BitShift",
    "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear",
    # onnxruntime contrib fusions
    "BiasGelu", "FastGelu", "QuickGelu", "BiasAdd", "BiasSoftmax", "Swish",
})
NORMS = {  # FLOPs per element (mean, variance, scale, shift)
    "BatchNormalization": 2, "LayerNormalization": 5, "InstanceNormalization": 5, "GroupNormalization": 5,
    "SimplifiedLayerNormalization": 4, "SkipLayerNormalization": 6, "SkipSimplifiedLayerNormalization": 5,
    "RMSNormalization": 4, "LpNormalization": 3, "LRN": 5, "MeanVarianceNormalization": 5,
}
# which inputs of a norm are learned parameters (BatchNorm's running mean/var are buffers)
NORM_PARAM_INPUTS = {"BatchNormalization": (1, 2)}
POOLS = frozenset({"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
                   "GlobalLpPool", "MaxRoiPool", "RoiAlign"})
REDUCTIONS = frozenset({"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                        "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare", "ArgMax",
                        "ArgMin", "TopK", "CumSum", "Softmax", "LogSoftmax", "Hardmax"})
# pure views / metadata: no data moves on a GPU runtime
VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Shape", "Size",
                   "Constant", "ConstantOfShape", "Range", "EyeLike"})
# copies: read the input, write the output, no math
COPIES = frozenset({"Transpose", "Concat", "Split", "Slice", "Gather", "GatherElements", "GatherND",
                    "ScatterND", "ScatterElements", "Scatter", "Expand", "Tile", "Pad", "Cast", "CastLike",
                    "DepthToSpace", "SpaceToDepth", "OneHot", "Trilu", "NonZero", "Compress",
                    "ReverseSequence", "NonMaxSuppression", "SplitToSequence", "ConcatFromSequence"})


@dataclass(frozen=True)
class NodeCost:
    """Cost of one ONNX node over the whole bound batch: its operator class, FLOPs and the activation
    elements it reads and writes."""

    op_class: str
    flops: float
    act_elems: float


def numel(shape: Shape | None) -> float:
    """Elements of a tensor of `shape` (0 when the shape is unknown)."""
    return float(math.prod(shape)) if shape is not None else 0.0


class ShapeUnknown(Exception):
    """A shape the cost needs was not inferred."""


def node_cost(op_type: str, inputs: Sequence[Shape | None], outputs: Sequence[Shape | None],
              const_inputs: Sequence[bool], attrs: Mapping[str, object]) -> NodeCost | None:
    """Cost of one node, or None for an op type this table does not know."""
    act = sum(numel(s) for s, c in zip(inputs, const_inputs) if not c) + sum(numel(s) for s in outputs)
    out = outputs[0] if outputs else None
    fn = _SPECIAL.get(op_type)
    if fn is not None:
        return fn(inputs, outputs, const_inputs, attrs, act)
    if op_type in ELEMENTWISE:
        arity = max(1, len([s for s in inputs if s is not None]) - 1)
        return NodeCost("elementwise", numel(out) * arity, act)
    if op_type in NORMS:
        return NodeCost("norm", numel(out) * NORMS[op_type], act)
    if op_type in REDUCTIONS:
        per = 5.0 if op_type in ("Softmax", "LogSoftmax") else 1.0
        big = max((numel(s) for s in inputs if s is not None), default=0.0)
        return NodeCost("reduction", big * per, act)
    if op_type in VIEWS:
        return NodeCost("other", 0.0, 0.0)
    if op_type in COPIES:
        return NodeCost("other", 0.0, act)
    return None


def _need(*shapes: Shape | None) -> None:
    if any(s is None for s in shapes):
        raise ShapeUnknown


def _conv(inputs, outputs, consts, attrs, act) -> NodeCost:
    _need(inputs[1], outputs[0])
    w, out = inputs[1], outputs[0]
    kernel = math.prod(w[2:])
    macs = numel(out) * w[1] * kernel  # out elems x (Cin/groups x kernel)
    grouped = int(attrs.get("group", 1)) > 1
    return NodeCost("gemm" if kernel == 1 else "grouped_conv" if grouped else "conv", 2.0 * macs, act)


def _conv_transpose(inputs, outputs, consts, attrs, act) -> NodeCost:
    _need(inputs[0], inputs[1])
    x, w = inputs[0], inputs[1]
    # every input element is scattered through Cout/groups x kernel weights
    macs = numel(x) * w[1] * math.prod(w[2:])
    return NodeCost("conv", 2.0 * macs, act)


def _gemm(inputs, outputs, consts, attrs, act) -> NodeCost:
    _need(inputs[0], outputs[0])
    a = inputs[0]
    k = a[0] if attrs.get("transA") else a[-1]
    return NodeCost("gemm", 2.0 * numel(outputs[0]) * k, act)


def _matmul(inputs, outputs, consts, attrs, act) -> NodeCost:
    _need(inputs[0], outputs[0])
    k = inputs[0][-1]
    # activation x activation (QK^T, AV) is attention work; activation x weight is a linear layer
    cls = "gemm" if any(consts[:2]) else "attention"
    return NodeCost(cls, 2.0 * numel(outputs[0]) * k, act)


def _einsum(inputs, outputs, consts, attrs, act) -> NodeCost:
    _need(*inputs)
    eq = str(attrs.get("equation", "")).replace(" ", "")
    lhs = eq.split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for term, shape in zip(lhs, inputs):
        letters = [c for c in term if c.isalpha()]
        if "..." in term or len(letters) != len(shape):
            raise ShapeUnknown
        sizes.update(zip(letters, shape))
    cls = "gemm" if any(consts) else "attention"
    return NodeCost(cls, 2.0 * float(math.prod(sizes.values())), act)


def _attention(inputs, outputs, consts, attrs, act) -> NodeCost:
    """ONNX `Attention` (opset 23) and onnxruntime `MultiHeadAttention`: Q, K, V in; 3-D
    [B, S, heads*head_dim] or 4-D [B, heads, S, head_dim]."""
    _need(inputs[0], inputs[1])
    q, k = inputs[0], inputs[1]
    if len(q) == 4:
        b, h, sq, d = q
        sk = k[2]
        width = h * d
    else:
        b, sq, width = q
        sk = k[1]
    return NodeCost("attention", 4.0 * b * sq * sk * width, act)


def _ms_attention(inputs, outputs, consts, attrs, act) -> NodeCost:
    """onnxruntime `Attention`: input [B, S, hidden] x packed QKV weight [hidden, 3*hidden] + core."""
    _need(inputs[0], inputs[1])
    b, s, hidden = inputs[0]
    qkv = inputs[1][-1]
    proj = 2.0 * b * s * hidden * qkv
    core = 4.0 * b * s * s * (qkv / 3)
    return NodeCost("attention", proj + core, act)


def _pool(inputs, outputs, consts, attrs, act) -> NodeCost:
    kernel = attrs.get("kernel_shape")
    if kernel:
        _need(outputs[0])
        return NodeCost("pool", numel(outputs[0]) * math.prod(kernel), act)
    _need(inputs[0])
    return NodeCost("pool", numel(inputs[0]), act)


def _resize(inputs, outputs, consts, attrs, act) -> NodeCost:
    _need(outputs[0])
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    per = {"nearest": 1.0, "linear": 4.0, "cubic": 16.0}.get(mode, 4.0)
    return NodeCost("elementwise", numel(outputs[0]) * per, act)


def _gather(inputs, outputs, consts, attrs, act) -> NodeCost:
    # a constant table gathered by token ids is an embedding lookup: only the rows read move
    cls = "embedding" if consts and consts[0] else "other"
    out = numel(outputs[0]) if outputs and outputs[0] is not None else 0.0
    return NodeCost(cls, 0.0, 2.0 * out if cls == "embedding" else act)


_SPECIAL: dict[str, Callable[..., NodeCost]] = {
    "Conv": _conv, "ConvInteger": _conv, "ConvTranspose": _conv_transpose,
    "Gemm": _gemm, "MatMul": _matmul, "MatMulInteger": _matmul, "FusedMatMul": _matmul,
    "Einsum": _einsum, "Attention": _attention, "MultiHeadAttention": _attention,
    "com.microsoft.Attention": _ms_attention,
    "Resize": _resize, "Upsample": _resize, "Gather": _gather,
    **{p: _pool for p in POOLS},
}
