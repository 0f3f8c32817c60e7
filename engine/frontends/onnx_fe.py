"""ONNX front end: a .onnx file -> Workload.

The graph's dynamic input dims are bound (batch from the caller, others from `dims` or the
sequence length), shapes are inferred with `onnx.shape_inference`, and every node is costed by
`onnx_costs`. Work that only depends on constants (the weight generators of the onnx wheel's
weight-less "light" models, shape arithmetic) is folded away as a runtime would. Identical nodes
merge into one operator with a count; all terms are per sample (the graph has a fixed input size).
"""

from __future__ import annotations

import re
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, Mapping

from phantom_report.engine.frontends.onnx_costs import NORM_PARAM_INPUTS, ShapeUnknown, node_cost
from phantom_report.engine.ir import Operator, Workload, vocabulary_rows
from phantom_report.errors import ModelError

# integer tensors feeding a node are indices or shapes, not learned weights
_INT_TYPES = frozenset({6, 7, 12, 13})  # int32, int64, uint32, uint64
_SEQ_DIM = re.compile(r"seq|len|token|position|time|frames?$", re.IGNORECASE)


def _load(path: Path):
    import onnx
    from google.protobuf.message import DecodeError

    if not path.is_file():
        raise ModelError(f"{path}: file not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'truncated or corrupt'})") from None
    if not model.graph.node or not model.graph.output:
        raise ModelError(f"{path}: ONNX model has no graph (empty, truncated or not an ONNX file)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and C++ errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: invalid ONNX model: {first}") from None
    return model


