"""TensorFlow front end: SavedModel directory, Keras .keras/.h5, frozen graph .pb or .tflite -> ONNX
(through `tf2onnx`) -> the ONNX front end.

TensorFlow is an optional extra (several hundred MB); without it the user gets one line naming the
extra to install.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Mapping, Sequence

from phantom_report.engine.ir import Workload
from phantom_report.errors import ModelError

INSTALL_HINT = "pip install 'phantom-report[tensorflow]'"
_KERAS = (".keras", ".h5", ".hdf5")


def tensorflow_available() -> bool:
    """Whether both tensorflow and tf2onnx can be imported (the optional extra is installed)."""
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "tf2onnx"))


def require_tensorflow(path: Path) -> None:
    """ModelError naming the missing packages and the install hint unless the TensorFlow extra is installed."""
    missing = [m for m in ("tensorflow", "tf2onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(f"{path}: TensorFlow models need {' and '.join(missing)} (not installed); "
                         f"install the extra: {INSTALL_HINT}")


def tf_kind(path: Path) -> str:
    """saved_model | keras | tflite | graphdef, from the path's layout."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model"
        raise ModelError(f"{path}: directory is not a TensorFlow SavedModel (no saved_model.pb)")
    suffix = path.suffix.lower()
    if suffix in _KERAS:
        return "keras"
    if suffix == ".tflite":
        return "tflite"
    if suffix == ".pb":
        return "graphdef"
    raise ModelError(f"{path}: not a TensorFlow model (expected a SavedModel directory, .keras, .h5, .pb or .tflite)")


def _convert(path: Path, kind: str, out: Path, input_names: Sequence[str] | None,
             output_names: Sequence[str] | None) -> None:
    import tf2onnx

    if kind == "tflite":
        tf2onnx.convert.from_tflite(str(path), output_path=str(out))
    elif kind == "keras":
        import tensorflow as tf

        model = tf.keras.models.load_model(str(path), compile=False)
        tf2onnx.convert.from_keras(model, output_path=str(out))
    elif kind == "saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures.get("serving_default") or next(iter(loaded.signatures.values()), None)
        if signature is None:
            raise ModelError(f"{path}: SavedModel has no signatures to convert")
        tf2onnx.convert.from_function(signature, input_signature=list(signature.structured_input_signature[1].values()),
                                      output_path=str(out))
    else:  # frozen GraphDef: the tensor names cannot be guessed reliably
        if not input_names or not output_names:
            raise ModelError(f"{path}: a frozen graph needs `inputs: [name:0, ...]` and `outputs: [name:0, ...]`")
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(path.read_bytes())
        tf2onnx.convert.from_graph_def(graph_def, input_names=list(input_names), output_names=list(output_names),
                                       output_path=str(out))


def load_tensorflow(path: str | Path, *, batch_size: int | None = None, seq_len: int | None = None,
                    dims: Mapping[str, int] | None = None, inputs: Sequence[str] | None = None,
                    outputs: Sequence[str] | None = None, name: str | None = None) -> Workload:
    """Workload of a SavedModel, Keras or frozen-graph file: converted to ONNX with tf2onnx in a
    temporary directory, then costed by `onnx_fe.load_onnx` with the same shape bindings
    (inputs/outputs: tensor names, needed for frozen graphs)."""
    from phantom_report.engine.frontends.onnx_fe import load_onnx

    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"{path}: file not found")
    kind = tf_kind(path)
    require_tensorflow(path)
    with tempfile.TemporaryDirectory(prefix="phantom-tf2onnx-") as tmp:
        out = Path(tmp) / "model.onnx"
        try:
            _convert(path, kind, out, inputs, outputs)
        except ModelError:
            raise
        except Exception as exc:  # tf2onnx / TensorFlow conversion errors
            raise ModelError(f"{path}: tf2onnx could not convert this {kind}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        return load_onnx(out, batch_size=batch_size, seq_len=seq_len, dims=dims,
                         name=name or path.stem, frontend="tensorflow", frontend_path=f"tensorflow:{kind}->onnx", source=str(path))

