"""PyTorch front end: `pkg.module:factory` (or `path/file.py:factory`) + input shapes, a TorchScript
file or a `torch.export` file -> Workload.

Factories are called under `torch.device("meta")` so parameters have shapes but no storage, and the
forward runs on meta inputs under `FlopCounterMode`. Each module's *exclusive* FLOPs (its count
minus its children's) become its operator, so FLOPs done in a parent's forward are not lost;
identical modules merge into one operator with a count. Activation elements come from forward
hooks (inputs + outputs of leaf modules).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from phantom_report.engine.frontends.flop_count import count_flops
from phantom_report.engine.ir import Operator, Workload, vocabulary_rows
from phantom_report.errors import ModelError

_FACTORY = re.compile(r"^(?P<mod>[^:]+):(?P<attr>[A-Za-z_][\w.]*)$")
_LAYER_INDEX = re.compile(r"\.\d+(?=\.|$)")
_DTYPES = {"float32": "float32", "float": "float32", "float16": "float16", "bfloat16": "bfloat16",
           "int64": "int64", "long": "int64", "int32": "int32"}


def is_factory_ref(ref: str) -> bool:
    """True for `pkg.module:callable` / `path/file.py:callable` (not an existing file's path)."""
    if not _FACTORY.match(ref):
        return False
    try:
        return not Path(ref).exists()
    except (OSError, ValueError):  # a name too long for the OS, or a NUL: not a file either
        return True


def refuse_factory(ref: str) -> None:
    """Raise ModelError for a Python factory loaded without explicit permission."""
    shown = ref if len(ref) <= 80 else ref[:79] + "…"
    raise ModelError(f"model source {shown!r} is a Python factory (module:callable); importing and calling it "
                     "would run code, so it needs an explicit `--allow-python` (CLI only). Name a zoo model or "
                     "a model file (ONNX, TorchScript, Hugging Face config dir) instead")


def _import_factory(ref: str, allow_python: bool = False) -> Callable[[], Any]:
    # defense in depth: every caller reaches the import through here, whatever checked before
    if not allow_python:
        refuse_factory(ref)
    m = _FACTORY.match(ref)
    if not m:
        raise ModelError(f"torch source {ref!r}: expected 'pkg.module:factory' or 'path/file.py:factory'")
    mod_ref, attr = m["mod"], m["attr"]
    try:
        if mod_ref.endswith(".py"):
            path = Path(mod_ref).expanduser()
            if not path.is_file():
                raise ModelError(f"torch source {ref!r}: file {path} not found")
            spec = importlib.util.spec_from_file_location(f"_phantom_user_model_{abs(hash(str(path.resolve())))}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            # the user's own package is usually importable from the working directory
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            module = importlib.import_module(mod_ref)
    except ModelError:
        raise
    except ImportError as exc:
        raise ModelError(f"torch source {ref!r}: cannot import module {mod_ref!r} ({exc})") from None
    except Exception as exc:  # errors raised while executing the user's module
        raise ModelError(f"torch source {ref!r}: importing {mod_ref!r} failed: {type(exc).__name__}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ModelError(f"torch source {ref!r}: module {mod_ref!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ModelError(f"torch source {ref!r}: {attr!r} is not callable")
    return target


def _shapes(input_shape: Any, ref: str) -> list[tuple[int, ...]]:
    """[1, 3, 224, 224] -> one input; [[1, 128], [1, 128]] -> two inputs."""
    if not input_shape:
        raise ModelError(f"torch source {ref!r}: needs input_shape (e.g. [1, 3, 224, 224]; a list of lists "
                         "for several inputs)")
    if all(isinstance(d, int) for d in input_shape):
        shapes = [tuple(input_shape)]
    elif all(isinstance(s, (list, tuple)) and all(isinstance(d, int) for d in s) for s in input_shape):
        shapes = [tuple(s) for s in input_shape]
    else:
        raise ModelError(f"torch source {ref!r}: input_shape must be a list of ints or a list of lists of ints, "
                         f"got {input_shape!r}")
    if any(d <= 0 for s in shapes for d in s):
        raise ModelError(f"torch source {ref!r}: input_shape dims must be positive, got {input_shape!r}")
    return shapes


def _dtype(name: str | None, ref: str):
    import torch

    key = (name or "float32").lower()
    if key not in _DTYPES:
        raise ModelError(f"torch source {ref!r}: input_dtype {name!r} not one of {sorted(_DTYPES)}")
    return getattr(torch, _DTYPES[key])


def load_torch_factory(ref: str, *, input_shape: Any = None, input_dtype: str | None = None,
                       name: str | None = None, allow_python: bool = False) -> Workload:
    """Import and call a `module:callable` factory under the meta device. This runs the user's
    code, so it refuses unless `allow_python=True` (set only from the CLI's `--allow-python`)."""
    import torch

    factory = _import_factory(ref, allow_python=allow_python)
    shapes = _shapes(input_shape, ref)
    try:
        with torch.device("meta"):
            model = factory()
    except Exception as exc:
        raise ModelError(f"torch source {ref!r}: calling the factory failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise ModelError(f"torch source {ref!r}: factory returned {type(model).__name__}, expected an nn.Module")
    dtype = _dtype(input_dtype, ref)
    inputs = [torch.zeros(s, dtype=dtype, device="meta") for s in shapes]
    default_name = name or ref.split(":")[-1]
    return module_workload(model, inputs, ref, default_name, frontend_path="torch:flop-counter-meta")


def module_workload(model, inputs: Sequence[Any], origin: str, name: str, frontend_path: str) -> Workload:
    """Run `model(*inputs)` under FlopCounterMode (meta or real tensors) and build the IR: one
    operator per (module kind, op class), FLOPs and activation elements per sample (the inputs'
    first dimension is the batch)."""
    import torch

    try:
        model.eval()
    except NotImplementedError:  # torch.export modules are already in inference form
        pass
    per_module, acts = _counted_forward(model, inputs, origin)
    batch = int(inputs[0].shape[0]) if inputs and inputs[0].dim() > 0 else 1
    root = type(model).__name__
    named = dict(model.named_modules())
    inclusive = _inclusive_flops(per_module, root, named)
    merged: OrderedDict[tuple, int] = OrderedDict()
    owner = parameter_owners(named)
    vocab_rows = vocabulary_rows(m.num_embeddings for m in named.values() if isinstance(m, torch.nn.Embedding))
    for mod_name, mod in named.items():
        own = _exclusive_flops(mod_name, mod, inclusive)
        # buffers (BatchNorm running stats) are state, not parameters; a shared one counts once
        params = float(sum(p.numel() for p in mod.parameters(recurse=False) if owner[id(p)] == mod_name))
        act = acts.get(mod_name, 0.0)
        if not own and not params and not act:
            continue
        kind = _LAYER_INDEX.sub("", mod_name) or root
        streamed = not isinstance(mod, torch.nn.Embedding)
        vocabulary = _is_vocabulary(mod, vocab_rows)
        label = f"{kind} ({type(mod).__name__})"
        if not own:  # parameters / data movement only
            key = (label, _module_class(mod), 0.0, params, act / batch, streamed, vocabulary)
            merged[key] = merged.get(key, 0) + 1
            continue
        # one operator per op class (TorchScript reports everything at the root module)
        main = max(own, key=own.get)
        for cls, flops in own.items():
            # a grouped convolution runs as small per-group GEMMs, priced with their own efficiency
            op_class = "grouped_conv" if cls == "conv" and getattr(mod, "groups", 1) > 1 else cls
            key = (label if cls == main else f"{label} [{cls}]", op_class, flops / batch,
                   params if cls == main else 0.0, act / batch if cls == main else 0.0, streamed, vocabulary)
            merged[key] = merged.get(key, 0) + 1
    operators = tuple(
        Operator(name=n, op_class=c, count=count, flops_per_sample=f, params=p, act_elems_per_sample=a,
                 weights_streamed=streamed, vocabulary=vocabulary)
        for (n, c, f, p, a, streamed, vocabulary), count in merged.items())
    params_total = float(sum(p.numel() for p in model.parameters()))
    has_conv = any(op.op_class in ("conv", "grouped_conv") for op in operators)
    return Workload(
        name=name, display_name=f"{name} (PyTorch)", family="cnn" if has_conv else "other",
        operators=operators, params_total=params_total, params_active=params_total,
        default_seq_len=1, seq_scalable=False,
        saved_act_elems_per_token=float(sum(op.act_elems_per_sample * op.count for op in operators)) / 2,
        source=origin, frontend="torch", frontend_path=frontend_path,
        notes=f"FLOPs counted by torch FlopCounterMode at input shapes {[tuple(t.shape) for t in inputs]}",
    )


def _counted_forward(model, inputs: Sequence[Any], origin: str) -> tuple[dict, dict[str, float]]:
    """(FLOPs per module path and op class from FlopCounterMode, activation elements each leaf
    module reads and writes) of one forward pass; ModelError naming the inputs when it fails."""
    import torch

    acts: dict[str, float] = {}
    leaves = {n: m for n, m in model.named_modules() if not list(m.children())}
    hooks = []

    def hook_for(module_name: str):
        def hook(_mod, args, output):
            total = sum(t.numel() for t in _tensors(args)) + sum(t.numel() for t in _tensors(output))
            acts[module_name] = acts.get(module_name, 0.0) + float(total)
        return hook

    if not isinstance(model, torch.jit.ScriptModule):  # TorchScript modules take no hooks
        for n, m in leaves.items():
            hooks.append(m.register_forward_hook(hook_for(n)))
    try:
        with torch.no_grad():
            _, per_module = count_flops(lambda: model(*inputs))
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"{origin}: forward pass failed on inputs {[tuple(t.shape) for t in inputs]}: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    finally:
        for h in hooks:
            h.remove()
    return per_module, acts


def _inclusive_flops(per_module: Mapping[str, Any], root: str, named: Mapping[str, Any]) -> dict[str, Any]:
    """FlopCounterMode's per-module counts (children included) keyed by `named_modules` path
    ("" = the model itself, which takes the global count when the counter names no root)."""
    inclusive = {}
    for path, classes in per_module.items():
        if path == "Global":
            continue
        rel = "" if path == root else path[len(root) + 1:] if path.startswith(root + ".") else None
        if rel is not None and rel in named:
            inclusive[rel] = classes
    if "" not in inclusive and "Global" in per_module:
        inclusive[""] = per_module["Global"]
    return inclusive


def _exclusive_flops(mod_name: str, mod, inclusive: Mapping[str, Any]) -> dict[str, float]:
    """FLOPs per op class a module runs itself (its inclusive count minus its children's)."""
    own = dict(inclusive.get(mod_name, {}))
    for child_name, _ in mod.named_children():
        for cls, f in inclusive.get(f"{mod_name}.{child_name}" if mod_name else child_name, {}).items():
            own[cls] = own.get(cls, 0.0) - f
    return {c: f for c, f in own.items() if f > 0.5}


def _tensors(obj: Any):
    import torch

    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def parameter_owners(named: dict) -> dict[int, str]:
    """id of each parameter -> the module that counts it: a Linear when a Linear shares it (an output
    head tied to the embedding streams the whole matrix every step; the embedding gathers a few
    rows), else the first module holding it, as the HF analytic walk decides (hf._add_weight_ops)."""
    import torch.nn as nn

    owner: dict[int, str] = {}
    for mod_name, mod in sorted(named.items(), key=lambda kv: not isinstance(kv[1], nn.Linear)):  # stable
        for p in mod.parameters(recurse=False):
            owner.setdefault(id(p), mod_name)
    return owner


def _is_vocabulary(mod, vocab_rows: int | None) -> bool:
    """The token embedding, or a Linear as wide as the vocabulary (the output head, tied or not):
    `Operator.vocabulary`, kept at 16 bits by quantization."""
    import torch.nn as nn

    if vocab_rows is None:
        return False
    if isinstance(mod, nn.Embedding):
        return mod.num_embeddings == vocab_rows
    return isinstance(mod, nn.Linear) and mod.out_features == vocab_rows


def _module_class(mod) -> str:
    import torch.nn as nn

    if isinstance(mod, nn.Embedding):
        return "embedding"
    name = type(mod).__name__.lower()
    if "norm" in name:
        return "norm"
    if "pool" in name:
        return "pool"
    if "softmax" in name:
        return "reduction"
    if isinstance(mod, (nn.Linear,)):
        return "gemm"
    return "elementwise"


def load_torch_file(path: str | Path, *, input_shape: Any = None, input_dtype: str | None = None,
                    name: str | None = None) -> Workload:
    """A TorchScript (`torch.jit.save`) or `torch.export.save` (.pt2) file."""
    import torch

    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"{path}: file not found")
    ref = str(path)
    if path.suffix == ".pt2":
        try:
            program = torch.export.load(str(path))
        except Exception as exc:
            raise ModelError(f"{path}: not a readable torch.export file ({type(exc).__name__})") from None
        if input_shape:
            shapes = _shapes(input_shape, ref)
            dtypes = [_dtype(input_dtype, ref)] * len(shapes)
        else:  # the export recorded example input shapes in its placeholders
            vals = [n.meta.get("val") for n in program.graph.nodes if n.op == "placeholder"
                    and n.name in set(program.graph_signature.user_inputs)]
            if not vals or any(v is None or not hasattr(v, "shape") for v in vals):
                raise ModelError(f"{path}: export has no recorded input shapes; pass input_shape")
            shapes = [tuple(int(d) for d in v.shape) for v in vals]
            dtypes = [v.dtype for v in vals]
        module = program.module().to("meta")
        inputs = [torch.zeros(s, dtype=dt, device="meta") for s, dt in zip(shapes, dtypes)]
        return module_workload(module, inputs, ref, name or path.stem, frontend_path="torch:export-flop-counter")
    try:
        # TorchScript cannot be loaded onto meta; weights are read from the file into CPU memory
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise ModelError(f"{path}: not a readable TorchScript file ({type(exc).__name__}); "
                         "for a torch.export program use the .pt2 extension") from None
    shapes = _shapes(input_shape, ref)
    dtype = _dtype(input_dtype, ref)
    inputs = [torch.zeros(s, dtype=dtype) for s in shapes]
    return module_workload(module, inputs, ref, name or path.stem, frontend_path="torch:torchscript-flop-counter")