def _constant_names(graph) -> set[str]:
    consts = {t.name for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            consts.update(node.output)
    return consts


def _real_inputs(graph, consts: set[str]) -> list:
    produced = {o for n in graph.node for o in n.output}
    return [i for i in graph.input if i.name not in consts and i.name not in produced]


def _bind_dims(path: Path, inputs: list, batch: int, seq_len: int | None, dims: Mapping[str, int]) -> int:
    """Give every dynamic input dim a value; return the batch the graph runs with."""
    graph_batch = None
    for inp in inputs:
        ttype = inp.type.tensor_type
        if not ttype.HasField("shape"):
            raise ModelError(f"{path}: input {inp.name!r} has no shape; pass its dims")
        for axis, dim in enumerate(ttype.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                value = dim.dim_value
            else:
                label = dim.dim_param or f"dim{axis}"
                if label in dims:
                    value = int(dims[label])
                elif f"{inp.name}:{axis}" in dims:
                    value = int(dims[f"{inp.name}:{axis}"])
                elif axis == 0:
                    value = batch
                elif seq_len and _SEQ_DIM.search(label):
                    value = int(seq_len)
                else:
                    raise ModelError(
                        f"{path}: input {inp.name!r} dim {axis} ({label!r}) is dynamic; bind it with "
                        f"`dims: {{{label}: N}}` in the model source" + (" or --seq N" if axis == 1 else ""))
                dim.Clear()
                dim.dim_value = value
            if axis == 0 and graph_batch is None:
                graph_batch = value
    return graph_batch or 1


def _infer(path: Path, model, batch: int, rounds: int = 4):
    """Shape inference, repeated while it helps.

    Inference loses the batch dim through some broadcast patterns exporters emit (it comes back
    as a fresh symbol such as 'unk__5'), and every shape computed from it (Shape -> Reshape) is
    then lost too. A tensor whose only unknown dim is the leading one gets the bound batch, and
    inference runs again; returns the model and how many tensors needed that."""
    import onnx

    assumed = 0
    for _ in range(rounds):
        try:
            model = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        except Exception as exc:
            raise ModelError(f"{path}: ONNX shape inference failed: {str(exc).strip().splitlines()[0]}") from None
        patched = 0
        for vi in model.graph.value_info:
            t = vi.type.tensor_type
            dims = t.shape.dim if t.HasField("shape") else []
            if dims and not dims[0].HasField("dim_value") and all(d.HasField("dim_value") for d in dims[1:]):
                dims[0].Clear()
                dims[0].dim_value = batch
                patched += 1
        assumed += patched
        if not patched:
            break
    return model, assumed


def _shapes(graph) -> tuple[dict[str, tuple[int, ...] | None], dict[str, int]]:
    """Fully known shapes (None otherwise) and element types by tensor name."""
    shapes: dict[str, tuple[int, ...] | None] = {}
    dtypes: dict[str, int] = {}

    def record(vi) -> None:
        t = vi.type.tensor_type
        dtypes[vi.name] = t.elem_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in t.shape.dim)
        else:
            shapes.setdefault(vi.name, None)

    for vi in (*graph.input, *graph.value_info, *graph.output):
        record(vi)
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
        dtypes[init.name] = init.data_type
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    shapes[node.output[0]] = tuple(int(d) for d in attr.t.dims)
                    dtypes[node.output[0]] = attr.t.data_type
    return shapes, dtypes


def _attrs(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def load_onnx(path: str | Path, *, batch_size: int | None = None, seq_len: int | None = None,
              dims: Mapping[str, int] | None = None, name: str | None = None,
              frontend: str = "onnx", frontend_path: str = "onnx:shape-inference",
              source: str | None = None) -> Workload:
    """Workload of an ONNX graph: its inputs' symbolic dims bound (batch_size, seq_len, dims by
    name), every shape inferred, each node costed (`onnx_costs.node_cost`: FLOPs, activation and
    parameter elements) and identical nodes merged into counts; figures are per sample. Ops that
    cannot be costed are listed in `unknown_ops`; ModelError when none can."""
    path = Path(path).expanduser()
    model = _load(path)
    graph = model.graph
    consts = _constant_names(graph)
    inputs = _real_inputs(graph, consts)
    batch = _bind_dims(path, inputs, int(batch_size or 1), seq_len, dict(dims or {}))
    # exporters record intermediate shapes with symbolic dims; drop them so inference recomputes
    # every shape from the bound inputs instead of keeping the symbols
    del graph.value_info[:]
    for out in graph.output:
        shape = out.type.tensor_type.shape
        if any(not d.HasField("dim_value") for d in shape.dim):
            out.type.tensor_type.ClearField("shape")
    model, assumed = _infer(path, model, batch)
    merged, unknown = _costed_nodes(model.graph, consts)
    operators = []
    for (op_key, op_class, flops, params, act, vocabulary), (_, count) in merged.items():
        streamed = op_class != "embedding"
        operators.append(Operator(
            name=op_key, op_class=op_class, count=count, flops_per_sample=flops / batch, params=params,
            act_elems_per_sample=act / batch, weights_streamed=streamed, vocabulary=vocabulary))
    if not operators:
        raise ModelError(f"{path}: no operator could be costed (unknown ops: {dict(unknown)})")
    params_total = float(sum(op.params * op.count for op in operators))
    has_conv = any(op.op_class in ("conv", "grouped_conv") for op in operators)
    return Workload(
        name=name or path.stem, display_name=f"{name or path.stem} (ONNX)",
        family="cnn" if has_conv else "other", operators=tuple(operators),
        params_total=params_total, params_active=params_total, default_seq_len=1, seq_scalable=False,
        saved_act_elems_per_token=float(sum(op.act_elems_per_sample * op.count for op in operators)) / 2,
        source=source or str(path), frontend=frontend, frontend_path=frontend_path,
        unknown_ops=dict(unknown),
        notes=f"shapes bound at batch {batch}" + (f", sequence {seq_len}" if seq_len else "")
        + (f"; {assumed} tensors' unresolved leading dim taken as the batch" if assumed else ""),
    )


def _costed_nodes(graph, consts: set[str]) -> tuple[OrderedDict[tuple, list], Counter[str]]:
    """((op, class, FLOPs, parameters, activation elements, vocabulary) of the whole batch -> [first
    node's name, count], in graph order; uncosted op types -> nodes). Nodes whose inputs are all
    constant are folded (added to `consts`), not costed; each parameter tensor counts once."""
    shapes, dtypes = _shapes(graph)
    vocab_rows = _vocabulary_rows(graph, consts, shapes)
    merged: OrderedDict[tuple, list] = OrderedDict()
    unknown: Counter[str] = Counter()
    unresolved: Counter[str] = Counter()
    owned: set[str] = set()  # parameter tensors already counted (shared weights count once)
    for node in graph.node:
        if node.op_type == "Constant":
            continue
        ins = [i for i in node.input]
        is_const = [bool(i) and i in consts for i in ins]
        if ins and all(is_const[j] for j, i in enumerate(ins) if i):
            consts.update(node.output)  # folded at load time (weight generators, shape arithmetic)
            continue
        op_key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        in_shapes = [shapes.get(i) if i else None for i in ins]
        out_shapes = [shapes.get(o) for o in node.output]
        try:
            cost = node_cost(op_key, in_shapes, out_shapes, is_const, _attrs(node))
            if cost is None and op_key != node.op_type:
                cost = node_cost(node.op_type, in_shapes, out_shapes, is_const, _attrs(node))
        except ShapeUnknown:
            unresolved[op_key] += 1
            continue
        if cost is None:
            unknown[op_key] += 1
            continue
        vocabulary = _is_vocabulary(node, ins, is_const, shapes, cost.op_class, vocab_rows)
        params = _node_params(node, ins, is_const, shapes, dtypes, owned)
        key = (op_key, cost.op_class, cost.flops, params, cost.act_elems, vocabulary)
        if key in merged:
            merged[key][1] += 1
        else:
            merged[key] = [node.name or op_key, 1]
    for op_key, n in unresolved.items():
        unknown[f"{op_key} (shape not inferred)"] += n
    return merged, unknown


def _vocabulary_rows(graph, consts: set[str], shapes: Mapping) -> int | None:
    """Rows of the token-embedding table among the constant tables Gathers look up (`ir.vocabulary_rows`)."""
    return vocabulary_rows(shapes[n.input[0]][0] for n in graph.node
                           if n.op_type == "Gather" and n.input and n.input[0] in consts and shapes.get(n.input[0]))


def _is_vocabulary(node, ins: list[str], is_const: list[bool], shapes: Mapping, op_class: str,
                   vocab_rows: int | None) -> bool:
    """A vocabulary matrix (`Operator.vocabulary`: quantization leaves it at 16 bits): the token
    embedding lookup, or a matrix product with a constant weight as wide as the vocabulary (the
    output head, tied to the embedding or not)."""
    if vocab_rows is None:
        return False
    if op_class == "embedding":
        shape = shapes.get(ins[0]) if ins else None
        return bool(shape) and shape[0] == vocab_rows
    if node.op_type not in ("MatMul", "Gemm", "MatMulInteger", "FusedMatMul"):
        return False
    return any(is_const[j] and vocab_rows in (shapes.get(i) or ())[-2:] for j, i in enumerate(ins) if i)


def _node_params(node, ins: list[str], is_const: list[bool], shapes: Mapping, dtypes: Mapping, owned: set[str]) -> float:
    """Parameter elements of a node: its constant float inputs not counted before (norms: only
    their scale and bias slots), each added to `owned`."""
    param_slots = NORM_PARAM_INPUTS.get(node.op_type)
    params = 0.0
    for j, i in enumerate(ins):
        if not is_const[j] or i in owned or dtypes.get(i) in _INT_TYPES:
            continue
        if param_slots is not None and j not in param_slots:
            continue
        shape = shapes.get(i)
        if shape is None:
            continue
        owned.add(i)
        n = 1.0
        for d in shape:
            n *= d
        params += n
    return params
