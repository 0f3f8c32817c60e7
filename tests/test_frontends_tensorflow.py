"""TensorFlow front end: without the optional extra, a one-line error names what to install."""

import importlib.util

import pytest

from phantom_report.engine.frontends.tensorflow_fe import INSTALL_HINT, tensorflow_available, tf_kind
from phantom_report.engine.sources import load_workload
from phantom_report.errors import ModelError

needs_no_tf = pytest.mark.skipif(tensorflow_available(), reason="tensorflow and tf2onnx are installed")


@needs_no_tf
@pytest.mark.parametrize("layout", ["saved_model", "model.keras", "model.h5", "model.tflite"])
def test_missing_extra_is_named(tmp_path, layout):
    if layout == "saved_model":
        path = tmp_path / "saved_model"
        path.mkdir()
        (path / "saved_model.pb").write_bytes(b"")
    else:
        path = tmp_path / layout
        path.write_bytes(b"")
    with pytest.raises(ModelError) as err:
        load_workload({"tensorflow": str(path)})
    msg = str(err.value)
    assert INSTALL_HINT in msg and "\n" not in msg
    missing = [m for m in ("tensorflow", "tf2onnx") if importlib.util.find_spec(m) is None]
    assert all(m in msg for m in missing)


def test_layout_detection(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert tf_kind(tmp_path) == "saved_model"
    with pytest.raises(ModelError, match="not a TensorFlow model"):
        tf_kind(tmp_path / "model.txt")
    with pytest.raises(ModelError, match="file not found"):
        load_workload({"tensorflow": str(tmp_path / "absent.keras")})
