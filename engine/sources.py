"""One entry point for every model source: a zoo name, a path, a `module:factory`, or a source dict.

    load_workload("llama-3.1-8b")                                  # built-in zoo (aliases too)
    load_workload("models/resnet50.onnx", batch_size=8)            # ONNX
    load_workload("configs/llama/config.json")                     # Hugging Face config (or its dir)
    load_workload("meta-llama/Llama-3.1-8B")                       # HF id with a config in the local cache
    load_workload("mypkg.nets:build", input_shape=[1, 3, 224, 224])  # PyTorch factory
    load_workload({"hf": "my-llama", "config": {...}})             # inline config
    load_workload({"onnx": "m.onnx", "batch_size": 4, "dims": {"sequence": 128}})
    load_workload({"torch": "pkg.mod:factory", "input_shape": [1, 16]})
    load_workload({"tensorflow": "saved_model_dir"})

Front ends import their heavy libraries (torch, transformers, onnx) only when used.

A `module:callable` (or `file.py:callable`) source imports and runs Python code, so it is refused
unless the caller passes `allow_python=True` (the CLI's `--allow-python`; the service never does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from phantom_report.engine.ir import Workload
from phantom_report.errors import ModelError

SOURCE_KINDS = ("builtin", "hf", "onnx", "torch", "tensorflow")
# keys each kind accepts besides its own (all optional)
SOURCE_OPTIONS: dict[str, frozenset[str]] = {
    "builtin": frozenset(),
    "hf": frozenset({"config", "architecture", "name", "seq_len"}),
    "onnx": frozenset({"batch_size", "seq_len", "dims", "name"}),
    "torch": frozenset({"input_shape", "input_dtype", "name"}),
    "tensorflow": frozenset({"batch_size", "seq_len", "dims", "inputs", "outputs", "name"}),
}
_TORCH_SUFFIXES = (".pt", ".pth", ".pt2", ".ts", ".torchscript")
_TF_SUFFIXES = (".keras", ".h5", ".hdf5", ".tflite", ".pb")


def load_workload(source: Any, *, batch_size: int | None = None, seq_len: int | None = None,
                  input_shape: Any = None, allow_python: bool = False) -> Workload:
    """A `Workload` from any supported source (see the module docstring). Python factories
    (`module:callable`) only with `allow_python=True`."""
    if isinstance(source, Workload):
        return source
    if not allow_python:
        ref = python_factory_ref(source)
        if ref is not None:
            from phantom_report.engine.frontends.torch_fe import refuse_factory

            refuse_factory(ref)
    if isinstance(source, Mapping):
        return _from_mapping(source, batch_size=batch_size, seq_len=seq_len, input_shape=input_shape,
                             allow_python=allow_python)
    if isinstance(source, (str, Path)):
        return _from_string(str(source), batch_size=batch_size, seq_len=seq_len, input_shape=input_shape,
                            allow_python=allow_python)
    raise ModelError(f"model source must be a name, a path or a mapping with one of {', '.join(SOURCE_KINDS)}; "
                     f"got {type(source).__name__}")


def python_factory_ref(source: Any) -> str | None:
    """The `module:callable` / `file.py:callable` a source names (it would run code), else None."""
    from phantom_report.engine.frontends.torch_fe import is_factory_ref

    if isinstance(source, Mapping):
        ref = source.get("torch")
        return str(ref) if ref is not None and is_factory_ref(str(ref)) else None
    if isinstance(source, (str, Path)):
        return str(source) if is_factory_ref(str(source)) else None
    return None


def _from_mapping(src: Mapping[str, Any], *, batch_size, seq_len, input_shape, allow_python: bool) -> Workload:
    kinds = [k for k in SOURCE_KINDS if k in src]
    if len(kinds) != 1:
        raise ModelError(f"model source {dict(src)!r}: expected exactly one of the keys {', '.join(SOURCE_KINDS)}")
    kind = kinds[0]
    extra = set(src) - {kind} - SOURCE_OPTIONS[kind]
    if extra:
        allowed = ", ".join(sorted(SOURCE_OPTIONS[kind])) or "none"
        raise ModelError(f"model source {kind}: unknown key(s) {', '.join(sorted(map(str, extra)))} (allowed: {allowed})")
    ref = src[kind]
    batch = src.get("batch_size", batch_size)
    seq = src.get("seq_len", seq_len)
    if kind == "builtin":
        return _builtin(str(ref))
    if kind == "hf":
        from phantom_report.engine.frontends.hf import load_hf, resolve_source

        hf_src = resolve_source(str(ref) if ref is not None else None, src.get("config"))
        if src.get("name"):
            hf_src = type(hf_src)(hf_src.config, hf_src.origin, str(src["name"]))
        return load_hf(hf_src, seq_len=seq, architecture=src.get("architecture"))
    if kind == "onnx":
        from phantom_report.engine.frontends.onnx_fe import load_onnx

        return load_onnx(str(ref), batch_size=batch, seq_len=seq, dims=src.get("dims"), name=src.get("name"))
    if kind == "torch":
        return _torch(str(ref), input_shape=src.get("input_shape", input_shape),
                      input_dtype=src.get("input_dtype"), name=src.get("name"), allow_python=allow_python)
    from phantom_report.engine.frontends.tensorflow_fe import load_tensorflow

    return load_tensorflow(str(ref), batch_size=batch, seq_len=seq, dims=src.get("dims"),
                           inputs=src.get("inputs"), outputs=src.get("outputs"), name=src.get("name"))


def _from_string(ref: str, *, batch_size, seq_len, input_shape, allow_python: bool) -> Workload:
    path = Path(ref).expanduser()
    suffix = path.suffix.lower()
    if path.exists():
        if suffix == ".onnx":
            from phantom_report.engine.frontends.onnx_fe import load_onnx

            return load_onnx(path, batch_size=batch_size, seq_len=seq_len)
        if suffix == ".json" or (path.is_dir() and (path / "config.json").is_file()):
            from phantom_report.engine.frontends.hf import load_hf, resolve_source

            return load_hf(resolve_source(str(path)), seq_len=seq_len)
        if suffix in _TORCH_SUFFIXES:
            return _torch(str(path), input_shape=input_shape)
        if suffix in _TF_SUFFIXES or (path.is_dir() and (path / "saved_model.pb").is_file()):
            from phantom_report.engine.frontends.tensorflow_fe import load_tensorflow

            return load_tensorflow(path, batch_size=batch_size, seq_len=seq_len)
        raise ModelError(f"{ref}: unrecognised model file (expected .onnx, config.json or a directory holding one, "
                         f"{', '.join(_TORCH_SUFFIXES)}, a TensorFlow model, or pkg.module:factory)")
    if suffix in (".onnx", ".json", *_TORCH_SUFFIXES, *_TF_SUFFIXES):
        raise ModelError(f"{ref}: file not found")
    from phantom_report.engine.frontends.torch_fe import is_factory_ref

    if is_factory_ref(ref):
        return _torch(ref, input_shape=input_shape, allow_python=allow_python)
    try:
        return _builtin(ref)
    except ModelError as zoo_error:
        if "/" not in ref:
            raise
        # "org/name": a Hugging Face model id, readable only from the local cache
        from phantom_report.engine.frontends.hf import load_hf, resolve_source

        try:
            return load_hf(resolve_source(ref), seq_len=seq_len)
        except ModelError as hf_error:
            raise ModelError(f"{hf_error} ({zoo_error})") from None


def _builtin(name: str) -> Workload:
    from phantom_report.engine.zoo import get_builtin

    return get_builtin(name)


def _torch(ref: str, *, input_shape: Any, input_dtype: str | None = None, name: str | None = None,
           allow_python: bool = False) -> Workload:
    from phantom_report.engine.frontends import torch_fe

    if Path(ref).expanduser().is_file():
        return torch_fe.load_torch_file(ref, input_shape=input_shape, input_dtype=input_dtype, name=name)
    if not torch_fe.is_factory_ref(ref):
        raise ModelError(f"torch source {ref!r}: not a TorchScript or torch.export file "
                         "(nor a 'pkg.module:factory' / 'path/file.py:factory')")
    return torch_fe.load_torch_factory(ref, input_shape=input_shape, input_dtype=input_dtype, name=name,
                                       allow_python=allow_python)
